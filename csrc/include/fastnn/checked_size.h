// Overflow-checked size arithmetic for the bindings (fastnn._C and the CUDA bindings of fastnn._emu / _C.cuda).
// Sizes, strides, paddings and kernel sizes arrive from Python as arbitrary int64 values; an unchecked
// `h + 2 * pad` or `n * c * h * w` wraps (undefined behaviour) and the kernel then indexes out of bounds. Every
// binding computes its shapes through these helpers once per call, at the boundary, so the kernels' inner loops
// can trust them. Errors name the op first:
//   - ValueError: a bad argument (non-positive stride, a window larger than the padded input, a size whose
//     arithmetic overflows int64);
//   - MemoryError: a result or workspace that no memory of this machine can hold.
#pragma once

#include <pybind11/pybind11.h>
#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace fastnn::checked {

namespace py = pybind11;

[[noreturn]] inline void fail(const std::string& op, const std::string& what) {
  throw py::value_error(op + ": " + what);
}

// MemoryError (not a bare std::bad_alloc, which arrives without the op's name).
[[noreturn]] inline void fail_memory(const std::string& op, const std::string& what) {
  PyErr_SetString(PyExc_MemoryError, (op + ": " + what).c_str());
  throw py::error_already_set();
}

inline int64_t add(int64_t a, int64_t b, const std::string& op, const char* what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    fail(op, std::string(what) + " overflows int64 (" + std::to_string(a) + " + " + std::to_string(b) + ")");
  return r;
}

inline int64_t sub(int64_t a, int64_t b, const std::string& op, const char* what) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r))
    fail(op, std::string(what) + " overflows int64 (" + std::to_string(a) + " - " + std::to_string(b) + ")");
  return r;
}

inline int64_t mul(int64_t a, int64_t b, const std::string& op, const char* what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    fail(op, std::string(what) + " overflows int64 (" + std::to_string(a) + " * " + std::to_string(b) + ")");
  return r;
}

// The element count of a shape: ValueError on a negative dim or an int64 overflow. A zero dim makes the count
// zero whatever the other dims are (an empty array of a huge shape is still empty).
template <typename Dims>
int64_t product(const Dims& dims, const std::string& op, const char* what) {
  bool empty = false;
  for (int64_t d : dims) {
    if (d < 0) fail(op, std::string(what) + " has a negative dimension " + std::to_string(d));
    empty = empty || d == 0;
  }
  if (empty) return 0;
  int64_t n = 1;
  for (int64_t d : dims) n = mul(n, d, op, what);
  return n;
}
inline int64_t product(std::initializer_list<int64_t> dims, const std::string& op, const char* what) {
  return product<std::initializer_list<int64_t>>(dims, op, what);
}

// count * itemsize, checked.
inline int64_t bytes(int64_t count, int64_t itemsize, const std::string& op, const char* what) {
  return mul(count, itemsize, op, what);
}

// This machine's physical memory in bytes (the bound no single allocation can exceed).
inline int64_t memory_bytes() {
  static const int64_t total = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return std::numeric_limits<int64_t>::max();
    int64_t r;
    return __builtin_mul_overflow(static_cast<int64_t>(pages), static_cast<int64_t>(page), &r)
               ? std::numeric_limits<int64_t>::max()
               : r;
  }();
  return total;
}

// Raises MemoryError when `count` items of `itemsize` bytes (an output, a copy or a workspace the op makes)
// cannot fit in this machine's memory, ValueError when the byte count overflows; returns the byte count.
inline int64_t allocatable(int64_t count, int64_t itemsize, const std::string& op, const char* what) {
  const int64_t n = bytes(count, itemsize, op, what);
  if (n > memory_bytes()) {
    fail_memory(op, std::string(what) + " of " + std::to_string(count) + " elements needs " + std::to_string(n) +
                        " bytes, more than this machine's memory (" + std::to_string(memory_bytes()) + " bytes)");
  }
  return n;
}

// The shape of an array the op allocates, checked (product and memory) and ready for py::array.
template <typename Dims>
std::vector<py::ssize_t> alloc_shape(const Dims& dims, int64_t itemsize, const std::string& op, const char* what) {
  allocatable(product(dims, op, what), itemsize, op, what);
  return std::vector<py::ssize_t>(dims.begin(), dims.end());
}
inline std::vector<py::ssize_t> alloc_shape(std::initializer_list<int64_t> dims, int64_t itemsize,
                                            const std::string& op, const char* what) {
  return alloc_shape<std::initializer_list<int64_t>>(dims, itemsize, op, what);
}

// A sliding window over one spatial dim (convolution or pooling): the parameters checked and the padded
// extent and the window's span computed without overflow.
struct Window {
  int64_t padded;  // in + 2 * pad (pad_total = 2 * pad)
  int64_t span;    // dilation * (kernel - 1) + 1
};

inline Window window(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, const std::string& op) {
  if (in < 0) fail(op, "input size must be non-negative, got " + std::to_string(in));
  if (kernel < 1) fail(op, "kernel size must be positive, got " + std::to_string(kernel));
  if (stride < 1) fail(op, "stride must be positive, got " + std::to_string(stride));
  if (pad < 0) fail(op, "negative padding is not supported, got " + std::to_string(pad));
  if (dilation < 1) fail(op, "dilation must be positive, got " + std::to_string(dilation));
  const int64_t padded = add(in, mul(2, pad, op, "the padding"), op, "the padded input size");
  const int64_t span = add(mul(dilation, kernel - 1, op, "the dilated kernel size"), 1, op, "the dilated kernel size");
  return {padded, span};
}

// (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1 with every term checked; ValueError when the dilated
// kernel is larger than the padded input (the output would be empty or negative).
inline int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                                const std::string& op) {
  const Window w = window(in, kernel, stride, pad, dilation, op);
  if (w.padded < w.span) {
    fail(op, "kernel size " + std::to_string(kernel) + " after dilation (" + std::to_string(w.span) +
                 ") is larger than the padded input (" + std::to_string(w.padded) + ")");
  }
  return (w.padded - w.span) / stride + 1;
}

// conv_output_size over both spatial dims, with the message (and its padded-input pair) the bindings have
// always given for a window larger than the padded input.
inline std::pair<int64_t, int64_t> conv_output_hw(int64_t h, int64_t w, int64_t kh, int64_t kw,
                                                  std::pair<int64_t, int64_t> stride, std::pair<int64_t, int64_t> pad,
                                                  std::pair<int64_t, int64_t> dilation, const std::string& op) {
  const Window wh = window(h, kh, stride.first, pad.first, dilation.first, op);
  const Window ww = window(w, kw, stride.second, pad.second, dilation.second, op);
  if (wh.padded < wh.span || ww.padded < ww.span) {
    fail(op, "kernel size (" + std::to_string(kh) + ", " + std::to_string(kw) +
                 ") after dilation is larger than the padded input (" + std::to_string(wh.padded) + ", " +
                 std::to_string(ww.padded) + ")");
  }
  return {(wh.padded - wh.span) / stride.first + 1, (ww.padded - ww.span) / stride.second + 1};
}

// PyTorch's pooling_output_shape with every term checked: floor or ceil division, and with ceil_mode the last
// window must start inside the input or its left padding. May return < 1 (the caller reports it).
inline int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation,
                                bool ceil_mode, const std::string& op) {
  const Window w = window(in, kernel, stride, pad, dilation, op);
  int64_t num = sub(w.padded, w.span, op, "the pooling window");
  if (ceil_mode) num = add(num, stride - 1, op, "the pooling window");
  int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;  // both terms are below `num + stride`: no overflow
  return out;
}

// A count the op loops over must be in [lo, hi]: bench probes and thread counts are bounded so that a hostile
// value is an error, not an allocation of the whole memory or an hour of work.
inline int64_t bounded(int64_t v, int64_t lo, int64_t hi, const std::string& op, const char* what) {
  if (v < lo || v > hi) {
    fail(op, std::string(what) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                 std::to_string(v));
  }
  return v;
}

}  // namespace fastnn::checked
