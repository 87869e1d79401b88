// fastnn._C.cuda / fastnn._emu: the conv2d family (float32, C-contiguous NCHW device arrays). Outputs and the
// weight gradient's workspace come from the caller (CuPy's pool); the shape checks and their messages are those of
// backend/composite/conv.py with the op's name in front.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <utility>

#include "conv2d.h"
#include "fastnn/checked_size.h"
#include "device_array.h"
#include "launch.h"
#include "registry.h"

namespace {
namespace py = pybind11;
using fastnn::cuda_bindings::checked_size;
using fastnn::cuda_bindings::device_array;
using fastnn::cuda_bindings::DeviceArray;
namespace k = fastnn::FASTNN_CUDA_NS;
using Pair = std::pair<std::int64_t, std::int64_t>;

[[noreturn]] void fail(const char* op, const std::string& what) { throw py::value_error(std::string(op) + ": " + what); }

// The shape of one convolution after the parameter checks of the composite backend.
k::Conv2dShape make_shape(const char* op, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                          std::int64_t o, std::int64_t wc, std::int64_t kh, std::int64_t kw, Pair stride, Pair padding,
                          Pair dilation, std::int64_t groups) {
  if (stride.first < 1 || stride.second < 1) fail(op, "stride must be positive");
  if (padding.first < 0 || padding.second < 0) fail(op, "negative padding is not supported");
  if (dilation.first < 1 || dilation.second < 1) fail(op, "dilation must be positive");
  if (groups < 1) fail(op, "groups must be positive");
  if (c % groups != 0 || o % groups != 0) {
    fail(op, "in_channels (" + std::to_string(c) + ") and out_channels (" + std::to_string(o) +
                 ") must be divisible by groups (" + std::to_string(groups) + ")");
  }
  if (fastnn::checked::mul(wc, groups, op, "the input channels") != c) {
    fail(op, "expected input with " + std::to_string(wc * groups) + " channels (weight has " + std::to_string(wc) +
                 " per group, groups=" + std::to_string(groups) + "), but got " + std::to_string(c) + " channels");
  }
  if (kh < 1 || kw < 1) fail(op, "kernel size must be positive");
  // Every term checked (fastnn/checked_size.h): a padding or dilation whose arithmetic wraps int64 is a
  // ValueError here, not a wrapped size the 32-bit checks below would let through.
  const auto [oh, ow] = fastnn::checked::conv_output_hw(h, w, kh, kw, stride, padding, dilation, op);
  const std::int64_t hp = h + 2 * padding.first, wp = w + 2 * padding.second;  // checked just above
  for (std::int64_t v : {stride.first, stride.second, padding.first, padding.second, dilation.first, dilation.second,
                         hp, wp, fastnn::checked::mul(dilation.first, kh, op, "the dilated kernel"),
                         fastnn::checked::mul(dilation.second, kw, op, "the dilated kernel")}) {
    checked_size(v, op, "a stride, padding or dilation");
  }
  const auto i32 = [](std::int64_t v) { return static_cast<int>(v); };
  k::Conv2dShape s{};
  s.n = i32(n), s.c = i32(c), s.h = i32(h), s.w = i32(w), s.o = i32(o), s.kh = i32(kh), s.kw = i32(kw);
  s.oh = i32(oh);
  s.ow = i32(ow);
  s.sh = i32(stride.first), s.sw = i32(stride.second), s.ph = i32(padding.first), s.pw = i32(padding.second);
  s.dh = i32(dilation.first), s.dw = i32(dilation.second), s.groups = i32(groups);
  return s;
}

// A float32, C-contiguous, 4-D operand whose element count fits the kernels' 32-bit arithmetic.
const DeviceArray& operand(const DeviceArray& a, int ndim) {
  a.require_dtype("float32").require_ndim(ndim).require_contiguous();
  checked_size(a.numel(), a.op, (std::string(a.name) + " size").c_str());
  return a;
}

const DeviceArray& output(const DeviceArray& a, const std::vector<std::int64_t>& shape) {
  a.require_dtype("float32").require_contiguous().require_writable().require_shape(shape);
  checked_size(a.numel(), a.op, (std::string(a.name) + " size").c_str());
  return a;
}

void check_grad_output(const DeviceArray& g, const k::Conv2dShape& s) {
  if (g.shape != std::vector<std::int64_t>{s.n, s.o, s.oh, s.ow}) {
    fail(g.op, "grad_output must have shape (" + std::to_string(s.n) + ", " + std::to_string(s.o) + ", " +
                   std::to_string(s.oh) + ", " + std::to_string(s.ow) + ")");
  }
}

// The slice count a split reduction's workspace (None: 1) implies: it must hold splits * size floats, splits >= 2.
int slices_of(const py::object& workspace, const char* op, std::int64_t size, const char* of) {
  if (workspace.is_none()) return 1;
  const DeviceArray aws = device_array(workspace, op, "workspace");
  aws.require_dtype("float32").require_ndim(1).require_contiguous().require_writable();
  if (size == 0 || aws.shape[0] % size != 0 || aws.shape[0] / size < 2 || aws.shape[0] / size > 65535) {
    fail(op, std::string("workspace must hold splits * ") + of + ".size floats (2 <= splits <= 65535), got " +
                 std::to_string(aws.shape[0]) + " for " + of + ".size " + std::to_string(size));
  }
  return static_cast<int>(aws.shape[0] / size);
}

}  // namespace

FASTNN_CUDA_BINDING(conv2d) {
  m.def(
      "conv2d_forward_f32",
      [](py::object x, py::object w, py::object b, py::object y, Pair stride, Pair padding, Pair dilation,
         std::int64_t groups, int device, std::uintptr_t stream) {
        const char* op = "conv2d_forward_f32";
        const DeviceArray ax = device_array(x, op, "input"), aw = device_array(w, op, "weight");
        operand(ax, 4);
        operand(aw, 4);
        const k::Conv2dShape s = make_shape(op, ax.shape[0], ax.shape[1], ax.shape[2], ax.shape[3], aw.shape[0],
                                            aw.shape[1], aw.shape[2], aw.shape[3], stride, padding, dilation, groups);
        const float* bias = nullptr;
        if (!b.is_none()) {
          const DeviceArray ab = device_array(b, op, "bias");
          ab.require_dtype("float32").require_contiguous().require_shape({s.o});
          bias = ab.data<float>();
        }
        const DeviceArray ay = device_array(y, op, "output");
        output(ay, {s.n, s.o, s.oh, s.ow});
        py::gil_scoped_release release;
        k::conv2d_forward_f32(s, ax.data<float>(), aw.data<float>(), bias, ay.data<float>(), device,
                              k::as_stream(stream));
      },
      py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"), py::arg("device") = 0, py::arg("stream") = 0,
      "y (N, O, OH, OW) = conv2d(x (N, C, H, W), w (O, C/groups, KH, KW)) + b (O,) or None: an implicit GEMM.");

  m.def(
      "conv2d_backward_data_f32",
      [](py::object g, py::object w, py::object dx, Pair stride, Pair padding, Pair dilation, std::int64_t groups,
         int device, std::uintptr_t stream) {
        const char* op = "conv2d_backward_data_f32";
        const DeviceArray ag = device_array(g, op, "grad_output"), aw = device_array(w, op, "weight"),
                          adx = device_array(dx, op, "grad_input");
        operand(ag, 4);
        operand(aw, 4);
        adx.require_ndim(4);
        const k::Conv2dShape s = make_shape(op, ag.shape[0], aw.shape[1] * groups, adx.shape[2], adx.shape[3],
                                            aw.shape[0], aw.shape[1], aw.shape[2], aw.shape[3], stride, padding,
                                            dilation, groups);
        check_grad_output(ag, s);
        output(adx, {s.n, s.c, s.h, s.w});
        py::gil_scoped_release release;
        k::conv2d_backward_data_f32(s, ag.data<float>(), aw.data<float>(), adx.data<float>(), device,
                                    k::as_stream(stream));
      },
      py::arg("g"), py::arg("w"), py::arg("dx"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
      py::arg("groups"), py::arg("device") = 0, py::arg("stream") = 0,
      "dx (N, C, H, W) of conv2d from g (N, O, OH, OW) and w (O, C/groups, KH, KW); (H, W) is dx's.");

  m.def(
      "conv2d_backward_weight_f32_splits",
      [](std::vector<std::int64_t> x_shape, std::int64_t out_channels, Pair kernel, Pair stride, Pair padding,
         Pair dilation, std::int64_t groups) {
        const char* op = "conv2d_backward_weight_f32_splits";
        if (x_shape.size() != 4) fail(op, "x_shape must have 4 entries");
        for (auto v : x_shape) checked_size(v, op, "an input dimension");
        checked_size(out_channels, op, "out_channels");
        if (groups < 1) fail(op, "groups must be positive");
        const k::Conv2dShape s = make_shape(op, x_shape[0], x_shape[1], x_shape[2], x_shape[3], out_channels,
                                            x_shape[1] / groups, kernel.first, kernel.second, stride, padding,
                                            dilation, groups);
        return k::conv2d_backward_weight_f32_splits(s);
      },
      py::arg("x_shape"), py::arg("out_channels"), py::arg("kernel"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"),
      "How many slices of N*OH*OW conv2d_backward_weight_f32 should split its reduction into for this shape; "
      "above 1 it needs a float32 workspace of splits * dw.size elements.");

  m.def(
      "conv2d_backward_weight_f32",
      [](py::object g, py::object x, py::object dw, py::object workspace, Pair stride, Pair padding, Pair dilation,
         std::int64_t groups, int device, std::uintptr_t stream) {
        const char* op = "conv2d_backward_weight_f32";
        const DeviceArray ag = device_array(g, op, "grad_output"), ax = device_array(x, op, "input"),
                          adw = device_array(dw, op, "grad_weight");
        operand(ag, 4);
        operand(ax, 4);
        adw.require_ndim(4);
        if (groups < 1) fail(op, "groups must be positive");
        const k::Conv2dShape s = make_shape(op, ax.shape[0], ax.shape[1], ax.shape[2], ax.shape[3], ag.shape[1],
                                            ax.shape[1] / groups, adw.shape[2], adw.shape[3], stride, padding,
                                            dilation, groups);
        check_grad_output(ag, s);
        output(adw, {s.o, s.c / s.groups, s.kh, s.kw});
        const int splits = slices_of(workspace, op, adw.numel(), "grad_weight");
        float* ws = splits > 1 ? device_array(workspace, op, "workspace").data<float>() : nullptr;
        py::gil_scoped_release release;
        k::conv2d_backward_weight_f32(s, ag.data<float>(), ax.data<float>(), adw.data<float>(), ws, splits, device,
                                      k::as_stream(stream));
      },
      py::arg("g"), py::arg("x"), py::arg("dw"), py::arg("workspace"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("groups"), py::arg("device") = 0, py::arg("stream") = 0,
      "dw (O, C/groups, KH, KW) of conv2d from g (N, O, OH, OW) and x (N, C, H, W). workspace: None, or a float32 "
      "array of splits * dw.size elements (splits >= 2) for a split reduction added in a fixed order.");

  m.def(
      "conv2d_backward_bias_f32_splits",
      [](std::vector<std::int64_t> g_shape) {
        const char* op = "conv2d_backward_bias_f32_splits";
        if (g_shape.size() != 4) fail(op, "g_shape must have 4 entries");
        for (auto v : g_shape) checked_size(v, op, "a grad_output dimension");
        return k::conv2d_backward_bias_f32_splits(static_cast<int>(g_shape[0]), static_cast<int>(g_shape[1]),
                                                  g_shape[2] * g_shape[3]);
      },
      py::arg("g_shape"),
      "How many slices of N*OH*OW conv2d_backward_bias_f32 should split its reduction into; above 1 it needs a "
      "float32 workspace of splits * out_channels elements.");

  m.def(
      "conv2d_backward_bias_f32",
      [](py::object g, py::object db, py::object workspace, int device, std::uintptr_t stream) {
        const char* op = "conv2d_backward_bias_f32";
        const DeviceArray ag = device_array(g, op, "grad_output"), adb = device_array(db, op, "grad_bias");
        operand(ag, 4);
        output(adb, {ag.shape[1]});
        checked_size(ag.shape[0], op, "N");
        const int splits = slices_of(workspace, op, adb.numel(), "grad_bias");
        float* ws = splits > 1 ? device_array(workspace, op, "workspace").data<float>() : nullptr;
        const std::int64_t pixels = ag.shape[2] * ag.shape[3];
        py::gil_scoped_release release;
        k::conv2d_backward_bias_f32(static_cast<int>(ag.shape[0]), static_cast<int>(ag.shape[1]), pixels,
                                    ag.data<float>(), adb.data<float>(), ws, splits, device, k::as_stream(stream));
      },
      py::arg("g"), py::arg("db"), py::arg("workspace") = py::none(), py::arg("device") = 0, py::arg("stream") = 0,
      "db (O,) = g (N, O, OH, OW) summed over N, OH and OW. workspace: None, or a float32 array of splits * O "
      "elements (splits >= 2) for a split reduction added in a fixed order.");
}
