// fastnn._C.cuda / fastnn._emu: softmax_last_f32, softmax_last_backward_f32, cross_entropy_rows_f32,
// cross_entropy_rows_backward_f32. Outputs (and the one-int32 `bad` flag of the cross-entropy kernels)
// come from the caller.
#include <pybind11/pybind11.h>

#include <string>

#include "device_array.h"
#include "launch.h"
#include "registry.h"
#include "softmax.h"

namespace {
namespace py = pybind11;
using fastnn::cuda_bindings::checked_size;
using fastnn::cuda_bindings::device_array;
using fastnn::cuda_bindings::DeviceArray;
namespace k = fastnn::FASTNN_CUDA_NS;

// A C-contiguous float32 array of at least one dimension, seen as (rows, last dim).
DeviceArray rows_of(const py::object& obj, const char* op, const char* name, std::int64_t* rows, std::int64_t* cols) {
  const DeviceArray a = device_array(obj, op, name);
  a.require_dtype("float32").require_contiguous();
  if (a.ndim() == 0) throw py::value_error(std::string(op) + ": " + name + " must have at least one dimension");
  *cols = a.shape.back();
  *rows = 1;
  for (int d = 0; d + 1 < a.ndim(); ++d) *rows *= a.shape[d];
  checked_size(*rows, op, "the number of rows");
  return a;
}

DeviceArray output_like(const py::object& obj, const DeviceArray& like, const char* op, const char* name) {
  const DeviceArray a = device_array(obj, op, name);
  a.require_dtype("float32").require_contiguous().require_writable().require_shape(like.shape);
  return a;
}

// The checks both cross-entropy kernels make; fills the kernel's arguments.
k::CrossEntropyArgs xent_args(const char* op, const py::object& logits, const py::object& target,
                              const py::object& bad, std::int64_t ignore_index, double label_smoothing,
                              DeviceArray* logits_out) {
  const DeviceArray x = device_array(logits, op, "logits");
  x.require_dtype("float32").require_ndim(2).require_contiguous();
  const std::int64_t rows = checked_size(x.shape[0], op, "the number of rows"), cols = x.shape[1];
  const DeviceArray t = device_array(target, op, "target");
  t.require_dtype("int64").require_contiguous().require_shape({rows});
  const DeviceArray b = device_array(bad, op, "bad");
  b.require_dtype("int32").require_contiguous().require_writable().require_shape({1});
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0)) {
    throw py::value_error(std::string(op) + ": label_smoothing must be between 0.0 and 1.0, got " +
                          std::to_string(label_smoothing));
  }
  *logits_out = x;
  return k::CrossEntropyArgs{x.data<float>(), t.data<std::int64_t>(), rows, cols, ignore_index, label_smoothing,
                             b.data<int>()};
}
}  // namespace

FASTNN_CUDA_BINDING(softmax) {
  m.def(
      "softmax_last_f32",
      [](py::object x, py::object y, bool log, int device, std::uintptr_t stream) {
        const char* op = "softmax_last_f32";
        std::int64_t rows, cols;
        const DeviceArray ax = rows_of(x, op, "x", &rows, &cols);
        const DeviceArray ay = output_like(y, ax, op, "y");
        const k::SoftmaxArgs args{ax.data<float>(), ay.data<float>(), rows, cols, log};
        py::gil_scoped_release release;
        k::softmax_last_f32(args, device, k::as_stream(stream));
      },
      py::arg("x"), py::arg("y"), py::arg("log"), py::arg("device") = 0, py::arg("stream") = 0,
      "softmax (log_softmax with log) over the last dim of a C-contiguous float32 device array into y.");
  m.def(
      "softmax_last_backward_f32",
      [](py::object y, py::object g, py::object dx, bool log, int device, std::uintptr_t stream) {
        const char* op = "softmax_last_backward_f32";
        std::int64_t rows, cols;
        const DeviceArray ay = rows_of(y, op, "y", &rows, &cols);
        const DeviceArray ag = device_array(g, op, "grad_output");
        ag.require_dtype("float32").require_contiguous().require_shape(ay.shape);
        const DeviceArray adx = output_like(dx, ay, op, "dx");
        const k::SoftmaxBackwardArgs args{ay.data<float>(), ag.data<float>(), adx.data<float>(), rows, cols, log};
        py::gil_scoped_release release;
        k::softmax_last_backward_f32(args, device, k::as_stream(stream));
      },
      py::arg("y"), py::arg("grad_output"), py::arg("dx"), py::arg("log"), py::arg("device") = 0,
      py::arg("stream") = 0,
      "Input gradient of softmax_last_f32 from its output y and grad_output: y * (g - sum(g * y)), or\n"
      "g - exp(y) * sum(g) with log, per row, into dx.");
  m.def(
      "cross_entropy_rows_f32",
      [](py::object logits, py::object target, py::object loss, py::object lse, py::object bad,
         std::int64_t ignore_index, double label_smoothing, int device, std::uintptr_t stream) {
        const char* op = "cross_entropy_rows_f32";
        DeviceArray x;
        const k::CrossEntropyArgs args = xent_args(op, logits, target, bad, ignore_index, label_smoothing, &x);
        const DeviceArray al = device_array(loss, op, "loss"), ae = device_array(lse, op, "lse");
        al.require_dtype("float32").require_contiguous().require_writable().require_shape({args.rows});
        ae.require_dtype("float32").require_contiguous().require_writable().require_shape({args.rows});
        py::gil_scoped_release release;
        k::cross_entropy_rows_f32(args, al.data<float>(), ae.data<float>(), device, k::as_stream(stream));
      },
      py::arg("logits"), py::arg("target"), py::arg("loss"), py::arg("lse"), py::arg("bad"), py::arg("ignore_index"),
      py::arg("label_smoothing"), py::arg("device") = 0, py::arg("stream") = 0,
      "Per-row cross-entropy of (N, C) float32 logits against int64 targets into loss and lse (N,); rows whose\n"
      "target is ignore_index get 0. bad: an int32 device array of shape (1,) holding 2**31 - 1, lowered to the\n"
      "first row whose target is out of range (that row's outputs are NaN).");
  m.def(
      "cross_entropy_rows_backward_f32",
      [](py::object logits, py::object target, py::object lse, py::object grad_rows, py::object dx, py::object bad,
         double scale, std::int64_t ignore_index, double label_smoothing, int device, std::uintptr_t stream) {
        const char* op = "cross_entropy_rows_backward_f32";
        DeviceArray x;
        const k::CrossEntropyArgs args = xent_args(op, logits, target, bad, ignore_index, label_smoothing, &x);
        const DeviceArray ae = device_array(lse, op, "lse");
        ae.require_dtype("float32").require_contiguous().require_shape({args.rows});
        const float* gr = nullptr;
        if (!grad_rows.is_none()) {
          const DeviceArray ag = device_array(grad_rows, op, "grad_rows");
          ag.require_dtype("float32").require_contiguous().require_shape({args.rows});
          gr = ag.data<float>();
        }
        const DeviceArray adx = output_like(dx, x, op, "dx");
        py::gil_scoped_release release;
        k::cross_entropy_rows_backward_f32(args, ae.data<float>(), gr, scale, adx.data<float>(), device,
                                           k::as_stream(stream));
      },
      py::arg("logits"), py::arg("target"), py::arg("lse"), py::arg("grad_rows"), py::arg("dx"), py::arg("bad"),
      py::arg("scale"), py::arg("ignore_index"), py::arg("label_smoothing"), py::arg("device") = 0,
      py::arg("stream") = 0,
      "d loss_i / d logits of cross_entropy_rows_f32 from its lse, row i scaled by scale * grad_rows[i] (scale\n"
      "when grad_rows is None); ignored rows get 0; bad as in the forward.");
}
