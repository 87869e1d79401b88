// fastnn._C.cuda / fastnn._emu: layer_norm_rows_f32, layer_norm_rows_backward_f32 (+ its scratch size). Outputs come from the caller (CuPy's pool).
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "device_array.h"
#include "layernorm.h"
#include "launch.h"
#include "registry.h"

namespace {
namespace py = pybind11;
using fastnn::cuda_bindings::device_array;
using fastnn::cuda_bindings::DeviceArray;

const float* optional_vector(const py::object& obj, const char* op, const char* name, std::int64_t cols) {
  if (obj.is_none()) return nullptr;
  const DeviceArray v = device_array(obj, op, name);
  v.require_dtype("float32").require_contiguous().require_shape({cols});
  return v.data<float>();
}

// An optional output of the given shape: nullptr for None.
float* optional_output(const py::object& obj, const char* op, const char* name, const std::vector<std::int64_t>& shape) {
  if (obj.is_none()) return nullptr;
  const DeviceArray v = device_array(obj, op, name);
  v.require_dtype("float32").require_contiguous().require_writable().require_shape(shape);
  return v.data<float>();
}
}  // namespace

FASTNN_CUDA_BINDING(layernorm) {
  m.def(
      "layer_norm_rows_f32",
      [](py::object x, py::object weight, py::object bias, py::object y, py::object mean, py::object rstd, double eps,
         int device, std::uintptr_t stream) {
        const char* op = "layer_norm_rows_f32";
        const DeviceArray ax = device_array(x, op, "x");
        ax.require_dtype("float32").require_ndim(2).require_contiguous();
        const std::int64_t rows = ax.shape[0], cols = ax.shape[1];
        if (cols == 0) throw py::value_error(std::string(op) + ": rows of no columns have no statistics");
        const DeviceArray ay = device_array(y, op, "y"), am = device_array(mean, op, "mean"),
                          ar = device_array(rstd, op, "rstd");
        ay.require_dtype("float32").require_contiguous().require_writable().require_shape({rows, cols});
        am.require_dtype("float32").require_contiguous().require_writable().require_shape({rows});
        ar.require_dtype("float32").require_contiguous().require_writable().require_shape({rows});
        namespace k = fastnn::FASTNN_CUDA_NS;
        const k::LayerNormArgs args{ax.data<float>(), optional_vector(weight, op, "weight", cols),
                                    optional_vector(bias, op, "bias", cols), ay.data<float>(), am.data<float>(),
                                    ar.data<float>(), rows, cols, static_cast<float>(eps)};
        py::gil_scoped_release release;
        k::layer_norm_rows_f32(args, device, k::as_stream(stream));
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("y"), py::arg("mean"), py::arg("rstd"), py::arg("eps"),
      py::arg("device") = 0, py::arg("stream") = 0,
      "LayerNorm of each row of a C-contiguous (rows, cols) float32 device array into y, mean, rstd.");
  m.def(
      "layer_norm_rows_backward_scratch",
      [](std::int64_t rows, std::int64_t cols) {
        const char* op = "layer_norm_rows_backward_scratch";
        fastnn::cuda_bindings::checked_size(rows, op, "rows");
        fastnn::cuda_bindings::checked_size(cols, op, "cols");
        return fastnn::FASTNN_CUDA_NS::layer_norm_rows_backward_scratch(rows, cols);
      },
      py::arg("rows"), py::arg("cols"),
      "The float32 elements of scratch layer_norm_rows_backward_f32 needs for dweight / dbias.");
  m.def(
      "layer_norm_rows_backward_f32",
      [](py::object x, py::object grad_output, py::object mean, py::object rstd, py::object weight, py::object dx,
         py::object dweight, py::object dbias, py::object scratch, int device, std::uintptr_t stream) {
        const char* op = "layer_norm_rows_backward_f32";
        const DeviceArray ax = device_array(x, op, "x");
        ax.require_dtype("float32").require_ndim(2).require_contiguous();
        const std::int64_t rows = fastnn::cuda_bindings::checked_size(ax.shape[0], op, "rows"), cols = ax.shape[1];
        const DeviceArray ag = device_array(grad_output, op, "grad_output");
        ag.require_dtype("float32").require_contiguous().require_shape({rows, cols});
        const DeviceArray am = device_array(mean, op, "mean"), ar = device_array(rstd, op, "rstd");
        am.require_dtype("float32").require_contiguous().require_shape({rows});
        ar.require_dtype("float32").require_contiguous().require_shape({rows});
        namespace k = fastnn::FASTNN_CUDA_NS;
        k::LayerNormBackwardArgs args{ax.data<float>(), ag.data<float>(), am.data<float>(), ar.data<float>(),
                                      optional_vector(weight, op, "weight", cols),
                                      optional_output(dx, op, "dx", {rows, cols}),
                                      optional_output(dweight, op, "dweight", {cols}),
                                      optional_output(dbias, op, "dbias", {cols}), nullptr, rows, cols};
        if (args.dweight || args.dbias) {
          if (scratch.is_none()) {
            throw py::value_error(std::string(op) + ": dweight / dbias need scratch of " +
                                  std::to_string(k::layer_norm_rows_backward_scratch(rows, cols)) + " float32");
          }
          args.scratch = optional_output(scratch, op, "scratch", {k::layer_norm_rows_backward_scratch(rows, cols)});
        }
        py::gil_scoped_release release;
        k::layer_norm_rows_backward_f32(args, device, k::as_stream(stream));
      },
      py::arg("x"), py::arg("grad_output"), py::arg("mean"), py::arg("rstd"), py::arg("weight"), py::arg("dx"),
      py::arg("dweight"), py::arg("dbias"), py::arg("scratch"), py::arg("device") = 0, py::arg("stream") = 0,
      "Gradients of layer_norm_rows_f32 from its saved mean and rstd into dx (rows, cols), dweight and dbias\n"
      "(cols,), each None when not wanted; dweight / dbias are reduced over the rows in a fixed order through\n"
      "scratch (float32, layer_norm_rows_backward_scratch(rows, cols) elements).");
}
