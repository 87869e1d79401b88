// fastnn._C.cuda / fastnn._emu: batch_norm_workspace, batch_norm_forward_f32, batch_norm_backward_f32.
// Outputs and the float64 workspace come from the caller; the argument errors are the composite's
// (backend/composite/batchnorm.py) where it has them.
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "batchnorm.h"
#include "fastnn/checked_size.h"
#include "device_array.h"
#include "launch.h"
#include "registry.h"

namespace {
namespace py = pybind11;
using fastnn::cuda_bindings::device_array;
using fastnn::cuda_bindings::DeviceArray;
namespace k = fastnn::FASTNN_CUDA_NS;

template <class T>
T* optional_vector(const py::object& obj, const char* op, const char* name, const char* dtype, std::int64_t c,
                   bool writable) {
  if (obj.is_none()) return nullptr;
  const DeviceArray v = device_array(obj, op, name);
  v.require_dtype(dtype).require_contiguous().require_shape({c});
  if (writable) v.require_writable();
  return v.data<T>();
}

template <class T>
T* required_vector(const py::object& obj, const char* op, const char* name, const char* dtype, std::int64_t c,
                   bool writable) {
  if (obj.is_none()) throw py::value_error(std::string(op) + ": " + name + " is required");
  return optional_vector<T>(obj, op, name, dtype, c, writable);
}

// batch_norm_workspace(n, c, l) with checked arithmetic: an empty (0, 2**62, 1) input, or sizes handed to
// the query itself, would overflow n * l or c * (2 * splits + 4).
std::int64_t workspace_length(std::int64_t n, std::int64_t c, std::int64_t l, const std::string& op) {
  if (n < 0 || c < 0 || l < 0) throw py::value_error(op + ": sizes must be non-negative");
  const std::int64_t count = fastnn::checked::product({n, l}, op, "n * l");
  return fastnn::checked::mul(c, 2 * k::batch_norm_splits(count) + 4, op, "the workspace length");
}

double* workspace(const py::object& obj, const char* op, std::int64_t n, std::int64_t c, std::int64_t l) {
  const DeviceArray w = device_array(obj, op, "work");
  w.require_dtype("float64").require_contiguous().require_writable().require_shape({workspace_length(n, c, l, op)});
  return w.data<double>();
}

}  // namespace

FASTNN_CUDA_BINDING(batchnorm) {
  m.def(
      "batch_norm_workspace",
      [](std::int64_t n, std::int64_t c, std::int64_t l) {
        return workspace_length(n, c, l, "batch_norm_workspace");
      },
      py::arg("n"), py::arg("c"), py::arg("l"),
      "Length of the float64 `work` array batch_norm_forward_f32 / batch_norm_backward_f32 take for (n, c, l).");
  m.def(
      "batch_norm_forward_f32",
      [](py::object x, py::object weight, py::object bias, py::object running_mean, py::object running_var,
         py::object y, py::object mean, py::object invstd, py::object var, py::object work, bool training, double eps,
         int device, std::uintptr_t stream) {
        const char* op = "batch_norm_forward_f32";
        const DeviceArray ax = device_array(x, op, "x");
        ax.require_dtype("float32").require_ndim(3).require_contiguous();
        const std::int64_t n = ax.shape[0], c = ax.shape[1], l = ax.shape[2];
        if (!(eps >= 0.0)) throw py::value_error(std::string(op) + ": eps must be non-negative, got " + std::to_string(eps));
        if (training && n * l == 0) throw py::value_error(std::string(op) + ": training needs at least one value per channel");
        if (!training && (running_mean.is_none() || running_var.is_none()))
          throw py::value_error(std::string(op) + ": eval mode needs running_mean and running_var");
        const DeviceArray ay = device_array(y, op, "y");
        ay.require_dtype("float32").require_contiguous().require_writable().require_shape(ax.shape);
        k::BatchNormForwardArgs a{};
        a.x = ax.data<float>();
        a.y = ay.data<float>();
        a.weight = optional_vector<const float>(weight, op, "weight", "float32", c, false);
        a.bias = optional_vector<const float>(bias, op, "bias", "float32", c, false);
        if (!training) {
          a.running_mean = optional_vector<const float>(running_mean, op, "running_mean", "float32", c, false);
          a.running_var = optional_vector<const float>(running_var, op, "running_var", "float32", c, false);
        }
        a.mean = required_vector<double>(mean, op, "mean", "float64", c, true);
        a.invstd = required_vector<double>(invstd, op, "invstd", "float64", c, true);
        if (training) a.var = required_vector<double>(var, op, "var", "float64", c, true);
        else if (!var.is_none()) throw py::value_error(std::string(op) + ": var is the batch variance: None in eval mode");
        a.work = workspace(work, op, n, c, l);
        a.n = n;
        a.c = c;
        a.l = l;
        a.training = training;
        a.eps = eps;
        py::gil_scoped_release release;
        k::batch_norm_forward_f32(a, device, k::as_stream(stream));
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("running_mean"), py::arg("running_var"), py::arg("y"),
      py::arg("mean"), py::arg("invstd"), py::arg("var"), py::arg("work"), py::arg("training"), py::arg("eps"),
      py::arg("device") = 0, py::arg("stream") = 0,
      "Batch norm of a C-contiguous (N, C, L) float32 device array into y; mean, invstd (and in training var, the "
      "biased batch variance) are float64 (C,) outputs; weight / bias / running buffers float32 (C,) or None; work: "
      "float64 (batch_norm_workspace(N, C, L),). The running buffers are read in eval only and never written.");
  m.def(
      "batch_norm_backward_f32",
      [](py::object grad_out, py::object x, py::object mean, py::object invstd, py::object weight, py::object grad_in,
         py::object grad_weight, py::object grad_bias, py::object work, bool training, int device,
         std::uintptr_t stream) {
        const char* op = "batch_norm_backward_f32";
        const DeviceArray ax = device_array(x, op, "x"), ag = device_array(grad_out, op, "grad_out");
        ax.require_dtype("float32").require_ndim(3).require_contiguous();
        ag.require_dtype("float32").require_contiguous().require_shape(ax.shape);
        const std::int64_t n = ax.shape[0], c = ax.shape[1], l = ax.shape[2];
        k::BatchNormBackwardArgs a{};
        a.x = ax.data<float>();
        a.grad_out = ag.data<float>();
        a.mean = required_vector<const double>(mean, op, "mean", "float64", c, false);
        a.invstd = required_vector<const double>(invstd, op, "invstd", "float64", c, false);
        a.weight = optional_vector<const float>(weight, op, "weight", "float32", c, false);
        if (!grad_in.is_none()) {
          const DeviceArray gi = device_array(grad_in, op, "grad_in");
          gi.require_dtype("float32").require_contiguous().require_writable().require_shape(ax.shape);
          a.grad_in = gi.data<float>();
        }
        a.grad_weight = optional_vector<float>(grad_weight, op, "grad_weight", "float32", c, true);
        a.grad_bias = optional_vector<float>(grad_bias, op, "grad_bias", "float32", c, true);
        a.work = workspace(work, op, n, c, l);
        a.n = n;
        a.c = c;
        a.l = l;
        a.training = training;
        py::gil_scoped_release release;
        k::batch_norm_backward_f32(a, device, k::as_stream(stream));
      },
      py::arg("grad_out"), py::arg("x"), py::arg("mean"), py::arg("invstd"), py::arg("weight"), py::arg("grad_in"),
      py::arg("grad_weight"), py::arg("grad_bias"), py::arg("work"), py::arg("training"), py::arg("device") = 0,
      py::arg("stream") = 0,
      "Gradients of batch_norm_forward_f32 from its float64 mean and invstd: grad_in (N, C, L), grad_weight and "
      "grad_bias float32 (C,), each written unless None; work: float64 (batch_norm_workspace(N, C, L),).");
}
