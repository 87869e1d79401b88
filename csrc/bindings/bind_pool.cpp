// max_pool2d / avg_pool2d bindings: parameter and shape checks (PyTorch's rules), then the kernels
// with the GIL released.
#include <array>
#include <optional>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/checked_size.h"
#include "fastnn/pool.h"

namespace fastnn::bindings {
namespace {

using namespace checks;
using Pair = std::array<int64_t, 2>;

Pool2dArgs pool_args(const std::string& op, const std::array<int64_t, 4>& in, Pair k, Pair s, Pair p, Pair d,
                     bool ceil_mode, bool is_max) {
  for (int i = 0; i < 2; ++i) {
    if (k[i] <= 0 || s[i] <= 0 || d[i] <= 0)
      throw py::value_error(op + ": kernel_size, stride and dilation must be positive, got kernel_size=(" +
                            std::to_string(k[0]) + ", " + std::to_string(k[1]) + "), stride=(" + std::to_string(s[0]) +
                            ", " + std::to_string(s[1]) + "), dilation=(" + std::to_string(d[0]) + ", " +
                            std::to_string(d[1]) + ")");
    // PyTorch's rule, pad <= effective / 2, written so that it cannot overflow: 2 * pad > effective.
    const int64_t effective = is_max ? checked::window(in[2 + i], k[i], s[i], 0, d[i], op).span : k[i];
    if (p[i] < 0 || p[i] > effective / 2)
      throw py::value_error(op + ": pad should be at most half of effective kernel size, but got pad=" +
                            std::to_string(p[i]) + ", kernel_size=" + std::to_string(k[i]) +
                            " and dilation=" + std::to_string(d[i]));
  }
  Pool2dArgs a{};
  for (int64_t v : in)
    if (v < 0) throw py::value_error(op + ": input_shape must be non-negative");
  a.planes = checked::mul(in[0], in[1], op, "N * C");
  a.in_h = in[2], a.in_w = in[3];
  a.out_h = checked::pool_output_size(in[2], k[0], s[0], p[0], d[0], ceil_mode, op);
  a.out_w = checked::pool_output_size(in[3], k[1], s[1], p[1], d[1], ceil_mode, op);
  if (a.out_h < 1 || a.out_w < 1)
    throw py::value_error(op + ": input of spatial size " + std::to_string(in[2]) + "x" + std::to_string(in[3]) +
                          " gives output size " + std::to_string(a.out_h) + "x" + std::to_string(a.out_w) +
                          ", which is too small");
  a.kernel_h = k[0], a.kernel_w = k[1], a.stride_h = s[0], a.stride_w = s[1];
  a.pad_h = p[0], a.pad_w = p[1], a.dilation_h = d[0], a.dilation_w = d[1];
  a.count_include_pad = true;
  a.divisor_override = 0;
  // The input (or, backward, the input gradient) and the output, as the arrays this call reads and makes.
  checked::allocatable(checked::product(in, op, "the input"), 8, op, "the input");
  checked::allocatable(checked::product({a.planes, a.out_h, a.out_w}, op, "the output"), 8, op, "the output");
  return a;
}

std::array<int64_t, 4> input_shape(const py::array& x, const std::string& op, const char* name) {
  require_ndim(x, 4, op, name);
  require_c_contiguous(x, op, name);
  return {x.shape(0), x.shape(1), x.shape(2), x.shape(3)};
}

void check_grad(const py::array& gy, const py::array& ref, const Pool2dArgs& a, const std::array<int64_t, 4>& in,
                const std::string& op) {
  same_dtype(gy, ref, op, "grad_output");
  require_ndim(gy, 4, op, "grad_output");
  require_c_contiguous(gy, op, "grad_output");
  if (gy.shape(0) != in[0] || gy.shape(1) != in[1] || gy.shape(2) != a.out_h || gy.shape(3) != a.out_w)
    throw py::value_error(op + ": grad_output has shape " + shape_str(gy) + ", expected (" + std::to_string(in[0]) +
                          ", " + std::to_string(in[1]) + ", " + std::to_string(a.out_h) + ", " +
                          std::to_string(a.out_w) + ")");
}

// The output of `shape`, filled by `kernel` with the GIL released; zero-size work returns the shaped empty
// array at once.
template <typename T, typename F>
py::array run(const std::vector<py::ssize_t>& shape, F&& kernel) {
  py::array_t<T> out(shape);
  if (out.size() == 0) return out;
  T* po = out.mutable_data();
  py::gil_scoped_release release;
  kernel(po);
  return out;
}

py::array max_fwd(const py::array& x, Pair k, Pair s, Pair p, Pair d, bool ceil_mode, const py::object& isa_name) {
  const std::string op = "max_pool2d";
  const Isa isa = resolve_isa(isa_name, "max_pool2d");
  const Dtype dt = float_dtype(x, op, "input");
  const auto in = input_shape(x, op, "input");
  const Pool2dArgs a = pool_args(op, in, k, s, p, d, ceil_mode, true);
  const std::vector<py::ssize_t> shape{in[0], in[1], a.out_h, a.out_w};
  if (dt == Dtype::f32)
    return run<float>(shape, [&](float* y) { max_pool2d_forward(isa, a, static_cast<const float*>(x.data()), y); });
  return run<double>(shape, [&](double* y) { max_pool2d_forward(isa, a, static_cast<const double*>(x.data()), y); });
}

py::array max_bwd(const py::array& x, const py::array& gy, Pair k, Pair s, Pair p, Pair d, bool ceil_mode,
                  const py::object& isa_name) {
  const std::string op = "max_pool2d_backward";
  const Isa isa = resolve_isa(isa_name, "max_pool2d_backward");
  const Dtype dt = float_dtype(x, op, "input");
  const auto in = input_shape(x, op, "input");
  const Pool2dArgs a = pool_args(op, in, k, s, p, d, ceil_mode, true);
  check_grad(gy, x, a, in, op);
  const std::vector<py::ssize_t> shape{in[0], in[1], in[2], in[3]};
  if (dt == Dtype::f32)
    return run<float>(shape, [&](float* gx) {
      max_pool2d_backward(isa, a, static_cast<const float*>(x.data()), static_cast<const float*>(gy.data()), gx);
    });
  return run<double>(shape, [&](double* gx) {
    max_pool2d_backward(isa, a, static_cast<const double*>(x.data()), static_cast<const double*>(gy.data()), gx);
  });
}

Pool2dArgs avg_args(const std::string& op, const std::array<int64_t, 4>& in, Pair k, Pair s, Pair p, bool ceil_mode,
                    bool count_include_pad, std::optional<int64_t> divisor_override) {
  Pool2dArgs a = pool_args(op, in, k, s, p, {1, 1}, ceil_mode, false);
  a.count_include_pad = count_include_pad;
  if (divisor_override) {
    if (*divisor_override == 0) throw py::value_error(op + ": divisor must be not zero");
    a.divisor_override = *divisor_override;
  }
  return a;
}

py::array avg_fwd(const py::array& x, Pair k, Pair s, Pair p, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override, const py::object& isa_name) {
  const std::string op = "avg_pool2d";
  const Isa isa = resolve_isa(isa_name, "avg_pool2d");
  const Dtype dt = float_dtype(x, op, "input");
  const auto in = input_shape(x, op, "input");
  const Pool2dArgs a = avg_args(op, in, k, s, p, ceil_mode, count_include_pad, divisor_override);
  const std::vector<py::ssize_t> shape{in[0], in[1], a.out_h, a.out_w};
  if (dt == Dtype::f32)
    return run<float>(shape, [&](float* y) { avg_pool2d_forward(isa, a, static_cast<const float*>(x.data()), y); });
  return run<double>(shape, [&](double* y) { avg_pool2d_forward(isa, a, static_cast<const double*>(x.data()), y); });
}

py::array avg_bwd(const py::array& gy, std::array<int64_t, 4> in, Pair k, Pair s, Pair p, bool ceil_mode,
                  bool count_include_pad, std::optional<int64_t> divisor_override, const py::object& isa_name) {
  const std::string op = "avg_pool2d_backward";
  const Isa isa = resolve_isa(isa_name, "avg_pool2d_backward");
  const Dtype dt = float_dtype(gy, op, "grad_output");
  for (int64_t v : in)
    if (v < 0) throw py::value_error(op + ": input_shape must be non-negative");
  const Pool2dArgs a = avg_args(op, in, k, s, p, ceil_mode, count_include_pad, divisor_override);
  check_grad(gy, gy, a, in, op);
  const std::vector<py::ssize_t> shape{in[0], in[1], in[2], in[3]};
  if (dt == Dtype::f32)
    return run<float>(shape, [&](float* gx) { avg_pool2d_backward(isa, a, static_cast<const float*>(gy.data()), gx); });
  return run<double>(shape,
                     [&](double* gx) { avg_pool2d_backward(isa, a, static_cast<const double*>(gy.data()), gx); });
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("max_pool2d_forward", &max_fwd, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("dilation"), py::arg("ceil_mode") = false, py::kw_only(), py::arg("isa") = py::none(),
        "2-D max pooling of a C-contiguous (N, C, H, W) float array; sizes are (h, w) pairs.");
  m.def("max_pool2d_backward", &max_bwd, py::arg("x"), py::arg("grad_output"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode") = false, py::kw_only(),
        py::arg("isa") = py::none(), "Input gradient of max_pool2d; the argmax is recomputed from x.");
  m.def("avg_pool2d_forward", &avg_fwd, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
        py::arg("ceil_mode") = false, py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
        py::kw_only(), py::arg("isa") = py::none(), "2-D average pooling of a C-contiguous (N, C, H, W) float array.");
  m.def("avg_pool2d_backward", &avg_bwd, py::arg("grad_output"), py::arg("input_shape"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("ceil_mode") = false, py::arg("count_include_pad") = true,
        py::arg("divisor_override") = py::none(), py::kw_only(), py::arg("isa") = py::none(),
        "Input gradient of avg_pool2d for an input of input_shape (N, C, H, W).");
}

}  // namespace fastnn::bindings
