"""Keras masks: a boolean (batch, steps) tensor riding along with a layer's output (Keras' ``_keras_mask``),
set by ``Embedding(mask_zero=True)`` / ``Masking`` and read by the layers whose ``call`` takes ``mask=``
(RNNs, attention, average pooling). fastnn Tensors are PyTorch-like and carry no Keras attributes, so the
masks live in this side table keyed by the tensor's identity; an entry goes when its tensor does."""
from __future__ import annotations

import weakref

_MASKS: dict[int, tuple] = {}


def _forget(key: int) -> None:
    _MASKS.pop(key, None)


def get_mask(x):
    """The mask attached to ``x`` (a tensor, or a list/tuple of them: a list of masks), or None."""
    if not _MASKS:
        return None
    if isinstance(x, (list, tuple)):
        masks = [get_mask(v) for v in x]
        return masks if any(m is not None for m in masks) else None
    entry = _MASKS.get(id(x))
    if entry is None or entry[0]() is not x:
        return None
    return entry[1]


def set_mask(x, mask) -> None:
    if mask is None:
        return
    key = id(x)
    try:
        ref = weakref.ref(x, lambda _, k=key: _forget(k))
    except TypeError:
        return  # not a tensor (a Python number): nothing to attach to
    _MASKS[key] = (ref, mask)


def attach_output_masks(outputs, masks) -> None:
    """Sets each output's mask unless it already has one (a layer may set its own in call)."""
    outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    ms = masks if isinstance(masks, (list, tuple)) else [masks] * len(outs)
    for out, m in zip(outs, ms):
        if m is not None and get_mask(out) is None:
            set_mask(out, m)


def all_of(masks):
    """The logical AND of the masks that are given (None when none is)."""
    present = [m for m in (masks or []) if m is not None]
    if not present:
        return None
    out = present[0]
    for m in present[1:]:
        out = out & m
    return out
