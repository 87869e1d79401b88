"""Optimizer: parameter groups, per-parameter state and state_dict, as ``torch.optim.Optimizer``."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..backend import backend_of
from .._tensor import Tensor
from . import _scalar_range


class _RequiredParameter:
    """Marks a hyper-parameter that has no default (SGD's lr in old torch versions)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class: holds ``param_groups`` (dicts of hyper-parameters with a ``"params"`` list) and
    ``state`` (a dict from parameter to its state dict). Subclasses implement ``step``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "__fastnn_range_checked__", False):
            cls.step = _scalar_range.checked_step(step)  # torch's overflow error for float32 scalars

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        # (name, tensor) pairs, as model.named_parameters() yields them: torch keeps the names in "param_names"
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(params):
            raise ValueError("all optimizer params should be with/without names. Some param names are missing")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        group = dict(param_group)
        group["params"] = params
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        for g in self.param_groups:
            if ("param_names" in group) != ("param_names" in g):
                kind = "with names" if "param_names" in group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {kind} to the optimizer")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's ``.grad``: drops it (default), or zeroes it in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.grad_fn = None
                    p.grad._requires_grad = False
                    p.grad._write(..., 0)

    def step(self, closure: Callable[[], Any] | None = None):
        raise NotImplementedError

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- state_dict ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: state}, "param_groups": [group with "params" as indices]}``, torch's layout.
        State tensors are shared, not copied (as torch does)."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        params = {id(p): p for g in self.param_groups for p in g["params"]}
        state = {(index[id(p)] if isinstance(p, Tensor) else p): dict(s) for p, s in self.state.items()
                 if id(p) in params or not isinstance(p, Tensor)}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a ``state_dict()`` (copying its tensors, cast to each parameter's dtype)."""
        groups = self.param_groups
        # a private copy: the loaded groups must not alias the caller's (betas lists, param_names ...)
        saved_groups = [_copy_containers(g) for g in state_dict["param_groups"]]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, sg in zip(groups, saved_groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            for old, p in zip(sg["params"], g["params"]):
                id_map[old] = p
        state: defaultdict = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = {k: _copy_state_value(param, k, v) for k, v in value.items()}
            else:  # state not tied to a parameter is kept as is, as torch does
                state[key] = value
        self.state = state
        for g, sg in zip(groups, saved_groups):
            sg["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                sg["param_names"] = g["param_names"]
        self.param_groups = saved_groups


def _copy_state_value(param: Tensor, key: str, value):
    """A private copy of one state entry, on the parameter's backend: floating tensors take the
    parameter's dtype, except the step count, which stays float32 as torch keeps it."""
    if isinstance(value, Tensor) or _is_array(value) or _is_torch_tensor(value):
        be = backend_of(param._data)
        arr = value._data if isinstance(value, Tensor) else _to_numpy(value)
        src = backend_of(arr)
        if src is not be:  # a checkpoint's host arrays (or another device's) move to the parameter's device
            arr = be.from_host(src.to_host(arr))
        if key == "step":
            dtype = np.float32
        elif arr.dtype.kind == "f":
            dtype = param._data.dtype
        else:
            dtype = arr.dtype
        # astype (not np.array(..., dtype=)) hands back the very dtype object asked for: the fused kernels'
        # bindings compare dtypes by identity, and np.array keeps an equal but distinct one of its input
        return Tensor._wrap(arr.astype(dtype, order="C", copy=True))
    if isinstance(value, dict):
        return {k: _copy_state_value(param, k, v) for k, v in value.items()}
    return value


def _copy_containers(value):
    """A copy of nested dicts/lists/tuples; leaves (numbers, strings, tensors) are shared."""
    if isinstance(value, dict):
        return {k: _copy_containers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_containers(v) for v in value)
    return value


def _is_array(value) -> bool:
    """An array of any array library (the array API's marker), not a NumPy scalar (kept as is, as torch
    keeps non-tensor state)."""
    return hasattr(value, "__array_namespace__") and not isinstance(value, np.generic)


def _is_torch_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _to_numpy(value):
    return value.detach().cpu().numpy() if _is_torch_tensor(value) else value
