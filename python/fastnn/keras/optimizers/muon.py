"""Keras' Muon: momentum orthogonalised by Newton-Schulz iterations for 2-D weights, AdamW for the rest
(other ranks, embeddings, layers matched by ``exclude_layers``)."""
from __future__ import annotations

import math
import re

from .adaptive import _ArrayOptimizer
from .base import _name_of
from .fused import base_args


class Muon(_ArrayOptimizer):
    """A 2-D weight: ``m = momentum m + g``; ``w -= lr * rms_rate * sqrt(max(rows, cols)) * NS5(g + momentum m)``
    (``NS5(m)`` without Nesterov). Other weights: Adam with ``lr * adam_lr_ratio`` and ``adam_weight_decay``.
    A weight's path (``layer_name/weight_name``, as Keras' ``variable.path``) decides the embedding and
    ``exclude_layers`` rules."""

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999, adam_weight_decay=0.004, epsilon=1e-7,
                 weight_decay=0.004, clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, exclude_layers=None, exclude_embeddings=True,
                 muon_a=3.4445, muon_b=-4.7750, muon_c=2.0315, adam_lr_ratio=1, momentum=0.95, ns_steps=5,
                 nesterov=True, rms_rate=0.2, **kwargs) -> None:
        super().__init__(**base_args(locals()), **kwargs)
        self.adam_beta_1 = adam_beta_1
        self.adam_beta_2 = adam_beta_2
        self.epsilon = epsilon
        self.muon_a = muon_a
        self.muon_b = muon_b
        self.muon_c = muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.exclude_embeddings = exclude_embeddings
        self.exclude_layers = exclude_layers or []
        self.adam_weight_decay = adam_weight_decay
        self.rms_rate = rms_rate

    def _should_use_adamw(self, variable) -> bool:
        if variable.ndim != 2:
            return True
        path = _name_of(variable)
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(keyword, path) for keyword in self.exclude_layers)

    def _build_slots(self, variables) -> None:
        self.momentums, self.adam_velocities = [], []
        for v in variables:
            self.momentums.append(self.add_variable_from_reference(v, "momentum"))
            self.adam_velocities.append(self.add_variable_from_reference(v, "velocity")
                                        if self._should_use_adamw(v) else None)

    def _apply_weight_decay(self, variables, lr: float) -> None:
        for v in variables:
            if not self._use_weight_decay(v):
                continue
            wd = self.adam_weight_decay if self._should_use_adamw(v) else self.weight_decay
            if wd is not None:
                w = v._data
                w *= w.dtype.type(1.0 - wd * lr)

    def _step(self, i, g, w, lr, xp) -> None:
        m, v = self.momentums[i]._data, self.adam_velocities[i]
        if v is not None:
            self._adamw(g, w, lr * self.adam_lr_ratio, m, v._data, xp)
            return
        m *= self.momentum
        m += g
        direction = g + self.momentum * m if self.nesterov else m
        update = self._newton_schulz5(direction, xp)
        if self.rms_rate is not None:
            update = update * (math.sqrt(max(update.shape[0], update.shape[1])) * self.rms_rate)
        w -= lr * update

    def _adamw(self, g, w, lr, m, v, xp) -> None:
        t = self._local_step()
        alpha = lr * math.sqrt(1 - self.adam_beta_2 ** t) / (1 - self.adam_beta_1 ** t)
        m += (g - m) * (1 - self.adam_beta_1)
        v += (g * g - v) * (1 - self.adam_beta_2)
        w -= (m * alpha) / (xp.sqrt(v) + self.epsilon)

    def _newton_schulz5(self, x, xp):
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        tall = x.shape[-2] > x.shape[-1]
        if tall:
            x = xp.swapaxes(x, -1, -2)
        x = x / (xp.sqrt(xp.sum(x * x, axis=(-2, -1), keepdims=True)) + 1e-7)
        for _ in range(self.ns_steps):
            gram = x @ xp.swapaxes(x, -1, -2)
            x = a * x + (b * gram + c * gram @ gram) @ x
        return xp.swapaxes(x, -1, -2) if tall else x

    def get_config(self) -> dict:
        return {**super().get_config(), "adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2,
                "epsilon": self.epsilon, "exclude_layers": self.exclude_layers, "muon_a": self.muon_a,
                "muon_b": self.muon_b, "muon_c": self.muon_c, "adam_lr_ratio": self.adam_lr_ratio,
                "momentum": self.momentum, "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings, "adam_weight_decay": self.adam_weight_decay,
                "rms_rate": self.rms_rate}
