// fastnn._C.cuda / fastnn._emu: adam_update_f32, sgd_update_f32 (fused multi-tensor optimizer steps over
// lists of float32 device arrays, in place). Every check is made before the first launch: list types and
// lengths, dtype, shapes (those of params), C-contiguity, writeability, the step counters' dtype and
// size, and no overlap between an array that is written and any other (the CPU binding's rules).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

#include "device_array.h"
#include "fastnn/checked_size.h"
#include "launch.h"
#include "optim.h"
#include "registry.h"

namespace {
namespace py = pybind11;
using fastnn::cuda_bindings::device_array;
using fastnn::cuda_bindings::DeviceArray;

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "(";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + (s.size() == 1 ? ",)" : ")");
}

// The arrays of one call, checked as they are added; names ("grads[3]") live as long as the table.
class Table {
 public:
  explicit Table(const char* op) : op_(op) {}

  std::vector<py::object> items(const char* name, const py::handle& obj, py::ssize_t count) const {
    if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj)) {
      throw py::type_error(std::string(op_) + ": expected " + name + " to be a list of arrays, got " +
                           py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
    }
    const auto seq = py::reinterpret_borrow<py::sequence>(obj);
    if (count >= 0 && static_cast<py::ssize_t>(seq.size()) != count) {
      throw py::value_error(std::string(op_) + ": got " + std::to_string(count) + " params but " +
                            std::to_string(seq.size()) + " " + name);
    }
    std::vector<py::object> out;
    for (auto item : seq) out.push_back(py::reinterpret_borrow<py::object>(item));
    return out;
  }

  // A list of float32 arrays shaped as params (the first list added sets the shapes).
  std::vector<DeviceArray> add(const char* name, const std::vector<py::object>& objs, bool written) {
    std::vector<DeviceArray> out;
    for (std::size_t i = 0; i < objs.size(); ++i) {
      const DeviceArray a = device_array(objs[i], op_, label(name, i));
      a.require_dtype("float32").require_contiguous();
      if (written) a.require_writable();
      if (shapes_set_ && a.shape != shapes_[i]) {
        throw py::value_error(std::string(op_) + ": " + a.name + " has shape " + shape_text(a.shape) +
                              " but params[" + std::to_string(i) + "] has shape " + shape_text(shapes_[i]));
      }
      if (!shapes_set_) shapes_.push_back(a.shape);
      spans_.push_back({a.ptr, a.ptr + static_cast<std::uintptr_t>(a.numel()) * 4u, written, a.name});
      out.push_back(a);
    }
    shapes_set_ = true;
    return out;
  }

  // One-element float32 / float64 counters, written.
  std::vector<DeviceArray> add_counters(const char* name, const std::vector<py::object>& objs) {
    std::vector<DeviceArray> out;
    for (std::size_t i = 0; i < objs.size(); ++i) {
      const DeviceArray a = device_array(objs[i], op_, label(name, i));
      if (a.dtype != "float32" && a.dtype != "float64") {
        throw py::type_error(std::string(op_) + ": " + a.name + " must be float32 or float64, got " + a.dtype);
      }
      if (a.numel() != 1) {
        throw py::value_error(std::string(op_) + ": " + a.name + " must hold one element, has shape " +
                              shape_text(a.shape));
      }
      a.require_writable();
      spans_.push_back({a.ptr, a.ptr + static_cast<std::uintptr_t>(a.itemsize), true, a.name});
      out.push_back(a);
    }
    return out;
  }

  // ValueError when a written array shares memory with any other (sorted sweep, as the CPU binding).
  void check_overlaps() {
    std::vector<Span> spans;
    for (const Span& s : spans_) {
      if (s.hi > s.lo) spans.push_back(s);
    }
    std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) { return x.lo < y.lo; });
    const Span* reach_any = nullptr;
    const Span* reach_written = nullptr;
    for (const Span& s : spans) {
      const Span* other = nullptr;
      if (reach_written && s.lo < reach_written->hi) other = reach_written;
      else if (s.written && reach_any && s.lo < reach_any->hi) other = reach_any;
      if (other) {
        throw py::value_error(std::string(op_) + ": " + s.name + " overlaps " + other->name +
                              " in memory; every parameter and state needs its own storage");
      }
      if (!reach_any || s.hi > reach_any->hi) reach_any = &s;
      if (s.written && (!reach_written || s.hi > reach_written->hi)) reach_written = &s;
    }
  }

  const char* op() const { return op_; }

 private:
  struct Span {
    std::uintptr_t lo, hi;
    bool written;
    const char* name;
  };
  const char* label(const char* list, std::size_t i) {
    names_.push_back(std::string(list) + "[" + std::to_string(i) + "]");
    return names_.back().c_str();
  }
  const char* op_;
  std::deque<std::string> names_;  // stable addresses for DeviceArray::name
  std::vector<std::vector<std::int64_t>> shapes_;
  bool shapes_set_ = false;
  std::vector<Span> spans_;
};

namespace k = fastnn::FASTNN_CUDA_NS;

void adam(const py::object& params, const py::object& grads, const py::object& exp_avgs,
          const py::object& exp_avg_sqs, const py::object& max_exp_avg_sqs, const py::object& steps,
          const py::object& ticket, double lr, double beta1, double beta2, double eps, double weight_decay,
          bool amsgrad, bool maximize, bool decoupled, std::int64_t chunk, int device, std::uintptr_t stream) {
  Table table("adam_update_f32");
  const auto p_objs = table.items("params", params, -1);
  const auto n = static_cast<py::ssize_t>(p_objs.size());
  const auto ap = table.add("params", p_objs, true);
  const auto ag = table.add("grads", table.items("grads", grads, n), false);
  const auto am = table.add("exp_avgs", table.items("exp_avgs", exp_avgs, n), true);
  const auto av = table.add("exp_avg_sqs", table.items("exp_avg_sqs", exp_avg_sqs, n), true);
  std::vector<DeviceArray> ax;
  if (amsgrad) {
    if (max_exp_avg_sqs.is_none()) throw py::value_error("adam_update_f32: amsgrad=True needs max_exp_avg_sqs");
    ax = table.add("max_exp_avg_sqs", table.items("max_exp_avg_sqs", max_exp_avg_sqs, n), true);
  }
  const auto as = table.add_counters("steps", table.items("steps", steps, n));
  const DeviceArray at = device_array(ticket, table.op(), "ticket");
  at.require_dtype("int32").require_contiguous().require_writable().require_shape({1});
  if (n == 0) return;
  table.check_overlaps();
  std::vector<k::AdamTensorF32> tensors;
  for (py::ssize_t i = 0; i < n; ++i) {
    tensors.push_back({ap[i].data<float>(), ag[i].data<float>(), am[i].data<float>(), av[i].data<float>(),
                       amsgrad ? ax[i].data<float>() : nullptr, reinterpret_cast<void*>(as[i].ptr),
                       as[i].dtype == "float64", ap[i].numel()});
  }
  const k::AdamHyperParams h{lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled};
  py::gil_scoped_release release;
  k::adam_update_f32(h, tensors, at.data<unsigned>(), chunk, device, k::as_stream(stream));
}

void sgd(const py::object& params, const py::object& grads, const py::object& momentum_buffers,
         const py::object& fresh, double lr, double momentum, double dampening, bool nesterov, double weight_decay,
         bool maximize, std::int64_t chunk, int device, std::uintptr_t stream) {
  Table table("sgd_update_f32");
  const auto p_objs = table.items("params", params, -1);
  const auto n = static_cast<py::ssize_t>(p_objs.size());
  const auto ap = table.add("params", p_objs, true);
  const auto ag = table.add("grads", table.items("grads", grads, n), false);
  std::vector<DeviceArray> ab;
  std::vector<bool> is_fresh(static_cast<std::size_t>(n), false);
  if (momentum != 0.0) {
    if (momentum_buffers.is_none()) {
      throw py::value_error("sgd_update_f32: momentum != 0 needs momentum_buffers (the caller allocates new ones)");
    }
    ab = table.add("momentum_buffers", table.items("momentum_buffers", momentum_buffers, n), true);
    if (!fresh.is_none()) {
      const auto flags = table.items("fresh", fresh, n);
      for (py::ssize_t i = 0; i < n; ++i) is_fresh[i] = flags[i].cast<bool>();
    }
  } else if (!momentum_buffers.is_none() || !fresh.is_none()) {
    throw py::value_error("sgd_update_f32: momentum_buffers and fresh must be None when momentum is 0");
  }
  if (n == 0) return;
  table.check_overlaps();
  std::vector<k::SgdTensorF32> tensors;
  for (py::ssize_t i = 0; i < n; ++i) {
    tensors.push_back({ap[i].data<float>(), ag[i].data<float>(), momentum != 0.0 ? ab[i].data<float>() : nullptr,
                       static_cast<bool>(is_fresh[i]), ap[i].numel()});
  }
  const k::SgdHyperParams h{lr, momentum, dampening, weight_decay, nesterov, maximize};
  py::gil_scoped_release release;
  k::sgd_update_f32(h, tensors, chunk, device, k::as_stream(stream));
}

}  // namespace

// The launch-count queries walk every chunk of every tensor: sizes are checked (non-negative, and at most
// 2**28 chunks in all, more than any device's memory holds at the default chunk) so that a hostile size is a
// ValueError instead of an int64 overflow or a loop of 2**46 steps.
std::int64_t launch_count(std::int64_t (*count)(const std::vector<std::int64_t>&, std::int64_t), const char* op,
                          const std::vector<std::int64_t>& numels, std::int64_t chunk) {
  if (chunk <= 0) return count(numels, chunk);  // the kernel's own check names the op and the rule
  std::int64_t chunks = 0;
  for (std::int64_t n : numels) {
    if (n < 0) throw py::value_error(std::string(op) + ": numels must be non-negative, got " + std::to_string(n));
    chunks = fastnn::checked::add(chunks, n / chunk + (n % chunk != 0), op, "the chunk count");
  }
  fastnn::checked::bounded(chunks, 0, std::int64_t(1) << 28, op, "the total chunk count");
  return count(numels, chunk);
}

FASTNN_CUDA_BINDING(optim) {
  m.def("adam_update_f32", &adam, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"),
        py::arg("max_exp_avg_sqs"), py::arg("steps"), py::arg("ticket"), py::kw_only(), py::arg("lr"),
        py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("amsgrad"),
        py::arg("maximize"), py::arg("decoupled"), py::arg("chunk") = k::kOptimChunk, py::arg("device") = 0,
        py::arg("stream") = 0,
        "One fused Adam (decoupled=False) or AdamW (decoupled=True) step, in place, over lists of C-contiguous\n"
        "float32 device arrays (one entry per tensor of the group; grads only read). steps[i] is tensor i's step\n"
        "counter (a one-element float32/float64 device array), read and incremented on the device;\n"
        "max_exp_avg_sqs is needed with amsgrad and ignored otherwise. ticket: a zeroed int32 device array of\n"
        "shape (1,), zero again afterwards. One launch for the whole list unless its table fills.");
  m.def("sgd_update_f32", &sgd, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("fresh"),
        py::kw_only(), py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("nesterov"),
        py::arg("weight_decay"), py::arg("maximize"), py::arg("chunk") = k::kOptimChunk, py::arg("device") = 0,
        py::arg("stream") = 0,
        "One fused SGD step, in place, over lists of C-contiguous float32 device arrays. With momentum != 0,\n"
        "momentum_buffers is a list of arrays and fresh (None: all False) a list of bools: a fresh buffer has no\n"
        "history and is set to the gradient (torch's first momentum step). Both None when momentum is 0.");
  m.def("adam_launch_count",
        [](const std::vector<std::int64_t>& numels, std::int64_t chunk) {
          return launch_count(&k::adam_launch_count, "adam_launch_count", numels, chunk);
        },
        py::arg("numels"),
        py::arg("chunk") = k::kOptimChunk, "How many launches adam_update_f32 makes for tensors of these sizes.");
  m.def("sgd_launch_count",
        [](const std::vector<std::int64_t>& numels, std::int64_t chunk) {
          return launch_count(&k::sgd_launch_count, "sgd_launch_count", numels, chunk);
        },
        py::arg("numels"),
        py::arg("chunk") = k::kOptimChunk, "How many launches sgd_update_f32 makes for tensors of these sizes.");
}
