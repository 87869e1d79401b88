"""torch.nn.parallel.DistributedDataParallel over fastnn.distributed (MPI).

At wrap time the ranks check that they hold the same parameters (count and shapes) and take rank 0's
parameters and buffers; each forward first takes rank 0's buffers (batch-norm running statistics: the batch
statistics themselves are per rank, as in PyTorch) and arms the reducer (reducer.py), whose autograd hooks
average the gradients across ranks in buckets while backward runs.
"""
from __future__ import annotations

import os
import warnings
from contextlib import contextmanager

from ... import distributed as _dist
from ..._tensor import Tensor
from ...autograd.grad_mode import is_grad_enabled, no_grad
from ..module import Module
from .comm import broadcast_coalesced, verify_param_shapes
from .reducer import DEFAULT_BUCKET_CAP_MB, DEFAULT_FIRST_BUCKET_BYTES, Reducer

_MB = 1024 * 1024


def _find_tensors(obj) -> list:
    """The tensors in a forward's (nested) output, as torch's _find_tensors."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _find_tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _find_tensors(o)]
    return []


def _to_device(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_to_device(o, device) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _unsupported(name, value, default) -> None:
    if value is not default and value != default:
        raise NotImplementedError(f"DistributedDataParallel: {name}={value!r} is not supported by fastnn")


class DistributedDataParallel(Module):
    """Data parallelism across processes: wrap the model, train it as usual; every rank's gradients are
    averaged before the optimizer step, so the replicas stay identical."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=None, init_sync=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None,
                 skip_all_reduce_unused_params=False, bucket_cap_mb_list=None, batched_grad_copy=False,
                 forward_sync_buffers=None):
        super().__init__()
        for name, value, default in (
                ("delay_all_reduce_named_params", delay_all_reduce_named_params, None),
                ("param_to_hook_all_reduce", param_to_hook_all_reduce, None),
                ("mixed_precision", mixed_precision, None), ("device_mesh", device_mesh, None),
                ("skip_all_reduce_unused_params", skip_all_reduce_unused_params, False),
                ("bucket_cap_mb_list", bucket_cap_mb_list, None), ("batched_grad_copy", batched_grad_copy, False)):
            _unsupported(name, value, default)
        self.process_group = process_group if process_group is not None else _dist.group.WORLD
        if hasattr(module, "_ddp_params_and_buffers_to_ignore"):
            self.parameters_to_ignore = set(module._ddp_params_and_buffers_to_ignore)
        else:
            self.parameters_to_ignore = set()
        self._module_parameters = [p for n, p in module.named_parameters() if n not in self.parameters_to_ignore]
        if not any(p.requires_grad for p in self._module_parameters):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter that "
                               "requires a gradient.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        device_types = {p.device.type for p in self._module_parameters}
        if len(device_types) != 1:
            raise ValueError("DistributedDataParallel's input module must be on the same type of devices, but "
                             f"input module parameters locate in {device_types}.")
        self.device_type = next(iter(device_types))
        self.is_multi_device_module = len({str(p.device) for p in self._module_parameters}) > 1
        if device_ids is None or len(device_ids) == 0 or self.device_type == "cpu" or self.is_multi_device_module:
            if device_ids or output_device:
                devices = {str(p.device) for p in self._module_parameters}
                raise ValueError(
                    "DistributedDataParallel device_ids and output_device arguments only work with "
                    "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                    f"{device_ids}, output_device {output_device}, and module parameters {devices}.")
            self.device_ids = None
            self.output_device = None
        else:
            self.device_ids = [_index(d) for d in device_ids]
            self.output_device = _index(output_device if output_device is not None else device_ids[0])
        self.static_graph = False
        self.dim = dim
        self.module = module
        self.device = self._module_parameters[0].device
        if broadcast_buffers is not None:
            if forward_sync_buffers is not None:
                warnings.warn("Both `broadcast_buffers` and `forward_sync_buffers` were specified. "
                              "`broadcast_buffers` is deprecated and its value is ignored when "
                              "`forward_sync_buffers` is provided.", FutureWarning, stacklevel=2)
            else:
                warnings.warn("`broadcast_buffers` is deprecated. Use `forward_sync_buffers` instead. IMPORTANT: "
                              "unlike `broadcast_buffers=False`, `forward_sync_buffers=False` still syncs buffers "
                              "at init. If you rely on buffers NOT being synced at init (e.g. rank-local buffers), "
                              "keep using `broadcast_buffers=False` until `init_sync_buffers` is available.",
                              FutureWarning, stacklevel=2)
        if forward_sync_buffers is not None:
            self.forward_sync_buffers = bool(forward_sync_buffers)
            init_sync_buffers = True
        else:
            self.forward_sync_buffers = bool(broadcast_buffers) if broadcast_buffers is not None else True
            init_sync_buffers = self.forward_sync_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self.gradient_as_bucket_view = gradient_as_bucket_view
        if check_reduction:
            warnings.warn("The `check_reduction` argument in `DistributedDataParallel` module is deprecated. "
                          "Please avoid using it.", FutureWarning, stacklevel=2)
        self.broadcast_bucket_size = 250 * _MB
        cap_mb = DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        self.bucket_bytes_cap = int(cap_mb * _MB)
        first_cap = DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        self.bucket_bytes_cap_default = first_cap < self.bucket_bytes_cap
        # The reducer averages only the parameters that require a gradient (torch's _build_params_for_reducer);
        # the wrap-time broadcast covers them all.
        params = [p for p in self._module_parameters if p.requires_grad]
        if init_sync:
            verify_param_shapes(self.process_group, params)
            with no_grad():
                broadcast_coalesced(self._module_parameters, 0, self.process_group, self.broadcast_bucket_size)
                if init_sync_buffers:
                    broadcast_coalesced(self._buffers_to_sync(), 0, self.process_group, self.broadcast_bucket_size)
        self.reducer = Reducer(params, self.process_group, first_cap, self.bucket_bytes_cap,
                               find_unused_parameters, gradient_as_bucket_view)
        # The bench's switch: FASTNN_DDP_OVERLAP=0 (or ddp._overlap = False) reduces every bucket only once
        # backward has finished, to measure what the overlap gains.
        self.reducer.overlap = os.environ.get("FASTNN_DDP_OVERLAP", "1") != "0"
        # FASTNN_DDP_PROGRESS_THREAD=1 (or ddp._progress_thread = True): a thread keeps the buckets in flight
        # moving while backward's kernels run (nn/parallel/progress.py).
        self.reducer.progress_thread = os.environ.get("FASTNN_DDP_PROGRESS_THREAD", "0") == "1"
        if static_graph:
            self._set_static_graph()

    @property
    def _overlap(self) -> bool:
        return self.reducer.overlap

    @_overlap.setter
    def _overlap(self, on: bool) -> None:
        self.reducer.overlap = bool(on)

    @property
    def _progress_thread(self) -> bool:
        return self.reducer.progress_thread

    @_progress_thread.setter
    def _progress_thread(self, on: bool) -> None:
        self.reducer.progress_thread = bool(on)

    def _set_static_graph(self) -> None:
        # A fixed graph changes nothing here: buckets are never rebuilt and every hook fires each iteration.
        self.static_graph = True

    def _buffers_to_sync(self) -> list:
        return [b for n, b in self.module.named_buffers() if n not in self.parameters_to_ignore]

    def will_sync_module_buffers(self) -> bool:
        return self.require_forward_param_sync and self.forward_sync_buffers and len(self._buffers_to_sync()) > 0

    # ---- forward ---------------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        sync = is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            self.reducer.prepare_for_forward()
        bufs = self._buffers_to_sync() if self.require_forward_param_sync and self.forward_sync_buffers else ()
        if bufs:  # will_sync_module_buffers(), walking the modules once
            with no_grad():
                broadcast_coalesced(bufs, 0, self.process_group, self.broadcast_bucket_size)
        if self.device_ids:
            device = f"{self.device_type}:{self.device_ids[0]}"
            inputs, kwargs = _to_device(inputs, device), _to_device(kwargs, device)
        output = self.module(*inputs, **kwargs)
        if sync:
            self.require_forward_param_sync = True
            self.reducer.prepare_for_backward(_find_tensors(output) if self.find_unused_parameters else [])
        else:
            self.require_forward_param_sync = False
        return output

    @contextmanager
    def no_sync(self):
        """Gradients accumulate locally inside; the first forward-backward after it averages the sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def train(self, mode: bool = True):
        super().train(mode)
        return self

    def __getstate__(self):
        raise TypeError("fastnn's DistributedDataParallel cannot be pickled (its reducer holds communication "
                        "state); save ddp.module or ddp.state_dict() instead")


def _index(d) -> int:
    if isinstance(d, int):
        return d
    s = str(d)
    return int(s.split(":")[1]) if ":" in s else 0
