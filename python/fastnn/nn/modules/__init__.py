"""``torch.nn.modules`` as a module path: every Module class of ``fastnn.nn``, and its submodules under
torch's file names (``torch.nn.modules.loss._Loss``, ``torch.nn.modules.module.Module`` ...)."""
from __future__ import annotations

import importlib
import sys

from ... import nn as _nn
from ..module import Module

# torch's submodule name -> fastnn.nn's file (where they differ); the rest share the name
_FILES = {"container": "containers", "flatten": "shape", "module": "module", "loss": "loss", "linear": "linear",
          "conv": "conv", "activation": "activation", "batchnorm": "batchnorm", "dropout": "dropout",
          "normalization": "normalization", "pooling": "pooling", "rnn": "rnn", "sparse": "sparse",
          "transformer": "transformer", "upsampling": "upsampling", "pixelshuffle": "pixelshuffle",
          "padding": "padding", "instancenorm": "instancenorm", "distance": "distance", "fold": "fold"}

for _torch_name, _file in _FILES.items():
    try:
        _mod = importlib.import_module(f"fastnn.nn.{_file}")
    except ModuleNotFoundError as e:
        if e.name != f"fastnn.nn.{_file}":  # a real import error inside an existing file
            raise
        continue
    globals()[_torch_name] = _mod
    sys.modules[f"{__name__}.{_torch_name}"] = _mod

for _k, _v in vars(_nn).items():  # the Module classes nn exports (any added later come along)
    if isinstance(_v, type) and issubclass(_v, Module):
        globals()[_k] = _v

__all__ = sorted(k for k, v in globals().items() if isinstance(v, type) and issubclass(v, Module))
