"""DDP's gradient reducer: parameters in size-bounded buckets, averaged across ranks from autograd hooks.

Each parameter's post-accumulate-grad hook copies its final ``.grad`` into its bucket's flat array; when a
bucket's last gradient arrives the bucket is divided by the world size and a non-blocking all_reduce starts,
so the communication overlaps the rest of backward (buckets hold parameters in reverse registration order,
which is roughly the order backward produces their gradients). Buckets launch strictly in bucket order so
every rank issues the same collectives in the same order (MPI requires it). A callback queued on the engine
waits for every bucket at the end of backward and writes the averages back into ``.grad`` (or makes the
``.grad`` views of the bucket). The MPI transport progresses only inside MPI calls, so each hook also tests
the buckets in flight.
"""
from __future__ import annotations

import functools
import weakref

from ... import autograd as _autograd
from ... import distributed as _dist
from ...dtypes import int32
from ...autograd.reachable import reachable_leaf_ids
from ...creation import tensor, zeros
from .progress import Progress

# torch's defaults (torch.distributed.constants): a 1 MiB first bucket when bucket_cap_mb is left at None,
# so the gradients that backward produces first start their all_reduce soon; 25 MiB after.
DEFAULT_BUCKET_CAP_MB = 25
DEFAULT_FIRST_BUCKET_BYTES = 1024 * 1024
_MB = 1024 * 1024

_NOT_FINISHED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This error indicates "
    "that your module has parameters that were not used in producing loss. You can enable unused parameter "
    "detection by passing the keyword argument `find_unused_parameters=True` to "
    "`torch.nn.parallel.DistributedDataParallel`, and by \nmaking sure all `forward` function outputs participate "
    "in calculating loss. \nIf you already have done the above, then the distributed data parallel module wasn't "
    "able to locate the output tensors in the return value of your module's `forward` function. Please include "
    "the loss function and the structure of the return value of `forward` of your module when reporting this "
    "issue (e.g. list, dict, iterable).")
_NOT_FINISHED_FIND_UNUSED = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This error indicates "
    "that your module has parameters that were not used in producing loss. Since `find_unused_parameters=True` "
    "is enabled, this likely  means that not all `forward` outputs participate in computing loss. You can fix "
    "this by making sure all `forward` function outputs participate in calculating loss. \nIf you already have "
    "done the above, then the distributed data parallel module wasn't able to locate the output tensors in the "
    "return value of your module's `forward` function. Please include the loss function and the structure of the "
    "return value of `forward` of your module when reporting this issue (e.g. list, dict, iterable).")
_MARKED_TWICE = (
    "Expected to mark a variable ready only once. This error is caused by one of the following reasons: 1) Use "
    "of a module parameter outside the `forward` function. Please make sure model parameters are not shared "
    "across multiple concurrent forward-backward passes. 2) Reused parameters in multiple reentrant backward "
    "passes, or a backward through the same forward's graph twice (retain_graph=True). Parameter at index {i} "
    "has been marked as ready twice.")


def bucket_assignment(params, first_cap: int, cap: int) -> list:
    """Lists of parameter indices, one per bucket: parameters in reverse order, one open bucket per
    (dtype, device), closed once it holds at least its cap (the first bucket's cap is ``first_cap``);
    buckets ordered by when they close, the open remainders after (torch's compute_bucket_assignment_by_size)."""
    open_: dict = {}  # (dtype, device) -> [indices, bytes]
    limit: dict = {}  # (dtype, device) -> the cap of its next bucket
    closed: list = []
    for i in reversed(range(len(params))):
        p = params[i]
        key = (p.dtype, str(p.device))
        b = open_.setdefault(key, [[], 0])
        b[0].append(i)
        b[1] += p.numel() * p.element_size()
        if b[1] >= limit.setdefault(key, first_cap):
            closed.append(b[0])
            del open_[key]
            limit[key] = cap
    return closed + [b[0] for b in open_.values()]


class _Bucket:
    __slots__ = ("index", "params", "offsets", "flat", "views", "pending", "work", "launched")

    def __init__(self, index, param_indices, params):
        self.index = index
        self.params = param_indices
        self.offsets, n = [], 0
        for i in param_indices:
            self.offsets.append(n)
            n += params[i].numel()
        p0 = params[param_indices[0]]
        self.flat = zeros(n, dtype=p0.dtype, device=p0.device)
        # one view per parameter, shaped like it: the copy-in target and the gradient_as_bucket_view .grad
        self.views = [self.flat[o:o + params[i].numel()].view(params[i].shape)
                      for i, o in zip(param_indices, self.offsets)]
        self.pending = len(param_indices)
        self.work = None
        self.launched = False


class Reducer:
    def __init__(self, params, process_group, first_cap: int, cap: int, find_unused: bool, as_view: bool):
        self.params = params
        self.group = process_group
        self.world = _dist.get_world_size(process_group)
        self.find_unused = find_unused
        self.as_view = as_view
        self.overlap = True  # off: every bucket is reduced at the end of backward (the bench's baseline)
        self.progress = Progress()
        # on: a thread tests the buckets in flight while backward's kernels run (progress.py); off (the
        # default, since on this 2-core machine it measured no steady gain): only each hook's test moves them
        self.progress_thread = False
        self.timeout_s = process_group.timeout_s
        self.buckets = [_Bucket(k, idx, params) for k, idx in enumerate(bucket_assignment(params, first_cap, cap))]
        self.where = {}  # parameter index -> (bucket, position in it)
        for b in self.buckets:
            for pos, i in enumerate(b.params):
                self.where[i] = (b, pos)
        self.index_of = {id(p): i for i, p in enumerate(params)}
        self.armed = False  # a forward with grad sync on has run: the next backward reduces
        self.require_finalize = False
        self.callback_queued = False
        self.ready = [False] * len(params)
        self.used = [False] * len(params)
        self.next_bucket = 0
        # The hooks reach the reducer through a weak reference, so a dropped DDP frees its buckets (and its
        # __del__ removes the hooks, which puts the engine back on its hook-free path).
        hook = functools.partial(_hook, weakref.ref(self))
        self.handles = [p.register_post_accumulate_grad_hook(hook) for p in params]

    def __del__(self):
        for h in getattr(self, "handles", ()):
            h.remove()

    # ---- the iteration's life cycle -------------------------------------------------------------------------
    def prepare_for_forward(self) -> None:
        """torch's error when the previous iteration's reduction never completed (a parameter got no grad)."""
        if self.require_finalize:
            missing = [i for i, r in enumerate(self.ready) if not r]
            text = _NOT_FINISHED_FIND_UNUSED if self.find_unused else _NOT_FINISHED
            raise RuntimeError(
                f"{text}\nParameter indices which did not receive grad for rank {_dist.get_rank(self.group)}: "
                f"{' '.join(map(str, missing))}\n In addition, you can set the environment variable "
                "TORCH_DISTRIBUTED_DEBUG to either INFO or DETAIL to print out information about which particular "
                "parameters did not receive gradient on this rank as part of this error")

    def prepare_for_backward(self, outputs) -> None:
        """Arms the hooks for the coming backward; with find_unused, marks the parameters that ``outputs``'
        graph does not reach as ready (zeros in their bucket) before backward starts."""
        self.armed = True
        self.require_finalize = True
        self.callback_queued = False
        self.next_bucket = 0
        self.ready = [False] * len(self.params)
        self.used = [False] * len(self.params)
        for b in self.buckets:
            b.pending, b.work, b.launched = len(b.params), None, False
        if self.find_unused:
            reached = reachable_leaf_ids(outputs)
            for i, p in enumerate(self.params):
                if id(p) not in reached:
                    self._mark_ready(i, None)

    # ---- from the autograd hooks ----------------------------------------------------------------------------
    def _hook(self, p) -> None:
        if not self.armed:
            return  # no_sync, or a backward that no synced forward prepared: gradients stay local
        if not self.callback_queued:
            _autograd.queue_callback(self._finalize)
            self.callback_queued = True
        i = self.index_of[id(p)]
        if self.ready[i]:
            raise RuntimeError(_MARKED_TWICE.format(i=i))
        self.used[i] = True
        self._mark_ready(i, p.grad)
        self._progress()

    def _mark_ready(self, i: int, grad) -> None:
        b, pos = self.where[i]
        self.ready[i] = True
        # Array to array: the bucket is private (no graph, no version to keep), and Tensor.copy_'s autograd
        # bookkeeping cost more than the copy itself on small layers. NumPy and CuPy arrays both take it.
        if grad is None:
            b.views[pos]._data[...] = 0
        else:
            b.views[pos]._data[...] = grad._data
        b.pending -= 1
        if b.pending == 0 and self.overlap:
            self._launch_ready()

    def _launch_ready(self) -> None:
        while self.next_bucket < len(self.buckets) and self.buckets[self.next_bucket].pending == 0:
            self._launch(self.buckets[self.next_bucket])
            self.next_bucket += 1

    def _launch(self, b: _Bucket) -> None:
        if not (b.flat.dtype.is_floating_point or b.flat.dtype.is_complex):
            raise RuntimeError(f"DistributedDataParallel: cannot average gradients of dtype {b.flat.dtype}")
        b.flat._data /= self.world  # then SUM: the gradient average, as torch's default comm hook
        with self.progress.lock:
            b.work = _dist.all_reduce(b.flat, group=self.group, async_op=True)
        b.launched = True
        if self.progress_thread and self.armed:  # backward still computing (not the end's launches)
            self.progress.add(b.work, self.timeout_s)

    def _progress(self) -> None:
        with self.progress.lock:
            for b in self.buckets[:self.next_bucket]:
                if b.work is not None:
                    b.work.is_completed()  # a test is what moves a nonblocking MPI collective on

    # ---- the queued callback: the end of backward ------------------------------------------------------------
    def _finalize(self) -> None:
        self.armed = False
        self.progress.stop()
        if not all(self.ready):
            # A parameter got no gradient: the buckets already in flight complete (the ranks stay in step),
            # the rest never start; the next forward raises torch's error naming the parameters.
            for b in self.buckets[:self.next_bucket]:
                b.work.wait()
            return
        if not self.overlap:
            self._launch_ready()
        globally_used = self._globally_used() if self.find_unused else None
        for b in self.buckets:
            b.work.wait()
            for pos, i in enumerate(b.params):
                p = self.params[i]
                if globally_used is not None and not globally_used[i]:
                    continue  # no rank produced a gradient: .grad is left as it was (torch)
                view = b.views[pos]
                if self.as_view:
                    p.grad = view
                elif p.grad is None:
                    p.grad = view.clone()
                else:
                    p.grad._write(Ellipsis, view._data)  # in place, through Tensor's versioned write path
        self.require_finalize = False

    def _globally_used(self) -> list:
        mask = tensor([1 if u else 0 for u in self.used], dtype=int32)
        _dist.all_reduce(mask, group=self.group)
        return [bool(v) for v in mask.tolist()]



def _hook(reducer_ref, p) -> None:
    reducer = reducer_ref()
    if reducer is not None:
        reducer._hook(p)
