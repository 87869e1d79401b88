"""Tensor's autograd hook methods (torch's names); the tables and their semantics live in autograd/hooks.py."""
from __future__ import annotations

from ..autograd import hooks as _hooks


class HookMethods:
    def register_hook(self, hook):
        """``hook(grad) -> Tensor | None`` runs each time the gradient w.r.t. this tensor is computed; a
        returned tensor replaces the gradient. Returns a handle whose ``remove()`` unregisters it."""
        return _hooks.register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs on this leaf once its ``.grad`` has been accumulated for a backward pass."""
        return _hooks.register_post_accumulate_grad_hook(self, hook)
