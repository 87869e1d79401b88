// fastnn._C.cuda / fastnn._emu: gemm_f32, gemm_bf16, linear_f32, linear_bf16, gemm_kernel_for, gemm_workspace_size.
//
// Operands are passed as the logical matrices (views): a transposed view such as w.T or g.T (unit stride
// along its rows) is read in place as a transposed operand, so no copy is made; a 3-D operand is a batch,
// and a batch stride of 0 (a broadcast view) reuses one matrix. Outputs come from the caller.
#include <pybind11/pybind11.h>

#include <string>

#include "device_array.h"
#include "gemm.h"
#include "launch.h"
#include "registry.h"

namespace {
namespace py = pybind11;
using fastnn::cuda_bindings::device_array;
using fastnn::cuda_bindings::DeviceArray;
namespace k = fastnn::FASTNN_CUDA_NS;

constexpr std::int64_t kMaxGridY = 65535;
constexpr std::int64_t kSmallTile = 64;

std::string dims(std::int64_t r, std::int64_t c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; }

// A logical (rows, cols) matrix, possibly a batch of them, as the kernel reads it.
struct Matrix {
  const DeviceArray* array;
  std::int64_t batch, rows, cols;
  k::GemmOperand op;
};

// The matrix (rows, cols) with strides (sr, sc) in elements: row-major when its columns are contiguous,
// transposed when its rows are; anything else needs a copy first.
k::GemmOperand layout(const DeviceArray& x, std::int64_t rows, std::int64_t cols, std::int64_t sr, std::int64_t sc) {
  k::GemmOperand o;
  o.ptr = reinterpret_cast<const void*>(x.ptr);
  if (cols == 1 || sc == 1) {
    o.trans = false;
    o.ld = rows == 1 ? cols : sr;
  } else if (rows == 1 || sr == 1) {
    o.trans = true;
    o.ld = cols == 1 ? rows : sc;
  } else {
    throw py::value_error(std::string(x.op) + ": " + x.name + " must have unit stride along one of its last two dims, got strides (" +
                          std::to_string(sr) + ", " + std::to_string(sc) + ") (elements); copy it first");
  }
  return o;
}

// x as a 2-D matrix or a 3-D batch of matrices; `transpose` reads the 2-D x as x.T (linear's weight).
Matrix matrix(const DeviceArray& x, bool transpose = false) {
  if (x.ndim() != 2 && !(x.ndim() == 3 && !transpose)) {
    throw py::value_error(std::string(x.op) + ": " + x.name + (transpose ? " must be 2-D" : " must be 2-D or 3-D") +
                          ", got " + std::to_string(x.ndim()) + "-D");
  }
  for (auto s : x.strides) {
    if (s < 0) throw py::value_error(std::string(x.op) + ": " + x.name + " has a negative stride; copy it first");
  }
  const int d = x.ndim() - 2;
  Matrix m{&x, d ? x.shape[0] : 1, x.shape[d], x.shape[d + 1], {}};
  std::int64_t sr = x.strides[d], sc = x.strides[d + 1];
  if (transpose) {
    std::swap(m.rows, m.cols);
    std::swap(sr, sc);
  }
  m.op = layout(x, m.rows, m.cols, sr, sc);
  m.op.batch_stride = (d && m.batch > 1) ? x.strides[0] : 0;
  return m;
}

// c is written: row-major or transposed, each element once.
void check_output(const Matrix& c) {
  const DeviceArray& x = *c.array;
  x.require_writable();
  const std::int64_t inner = c.op.trans ? c.rows : c.cols, outer = c.op.trans ? c.cols : c.rows;
  const bool rows_apart = outer <= 1 || c.op.ld >= inner;
  const bool batches_apart = c.batch <= 1 || c.op.batch_stride >= outer * c.op.ld;
  if (!rows_apart || !batches_apart) {
    throw py::value_error(std::string(x.op) + ": " + x.name + " overlaps itself (a broadcast or overlapping view)");
  }
}

k::GemmKernel kernel_of(const std::string& name, const char* op) {
  if (name == "auto") return k::GemmKernel::automatic;
  if (name == "simt_128x128") return k::GemmKernel::simt_large;
  if (name == "simt_64x64") return k::GemmKernel::simt_small;
  if (name == "mma") return k::GemmKernel::mma;
  if (name == "wgmma") return k::GemmKernel::wgmma;
  throw py::value_error(std::string(op) + ": kernel must be 'auto', 'simt_128x128', 'simt_64x64', 'mma' or 'wgmma', got '" +
                        name + "'");
}

k::GemmActivation activation_of(const std::string& name, const char* op) {
  if (name == "none") return k::GemmActivation::none;
  if (name == "relu") return k::GemmActivation::relu;
  if (name == "gelu") return k::GemmActivation::gelu;
  throw py::value_error(std::string(op) + ": unknown activation '" + name + "' (expected 'none', 'relu' or 'gelu')");
}

// c = op(a) @ op(b) shapes: batches broadcast to c's, inner dims chain.
k::GemmArgs chain(const Matrix& a, const Matrix& b, const Matrix& c, const char* op) {
  if (a.cols != b.rows) {
    throw py::value_error(std::string(op) + ": " + a.array->name + " " + dims(a.rows, a.cols) + " and " + b.array->name +
                          " " + dims(b.rows, b.cols) + " do not chain (" + std::to_string(a.cols) +
                          " != " + std::to_string(b.rows) + ")");
  }
  if (c.rows != a.rows || c.cols != b.cols) {
    throw py::value_error(std::string(op) + ": " + c.array->name + " must be " + dims(a.rows, b.cols) + ", got " +
                          dims(c.rows, c.cols));
  }
  for (const Matrix* x : {&a, &b}) {
    if (x->batch != 1 && x->batch != c.batch) {
      throw py::value_error(std::string(op) + ": " + x->array->name + " has a batch of " + std::to_string(x->batch) +
                            ", " + c.array->name + " of " + std::to_string(c.batch));
    }
  }
  check_output(c);
  k::GemmArgs g;
  g.a = a.op;
  g.b = b.op;
  g.c = reinterpret_cast<void*>(c.array->ptr);
  g.ldc = c.op.ld;
  g.batch_stride_c = c.op.batch_stride;
  g.m = a.rows;
  g.n = b.cols;
  g.k = a.cols;
  g.batch = c.batch;
  if (c.op.trans) {
    // C stored transposed: compute C^T = op(B)^T @ op(A)^T into its row-major storage.
    std::swap(g.a, g.b);
    g.a.trans = !g.a.trans;
    g.b.trans = !g.b.trans;
    std::swap(g.m, g.n);
  }
  if ((g.n + kSmallTile - 1) / kSmallTile > kMaxGridY) {
    throw py::value_error(std::string(op) + ": " + std::to_string(g.n) + " output columns exceed the grid's limit");
  }
  return g;
}

void run(k::GemmArgs g, const py::object& workspace, int device, std::uintptr_t stream, const char* op) {
  if (!workspace.is_none()) {
    const DeviceArray w = device_array(workspace, op, "workspace");
    w.require_dtype("float32").require_contiguous().require_writable();
    const std::int64_t need = k::gemm_workspace_size(g, device);
    if (w.numel() < need) {
      throw py::value_error(std::string(op) + ": workspace has " + std::to_string(w.numel()) +
                            " float32 elements, this split-K GEMM needs " + std::to_string(need) +
                            " (gemm_workspace_size)");
    }
    g.workspace = w.data<float>();
    g.workspace_elems = w.numel();
  }
  py::gil_scoped_release release;
  k::gemm(g, device, k::as_stream(stream), op);
}

void gemm_binding(const char* op, bool bf16, const py::object& a, const py::object& b, const py::object& c, double alpha,
                  double beta, bool allow_tf32, const std::string& kernel, const py::object& workspace, int device,
                  std::uintptr_t stream) {
  const DeviceArray da = device_array(a, op, "a"), db = device_array(b, op, "b"), dc = device_array(c, op, "c");
  da.require_dtype(bf16 ? "uint16" : "float32");
  db.require_dtype(bf16 ? "uint16" : "float32");
  if (!bf16) {
    dc.require_dtype("float32");
  } else if (dc.dtype != "float32" && dc.dtype != "uint16") {
    throw py::type_error(std::string(op) + ": c must be float32 or uint16 (bfloat16 bits), got " + dc.dtype);
  }
  k::GemmArgs g = chain(matrix(da), matrix(db), matrix(dc), op);
  g.in_dtype = bf16 ? k::GemmDtype::bf16 : k::GemmDtype::f32;
  g.out_dtype = dc.dtype == "uint16" ? k::GemmDtype::bf16 : k::GemmDtype::f32;
  g.alpha = static_cast<float>(alpha);
  g.beta = static_cast<float>(beta);
  g.allow_tf32 = allow_tf32;
  g.kernel = kernel_of(kernel, op);
  run(g, workspace, device, stream, op);
}

void linear_binding(const char* op, bool bf16, const py::object& x, const py::object& w, const py::object& bias,
                    const py::object& y, const std::string& activation, bool allow_tf32, const std::string& kernel,
                    const py::object& workspace, int device, std::uintptr_t stream) {
  const DeviceArray dx = device_array(x, op, "x"), dw = device_array(w, op, "weight"), dy = device_array(y, op, "y");
  dx.require_dtype(bf16 ? "uint16" : "float32");
  dw.require_dtype(bf16 ? "uint16" : "float32");
  if (!bf16) {
    dy.require_dtype("float32");
  } else if (dy.dtype != "float32" && dy.dtype != "uint16") {
    throw py::type_error(std::string(op) + ": y must be float32 or uint16 (bfloat16 bits), got " + dy.dtype);
  }
  const k::GemmActivation act = activation_of(activation, op);
  dx.require_ndim(2);
  dy.require_ndim(2);
  const Matrix mx = matrix(dx), mw = matrix(dw, /*transpose=*/true), my = matrix(dy);
  if (my.op.trans) throw py::value_error(std::string(op) + ": y must be row-major (unit stride along its columns)");
  k::GemmArgs g = chain(mx, mw, my, op);
  if (!bias.is_none()) {
    const DeviceArray db = device_array(bias, op, "bias");
    db.require_dtype("float32").require_contiguous().require_shape({mw.cols});
    g.bias = db.data<const float>();
  }
  g.in_dtype = bf16 ? k::GemmDtype::bf16 : k::GemmDtype::f32;
  g.out_dtype = dy.dtype == "uint16" ? k::GemmDtype::bf16 : k::GemmDtype::f32;
  g.act = act;
  g.allow_tf32 = allow_tf32;
  g.kernel = kernel_of(kernel, op);
  run(g, workspace, device, stream, op);
}

// A problem's shape for the launcher's queries (which kernel, how much workspace).
k::GemmArgs problem(const char* op, std::int64_t m, std::int64_t n, std::int64_t kk, std::int64_t batch,
                    const std::string& dtype, bool allow_tf32, const std::string& kernel) {
  if (dtype != "float32" && dtype != "bfloat16") {
    throw py::value_error(std::string(op) + ": dtype must be 'float32' or 'bfloat16', got '" + dtype + "'");
  }
  k::GemmArgs g;
  g.m = fastnn::cuda_bindings::checked_size(m, op, "m");
  g.n = fastnn::cuda_bindings::checked_size(n, op, "n");
  g.k = fastnn::cuda_bindings::checked_size(kk, op, "k");
  g.batch = fastnn::cuda_bindings::checked_size(batch, op, "batch");
  g.in_dtype = dtype == "bfloat16" ? k::GemmDtype::bf16 : k::GemmDtype::f32;
  g.allow_tf32 = allow_tf32;
  g.kernel = kernel_of(kernel, op);
  return g;
}

}  // namespace

FASTNN_CUDA_BINDING(gemm) {
  m.def(
      "gemm_f32",
      [](py::object a, py::object b, py::object c, double alpha, double beta, bool allow_tf32, const std::string& kernel,
         py::object workspace, int device, std::uintptr_t stream) {
        gemm_binding("gemm_f32", false, a, b, c, alpha, beta, allow_tf32, kernel, workspace, device, stream);
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
      py::arg("allow_tf32") = false, py::arg("kernel") = "auto", py::arg("workspace") = py::none(),
      py::arg("device") = 0, py::arg("stream") = 0,
      "c = alpha * a @ b + beta * c for float32 device matrices (2-D, or 3-D batches; a or b may be 2-D or a\n"
      "broadcast view). a, b may be transposed views (w.T) and are read in place; beta == 0 does not read c.\n"
      "allow_tf32 lets an sm_80+ GPU use TF32 tensor cores; kernel forces a SIMT tile ('simt_128x128',\n"
      "'simt_64x64') or the tensor-core kernel ('mma': TF32, needs allow_tf32; in the emulator its emulation)\n"
      "instead of the launcher's choice ('auto': SIMT in the emulator). workspace: float32 scratch of at least\n"
      "gemm_workspace_size() elements lets the SIMT kernel split k (small outputs over a long k).");
  m.def(
      "gemm_bf16",
      [](py::object a, py::object b, py::object c, double alpha, double beta, const std::string& kernel,
         py::object workspace, int device, std::uintptr_t stream) {
        gemm_binding("gemm_bf16", true, a, b, c, alpha, beta, false, kernel, workspace, device, stream);
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
      py::arg("kernel") = "auto", py::arg("workspace") = py::none(), py::arg("device") = 0, py::arg("stream") = 0,
      "gemm_f32 for bfloat16 inputs (uint16 arrays of bfloat16 bits), fp32 accumulation, c float32 or uint16\n"
      "(bfloat16, rounded to nearest even): BF16 tensor cores on sm_80+, the SIMT kernel otherwise (and in the\n"
      "emulator, unless kernel='mma' asks for its emulation of the tensor-core kernel); kernel='wgmma': the\n"
      "Hopper wgmma kernel (sm_90a builds on an sm_90 GPU, and the emulator; opt-in).");
  m.def(
      "linear_f32",
      [](py::object x, py::object weight, py::object bias, py::object y, const std::string& activation,
         bool allow_tf32, const std::string& kernel, py::object workspace, int device, std::uintptr_t stream) {
        linear_binding("linear_f32", false, x, weight, bias, y, activation, allow_tf32, kernel, workspace, device,
                       stream);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("y"), py::arg("activation") = "none",
      py::arg("allow_tf32") = false, py::arg("kernel") = "auto", py::arg("workspace") = py::none(),
      py::arg("device") = 0, py::arg("stream") = 0,
      "y = activation(x @ weight.T + bias) for float32 x (m, k), weight (n, k), bias (n,) or None, y (m, n);\n"
      "activation 'none', 'relu' (NaN stays NaN) or 'gelu' (erf form), fused in the GEMM's epilogue.");
  m.def(
      "linear_bf16",
      [](py::object x, py::object weight, py::object bias, py::object y, const std::string& activation,
         const std::string& kernel, py::object workspace, int device, std::uintptr_t stream) {
        linear_binding("linear_bf16", true, x, weight, bias, y, activation, false, kernel, workspace, device, stream);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("y"), py::arg("activation") = "none",
      py::arg("kernel") = "auto", py::arg("workspace") = py::none(), py::arg("device") = 0, py::arg("stream") = 0,
      "linear_f32 for bfloat16 x and weight (uint16 bits), a float32 bias, y float32 or uint16 (bfloat16).");
  m.def(
      "gemm_kernel_for",
      [](std::int64_t m_, std::int64_t n, std::int64_t k_, std::int64_t batch, const std::string& dtype,
         bool allow_tf32, const std::string& kernel, int device) {
        const k::GemmArgs g = problem("gemm_kernel_for", m_, n, k_, batch, dtype, allow_tf32, kernel);
        return std::string(k::gemm_kernel_name(g, device));
      },
      py::arg("m"), py::arg("n"), py::arg("k"), py::arg("batch") = 1, py::arg("dtype") = "float32",
      py::arg("allow_tf32") = false, py::arg("kernel") = "auto", py::arg("device") = 0,
      "The kernel gemm_f32 / gemm_bf16 would run for this problem: 'simt_128x128', 'simt_64x64', 'mma_tf32',\n"
      "'mma_bf16', 'wgmma_bf16' or 'none' (nothing to compute).");
  m.def(
      "gemm_workspace_size",
      [](std::int64_t m_, std::int64_t n, std::int64_t k_, std::int64_t batch, const std::string& dtype,
         bool allow_tf32, const std::string& kernel, int device) {
        const k::GemmArgs g = problem("gemm_workspace_size", m_, n, k_, batch, dtype, allow_tf32, kernel);
        return k::gemm_workspace_size(g, device);
      },
      py::arg("m"), py::arg("n"), py::arg("k"), py::arg("batch") = 1, py::arg("dtype") = "float32",
      py::arg("allow_tf32") = false, py::arg("kernel") = "auto", py::arg("device") = 0,
      "float32 elements of the split-K workspace the GEMM bindings use for this problem when given one as\n"
      "workspace= (0: it would not split). Split-K runs when the output's tiles cannot fill the GPU (small\n"
      "m x n, large k); its slices are summed in a fixed order (deterministic).");
}
