// conv2d bindings: shape arithmetic and checks; the kernels take C-contiguous arrays (copies made here).
#include <stdexcept>
#include <string>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/conv2d.h"

namespace fastnn::bindings {
namespace {

using Pair = std::pair<int64_t, int64_t>;

using checks::shape_str;

void check_params(const char* op, Pair stride, Pair padding, Pair dilation, int64_t groups) {
  if (stride.first < 1 || stride.second < 1) throw std::invalid_argument(std::string(op) + ": stride must be positive");
  if (padding.first < 0 || padding.second < 0) throw std::invalid_argument(std::string(op) + ": negative padding is not supported");
  if (dilation.first < 1 || dilation.second < 1) throw std::invalid_argument(std::string(op) + ": dilation must be positive");
  if (groups < 1) throw std::invalid_argument(std::string(op) + ": groups must be positive");
}

Conv2dShape make_shape(const char* op, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t wc, int64_t kh,
                       int64_t kw, Pair stride, Pair padding, Pair dilation, int64_t groups) {
  check_params(op, stride, padding, dilation, groups);
  Conv2dShape s{n, c, h, w, o, kh, kw, stride.first, stride.second, padding.first, padding.second,
                dilation.first, dilation.second, groups};
  if (c % groups != 0 || o % groups != 0) {
    throw std::invalid_argument(std::string(op) + ": in_channels (" + std::to_string(c) + ") and out_channels (" +
                                std::to_string(o) + ") must be divisible by groups (" + std::to_string(groups) + ")");
  }
  if (wc * groups != c) {
    throw std::invalid_argument(std::string(op) + ": expected input with " + std::to_string(wc * groups) +
                                " channels (weight has " + std::to_string(wc) + " per group, groups=" +
                                std::to_string(groups) + "), but got " + std::to_string(c) + " channels");
  }
  if (kh < 1 || kw < 1) throw std::invalid_argument(std::string(op) + ": kernel size must be positive");
  if (h + 2 * s.ph < s.dh * (kh - 1) + 1 || w + 2 * s.pw < s.dw * (kw - 1) + 1) {
    throw std::invalid_argument(std::string(op) + ": kernel size (" + std::to_string(kh) + ", " + std::to_string(kw) +
                                ") after dilation is larger than the padded input (" + std::to_string(h + 2 * s.ph) +
                                ", " + std::to_string(w + 2 * s.pw) + ")");
  }
  return s;
}

bool is_f32(const py::array& a, const char* op, const char* name) {
  if (a.dtype().equal(py::dtype::of<float>())) return true;
  if (a.dtype().equal(py::dtype::of<double>())) return false;
  throw py::type_error(std::string(op) + ": expected " + name + " to be float32 or float64, got " +
                       py::str(a.dtype()).cast<std::string>());
}

void same_dtype(const py::array& a, const py::array& b, const char* op) {
  if (!a.dtype().equal(b.dtype())) {
    throw py::type_error(std::string(op) + ": dtypes differ (" + py::str(a.dtype()).cast<std::string>() + " and " +
                         py::str(b.dtype()).cast<std::string>() + ")");
  }
}

void require_ndim(const py::array& a, int nd, const char* op, const char* name) {
  if (a.ndim() != nd) {
    throw std::invalid_argument(std::string(op) + ": expected " + name + " to be " + std::to_string(nd) +
                                "-D, got shape " + shape_str(a));
  }
}

template <typename T>
using Contig = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
py::array forward_t(Isa isa, const py::array& x, const py::array& w, const py::object& bias, const Conv2dShape& s) {
  auto xc = Contig<T>::ensure(x);
  auto wc = Contig<T>::ensure(w);
  Contig<T> bc;
  if (!bias.is_none()) {
    bc = Contig<T>::ensure(bias);
    if (bc.ndim() != 1 || bc.shape(0) != s.o) {
      throw std::invalid_argument("conv2d: bias must be 1-D of length out_channels (" + std::to_string(s.o) + ")");
    }
  }
  py::array_t<T> y({s.n, s.o, s.oh(), s.ow()});
  const T* pb = bias.is_none() ? nullptr : bc.data();
  const T *px = xc.data(), *pw = wc.data();
  T* py_ = y.mutable_data();
  py::gil_scoped_release release;
  conv2d_forward<T>(isa, s, px, pw, pb, py_);
  return y;
}

py::array forward(const py::array& x, const py::array& w, const py::object& bias, Pair stride, Pair padding,
                  Pair dilation, int64_t groups, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name);
  const bool f32 = is_f32(x, "conv2d", "input");
  same_dtype(x, w, "conv2d");
  if (!bias.is_none()) same_dtype(x, py::cast<py::array>(bias), "conv2d");
  require_ndim(x, 4, "conv2d", "input (N, C, H, W)");
  require_ndim(w, 4, "conv2d", "weight (O, C/groups, KH, KW)");
  const Conv2dShape s = make_shape("conv2d", x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(1),
                                   w.shape(2), w.shape(3), stride, padding, dilation, groups);
  return f32 ? forward_t<float>(isa, x, w, bias, s) : forward_t<double>(isa, x, w, bias, s);
}

template <typename T>
py::array backward_data_t(Isa isa, const py::array& dy, const py::array& w, const Conv2dShape& s) {
  auto dyc = Contig<T>::ensure(dy);
  auto wc = Contig<T>::ensure(w);
  py::array_t<T> dx({s.n, s.c, s.h, s.w});
  const T *pdy = dyc.data(), *pw = wc.data();
  T* pdx = dx.mutable_data();
  py::gil_scoped_release release;
  conv2d_backward_data<T>(isa, s, pdy, pw, pdx);
  return dx;
}

void check_grad_output(const py::array& dy, const Conv2dShape& s, const char* op) {
  require_ndim(dy, 4, op, "grad_output");
  if (dy.shape(0) != s.n || dy.shape(1) != s.o || dy.shape(2) != s.oh() || dy.shape(3) != s.ow()) {
    throw std::invalid_argument(std::string(op) + ": grad_output has shape " + shape_str(dy) + ", expected (" +
                                std::to_string(s.n) + ", " + std::to_string(s.o) + ", " + std::to_string(s.oh()) +
                                ", " + std::to_string(s.ow()) + ")");
  }
}

py::array backward_data(const py::array& dy, const py::array& w, Pair input_hw, Pair stride, Pair padding,
                        Pair dilation, int64_t groups, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name);
  const bool f32 = is_f32(dy, "conv2d_backward_data", "grad_output");
  same_dtype(dy, w, "conv2d_backward_data");
  require_ndim(w, 4, "conv2d_backward_data", "weight");
  require_ndim(dy, 4, "conv2d_backward_data", "grad_output");
  const Conv2dShape s = make_shape("conv2d_backward_data", dy.shape(0), w.shape(1) * groups, input_hw.first,
                                   input_hw.second, w.shape(0), w.shape(1), w.shape(2), w.shape(3), stride, padding,
                                   dilation, groups);
  check_grad_output(dy, s, "conv2d_backward_data");
  return f32 ? backward_data_t<float>(isa, dy, w, s) : backward_data_t<double>(isa, dy, w, s);
}

template <typename T>
py::array backward_weight_t(Isa isa, const py::array& dy, const py::array& x, const Conv2dShape& s) {
  auto dyc = Contig<T>::ensure(dy);
  auto xc = Contig<T>::ensure(x);
  py::array_t<T> dw({s.o, s.c / s.groups, s.kh, s.kw});
  const T *pdy = dyc.data(), *px = xc.data();
  T* pdw = dw.mutable_data();
  py::gil_scoped_release release;
  conv2d_backward_weight<T>(isa, s, pdy, px, pdw);
  return dw;
}

py::array backward_weight(const py::array& dy, const py::array& x, Pair kernel_hw, Pair stride, Pair padding,
                          Pair dilation, int64_t groups, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name);
  const bool f32 = is_f32(dy, "conv2d_backward_weight", "grad_output");
  same_dtype(dy, x, "conv2d_backward_weight");
  require_ndim(x, 4, "conv2d_backward_weight", "input");
  require_ndim(dy, 4, "conv2d_backward_weight", "grad_output");
  if (groups < 1 || x.shape(1) % groups != 0) throw std::invalid_argument("conv2d_backward_weight: bad groups");
  const Conv2dShape s = make_shape("conv2d_backward_weight", x.shape(0), x.shape(1), x.shape(2), x.shape(3),
                                   dy.shape(1), x.shape(1) / groups, kernel_hw.first, kernel_hw.second, stride,
                                   padding, dilation, groups);
  check_grad_output(dy, s, "conv2d_backward_weight");
  return f32 ? backward_weight_t<float>(isa, dy, x, s) : backward_weight_t<double>(isa, dy, x, s);
}

template <typename T>
py::array backward_bias_t(Isa isa, const py::array& dy) {
  auto dyc = Contig<T>::ensure(dy);
  const int64_t n = dyc.shape(0), o = dyc.shape(1), pixels = dyc.shape(2) * dyc.shape(3);
  py::array_t<T> db(o);
  const T* pdy = dyc.data();
  T* pdb = db.mutable_data();
  py::gil_scoped_release release;
  conv2d_backward_bias<T>(isa, n, o, pixels, pdy, pdb);
  return db;
}

py::array backward_bias(const py::array& dy, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name);
  const bool f32 = is_f32(dy, "conv2d_backward_bias", "grad_output");
  require_ndim(dy, 4, "conv2d_backward_bias", "grad_output (N, O, OH, OW)");
  return f32 ? backward_bias_t<float>(isa, dy) : backward_bias_t<double>(isa, dy);
}

}  // namespace

void bind_conv2d(py::module_& m) {
  m.def("conv2d_forward", &forward, py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::kw_only(), py::arg("isa") = py::none(),
        "NCHW convolution (cross-correlation, as PyTorch): returns (N, O, OH, OW).");
  m.def("conv2d_backward_data", &backward_data, py::arg("grad_output"), py::arg("weight"), py::arg("input_hw"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::kw_only(),
        py::arg("isa") = py::none(), "Gradient of conv2d with respect to its input.");
  m.def("conv2d_backward_weight", &backward_weight, py::arg("grad_output"), py::arg("input"), py::arg("kernel_hw"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::kw_only(),
        py::arg("isa") = py::none(), "Gradient of conv2d with respect to its weight.");
  m.def("conv2d_backward_bias", &backward_bias, py::arg("grad_output"), py::kw_only(), py::arg("isa") = py::none(),
        "Gradient of conv2d with respect to its bias: grad_output summed over N, OH and OW.");
}

}  // namespace fastnn::bindings
