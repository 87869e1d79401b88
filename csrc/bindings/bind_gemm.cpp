// matmul / gemm bindings: shape, dtype and stride checks, then the kernel with the GIL released.
#include <sstream>
#include <stdexcept>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/gemm.h"

namespace fastnn::bindings {
namespace {

using checks::shape_str;

enum class Dtype { f32, f64 };

Dtype float_dtype(const py::array& a, const char* op, const char* name) {
  if (a.dtype().equal(py::dtype::of<float>())) return Dtype::f32;
  if (a.dtype().equal(py::dtype::of<double>())) return Dtype::f64;
  throw py::type_error(std::string(op) + ": expected " + name + " to be float32 or float64, got " +
                       py::str(a.dtype()).cast<std::string>());
}

// True when the memory spans of the two arrays intersect (a conservative overlap test).
bool spans_overlap(const py::array& x, const py::array& y) {
  auto span = [](const py::array& a, const char*& lo, const char*& hi) {
    lo = hi = static_cast<const char*>(a.data());
    for (py::ssize_t d = 0; d < a.ndim(); ++d) {
      if (a.shape(d) == 0) {
        hi = lo;
        return false;
      }
      const auto extent = (a.shape(d) - 1) * a.strides(d);
      if (extent < 0) lo += extent;
      else hi += extent;
    }
    hi += a.itemsize();
    return true;
  };
  const char *xl, *xh, *yl, *yh;
  if (!span(x, xl, xh) || !span(y, yl, yh)) return false;
  return xl < yh && yl < xh;
}

template <typename T>
GemmArgs<T> make_args(const py::array& a, const std::vector<int64_t>& sa, const py::array& b,
                      const std::vector<int64_t>& sb, T* c, int64_t rs_c, int64_t cs_c, int off, double alpha,
                      double beta) {
  GemmArgs<T> g;
  g.m = a.shape(off);
  g.k = a.shape(off + 1);
  g.n = b.shape(off + 1);
  g.alpha = static_cast<T>(alpha);
  g.a = static_cast<const T*>(a.data());
  g.rs_a = sa[off];
  g.cs_a = sa[off + 1];
  g.b = static_cast<const T*>(b.data());
  g.rs_b = sb[off];
  g.cs_b = sb[off + 1];
  g.beta = static_cast<T>(beta);
  g.c = c;
  g.rs_c = rs_c;
  g.cs_c = cs_c;
  return g;
}

template <typename T>
void run(Isa isa, const py::array& a, const py::array& b, py::array& c, double alpha, double beta) {
  const auto sa = element_strides(a, "matmul", "a");
  const auto sb = element_strides(b, "matmul", "b");
  const auto sc = element_strides(c, "matmul", "out");
  T* pc = static_cast<T*>(c.mutable_data());
  if (a.ndim() == 2) {
    const GemmArgs<T> g = make_args<T>(a, sa, b, sb, pc, sc[0], sc[1], 0, alpha, beta);
    py::gil_scoped_release release;
    gemm(isa, g);
  } else {
    BatchedGemmArgs<T> bg;
    bg.batch = a.shape(0);
    bg.stride_a = sa[0];
    bg.stride_b = sb[0];
    bg.stride_c = sc[0];
    bg.gemm = make_args<T>(a, sa, b, sb, pc, sc[1], sc[2], 1, alpha, beta);
    py::gil_scoped_release release;
    gemm_batched(isa, bg);
  }
}

// Checks a @ b for 2-D or batched 3-D operands (equal batch sizes; broadcast batches arrive as
// zero strides) and returns the dtype.
Dtype check_operands(const py::array& a, const py::array& b, const char* op) {
  const Dtype da = float_dtype(a, op, "a");
  const Dtype db = float_dtype(b, op, "b");
  if (da != db) {
    throw py::type_error(std::string(op) + ": a and b must share a dtype, got " + py::str(a.dtype()).cast<std::string>() +
                         " and " + py::str(b.dtype()).cast<std::string>());
  }
  const bool ok_ndim = (a.ndim() == 2 && b.ndim() == 2) || (a.ndim() == 3 && b.ndim() == 3);
  if (!ok_ndim) {
    throw std::invalid_argument(std::string(op) + ": expected two 2-D or two 3-D arrays, got shapes " + shape_str(a) +
                                " and " + shape_str(b));
  }
  const int off = a.ndim() - 2;
  if (a.shape(off + 1) != b.shape(off) || (off == 1 && a.shape(0) != b.shape(0))) {
    throw std::invalid_argument(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                                " cannot be multiplied");
  }
  return da;
}

py::array matmul(const py::array& a, const py::array& b, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "matmul");
  const Dtype dt = check_operands(a, b, "matmul");
  std::vector<py::ssize_t> shape;
  if (a.ndim() == 3) shape.push_back(a.shape(0));
  shape.push_back(a.shape(a.ndim() - 2));
  shape.push_back(b.shape(b.ndim() - 1));
  if (dt == Dtype::f32) {
    py::array out = checks::new_array<float>(shape, "matmul", "the output");
    run<float>(isa, a, b, out, 1.0, 0.0);
    return out;
  }
  py::array out = checks::new_array<double>(shape, "matmul", "the output");
  run<double>(isa, a, b, out, 1.0, 0.0);
  return out;
}

void gemm_inplace(const py::array& a, const py::array& b, py::array c, double alpha, double beta,
                  const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "gemm");
  const Dtype dt = check_operands(a, b, "gemm");
  if (float_dtype(c, "gemm", "out") != dt) throw py::type_error("gemm: out must have the dtype of a and b");
  const int off = a.ndim() - 2;
  const bool shape_ok = c.ndim() == a.ndim() && c.shape(off) == a.shape(off) && c.shape(off + 1) == b.shape(off + 1) &&
                        (off == 0 || c.shape(0) == a.shape(0));
  if (!shape_ok) {
    throw std::invalid_argument("gemm: out has shape " + shape_str(c) + ", expected the product shape of " +
                                shape_str(a) + " and " + shape_str(b));
  }
  if (!c.writeable()) throw std::invalid_argument("gemm: out is read-only");
  for (py::ssize_t d = 0; d < c.ndim(); ++d) {
    if (c.strides(d) == 0 && c.shape(d) > 1) throw std::invalid_argument("gemm: out has overlapping (zero-stride) elements");
  }
  if (spans_overlap(c, a) || spans_overlap(c, b)) throw std::invalid_argument("gemm: out overlaps an input");
  if (dt == Dtype::f32) run<float>(isa, a, b, c, alpha, beta);
  else run<double>(isa, a, b, c, alpha, beta);
}

Epilogue epilogue_from_name(const std::string& name) {
  if (name == "none") return Epilogue::none;
  if (name == "relu") return Epilogue::relu;
  if (name == "gelu") return Epilogue::gelu;
  throw std::invalid_argument("linear: unknown epilogue '" + name + "' (expected none, relu or gelu)");
}

template <typename T>
py::array linear_typed(Isa isa, const py::array& x, const py::array& w, const py::object& bias, Epilogue e) {
  const auto sx = element_strides(x, "linear", "input");
  const auto sw = element_strides(w, "linear", "weight");
  const int64_t m = x.shape(0), k = x.shape(1), n = w.shape(0);
  auto out = checks::new_array<T>({m, n}, "linear", "the output");
  py::array_t<T, py::array::c_style | py::array::forcecast> b;
  GemmArgs<T> g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = T(1);
  g.a = static_cast<const T*>(x.data());
  g.rs_a = sx[0];
  g.cs_a = sx[1];
  g.b = static_cast<const T*>(w.data());  // weight is (n, k): B = weight^T, so B(p, j) = weight[j, p]
  g.rs_b = sw[1];
  g.cs_b = sw[0];
  g.beta = T(0);
  g.c = out.mutable_data();
  g.rs_c = n;
  g.cs_c = 1;
  g.epilogue = e;
  if (!bias.is_none()) {
    b = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(bias);
    if (!b || b.ndim() != 1 || b.shape(0) != n) {
      throw std::invalid_argument("linear: bias must be a 1-D array of length " + std::to_string(n) +
                                  " (the weight's rows)");
    }
    g.bias = b.data();
  }
  py::gil_scoped_release release;
  gemm(isa, g);
  return out;
}

// out = epilogue(x @ weight.T + bias): a Linear layer's forward in one GEMM pass.
py::array linear(const py::array& x, const py::array& w, const py::object& bias, const std::string& epilogue,
                 const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "linear");
  const Epilogue e = epilogue_from_name(epilogue);
  const Dtype dx = float_dtype(x, "linear", "input");
  if (float_dtype(w, "linear", "weight") != dx) {
    throw py::type_error("linear: input and weight must share a dtype, got " + py::str(x.dtype()).cast<std::string>() +
                         " and " + py::str(w.dtype()).cast<std::string>());
  }
  if (!bias.is_none() && !py::isinstance<py::array>(bias)) throw py::type_error("linear: bias must be an array or None");
  if (!bias.is_none() && !py::cast<py::array>(bias).dtype().equal(x.dtype())) {
    throw py::type_error("linear: bias must have the input's dtype");
  }
  if (x.ndim() != 2 || w.ndim() != 2 || x.shape(1) != w.shape(1)) {
    throw std::invalid_argument("linear: expected input (M, K) and weight (N, K), got " + shape_str(x) + " and " +
                                shape_str(w));
  }
  return dx == Dtype::f32 ? linear_typed<float>(isa, x, w, bias, e) : linear_typed<double>(isa, x, w, bias, e);
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("linear", &linear, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
        py::arg("epilogue") = "none", py::kw_only(), py::arg("isa") = py::none(),
        "epilogue(input @ weight.T + bias) for input (M, K), weight (N, K), bias (N,): the epilogue (none, relu, "
        "gelu) is fused into the GEMM's last pass over the output.");
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::kw_only(), py::arg("isa") = py::none(),
        "a @ b for 2-D or equally batched 3-D float32/float64 arrays of any strides; returns a new array.");
  m.def("gemm", &gemm_inplace, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0, py::kw_only(), py::arg("isa") = py::none(),
        "out = alpha * a @ b + beta * out, in place; out may be strided but must not overlap a or b.");
}

}  // namespace fastnn::bindings
