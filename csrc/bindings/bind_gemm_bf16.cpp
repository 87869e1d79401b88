// bf16 GEMM bindings: operands as bf16 bits (uint16) or float32 (rounded to bf16 while packed), fp32 results;
// B may come packed once per weight (pack_bf16). The bf16 ISA levels are their own axis (FASTNN_BF16_ISA, see
// fastnn/gemm_bf16.h), listed here beside the kernels.
#include <omp.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/checked_size.h"
#include "fastnn/gemm_bf16.h"
#include "fastnn/limits_probe_bf16.h"

namespace fastnn::bindings {
namespace {

using checks::dtype_str;
using checks::shape_str;

Bf16Isa resolve_bf16_isa(const py::object& isa, const std::string& op) {
  try {
    if (isa.is_none()) return bf16_isa_active();
  } catch (const std::runtime_error& e) {  // a bad FASTNN_BF16_ISA, reported by the first bf16 call
    throw std::runtime_error(op + ": " + e.what());
  }
  if (!py::isinstance<py::str>(isa))
    throw py::type_error(op + ": isa must be a bf16 ISA level name or None, got " +
                         py::str(py::type::of(isa).attr("__name__")).cast<std::string>());
  try {
    const Bf16Isa chosen = bf16_isa_from_name(py::cast<std::string>(isa));
    bf16_isa_require(chosen);
    return chosen;
  } catch (const std::invalid_argument& e) {
    throw py::value_error(op + ": " + e.what());
  }
}

// A 2-D operand of uint16 bf16 bits or float32; element strides checked.
Bf16Operand operand(const py::array& x, const std::string& op, const char* name) {
  Bf16Operand o;
  if (x.dtype().equal(py::dtype::of<float>())) o.f32 = true;
  else if (!x.dtype().equal(py::dtype::of<uint16_t>()))
    throw py::type_error(op + ": expected " + name + " to be uint16 (bf16 bits) or float32, got " + dtype_str(x));
  checks::require_ndim(x, 2, op, name);
  const auto s = element_strides(x, op.c_str(), name);
  o.ptr = x.data();
  o.rs = s[0];
  o.cs = s[1];
  return o;
}

void check_bias(const py::object& bias, int64_t n, const std::string& op, py::array& held, GemmBf16Args& g) {
  if (bias.is_none()) return;
  if (!py::isinstance<py::array>(bias)) throw py::type_error(op + ": bias must be a float32 array or None");
  held = py::cast<py::array>(bias);
  if (!held.dtype().equal(py::dtype::of<float>()))
    throw py::type_error(op + ": expected bias to be float32, got " + dtype_str(held));
  if (held.ndim() != 1 || held.shape(0) != n)
    throw py::value_error(op + ": bias must be a 1-D array of length " + std::to_string(n) + ", got shape " +
                          shape_str(held));
  held = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(held);  // contiguous
  g.bias = static_cast<const float*>(held.data());
}

// The scratch both packed operands take, checked once here so that the kernels' size arithmetic cannot wrap:
// ValueError when it overflows, MemoryError when no memory of this machine holds it.
void check_workspace(int64_t m, int64_t k, int64_t n, bool pack_b, const std::string& op) {
  const int64_t kp = checked::add(k / 2 + 1, kBf16PairAlign, op, "k") / kBf16PairAlign * kBf16PairAlign;
  const int64_t rows = checked::add(m, 32, op, "the row count");
  checked::allocatable(checked::mul(rows, checked::mul(kp, 2, op, "A's packed size"), op, "A's packed size"), 4, op,
                       "the packed A");
  if (pack_b) {
    const int64_t cols = checked::add(n, kBf16NR, op, "the column count");
    // + 16 pairs per column: at most the 2 KiB gap pack_bf16_b leaves between 32-column panels
    checked::allocatable(checked::mul(cols, kp + 16, op, "B's packed size"), 4, op, "the packed B");
  }
}

// The product's operands: B as an array or a packed handle; shapes checked.
struct Operands {
  GemmBf16Args g;
  py::array bias_held;
};

Operands operands(const py::array& a, const py::object& b, const std::string& op) {
  Operands r;
  GemmBf16Args& g = r.g;
  g.a = operand(a, op, "a");
  g.m = a.shape(0);
  g.k = a.shape(1);
  if (py::isinstance<PackedBf16B>(b)) {
    g.packed_b = &py::cast<const PackedBf16B&>(b);
    if (g.packed_b->k != g.k)
      throw py::value_error(op + ": shapes " + shape_str(a) + " and packed (" + std::to_string(g.packed_b->k) + ", " +
                            std::to_string(g.packed_b->n) + ") cannot be multiplied");
    g.n = g.packed_b->n;
  } else if (py::isinstance<py::array>(b)) {
    const py::array bb = py::cast<py::array>(b);
    g.b = operand(bb, op, "b");
    if (bb.shape(0) != g.k)
      throw py::value_error(op + ": shapes " + shape_str(a) + " and " + shape_str(bb) + " cannot be multiplied");
    g.n = bb.shape(1);
  } else {
    throw py::type_error(op + ": b must be an array or a Bf16PackedB, got " +
                         py::str(py::type::of(b).attr("__name__")).cast<std::string>());
  }
  check_workspace(g.m, g.k, g.n, g.packed_b == nullptr, op);
  return r;
}

std::unique_ptr<PackedBf16B> pack(const py::array& b) {
  const std::string op = "pack_bf16";
  const Bf16Operand o = operand(b, op, "b");
  const int64_t k = b.shape(0), n = b.shape(1);
  check_workspace(0, k, n, true, op);
  auto out = std::make_unique<PackedBf16B>();
  py::gil_scoped_release release;
  pack_bf16_b(o, k, n, *out);
  return out;
}

py::array matmul_bf16(const py::array& a, const py::object& b, const py::object& bias, const py::object& isa_name) {
  const std::string op = "matmul_bf16";
  const Bf16Isa isa = resolve_bf16_isa(isa_name, op);
  Operands r = operands(a, b, op);
  check_bias(bias, r.g.n, op, r.bias_held, r.g);
  auto out = checks::new_array<float>({r.g.m, r.g.n}, op, "the output");
  r.g.c = out.mutable_data();
  r.g.rs_c = r.g.n;
  r.g.cs_c = 1;
  py::gil_scoped_release release;
  gemm_bf16(isa, r.g);
  return out;
}

// True when the memory spans of the two arrays intersect (a conservative overlap test, as bind_gemm.cpp's).
bool spans_overlap(const py::array& x, const py::array& y) {
  auto span = [](const py::array& arr, const char*& lo, const char*& hi) {
    lo = hi = static_cast<const char*>(arr.data());
    for (py::ssize_t d = 0; d < arr.ndim(); ++d) {
      if (arr.shape(d) == 0) return false;
      const auto extent = (arr.shape(d) - 1) * arr.strides(d);
      if (extent < 0) lo += extent;
      else hi += extent;
    }
    hi += arr.itemsize();
    return true;
  };
  const char *xl, *xh, *yl, *yh;
  if (!span(x, xl, xh) || !span(y, yl, yh)) return false;
  return xl < yh && yl < xh;
}

void gemm_bf16_inplace(const py::array& a, const py::object& b, py::array out, double alpha, double beta,
                       const py::object& isa_name) {
  const std::string op = "gemm_bf16";
  const Bf16Isa isa = resolve_bf16_isa(isa_name, op);
  Operands r = operands(a, b, op);
  if (!out.dtype().equal(py::dtype::of<float>()))
    throw py::type_error(op + ": expected out to be float32, got " + dtype_str(out));
  if (out.ndim() != 2 || out.shape(0) != r.g.m || out.shape(1) != r.g.n)
    throw py::value_error(op + ": out has shape " + shape_str(out) + ", expected (" + std::to_string(r.g.m) + ", " +
                          std::to_string(r.g.n) + ")");
  if (!out.writeable()) throw py::value_error(op + ": out is read-only");
  for (py::ssize_t d = 0; d < 2; ++d)
    if (out.strides(d) == 0 && out.shape(d) > 1) throw py::value_error(op + ": out has overlapping (zero-stride) elements");
  if (spans_overlap(out, a) || (py::isinstance<py::array>(b) && spans_overlap(out, py::cast<py::array>(b))))
    throw py::value_error(op + ": out overlaps an input");
  const auto sc = element_strides(out, op.c_str(), "out");
  r.g.alpha = static_cast<float>(alpha);
  r.g.beta = static_cast<float>(beta);
  r.g.c = static_cast<float*>(out.mutable_data());
  r.g.rs_c = sc[0];
  r.g.cs_c = sc[1];
  py::gil_scoped_release release;
  gemm_bf16(isa, r.g);
}

py::list level_names(const std::vector<Bf16Isa>& levels) {
  py::list out;
  for (Bf16Isa isa : levels) out.append(bf16_isa_name(isa));
  return out;
}

double probe_peak_bf16(const py::object& isa_name, int64_t nthreads, int64_t repeats) {
  const std::string op = "probe_peak_gflops_bf16";
  const Bf16Isa isa = resolve_bf16_isa(isa_name, op);
  if (isa == Bf16Isa::generic) throw py::value_error(op + ": the generic bf16 level has no bf16 instruction to probe");
  checked::bounded(nthreads, 1, 4 * static_cast<int64_t>(omp_get_num_procs()), op, "threads");
  checked::bounded(repeats, 1, 100, op, "repeats");
  py::gil_scoped_release release;
  return peak_gflops_bf16(isa, static_cast<int>(nthreads), static_cast<int>(repeats));
}

}  // namespace

void bind_gemm_bf16(py::module_& m) {
  py::class_<PackedBf16B>(m, "Bf16PackedB",
                          "A (k, n) bf16 operand packed once (pack_bf16) for reuse as matmul_bf16's b, e.g. a weight "
                          "across training steps.")
      .def_property_readonly("shape", [](const PackedBf16B& p) { return py::make_tuple(p.k, p.n); })
      .def_property_readonly("nbytes", [](const PackedBf16B& p) { return p.words() * sizeof(uint32_t); })
      .def("__repr__", [](const PackedBf16B& p) {
        return "Bf16PackedB(shape=(" + std::to_string(p.k) + ", " + std::to_string(p.n) + "))";
      });
  m.def("pack_bf16", &pack, py::arg("b"),
        "b (k, n), uint16 bf16 bits or float32 (rounded to nearest even), packed in the VNNI pair layout.");
  m.def("matmul_bf16", &matmul_bf16, py::arg("a"), py::arg("b"), py::arg("bias") = py::none(), py::kw_only(),
        py::arg("isa") = py::none(),
        "a @ b (+ bias) in bf16 with fp32 accumulation, for 2-D a (m, k) and b (k, n) of uint16 bf16 bits or float32 "
        "(rounded to bf16), any strides, or b a Bf16PackedB; bias float32 (n,). Returns float32 (m, n).");
  m.def("gemm_bf16", &gemm_bf16_inplace, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0, py::kw_only(), py::arg("isa") = py::none(),
        "out = alpha * a @ b + beta * out in bf16 with fp32 accumulation, in place; out float32, strided, not "
        "overlapping a or b.");
  m.def("probe_peak_gflops_bf16", &probe_peak_bf16, py::arg("isa") = py::none(), py::arg("threads") = 1,
        py::arg("repeats") = 5,
        "Peak bf16 dot-product GFLOP/s at a bf16 level (avx512_bf16: vdpbf16ps chains; amx: tdpbf16ps), best of "
        "repeats; the bench's bf16 peak row.");
  m.def("bf16_isa_levels", [] { return level_names(bf16_isa_levels_supported()); },
        "Every bf16 GEMM level this CPU and OS can run, lowest first (generic, avx512_bf16, amx).");
  m.def("bf16_isa_supported", [] { return std::string(bf16_isa_name(bf16_isa_supported())); },
        "Best bf16 GEMM level this CPU and OS can run.");
  m.def("bf16_isa_active", [] {
    try {
      return std::string(bf16_isa_name(bf16_isa_active()));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string("bf16_isa_active: ") + e.what());
    }
  }, "The level the bf16 GEMM uses: FASTNN_BF16_ISA, else the best (generic when FASTNN_ISA is below avx512).");
}

}  // namespace fastnn::bindings
