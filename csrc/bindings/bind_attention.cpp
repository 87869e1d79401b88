// Fused attention bindings: dtype, shape, mask and stride checks, then the kernel with the GIL released.
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "array_checks.h"
#include "fastnn/checked_size.h"
#include "bindings.h"
#include "fastnn/attention.h"

namespace fastnn::bindings {
namespace {

using checks::shape_str;

using checks::dtype_str;

bool is_f32(const py::array& a) { return a.dtype().equal(py::dtype::of<float>()); }
bool is_f64(const py::array& a) { return a.dtype().equal(py::dtype::of<double>()); }

// `a` as an array whose last dimension is contiguous (a copy only when it is not).
template <typename T>
py::array rows_contiguous(const py::array& a) {
  if (a.ndim() == 0 || a.shape(a.ndim() - 1) <= 1 || a.strides(a.ndim() - 1) == static_cast<py::ssize_t>(sizeof(T)))
    return a;
  return py::array_t<T, py::array::c_style>::ensure(a);
}

template <typename T>
AttnView<const T> view_of(const py::array& a, const char* op, const char* name) {
  const auto st = element_strides(a, op, name);
  return {static_cast<const T*>(a.data()), st[0], st[1], st[2]};
}
template <typename T>
AttnView<T> out_view(py::array& a) {
  const auto st = element_strides(a, "attention", "out");
  return {static_cast<T*>(a.mutable_data()), st[0], st[1], st[2]};
}

// Checks q, k, v (and the options), filling the shape; returns q's dtype flag (true: float64).
bool check_qkv(const py::array& q, const py::array& k, const py::array& v, const char* op, AttentionShape& s) {
  if (!is_f32(q) && !is_f64(q))
    throw py::type_error(std::string(op) + ": expected query to be float32 or float64, got " + dtype_str(q));
  if (!k.dtype().equal(q.dtype()) || !v.dtype().equal(q.dtype())) {
    throw py::type_error(std::string(op) + ": query, key and value must share a dtype, got " + dtype_str(q) + ", " +
                         dtype_str(k) + " and " + dtype_str(v));
  }
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) {
    throw std::invalid_argument(std::string(op) + ": expected 4-D query, key and value (batch, heads, length, dim), " +
                                "got shapes " + shape_str(q) + ", " + shape_str(k) + " and " + shape_str(v));
  }
  const bool ok = k.shape(0) == q.shape(0) && v.shape(0) == q.shape(0) && k.shape(1) == q.shape(1) &&
                  v.shape(1) == q.shape(1) && k.shape(3) == q.shape(3) && v.shape(2) == k.shape(2);
  if (!ok) {
    throw std::invalid_argument(std::string(op) + ": shapes query " + shape_str(q) + ", key " + shape_str(k) +
                                ", value " + shape_str(v) +
                                " do not fit (B, H, Lq, D), (B, H, Lk, D), (B, H, Lk, Dv)");
  }
  // q, k and v may be copied (a broadcast operand's rows made contiguous): refuse what no memory holds.
  for (const py::array* a : {&q, &k, &v})
    checked::allocatable(a->size(), a->itemsize(), op, a == &q ? "query" : a == &k ? "key" : "value");
  s.batch = q.shape(0);
  s.heads = q.shape(1);
  s.lq = q.shape(2);
  s.lk = k.shape(2);
  s.d = q.shape(3);
  s.dv = v.shape(3);
  return is_f64(q);
}

// Mask (None, bool, or q's float dtype) broadcastable to (B, H, Lq, Lk): size-1 dims read with stride 0.
void set_mask(const py::object& mask_obj, bool is_causal, const py::object& scale, const py::array& q, const char* op,
              AttentionShape& s, py::array& holder) {
  s.causal = is_causal;
  if (scale.is_none()) {
    s.scale = s.d > 0 ? 1.0 / std::sqrt(static_cast<double>(s.d)) : 1.0;
  } else {
    try {
      s.scale = py::cast<double>(scale);
    } catch (const py::cast_error&) {  // pybind11's own message names neither the op nor the argument
      throw py::type_error(std::string(op) + ": scale must be a float or None, got " +
                           py::str(py::type::of(scale).attr("__name__")).cast<std::string>());
    }
    if (!std::isfinite(s.scale)) throw std::invalid_argument(std::string(op) + ": scale must be finite");
  }
  s.mask_kind = AttentionMask::none;
  s.mask = nullptr;
  s.mask_sb = s.mask_sh = s.mask_si = s.mask_sj = 0;
  if (mask_obj.is_none()) return;
  if (is_causal)
    throw std::invalid_argument(std::string(op) + ": an explicit attn_mask should not be set when is_causal=True");
  if (!py::isinstance<py::array>(mask_obj))
    throw py::type_error(std::string(op) + ": attn_mask must be a NumPy array or None");
  holder = py::reinterpret_borrow<py::array>(mask_obj);
  const py::array& m = holder;
  if (m.dtype().equal(py::dtype::of<bool>())) {
    s.mask_kind = AttentionMask::boolean;
  } else if (m.dtype().equal(q.dtype())) {
    s.mask_kind = AttentionMask::additive;
  } else {
    throw py::type_error(std::string(op) + ": attn_mask must be bool or the query's dtype (" + dtype_str(q) +
                         "), got " + dtype_str(m));
  }
  const int64_t target[4] = {s.batch, s.heads, s.lq, s.lk};
  if (m.ndim() > 4) {
    throw std::invalid_argument(std::string(op) + ": attn_mask of shape " + shape_str(m) +
                                " has more than 4 dims");
  }
  const auto st = element_strides(m, op, "attn_mask");
  int64_t strides[4] = {0, 0, 0, 0};
  const int off = 4 - static_cast<int>(m.ndim());
  for (int d = 0; d < m.ndim(); ++d) {
    const int64_t n = m.shape(d);
    if (n != target[off + d] && n != 1) {
      std::ostringstream t;
      t << "(" << s.batch << ", " << s.heads << ", " << s.lq << ", " << s.lk << ")";
      throw std::invalid_argument(std::string(op) + ": attn_mask of shape " + shape_str(m) +
                                  " cannot be broadcast to " + t.str());
    }
    strides[off + d] = n == 1 ? 0 : st[d];
  }
  s.mask = m.data();
  s.mask_sb = strides[0];
  s.mask_sh = strides[1];
  s.mask_si = strides[2];
  s.mask_sj = strides[3];
}

template <typename T>
py::tuple forward_typed(py::array q, py::array k, py::array v, AttentionShape s, Isa isa) {
  q = rows_contiguous<T>(q);
  k = rows_contiguous<T>(k);
  v = rows_contiguous<T>(v);
  py::array out = checks::new_array<T>({s.batch, s.heads, s.lq, s.dv}, "attention_forward", "the output");
  py::array lse = checks::new_array<T>({s.batch, s.heads, s.lq}, "attention_forward", "the logsumexp");
  AttentionForwardArgs<T> a;
  a.s = s;
  a.q = view_of<T>(q, "attention_forward", "query");
  a.k = view_of<T>(k, "attention_forward", "key");
  a.v = view_of<T>(v, "attention_forward", "value");
  a.out = out_view<T>(out);
  a.lse = static_cast<T*>(lse.mutable_data());
  {
    py::gil_scoped_release release;
    attention_forward(isa, a);
  }
  return py::make_tuple(out, lse);
}

py::tuple forward(const py::array& q, const py::array& k, const py::array& v, const py::object& mask, bool is_causal,
                  const py::object& scale, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "attention_forward");
  AttentionShape s;
  const bool f64 = check_qkv(q, k, v, "attention_forward", s);
  py::array mask_holder;
  set_mask(mask, is_causal, scale, q, "attention_forward", s, mask_holder);
  return f64 ? forward_typed<double>(q, k, v, s, isa) : forward_typed<float>(q, k, v, s, isa);
}

template <typename T>
py::tuple backward_typed(py::array dout, py::array q, py::array k, py::array v, py::array out, py::array lse,
                         AttentionShape s, Isa isa) {
  dout = rows_contiguous<T>(dout);
  q = rows_contiguous<T>(q);
  k = rows_contiguous<T>(k);
  v = rows_contiguous<T>(v);
  out = rows_contiguous<T>(out);
  lse = py::array_t<T, py::array::c_style>::ensure(lse);
  py::array dq = py::array_t<T>(std::vector<py::ssize_t>{s.batch, s.heads, s.lq, s.d});
  py::array dk = py::array_t<T>(std::vector<py::ssize_t>{s.batch, s.heads, s.lk, s.d});
  py::array dv = py::array_t<T>(std::vector<py::ssize_t>{s.batch, s.heads, s.lk, s.dv});
  AttentionBackwardArgs<T> a;
  a.s = s;
  a.q = view_of<T>(q, "attention_backward", "query");
  a.k = view_of<T>(k, "attention_backward", "key");
  a.v = view_of<T>(v, "attention_backward", "value");
  a.out = view_of<T>(out, "attention_backward", "out");
  a.dout = view_of<T>(dout, "attention_backward", "grad_out");
  a.lse = static_cast<const T*>(lse.data());
  a.dq = out_view<T>(dq);
  a.dk = out_view<T>(dk);
  a.dv = out_view<T>(dv);
  {
    py::gil_scoped_release release;
    attention_backward(isa, a);
  }
  return py::make_tuple(dq, dk, dv);
}

py::tuple backward(const py::array& dout, const py::array& q, const py::array& k, const py::array& v,
                   const py::array& out, const py::array& lse, const py::object& mask, bool is_causal,
                   const py::object& scale, const py::object& isa_name) {
  const char* op = "attention_backward";
  const Isa isa = resolve_isa(isa_name, "attention_backward");
  AttentionShape s;
  const bool f64 = check_qkv(q, k, v, op, s);
  for (const py::array* a : {&dout, &out, &lse}) {
    if (!a->dtype().equal(q.dtype()))
      throw py::type_error(std::string(op) + ": grad_out, out and lse must have the query's dtype " + dtype_str(q) +
                           ", got " + dtype_str(*a));
  }
  auto same = [](const py::array& a, std::initializer_list<int64_t> shape) {
    if (a.ndim() != static_cast<py::ssize_t>(shape.size())) return false;
    int d = 0;
    for (int64_t n : shape)
      if (a.shape(d++) != n) return false;
    return true;
  };
  if (!same(out, {s.batch, s.heads, s.lq, s.dv}) || !same(dout, {s.batch, s.heads, s.lq, s.dv}) ||
      !same(lse, {s.batch, s.heads, s.lq})) {
    throw std::invalid_argument(std::string(op) + ": out " + shape_str(out) + ", grad_out " + shape_str(dout) +
                                " and lse " + shape_str(lse) + " do not match query " + shape_str(q) +
                                " and value " + shape_str(v));
  }
  py::array mask_holder;
  set_mask(mask, is_causal, scale, q, op, s, mask_holder);
  return f64 ? backward_typed<double>(dout, q, k, v, out, lse, s, isa)
             : backward_typed<float>(dout, q, k, v, out, lse, s, isa);
}

template <typename T>
py::array exp_typed(const py::array& x, bool base2, Isa isa) {
  return checks::map_elementwise<T>(
      x, [isa, base2](const T* px, T* py_, int64_t n) { vector_exp(isa, px, py_, n, base2); }, "vector_exp");
}

py::array vector_exp_py(const py::array& x, bool base2, const py::object& isa_name) {
  const Isa isa = resolve_isa(isa_name, "vector_exp");
  if (is_f32(x)) return exp_typed<float>(x, base2, isa);
  if (is_f64(x)) return exp_typed<double>(x, base2, isa);
  throw py::type_error("vector_exp: expected a float32 or float64 array, got " + dtype_str(x));
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def("attention_forward", &forward, py::arg("query"), py::arg("key"), py::arg("value"),
        py::arg("attn_mask") = py::none(), py::arg("is_causal") = false, py::arg("scale") = py::none(), py::kw_only(),
        py::arg("isa") = py::none(),
        "Fused scaled dot-product attention on 4-D (B, H, L, D) float32/float64 arrays; returns (out, lse).");
  m.def("attention_backward", &backward, py::arg("grad_out"), py::arg("query"), py::arg("key"), py::arg("value"),
        py::arg("out"), py::arg("lse"), py::arg("attn_mask") = py::none(), py::arg("is_causal") = false,
        py::arg("scale") = py::none(), py::kw_only(), py::arg("isa") = py::none(),
        "Gradients (dq, dk, dv) of the fused attention from the forward's out and lse.");
  m.def("vector_exp", &vector_exp_py, py::arg("x"), py::kw_only(), py::arg("base2") = false,
        py::arg("isa") = py::none(), "The attention kernels' vectorised exp (or exp2) over an array (tests).");
}

}  // namespace fastnn::bindings
