// fastnn._C.cuda / fastnn._emu: max_pool2d_f32, max_pool2d_backward_f32, avg_pool2d_f32, avg_pool2d_backward_f32.
// The geometry is checked here with the CPU binding's messages (backend/composite/pool.py); outputs, the
// argmax included, come from the caller.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "device_array.h"
#include "fastnn/checked_size.h"
#include "launch.h"
#include "pool.h"
#include "registry.h"

namespace {
namespace py = pybind11;
using fastnn::cuda_bindings::device_array;
using fastnn::cuda_bindings::DeviceArray;
namespace k = fastnn::FASTNN_CUDA_NS;
using Pair = std::array<std::int64_t, 2>;

std::string pair_text(const Pair& p) { return "(" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ")"; }

// The geometry of an (n, c, h, w) input, with the composite's ValueErrors.
k::Pool2dGeometry geometry(const char* op, const std::vector<std::int64_t>& shape, const Pair& kernel,
                           const Pair& stride, const Pair& pad, const Pair& dilation, bool ceil_mode, bool is_max) {
  const std::string o(op);
  for (int i = 0; i < 2; ++i)
    if (kernel[i] <= 0 || stride[i] <= 0 || dilation[i] <= 0)
      throw py::value_error(o + ": kernel_size, stride and dilation must be positive, got kernel_size=" +
                            pair_text(kernel) + ", stride=" + pair_text(stride) + ", dilation=" + pair_text(dilation));
  for (int i = 0; i < 2; ++i) {
    // 2 * pad > effective, written so that neither side can overflow int64
    const std::int64_t effective =
        is_max ? fastnn::checked::window(shape[2 + i], kernel[i], stride[i], 0, dilation[i], o).span : kernel[i];
    if (pad[i] < 0 || pad[i] > effective / 2)
      throw py::value_error(o + ": pad should be at most half of effective kernel size, but got pad=" +
                            std::to_string(pad[i]) + ", kernel_size=" + std::to_string(kernel[i]) +
                            " and dilation=" + std::to_string(dilation[i]));
  }
  const std::int64_t lim = std::numeric_limits<std::int32_t>::max();
  for (int i = 0; i < 2; ++i)
    if (kernel[i] > lim || stride[i] > lim || dilation[i] > lim)
      throw py::value_error(o + ": kernel_size, stride and dilation must be below 2**31");
  k::Pool2dGeometry g{};
  g.planes = shape[0] * shape[1];
  g.in_h = shape[2];
  g.in_w = shape[3];
  g.out_h = fastnn::checked::pool_output_size(g.in_h, kernel[0], stride[0], pad[0], dilation[0], ceil_mode, o);
  g.out_w = fastnn::checked::pool_output_size(g.in_w, kernel[1], stride[1], pad[1], dilation[1], ceil_mode, o);
  if (g.out_h < 1 || g.out_w < 1)
    throw py::value_error(o + ": input of spatial size " + std::to_string(g.in_h) + "x" + std::to_string(g.in_w) +
                          " gives output size " + std::to_string(g.out_h) + "x" + std::to_string(g.out_w) +
                          ", which is too small");
  if (is_max && g.in_h * g.in_w > lim)  // the argmax is an int32 index into the plane
    throw py::value_error(o + ": an input plane of " + std::to_string(g.in_h * g.in_w) +
                          " elements exceeds the int32 argmax (2**31 - 1)");
  g.kernel_h = static_cast<int>(kernel[0]);
  g.kernel_w = static_cast<int>(kernel[1]);
  g.stride_h = static_cast<int>(stride[0]);
  g.stride_w = static_cast<int>(stride[1]);
  g.pad_h = static_cast<int>(pad[0]);
  g.pad_w = static_cast<int>(pad[1]);
  g.dilation_h = static_cast<int>(dilation[0]);
  g.dilation_w = static_cast<int>(dilation[1]);
  return g;
}

std::vector<std::int64_t> out_shape(const std::vector<std::int64_t>& in, const k::Pool2dGeometry& g) {
  return {in[0], in[1], g.out_h, g.out_w};
}

const DeviceArray& input4(const DeviceArray& a) { return a.require_dtype("float32").require_ndim(4).require_contiguous(); }

const DeviceArray& output(const DeviceArray& a, const char* dtype, const std::vector<std::int64_t>& shape) {
  return a.require_dtype(dtype).require_contiguous().require_writable().require_shape(shape);
}

std::int64_t divisor(const std::optional<std::int64_t>& d, const char* op) {
  if (!d) return 0;
  if (*d == 0) throw py::value_error(std::string(op) + ": divisor must be not zero");
  if (*d < 0 || *d > std::numeric_limits<std::int32_t>::max())
    throw py::value_error(std::string(op) + ": divisor_override must be positive and below 2**31, got " +
                          std::to_string(*d));
  return *d;
}

}  // namespace

FASTNN_CUDA_BINDING(pool) {
  m.def(
      "max_pool2d_f32",
      [](py::object x, py::object y, py::object argmax, Pair kernel, Pair stride, Pair padding, Pair dilation,
         bool ceil_mode, int device, std::uintptr_t stream) {
        const char* op = "max_pool2d_f32";
        const DeviceArray ax = device_array(x, op, "x");
        input4(ax);
        k::MaxPool2dArgs a{};
        a.g = geometry(op, ax.shape, kernel, stride, padding, dilation, ceil_mode, true);
        const auto shape = out_shape(ax.shape, a.g);
        const DeviceArray ay = device_array(y, op, "y");
        output(ay, "float32", shape);
        a.x = ax.data<float>();
        a.y = ay.data<float>();
        if (!argmax.is_none()) {
          const DeviceArray ai = device_array(argmax, op, "argmax");
          output(ai, "int32", shape);
          a.argmax = ai.data<std::int32_t>();
        }
        py::gil_scoped_release release;
        k::max_pool2d_f32(a, device, k::as_stream(stream));
      },
      py::arg("x"), py::arg("y"), py::arg("argmax"), py::arg("kernel"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("ceil_mode"), py::arg("device") = 0, py::arg("stream") = 0,
      "Max pooling of a C-contiguous (N, C, H, W) float32 device array into y (N, C, oh, ow) and, unless None, "
      "argmax (int32, the flat in-plane input index of each window's maximum, -1 where a window has no input "
      "tap). PyTorch's rule: a greater value or NaN wins, padding never.");
  m.def(
      "max_pool2d_backward_f32",
      [](py::object grad_out, py::object argmax, py::object grad_in, Pair kernel, Pair stride, Pair padding,
         Pair dilation, bool ceil_mode, int device, std::uintptr_t stream) {
        const char* op = "max_pool2d_backward_f32";
        const DeviceArray agi = device_array(grad_in, op, "grad_in");
        agi.require_dtype("float32").require_ndim(4).require_contiguous().require_writable();
        k::MaxPool2dBackwardArgs a{};
        a.g = geometry(op, agi.shape, kernel, stride, padding, dilation, ceil_mode, true);
        const auto shape = out_shape(agi.shape, a.g);
        const DeviceArray ago = device_array(grad_out, op, "grad_out"), ai = device_array(argmax, op, "argmax");
        ago.require_dtype("float32").require_contiguous().require_shape(shape);
        ai.require_dtype("int32").require_contiguous().require_shape(shape);
        a.grad_out = ago.data<float>();
        a.argmax = ai.data<std::int32_t>();
        a.grad_in = agi.data<float>();
        py::gil_scoped_release release;
        k::max_pool2d_backward_f32(a, device, k::as_stream(stream));
      },
      py::arg("grad_out"), py::arg("argmax"), py::arg("grad_in"), py::arg("kernel"), py::arg("stride"),
      py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"), py::arg("device") = 0, py::arg("stream") = 0,
      "Input gradient of max_pool2d_f32 into grad_in (N, C, H, W): each window's grad_out goes to its argmax "
      "(from max_pool2d_f32 with the same geometry), summed where windows overlap; every element is written.");
  m.def(
      "avg_pool2d_f32",
      [](py::object x, py::object y, Pair kernel, Pair stride, Pair padding, bool ceil_mode, bool count_include_pad,
         std::optional<std::int64_t> divisor_override, int device, std::uintptr_t stream) {
        const char* op = "avg_pool2d_f32";
        k::AvgPool2dArgs a{};
        a.divisor_override = divisor(divisor_override, op);
        const DeviceArray ax = device_array(x, op, "x");
        input4(ax);
        a.g = geometry(op, ax.shape, kernel, stride, padding, {1, 1}, ceil_mode, false);
        const DeviceArray ay = device_array(y, op, "y");
        output(ay, "float32", out_shape(ax.shape, a.g));
        a.in = ax.data<float>();
        a.out = ay.data<float>();
        a.count_include_pad = count_include_pad;
        py::gil_scoped_release release;
        k::avg_pool2d_f32(a, device, k::as_stream(stream));
      },
      py::arg("x"), py::arg("y"), py::arg("kernel"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
      py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("device") = 0, py::arg("stream") = 0,
      "Average pooling of a C-contiguous (N, C, H, W) float32 device array into y (N, C, oh, ow): each window's "
      "sum over divisor_override, or its size within the zero-padded input (count_include_pad) or the input.");
  m.def(
      "avg_pool2d_backward_f32",
      [](py::object grad_out, py::object grad_in, Pair kernel, Pair stride, Pair padding, bool ceil_mode,
         bool count_include_pad, std::optional<std::int64_t> divisor_override, int device, std::uintptr_t stream) {
        const char* op = "avg_pool2d_backward_f32";
        k::AvgPool2dArgs a{};
        a.divisor_override = divisor(divisor_override, op);
        const DeviceArray agi = device_array(grad_in, op, "grad_in");
        agi.require_dtype("float32").require_ndim(4).require_contiguous().require_writable();
        a.g = geometry(op, agi.shape, kernel, stride, padding, {1, 1}, ceil_mode, false);
        const DeviceArray ago = device_array(grad_out, op, "grad_out");
        ago.require_dtype("float32").require_contiguous().require_shape(out_shape(agi.shape, a.g));
        a.in = ago.data<float>();
        a.out = agi.data<float>();
        a.count_include_pad = count_include_pad;
        py::gil_scoped_release release;
        k::avg_pool2d_backward_f32(a, device, k::as_stream(stream));
      },
      py::arg("grad_out"), py::arg("grad_in"), py::arg("kernel"), py::arg("stride"), py::arg("padding"),
      py::arg("ceil_mode"), py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("device") = 0,
      py::arg("stream") = 0,
      "Input gradient of avg_pool2d_f32 into grad_in (N, C, H, W): the sum over the windows holding each input "
      "of grad_out / divisor; every element is written.");
}
