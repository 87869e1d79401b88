"""Finite-difference gradient checking in float64."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ..backend import backend_of
from .functional import grad
from .grad_mode import no_grad


class GradcheckError(RuntimeError):
    pass


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.is_floating_point]


def gradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, n_projections: int = 2, seed: int = 0) -> bool:
    """Checks autograd's gradients of ``fn`` against central differences.

    Every input that requires grad must be float64. For each output, the vector-Jacobian product with
    ``n_projections`` random vectors v (plus v = ones) is compared with the same product taken from the
    numerical Jacobian, element by element, within ``atol + rtol * |numerical|``. Random projections
    catch a wrong Jacobian entry with probability one while needing a single backward each.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for t in diff:
        if t.dtype.name != "float64":
            raise ValueError(f"gradcheck expects float64 inputs that require grad (got {t.dtype}); "
                             "single precision is too coarse for finite differences")

    be = backend_of(*[t._data for t in diff])
    xp = be.xp
    outs = _outputs(fn, inputs)
    rng = xp.random.default_rng(seed)
    for oi, out in enumerate(outs):
        vs = [xp.ones(out.shape)] + [rng.standard_normal(out.shape) for _ in range(n_projections)]
        # Numerical Jacobian-transpose products, one input element at a time. Each perturbation goes
        # through the input's write path, so its version moves as with any other in-place change.
        numeric = [xp.zeros((len(vs),) + tuple(t.shape)) for t in diff]
        with no_grad():
            for ti, t in enumerate(diff):
                for idx in np.ndindex(*t.shape):
                    orig = t._data[idx].item()
                    t._write(idx, orig + eps)
                    plus = _outputs(fn, inputs)[oi]._data.astype(np.float64)
                    t._write(idx, orig - eps)
                    minus = _outputs(fn, inputs)[oi]._data.astype(np.float64)
                    t._write(idx, orig)
                    d = (plus - minus) / (2 * eps)
                    for vi, v in enumerate(vs):
                        numeric[ti][(vi,) + idx] = (d * v).sum()
        if not out.requires_grad:
            for ti, t in enumerate(diff):
                if (numeric[ti] != 0).any():
                    return _fail(raise_exception, f"output {oi} does not require grad but depends on input {ti}")
            continue
        for vi, v in enumerate(vs):
            fresh = _outputs(fn, inputs)[oi]
            analytic = grad(fresh, diff, grad_outputs=Tensor._wrap(v.astype(fresh._data.dtype)), allow_unused=True)
            for ti, (a, t) in enumerate(zip(analytic, diff)):
                a_arr = xp.zeros(t.shape) if a is None else a._data
                n_arr = numeric[ti][vi]
                bad = ~xp.isclose(a_arr, n_arr, atol=atol, rtol=rtol, equal_nan=True)
                if bad.any():
                    err = xp.abs(a_arr - n_arr)
                    return _fail(raise_exception,
                                 f"Jacobian mismatch for output {oi} with respect to input {ti} "
                                 f"(projection {vi}): {int(bad.sum())} of {bad.size} entries differ, max abs error "
                                 f"{float(xp.nanmax(err)) if err.size else 0:.3g}\nanalytical:\n{a_arr}\n"
                                 f"numerical:\n{n_arr}")
    return True


def _fail(raise_exception: bool, msg: str) -> bool:
    if raise_exception:
        raise GradcheckError(msg)
    return False
