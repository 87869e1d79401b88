"""Keras 3's dtype policies: a layer's variable dtype and compute dtype ("mixed_bfloat16": float32 variables,
bfloat16 compute), and the global policy new layers take. A layer whose compute dtype is bfloat16 casts its
floating inputs to bfloat16 and runs its call under CPU autocast, which reads its float32 variables as
bfloat16 in the GEMM-based ops (Keras casts variables on read: the same values reach the same products);
a float32 layer called inside such a region casts bfloat16 inputs back to float32 and turns autocast off
(Keras' guide: the output layer ``dtype="float32"``)."""
from __future__ import annotations

from .. import dtypes

__all__ = ["DTypePolicy", "FloatDTypePolicy", "get", "serialize", "deserialize", "dtype_policy", "set_dtype_policy"]

_GLOBAL = [None]


class DTypePolicy:
    """``keras.DTypePolicy(name=None)``: None takes the global policy's name."""

    def __init__(self, name=None):
        if name is None:
            name = dtype_policy().name
        self._name = name
        self._compute_dtype, self._variable_dtype = self._parse_name(name)
        self._quantization_mode = None

    @staticmethod
    def _parse_name(name):
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, such as 'mixed_float16'. Received: name={name} "
                            f"(of type {type(name)})")
        if name == "mixed_float16":
            return "float16", "float32"
        if name == "mixed_bfloat16":
            return "bfloat16", "float32"
        try:
            dt = dtypes.to_dtype(name)
        except (TypeError, ValueError, KeyError, AttributeError):
            dt = None
        if dt is None:
            raise ValueError(f"Cannot convert '{name}' to a mixed precision DTypePolicy. Valid policies include "
                             "'mixed_float16', 'mixed_bfloat16', and the name of any float dtype such as 'float32'.")
        n = str(dt).split(".")[-1]
        return n, n

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._variable_dtype

    @property
    def quantization_mode(self):
        return self._quantization_mode

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._name == self._name

    def __hash__(self) -> int:
        return hash((type(self), self._name))


FloatDTypePolicy = DTypePolicy  # Keras 3 keeps the old name as an alias


def set_dtype_policy(policy) -> None:
    """``keras.config.set_dtype_policy`` / ``keras.mixed_precision.set_global_policy``."""
    if not isinstance(policy, DTypePolicy):
        if not isinstance(policy, str):
            raise ValueError("Invalid `policy` argument. Expected the string name of a policy (such as "
                             f"'mixed_float16') or a `DTypePolicy` instance. Received: policy={policy} "
                             f"(of type {type(policy)})")
        policy = DTypePolicy(policy)
    _GLOBAL[0] = policy


def dtype_policy() -> DTypePolicy:
    """The global policy (float32 until set)."""
    if _GLOBAL[0] is None:
        _GLOBAL[0] = DTypePolicy("float32")
    return _GLOBAL[0]


def get(identifier):
    """A policy from None (the global one), a name, a serialized dict or a policy."""
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    if isinstance(identifier, dtypes.dtype):
        return DTypePolicy(str(identifier).split(".")[-1])
    raise ValueError(f"Cannot interpret `dtype` argument. Expected a string or an instance of DTypePolicy. "
                     f"Received: dtype={identifier}")


def serialize(policy) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(), "registered_name": None}


def deserialize(config: dict):
    if config.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy"):
        raise ValueError(f"Unknown dtype policy class: {config.get('class_name')!r}")
    return DTypePolicy.from_config(config["config"])


def call_scope(policy, inputs):
    """(inputs, autocast region or None) for one layer call under ``policy``: a bfloat16-compute layer casts
    its floating inputs to bfloat16 and computes under CPU autocast; a float32 layer inside such a region
    casts bfloat16 inputs to float32 and computes with autocast off. Other calls pass through (no region)."""
    from .. import amp, amp_state

    if policy._compute_dtype == "bfloat16":
        return _cast_floats(inputs, dtypes.bfloat16), amp.autocast("cpu", dtype=dtypes.bfloat16)
    if policy._compute_dtype == "float16":  # refused rather than silently computed in float32
        raise NotImplementedError(f"dtype policy {policy.name!r}: fastnn has no float16 compute kernels; use "
                                  "'mixed_bfloat16' or 'float32'")
    if amp_state.ACTIVE and amp_state.STATE.enabled and policy._compute_dtype in ("float32", "float64"):
        return _cast_floats(inputs, dtypes.to_dtype(policy._compute_dtype)), amp.autocast("cpu", enabled=False)
    return inputs, None


def _cast_floats(x, dt):
    from .._tensor import Tensor

    if isinstance(x, Tensor):
        return x.to(dt) if x.dtype.is_floating_point and x.dtype is not dt else x
    if isinstance(x, (list, tuple)):
        return type(x)(_cast_floats(v, dt) for v in x)
    if isinstance(x, dict):
        return {k: _cast_floats(v, dt) for k, v in x.items()}
    return x
