// fastnn._C.cuda / fastnn._emu: attention_forward_f32, attention_backward_f32. Inputs are 4-D
// (batch, heads, length, dim) float32 device arrays with any strides (0 for a broadcast dim); the mask,
// when given, is already broadcast to (B, H, Lq, Lk) (a stride-0 view, never a copy). Outputs and the
// backward's scratch come from the caller (CuPy's pool).
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>

#include "attention.h"
#include "device_array.h"
#include "launch.h"
#include "registry.h"

namespace {
namespace py = pybind11;
using fastnn::cuda_bindings::checked_size;
using fastnn::cuda_bindings::device_array;
using fastnn::cuda_bindings::DeviceArray;
namespace k = fastnn::FASTNN_CUDA_NS;

// A stride of a length-1 dim is never used: 0, so it does not spoil the float4 test.
std::int64_t stride(const DeviceArray& a, int d) { return a.shape[d] == 1 ? 0 : a.strides[d]; }

k::AttnTensor tensor4(const DeviceArray& a) {
  const std::int64_t s0 = stride(a, 0), s1 = stride(a, 1), s2 = stride(a, 2), s3 = stride(a, 3);
  const bool vec = (a.shape[3] <= 1 || s3 == 1) && s0 % 4 == 0 && s1 % 4 == 0 && s2 % 4 == 0 && a.ptr % 16 == 0;
  return k::AttnTensor{a.data<const float>(), s0, s1, s2, s3, vec};
}

DeviceArray input4(const py::object& obj, const char* op, const char* name) {
  DeviceArray a = device_array(obj, op, name);
  a.require_dtype("float32").require_ndim(4);
  return a;
}

DeviceArray output(const py::object& obj, const char* op, const char* name, const std::vector<std::int64_t>& shape) {
  DeviceArray a = device_array(obj, op, name);
  a.require_dtype("float32").require_contiguous().require_writable().require_shape(shape);
  return a;
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + ")";
}

// Checks q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv), the mask and the scale; the shape they give.
k::AttentionShape shape_of(const DeviceArray& q, const DeviceArray& kk, const DeviceArray& v, bool causal,
                           double scale, const char* op) {
  if (kk.shape[0] != q.shape[0] || kk.shape[1] != q.shape[1] || v.shape[0] != q.shape[0] ||
      v.shape[1] != q.shape[1] || kk.shape[3] != q.shape[3] || v.shape[2] != kk.shape[2]) {
    throw py::value_error(std::string(op) + ": shapes q " + shape_text(q.shape) + ", k " + shape_text(kk.shape) +
                          ", v " + shape_text(v.shape) + " do not fit (B, H, Lq, D), (B, H, Lk, D), (B, H, Lk, Dv)");
  }
  if (q.shape[3] > k::kAttentionMaxHeadDim || v.shape[3] > k::kAttentionMaxHeadDim) {
    throw py::value_error(std::string(op) + ": head dims up to " + std::to_string(k::kAttentionMaxHeadDim) +
                          ", got D = " + std::to_string(q.shape[3]) + " and Dv = " + std::to_string(v.shape[3]));
  }
  if (!std::isfinite(scale)) throw py::value_error(std::string(op) + ": scale must be finite");
  k::AttentionShape sh{};
  sh.batch = static_cast<int>(checked_size(q.shape[0], op, "batch"));
  sh.heads = static_cast<int>(checked_size(q.shape[1], op, "heads"));
  sh.lq = static_cast<int>(checked_size(q.shape[2], op, "Lq"));
  sh.lk = static_cast<int>(checked_size(kk.shape[2], op, "Lk"));
  sh.d = static_cast<int>(q.shape[3]);
  sh.dv = static_cast<int>(v.shape[3]);
  sh.causal = causal;
  sh.scale = static_cast<float>(scale);
  return sh;
}

k::AttnMask mask_of(const py::object& obj, const k::AttentionShape& sh, const char* op) {
  if (obj.is_none()) return k::AttnMask{nullptr, k::AttnMaskKind::none, 0, 0, 0, 0};
  if (sh.causal) throw py::value_error(std::string(op) + ": a mask and is_causal exclude each other");
  const DeviceArray m = device_array(obj, op, "mask");
  if (m.dtype != "bool" && m.dtype != "float32") {
    throw py::type_error(std::string(op) + ": mask must be bool or float32, got " + m.dtype);
  }
  m.require_shape({sh.batch, sh.heads, sh.lq, sh.lk});
  return k::AttnMask{reinterpret_cast<const void*>(m.ptr),
                     m.dtype == "bool" ? k::AttnMaskKind::boolean : k::AttnMaskKind::additive,
                     stride(m, 0), stride(m, 1), stride(m, 2), stride(m, 3)};
}

k::AttnKernel kernel_of(const std::string& name, const char* op) {
  if (name == "auto") return k::AttnKernel::automatic;
  if (name == "simt") return k::AttnKernel::simt;
  if (name == "mma") return k::AttnKernel::mma;
  throw py::value_error(std::string(op) + ": kernel must be 'auto', 'simt' or 'mma', got '" + name + "'");
}

}  // namespace

FASTNN_CUDA_BINDING(attention) {
  m.def(
      "attention_forward_f32",
      [](py::object q, py::object kk, py::object v, py::object mask, py::object out, py::object lse, bool is_causal,
         double scale, bool allow_tf32, const std::string& kernel, int device, std::uintptr_t stream) {
        const char* op = "attention_forward_f32";
        const DeviceArray aq = input4(q, op, "q"), ak = input4(kk, op, "k"), av = input4(v, op, "v");
        const k::AttentionShape sh = shape_of(aq, ak, av, is_causal, scale, op);
        const k::AttnMask am = mask_of(mask, sh, op);
        const DeviceArray ao = output(out, op, "out", {sh.batch, sh.heads, sh.lq, sh.dv});
        const DeviceArray al = output(lse, op, "lse", {sh.batch, sh.heads, sh.lq});
        k::AttentionForwardArgs args{tensor4(aq), tensor4(ak), tensor4(av), am, ao.data<float>(),
                                     al.data<float>(), sh};
        args.allow_tf32 = allow_tf32;
        args.kernel = kernel_of(kernel, op);
        py::gil_scoped_release release;
        k::attention_forward_f32(args, device, k::as_stream(stream));
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask"), py::arg("out"), py::arg("lse"), py::arg("is_causal"),
      py::arg("scale"), py::arg("allow_tf32") = false, py::arg("kernel") = "auto", py::arg("device") = 0,
      py::arg("stream") = 0,
      "Flash attention forward: out = softmax(q k^T * scale + mask) v (B, H, Lq, Dv) and lse (B, H, Lq), "
      "-inf (and out 0) on a row no key takes part in. mask: None, or bool / float32 of shape (B, H, Lq, Lk).\n"
      "allow_tf32 lets an sm_80+ GPU run Q K^T and P V on TF32 tensor cores (head dims multiples of 8); kernel\n"
      "forces 'simt' (exact fp32) or 'mma' (the tensor-core kernel: needs allow_tf32; in the emulator its\n"
      "emulation, which 'auto' never picks there).");
  m.def(
      "attention_forward_kernel_for",
      [](int d, int dv, bool allow_tf32, const std::string& kernel, int device) {
        const char* op = "attention_forward_kernel_for";
        k::AttentionForwardArgs args{};
        args.shape = k::AttentionShape{1, 1, 1, 1, d, dv, false, 1.f};
        args.allow_tf32 = allow_tf32;
        args.kernel = kernel_of(kernel, op);
        return std::string(k::attention_forward_kernel_name(args, device));
      },
      py::arg("d"), py::arg("dv"), py::arg("allow_tf32") = false, py::arg("kernel") = "auto", py::arg("device") = 0,
      "The kernel attention_forward_f32 would run for head dims d, dv: 'simt' or 'mma_tf32'.");
  m.def(
      "attention_backward_f32",
      [](py::object grad_out, py::object q, py::object kk, py::object v, py::object out, py::object lse,
         py::object mask, py::object delta, py::object dq, py::object dk, py::object dv, bool is_causal, double scale,
         bool allow_tf32, const std::string& kernel, int device, std::uintptr_t stream) {
        const char* op = "attention_backward_f32";
        const DeviceArray aq = input4(q, op, "q"), ak = input4(kk, op, "k"), av = input4(v, op, "v");
        const k::AttentionShape sh = shape_of(aq, ak, av, is_causal, scale, op);
        const k::AttnMask am = mask_of(mask, sh, op);
        const DeviceArray ag = input4(grad_out, op, "grad_out"), ao = input4(out, op, "out");
        ag.require_shape({sh.batch, sh.heads, sh.lq, sh.dv});
        ao.require_shape({sh.batch, sh.heads, sh.lq, sh.dv});
        const DeviceArray al = device_array(lse, op, "lse");
        al.require_dtype("float32").require_contiguous().require_shape({sh.batch, sh.heads, sh.lq});
        const DeviceArray adl = output(delta, op, "delta", {sh.batch, sh.heads, sh.lq});
        const DeviceArray adq = output(dq, op, "dq", {sh.batch, sh.heads, sh.lq, sh.d});
        const DeviceArray adk = output(dk, op, "dk", {sh.batch, sh.heads, sh.lk, sh.d});
        const DeviceArray adv = output(dv, op, "dv", {sh.batch, sh.heads, sh.lk, sh.dv});
        k::AttentionBackwardArgs args{tensor4(aq),       tensor4(ak),       tensor4(av),       tensor4(ag),
                                      tensor4(ao),       am,                al.data<const float>(),
                                      adl.data<float>(), adq.data<float>(), adk.data<float>(), adv.data<float>(),
                                      sh};
        args.allow_tf32 = allow_tf32;
        args.kernel = kernel_of(kernel, op);
        py::gil_scoped_release release;
        k::attention_backward_f32(args, device, k::as_stream(stream));
      },
      py::arg("grad_out"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("mask"),
      py::arg("delta"), py::arg("dq"), py::arg("dk"), py::arg("dv"), py::arg("is_causal"), py::arg("scale"),
      py::arg("allow_tf32") = false, py::arg("kernel") = "auto", py::arg("device") = 0, py::arg("stream") = 0,
      "Flash attention backward: dq, dk, dv of attention_forward_f32 from its out and lse (same mask, is_causal, "
      "scale); delta is (B, H, Lq) float32 scratch. Deterministic: no atomics. allow_tf32 and kernel as in "
      "attention_forward_f32 (the tensor-core kernels: TF32 products, fp32 sums).");
}
