// conv2d bindings: shape arithmetic and checks; the kernels take C-contiguous arrays (copies made here).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/checked_size.h"
#include "fastnn/conv2d.h"

namespace fastnn::bindings {
namespace {

using Pair = std::pair<int64_t, int64_t>;

using checks::shape_str;

// The shape of one convolution, every size checked (fastnn/checked_size.h): a window larger than the padded
// input, or a padding / dilation / kernel size whose arithmetic overflows int64, is a ValueError naming the op;
// an output or a per-call workspace no memory can hold is a MemoryError. The kernels then index with sizes that
// are known to fit.
Conv2dShape make_shape(const char* op, int64_t n, int64_t c, int64_t h, int64_t w, int64_t o, int64_t wc, int64_t kh,
                       int64_t kw, Pair stride, Pair padding, Pair dilation, int64_t groups, int64_t itemsize) {
  if (groups < 1) throw std::invalid_argument(std::string(op) + ": groups must be positive");
  for (int64_t v : {n, c, h, w, o, wc})
    if (v < 0) throw std::invalid_argument(std::string(op) + ": sizes must be non-negative, got " + std::to_string(v));
  if (c % groups != 0 || o % groups != 0) {
    throw std::invalid_argument(std::string(op) + ": in_channels (" + std::to_string(c) + ") and out_channels (" +
                                std::to_string(o) + ") must be divisible by groups (" + std::to_string(groups) + ")");
  }
  if (checked::mul(wc, groups, op, "the input channels") != c) {
    throw std::invalid_argument(std::string(op) + ": expected input with " + std::to_string(wc * groups) +
                                " channels (weight has " + std::to_string(wc) + " per group, groups=" +
                                std::to_string(groups) + "), but got " + std::to_string(c) + " channels");
  }
  if (kh < 1 || kw < 1) throw std::invalid_argument(std::string(op) + ": kernel size must be positive");
  const auto [oh, ow] = checked::conv_output_hw(h, w, kh, kw, stride, padding, dilation, op);
  Conv2dShape s{n, c, h, w, o, kh, kw, stride.first, stride.second, padding.first, padding.second,
                dilation.first, dilation.second, groups};
  // Every array a conv2d call reads, writes or packs: input, output, weight, and the patch matrix of one
  // image (C/groups * KH * KW by OH * OW) that the backward passes build.
  checked::allocatable(checked::product({n, c, h, w}, op, "the input"), itemsize, op, "the input");
  checked::allocatable(checked::product({n, o, oh, ow}, op, "the output"), itemsize, op, "the output");
  checked::allocatable(checked::product({o, wc, kh, kw}, op, "the weight"), itemsize, op, "the weight");
  checked::allocatable(checked::product({wc, kh, kw, oh, ow}, op, "the patch matrix"), itemsize, op,
                       "the patch matrix");
  // The backward-data pass runs a convolution with padding dilation * (kernel - 1) - padding.
  checked::sub(checked::mul(dilation.first, kh - 1, op, "the dilated kernel"), padding.first, op, "the padding");
  checked::sub(checked::mul(dilation.second, kw - 1, op, "the dilated kernel"), padding.second, op, "the padding");
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
  if (y.size() == 0) return y;  // zero-size work: the shaped empty output, no kernel call
  if (s.c == 0) {  // no input channels: each output is its bias
    T* py0 = y.mutable_data();
    const int64_t pixels = s.oh() * s.ow();
    for (int64_t i = 0; i < y.size(); ++i) py0[i] = bias.is_none() ? T(0) : bc.data()[(i / pixels) % s.o];
    return y;
  }
  const T* pb = bias.is_none() ? nullptr : bc.data();
  const T *px = xc.data(), *pw = wc.data();
  T* py_ = y.mutable_data();
  py::gil_scoped_release release;
  conv2d_forward<T>(isa, s, px, pw, pb, py_);
  return y;
}

py::array forward(const py::array& x, const py::array& w, const py::object& bias, Pair stride, Pair padding,
                  Pair dilation, int64_t groups, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "conv2d");
  const bool f32 = is_f32(x, "conv2d", "input");
  same_dtype(x, w, "conv2d");
  if (!bias.is_none()) same_dtype(x, py::cast<py::array>(bias), "conv2d");
  require_ndim(x, 4, "conv2d", "input (N, C, H, W)");
  require_ndim(w, 4, "conv2d", "weight (O, C/groups, KH, KW)");
  const Conv2dShape s = make_shape("conv2d", x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(1),
                                   w.shape(2), w.shape(3), stride, padding, dilation, groups, x.itemsize());
  return f32 ? forward_t<float>(isa, x, w, bias, s) : forward_t<double>(isa, x, w, bias, s);
}

template <typename T>
py::array backward_data_t(Isa isa, const py::array& dy, const py::array& w, const Conv2dShape& s) {
  py::array_t<T> dx({s.n, s.c, s.h, s.w});
  if (dx.size() == 0) return dx;
  if (s.o == 0) {  // nothing flows back: a zero gradient
    std::fill(dx.mutable_data(), dx.mutable_data() + dx.size(), T(0));
    return dx;
  }
  auto dyc = Contig<T>::ensure(dy);
  auto wc = Contig<T>::ensure(w);
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
  const Isa isa = resolve_isa(isa_name, "conv2d_backward_data");
  const bool f32 = is_f32(dy, "conv2d_backward_data", "grad_output");
  same_dtype(dy, w, "conv2d_backward_data");
  require_ndim(w, 4, "conv2d_backward_data", "weight");
  require_ndim(dy, 4, "conv2d_backward_data", "grad_output");
  const Conv2dShape s = make_shape("conv2d_backward_data", dy.shape(0),
                                   checked::mul(w.shape(1), groups, "conv2d_backward_data", "the input channels"), input_hw.first,
                                   input_hw.second, w.shape(0), w.shape(1), w.shape(2), w.shape(3), stride, padding,
                                   dilation, groups, dy.itemsize());
  check_grad_output(dy, s, "conv2d_backward_data");
  return f32 ? backward_data_t<float>(isa, dy, w, s) : backward_data_t<double>(isa, dy, w, s);
}

template <typename T>
py::array backward_weight_t(Isa isa, const py::array& dy, const py::array& x, const Conv2dShape& s) {
  py::array_t<T> dw({s.o, s.c / s.groups, s.kh, s.kw});
  if (dw.size() == 0) return dw;
  if (s.n == 0) {  // no samples: a zero gradient
    std::fill(dw.mutable_data(), dw.mutable_data() + dw.size(), T(0));
    return dw;
  }
  auto dyc = Contig<T>::ensure(dy);
  auto xc = Contig<T>::ensure(x);
  const T *pdy = dyc.data(), *px = xc.data();
  T* pdw = dw.mutable_data();
  py::gil_scoped_release release;
  conv2d_backward_weight<T>(isa, s, pdy, px, pdw);
  return dw;
}

py::array backward_weight(const py::array& dy, const py::array& x, Pair kernel_hw, Pair stride, Pair padding,
                          Pair dilation, int64_t groups, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "conv2d_backward_weight");
  const bool f32 = is_f32(dy, "conv2d_backward_weight", "grad_output");
  same_dtype(dy, x, "conv2d_backward_weight");
  require_ndim(x, 4, "conv2d_backward_weight", "input");
  require_ndim(dy, 4, "conv2d_backward_weight", "grad_output");
  if (groups < 1 || x.shape(1) % groups != 0) throw std::invalid_argument("conv2d_backward_weight: bad groups");
  const Conv2dShape s = make_shape("conv2d_backward_weight", x.shape(0), x.shape(1), x.shape(2), x.shape(3),
                                   dy.shape(1), x.shape(1) / groups, kernel_hw.first, kernel_hw.second, stride,
                                   padding, dilation, groups, x.itemsize());
  check_grad_output(dy, s, "conv2d_backward_weight");
  return f32 ? backward_weight_t<float>(isa, dy, x, s) : backward_weight_t<double>(isa, dy, x, s);
}

template <typename T>
py::array backward_bias_t(Isa isa, const py::array& dy) {
  const char* op = "conv2d_backward_bias";
  const int64_t n = dy.shape(0), o = dy.shape(1), pixels = checked::mul(dy.shape(2), dy.shape(3), op, "OH * OW");
  auto db = checks::new_array<T>({o}, op, "grad_bias");
  if (o == 0) return db;
  if (n == 0 || pixels == 0) {  // nothing to sum: a zero gradient
    std::fill(db.mutable_data(), db.mutable_data() + o, T(0));
    return db;
  }
  // A broadcast (zero-stride) grad_output is copied first: refuse one no memory can hold.
  checked::allocatable(checked::product({n, o, pixels}, op, "grad_output"), sizeof(T), op, "grad_output");
  auto dyc = Contig<T>::ensure(dy);
  const T* pdy = dyc.data();
  T* pdb = db.mutable_data();
  py::gil_scoped_release release;
  conv2d_backward_bias<T>(isa, n, o, pixels, pdy, pdb);
  return db;
}

py::array backward_bias(const py::array& dy, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "conv2d_backward_bias");
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
