"""Tensor methods: the matmul family and linear algebra.

Declared on a plain class with PyTorch's signatures, each delegating to its op; ``tensor_methods.attach``
copies them onto ``Tensor`` when ``_tensor`` has finished importing, so they live in ``Tensor.__dict__``
exactly as if written there (no lookup through a base class)."""
from __future__ import annotations

from ..ops import decompositions as _decomp
from ..ops import matmul_family as _mmf
from .._tensor import Tensor


class LinalgMethods:
    def addmm(self, mat1, mat2, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1) -> "Tensor":
        return _mmf.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def dot(self, other) -> "Tensor":
        return _mmf.dot(self, other)

    def vdot(self, other) -> "Tensor":
        return _mmf.vdot(self, other)

    def inner(self, other) -> "Tensor":
        return _mmf.inner(self, other)

    def mv(self, vec) -> "Tensor":
        return _mmf.mv(self, vec)

    def outer(self, vec2) -> "Tensor":
        return _mmf.outer(self, vec2)

    def ger(self, vec2) -> "Tensor":
        return _mmf.outer(self, vec2)

    def kron(self, other) -> "Tensor":
        return _mmf.kron(self, other)

    def cross(self, other, dim=None) -> "Tensor":
        return _mmf.cross(self, other, dim)

    def inverse(self) -> "Tensor":
        return _decomp.inv(self)

    def det(self) -> "Tensor":
        return _decomp.det(self)

    def logdet(self) -> "Tensor":
        return _decomp.logdet(self)

    def slogdet(self):
        return _decomp.torch_slogdet(self)

    def matrix_power(self, n: int) -> "Tensor":
        return _decomp.matrix_power(self, n)

    def pinverse(self, rcond: float = 1e-15) -> "Tensor":
        return _decomp.pinverse(self, rcond)

    def cholesky(self, upper: bool = False) -> "Tensor":
        return _decomp.torch_cholesky(self, upper)

    def qr(self, some: bool = True):
        return _decomp.torch_qr(self, some)

    def svd(self, some: bool = True, compute_uv: bool = True):
        return _decomp.torch_svd(self, some, compute_uv)
