// Multi-tensor optimizer bindings: lists of NumPy arrays in, every check made before any element is
// written (dtype, C-contiguity, writeability, equal shapes per index, no overlap between an array
// that is written and any other), then one native call over the whole list with the GIL released.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "array_checks.h"
#include "bindings.h"
#include "fastnn/optim_update.h"

namespace fastnn::bindings {
namespace {

using checks::shape_str;

std::string item_name(const char* list, size_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; }

// A list argument: its items as objects, after checking that it is a list/tuple of `count` items
// (count < 0: any length, for the first list).
std::vector<py::object> items_of(const char* op, const char* name, const py::handle& obj, py::ssize_t count) {
  if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj)) {
    throw py::type_error(std::string(op) + ": expected " + name + " to be a list of arrays, got " +
                         py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  }
  const auto seq = py::reinterpret_borrow<py::sequence>(obj);
  if (count >= 0 && static_cast<py::ssize_t>(seq.size()) != count) {
    throw std::invalid_argument(std::string(op) + ": got " + std::to_string(count) + " params but " +
                                std::to_string(seq.size()) + " " + name);
  }
  std::vector<py::object> out;
  out.reserve(seq.size());
  for (auto item : seq) out.push_back(py::reinterpret_borrow<py::object>(item));
  return out;
}

// Every array of one call, checked against params (dtype of params[0], shape of params[i]) and kept
// alive here while the GIL is released.
class ArrayTable {
 public:
  explicit ArrayTable(const char* op) : op_(op) {}

  // Adds the list `name`; `written` lists must be writeable and may overlap nothing.
  std::vector<py::array>& add(const char* name, const std::vector<py::object>& items, bool written) {
    lists_.push_back({name, written, {}});
    auto& arrays = lists_.back().arrays;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!py::isinstance<py::array>(items[i])) {
        throw py::type_error(std::string(op_) + ": expected " + item_name(name, i) + " to be a NumPy array, got " +
                             py::str(py::type::of(items[i]).attr("__name__")).cast<std::string>());
      }
      arrays.push_back(py::reinterpret_borrow<py::array>(items[i]));
      check(name, i, arrays.back(), written);
    }
    return arrays;
  }

  // Adds a list of one-element float32/float64 counters (optimizer steps), written by the call.
  std::vector<py::array>& add_counters(const char* name, const std::vector<py::object>& items) {
    lists_.push_back({name, true, {}});
    auto& arrays = lists_.back().arrays;
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string what = std::string(op_) + ": " + item_name(name, i);
      if (!py::isinstance<py::array>(items[i])) {
        throw py::type_error(what + " must be a NumPy array holding the step count (torch's state['step']), got " +
                             py::str(py::type::of(items[i]).attr("__name__")).cast<std::string>());
      }
      arrays.push_back(py::reinterpret_borrow<py::array>(items[i]));
      const py::array& a = arrays.back();
      if (!a.dtype().equal(py::dtype::of<float>()) && !a.dtype().equal(py::dtype::of<double>())) {
        throw py::type_error(what + " must be float32 or float64, got " + py::str(a.dtype()).cast<std::string>());
      }
      if (a.size() != 1) throw std::invalid_argument(what + " must hold one element, has shape " + shape_str(a));
      if (!a.writeable()) throw std::invalid_argument(what + " is read-only");
    }
    return arrays;
  }

  bool is_f32() const { return dtype_.equal(py::dtype::of<float>()); }

  // Raises ValueError when a written array shares memory with any other array of the call (a param
  // aliasing its own state, or two tensors of the group sharing storage, would race or mix updates).
  void check_overlaps() const {
    struct Span {
      const char* lo;
      const char* hi;
      bool written;
      const char* list;
      size_t index;
    };
    std::vector<Span> spans;
    for (const auto& l : lists_) {
      for (size_t i = 0; i < l.arrays.size(); ++i) {
        const py::array& a = l.arrays[i];
        if (a.size() == 0) continue;
        const char* lo = static_cast<const char*>(a.data());
        spans.push_back({lo, lo + a.nbytes(), l.written, l.name, i});
      }
    }
    std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) { return x.lo < y.lo; });
    const Span* reach_any = nullptr;      // the span reaching furthest so far
    const Span* reach_written = nullptr;  // the written span reaching furthest so far
    for (const Span& s : spans) {
      const Span* other = nullptr;
      if (reach_written && s.lo < reach_written->hi) other = reach_written;
      else if (s.written && reach_any && s.lo < reach_any->hi) other = reach_any;
      if (other) {
        throw std::invalid_argument(std::string(op_) + ": " + item_name(s.list, s.index) + " overlaps " +
                                    item_name(other->list, other->index) +
                                    " in memory; every parameter and state needs its own storage");
      }
      if (!reach_any || s.hi > reach_any->hi) reach_any = &s;
      if (s.written && (!reach_written || s.hi > reach_written->hi)) reach_written = &s;
    }
  }

 private:
  struct List {
    const char* name;
    bool written;
    std::vector<py::array> arrays;
  };

  void check(const char* name, size_t i, const py::array& a, bool written) {
    const bool first = lists_.size() == 1 && i == 0;
    if (first) {
      if (!a.dtype().equal(py::dtype::of<float>()) && !a.dtype().equal(py::dtype::of<double>())) {
        throw py::type_error(std::string(op_) + ": expected float32 or float64 arrays, got " + item_name(name, i) +
                             " of dtype " + py::str(a.dtype()).cast<std::string>());
      }
      dtype_ = a.dtype();
    } else if (!a.dtype().equal(dtype_)) {
      throw py::type_error(std::string(op_) + ": " + item_name(name, i) + " has dtype " +
                           py::str(a.dtype()).cast<std::string>() + ", expected " +
                           py::str(dtype_).cast<std::string>() + " (the dtype of params[0])");
    }
    if (lists_.size() > 1) {
      const py::array& p = lists_.front().arrays[i];
      const bool same = a.ndim() == p.ndim() && std::equal(a.shape(), a.shape() + a.ndim(), p.shape());
      if (!same) {
        throw std::invalid_argument(std::string(op_) + ": " + item_name(name, i) + " has shape " + shape_str(a) +
                                    " but params[" + std::to_string(i) + "] has shape " + shape_str(p));
      }
    }
    if (!(a.flags() & py::array::c_style)) {
      throw std::invalid_argument(std::string(op_) + ": " + item_name(name, i) + " (shape " + shape_str(a) +
                                  ") is not C-contiguous");
    }
    if (written && !a.writeable()) {
      throw std::invalid_argument(std::string(op_) + ": " + item_name(name, i) + " is read-only");
    }
  }

  const char* op_;
  py::dtype dtype_;
  std::deque<List> lists_;  // a deque: add() hands out references that later adds must not move
};

template <typename T>
T* ptr(const py::array& a) {
  return static_cast<T*>(const_cast<void*>(a.data()));
}

// A step counter may be a misaligned one-element view (nothing requires alignment of it, and torch accepts
// any tensor), so it is read and written bytewise rather than through a T*.
template <typename T>
T load_counter(const py::array& a) {
  T v;
  std::memcpy(&v, a.data(), sizeof v);
  return v;
}

template <typename T>
void store_counter(const py::array& a, T v) {
  std::memcpy(const_cast<void*>(a.data()), &v, sizeof v);
}

template <typename T>
void run_adam(Isa isa, const AdamHyper& h, const std::vector<py::array>& params, const std::vector<py::array>& grads,
              const std::vector<py::array>& exp_avgs, const std::vector<py::array>& exp_avg_sqs,
              const std::vector<py::array>* max_exp_avg_sqs, const std::vector<double>& steps) {
  std::vector<AdamTensor<T>> tensors(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    tensors[i] = {ptr<T>(params[i]), ptr<T>(grads[i]), ptr<T>(exp_avgs[i]), ptr<T>(exp_avg_sqs[i]),
                  max_exp_avg_sqs ? ptr<T>((*max_exp_avg_sqs)[i]) : nullptr, params[i].size(), steps[i]};
  }
  py::gil_scoped_release release;
  adam_update(isa, h, tensors);
}

void adam_binding(const py::object& params_obj, const py::object& grads_obj, const py::object& exp_avgs_obj,
                  const py::object& exp_avg_sqs_obj, const py::object& max_obj, const py::object& steps_obj, double lr,
                  double beta1, double beta2, double eps, double weight_decay, bool amsgrad, bool maximize,
                  bool decoupled, const py::object& isa_name) {
  const char* op = "adam_update";
  const Isa isa = resolve_isa(isa_name, "adam_update");
  const auto param_items = items_of(op, "params", params_obj, -1);
  const auto n = static_cast<py::ssize_t>(param_items.size());
  ArrayTable table(op);
  const auto& params = table.add("params", param_items, true);
  const auto& grads = table.add("grads", items_of(op, "grads", grads_obj, n), false);
  const auto& exp_avgs = table.add("exp_avgs", items_of(op, "exp_avgs", exp_avgs_obj, n), true);
  const auto& exp_avg_sqs = table.add("exp_avg_sqs", items_of(op, "exp_avg_sqs", exp_avg_sqs_obj, n), true);
  const std::vector<py::array>* max_exp_avg_sqs = nullptr;
  if (amsgrad) {
    if (max_obj.is_none()) throw std::invalid_argument("adam_update: amsgrad=True needs max_exp_avg_sqs");
    max_exp_avg_sqs = &table.add("max_exp_avg_sqs", items_of(op, "max_exp_avg_sqs", max_obj, n), true);
  }
  const auto& step_arrays = table.add_counters("steps", items_of(op, "steps", steps_obj, n));
  // Each step counter is incremented in its own dtype (torch: step_t += 1), as the fused torch kernels
  // do, and bias-corrects its tensor; all are checked before any is written.
  std::vector<double> steps;
  for (const py::array& a : step_arrays) {
    const double step = a.dtype().equal(py::dtype::of<float>()) ? static_cast<double>(load_counter<float>(a) + 1.0f)
                                                             : load_counter<double>(a) + 1.0;
    if (!(step >= 1.0) || !std::isfinite(step)) {
      throw std::invalid_argument("adam_update: steps[" + std::to_string(steps.size()) +
                                  "] must hold a finite count >= 0 (the steps taken so far), got " +
                                  std::to_string(step - 1.0));
    }
    steps.push_back(step);
  }
  if (n == 0) return;
  table.check_overlaps();
  for (size_t i = 0; i < step_arrays.size(); ++i) {
    if (step_arrays[i].dtype().equal(py::dtype::of<float>()))
      store_counter(step_arrays[i], static_cast<float>(steps[i]));
    else
      store_counter(step_arrays[i], steps[i]);
  }
  const AdamHyper h{lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled};
  if (table.is_f32()) run_adam<float>(isa, h, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps);
  else run_adam<double>(isa, h, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps);
}

template <typename T>
void run_sgd(Isa isa, const SgdHyper& h, const std::vector<py::array>& params, const std::vector<py::array>& grads,
             const std::vector<py::array>* buffers, const std::vector<bool>& fresh) {
  std::vector<SgdTensor<T>> tensors(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    tensors[i] = {ptr<T>(params[i]), ptr<T>(grads[i]), buffers ? ptr<T>((*buffers)[i]) : nullptr, params[i].size(),
                  buffers ? static_cast<bool>(fresh[i]) : false};
  }
  py::gil_scoped_release release;
  sgd_update(isa, h, tensors);
}

py::object sgd_binding(const py::object& params_obj, const py::object& grads_obj, const py::object& buffers_obj,
                       double lr, double momentum, double dampening, bool nesterov, double weight_decay, bool maximize,
                       const py::object& isa_name) {
  const char* op = "sgd_update";
  const Isa isa = resolve_isa(isa_name, "sgd_update");
  const auto param_items = items_of(op, "params", params_obj, -1);
  const auto n = static_cast<py::ssize_t>(param_items.size());
  ArrayTable table(op);
  const auto& params = table.add("params", param_items, true);
  const auto& grads = table.add("grads", items_of(op, "grads", grads_obj, n), false);
  const std::vector<py::array>* buffers = nullptr;
  std::vector<bool> fresh;
  py::list buffer_list;
  if (momentum != 0.0) {
    // Missing buffers (None, or no list at all) are created here; the kernel fills them with the
    // gradient, as torch's first momentum step does.
    std::vector<py::object> items = buffers_obj.is_none() ? std::vector<py::object>(param_items.size(), py::none())
                                                          : items_of(op, "momentum_buffers", buffers_obj, n);
    for (size_t i = 0; i < items.size(); ++i) {
      fresh.push_back(items[i].is_none());
      if (fresh.back()) {
        const py::array& p = params[i];
        items[i] = py::array(p.dtype(), std::vector<py::ssize_t>(p.shape(), p.shape() + p.ndim()));
      }
      buffer_list.append(items[i]);
    }
    buffers = &table.add("momentum_buffers", items, true);
  }
  if (n == 0) return momentum != 0.0 ? py::object(buffer_list) : py::object(py::none());
  table.check_overlaps();
  const SgdHyper h{lr, momentum, dampening, weight_decay, nesterov, maximize};
  if (table.is_f32()) run_sgd<float>(isa, h, params, grads, buffers, fresh);
  else run_sgd<double>(isa, h, params, grads, buffers, fresh);
  return momentum != 0.0 ? py::object(buffer_list) : py::object(py::none());
}

}  // namespace

void bind_optim(py::module_& m) {
  m.def("adam_update", &adam_binding, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"),
        py::arg("exp_avg_sqs"), py::arg("max_exp_avg_sqs"), py::arg("steps"), py::kw_only(), py::arg("lr"),
        py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("amsgrad"),
        py::arg("maximize"), py::arg("decoupled") = false, py::arg("isa") = py::none(),
        "One fused Adam (decoupled=False) or AdamW (decoupled=True) step over lists of C-contiguous float32 or\n"
        "float64 arrays, in place, with torch.optim's single-tensor formulas. steps[i] is tensor i's step counter\n"
        "(a one-element float32/float64 array, torch's state['step']), incremented here before use;\n"
        "max_exp_avg_sqs is needed with amsgrad=True and ignored otherwise.");
  m.def("sgd_update", &sgd_binding, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::kw_only(),
        py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("nesterov"), py::arg("weight_decay"),
        py::arg("maximize"), py::arg("isa") = py::none(),
        "One fused SGD step over lists of arrays, in place, with torch.optim.SGD's formulas. With momentum != 0,\n"
        "momentum_buffers entries may be None (new buffers start as the gradient, as torch's first step); returns\n"
        "the list of buffers then, None without momentum.");
}

}  // namespace fastnn::bindings
