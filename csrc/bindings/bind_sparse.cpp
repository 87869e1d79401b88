// Sparse @ dense bindings: index / value / dense checks (so no entry is read out of bounds), then the
// kernels with the GIL released.
#include "array_checks.h"
#include "bindings.h"
#include "fastnn/spmm.h"

namespace fastnn::bindings {
namespace {

using namespace checks;

void check_index(const py::array& idx, int64_t nnz, const std::string& op, const char* name) {
  if (!idx.dtype().equal(py::dtype::of<int64_t>()))
    throw py::type_error(op + ": expected " + std::string(name) + " to be int64, got " + dtype_str(idx));
  if (idx.ndim() != 1 || idx.shape(0) != nnz)
    throw py::value_error(op + ": expected " + std::string(name) + " of shape (" + std::to_string(nnz) + ",), got " +
                          shape_str(idx));
  require_c_contiguous(idx, op, name);
}

[[noreturn]] void out_of_range(const std::string& op, int64_t e, int64_t r, int64_t c, int64_t m, int64_t k) {
  throw py::value_error(op + ": entry " + std::to_string(e) + " at (" + std::to_string(r) + ", " +
                        std::to_string(c) + ") is outside the " + std::to_string(m) + " x " + std::to_string(k) +
                        " matrix");
}

template <typename T>
py::array spmm_typed(const py::array& rows, const py::array& cols, const py::array& vals, const py::array& dense,
                     int64_t m, Isa isa) {
  const std::string op = "spmm";
  const int64_t nnz = vals.shape(0);
  const int64_t ld = row_stride(dense, op, "dense");
  SpmmArgs<T> a{static_cast<const int64_t*>(rows.data()), static_cast<const int64_t*>(cols.data()),
                static_cast<const T*>(vals.data()), nnz, m, dense.shape(0), dense.shape(1),
                static_cast<const T*>(dense.data()), ld, nullptr};
  // The kernel's counting sort keeps two int64 counters per row beside the (m, n) result: a huge m with a
  // handful of entries must fail here, not be OOM-killed later (Linux overcommits the allocations).
  const int64_t row_bytes = checked::bytes(a.n, static_cast<int64_t>(sizeof(T)), op, "a row of the output") + 16;
  checked::allocatable(m, row_bytes, op, "the output and its row counters");
  auto out = new_array<T>({m, a.n}, op, "the output");
  a.out = out.mutable_data();
  int64_t bad;
  {
    py::gil_scoped_release release;
    bad = spmm(isa, a);
  }
  if (bad >= 0) out_of_range(op, bad, a.rows[bad], a.cols[bad], m, a.k);
  return out;
}

py::array spmm_entry(const py::array& rows, const py::array& cols, const py::array& vals, const py::array& dense,
                     int64_t m, const py::object& isa_name) {
  const std::string op = "spmm";
  const Isa isa = resolve_isa(isa_name, "spmm");
  const Dtype dt = float_dtype(dense, op, "dense");
  require_ndim(vals, 1, op, "vals");
  same_dtype(vals, dense, op, "vals");
  require_c_contiguous(vals, op, "vals");
  check_index(rows, vals.shape(0), op, "rows");
  check_index(cols, vals.shape(0), op, "cols");
  if (m < 0) throw py::value_error(op + ": expected m >= 0, got " + std::to_string(m));
  if (dt == Dtype::f32) return spmm_typed<float>(rows, cols, vals, dense, m, isa);
  return spmm_typed<double>(rows, cols, vals, dense, m, isa);
}

template <typename T>
py::array sddmm_typed(const py::array& rows, const py::array& cols, const py::array& x, const py::array& y,
                      Isa isa) {
  const std::string op = "sddmm";
  const int64_t nnz = rows.shape(0);
  const int64_t lda = row_stride(x, op, "a"), ldb = row_stride(y, op, "b");
  auto out = new_array<T>({nnz}, op, "the output");
  SddmmArgs<T> a{static_cast<const int64_t*>(rows.data()), static_cast<const int64_t*>(cols.data()), nnz,
                 x.shape(0), y.shape(0), x.shape(1), static_cast<const T*>(x.data()), lda,
                 static_cast<const T*>(y.data()), ldb, out.mutable_data()};
  int64_t bad;
  {
    py::gil_scoped_release release;
    bad = sddmm(isa, a);
  }
  if (bad >= 0) out_of_range(op, bad, a.rows[bad], a.cols[bad], a.ra, a.rb);
  return out;
}

py::array sddmm_entry(const py::array& rows, const py::array& cols, const py::array& x, const py::array& y,
                      const py::object& isa_name) {
  const std::string op = "sddmm";
  const Isa isa = resolve_isa(isa_name, "sddmm");
  const Dtype dt = float_dtype(x, op, "a");
  same_dtype(y, x, op, "b");
  require_ndim(x, 2, op, "a");
  require_ndim(y, 2, op, "b");
  if (x.shape(1) != y.shape(1))
    throw py::value_error(op + ": a " + shape_str(x) + " and b " + shape_str(y) + " differ in their row length");
  if (rows.ndim() != 1) throw py::value_error(op + ": expected rows to be 1-D, got shape " + shape_str(rows));
  check_index(rows, rows.shape(0), op, "rows");
  check_index(cols, rows.shape(0), op, "cols");
  if (dt == Dtype::f32) return sddmm_typed<float>(rows, cols, x, y, isa);
  return sddmm_typed<double>(rows, cols, x, y, isa);
}

}  // namespace

void bind_sparse(py::module_& m) {
  m.def("spmm", &spmm_entry, py::arg("rows"), py::arg("cols"), py::arg("vals"), py::arg("dense"), py::arg("m"),
        py::kw_only(), py::arg("isa") = py::none(),
        "out (m, n) = A @ dense for the COO matrix A (rows, cols, vals: nnz entries, any order, duplicates "
        "add) and a (k, n) dense matrix with contiguous rows; bitwise independent of the thread count.");
  m.def("sddmm", &sddmm_entry, py::arg("rows"), py::arg("cols"), py::arg("a"), py::arg("b"), py::kw_only(),
        py::arg("isa") = py::none(),
        "out[e] = dot(a[rows[e]], b[cols[e]]) for each entry e: the gradient of spmm with respect to vals "
        "(a the output gradient, b the dense operand).");
}

}  // namespace fastnn::bindings
