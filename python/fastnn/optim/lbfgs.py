"""L-BFGS: ``torch.optim.LBFGS``, a full-batch quasi-Newton method driven by a closure.

The step works on one flat vector of every parameter (the optimizer supports a single parameter group,
as torch's does): the two-loop recursion over the last ``history_size`` curvature pairs gives the search
direction; the step length is ``lr`` (after a first, gradient-scaled step) or comes from a strong-Wolfe
line search with cubic interpolation (``line_search_fn="strong_wolfe"``). The arithmetic is torch's
algorithm (itself Lua torch's lswolfe/polyinterp), so iterates follow torch's to rounding.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

from ..autograd.grad_mode import enable_grad, no_grad
from ..backend import backend_of
from ._state import check_nonnegative
from .optimizer import Optimizer


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to ``bounds`` (default:
    the interval between the points); the interval's middle when the cubic has no real minimum."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search along ``d`` from the current point (loss ``f``, flat gradient ``g``, slope ``gtd``) for a
    step ``t`` meeting the strong Wolfe conditions. ``evaluate(t)`` returns (loss, flat gradient) at
    ``x + t d`` and leaves the parameters at x. Returns (loss, gradient, t, evaluations)."""
    xp = backend_of(d).xp
    d_norm = float(xp.abs(d).max())
    g = g.copy()
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = float(g_new @ d)
    # 1. bracketing: grow t until an interval surely holds an acceptable step
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    it = 0
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, br_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
    if it == max_ls:
        br, br_f, br_g, br_gtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]

    # 2. zoom: shrink the bracket by cubic interpolation until a point meets the conditions
    insufficient = False
    low, high = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and it < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        # a trial too close to an end of the bracket twice running (or outside it) moves 10% inside
        eps = 0.1 * (max(br) - min(br))
        if min(max(br) - t, t - min(br)) < eps:
            if insufficient or t >= max(br) or t <= min(br):
                t = max(br) - eps if abs(t - max(br)) < abs(t - min(br)) else min(br) + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= br_f[low]:
            br[high], br_f[high], br_g[high], br_gtd[high] = t, f_new, g_new.copy(), gtd_new
            low, high = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high] - br[low]) >= 0:
                br[high], br_f[high], br_g[high], br_gtd[high] = br[low], br_f[low], br_g[low], br_gtd[low]
            br[low], br_f[low], br_g[low], br_gtd[low] = t, f_new, g_new.copy(), gtd_new
    return br_f[low], br_g[low], br[low], evals


class LBFGS(Optimizer):
    """L-BFGS with torch.optim.LBFGS's arguments, defaults and behaviour: ``step(closure)`` runs up to
    ``max_iter`` iterations (``max_eval`` closure calls), stopping early on a small gradient
    (``tolerance_grad``, max-abs) or a small change of loss or step (``tolerance_change``); its state (the
    direction, step, curvature history, previous gradient and loss, ``func_evals``, ``n_iter``) lives in
    ``state[first parameter]``, as torch keeps it, and carries over between calls."""

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        check_nonnegative(lr=lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector ------------------------------------------------------------------
    def _flat_grad(self):
        xp = backend_of(self._params[0]._data).xp
        parts = [xp.zeros(p._data.size, p._data.dtype) if p.grad is None else p.grad._data.reshape(-1)
                 for p in self._params]
        return xp.concatenate(parts)

    def _add(self, step: float, direction) -> None:
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += p._data.dtype.type(step) * direction[offset:offset + n].reshape(p._data.shape)
            p._written()
            offset += n

    def _snapshot(self) -> list:
        return [p._data.copy() for p in self._params]

    def _restore(self, saved: list) -> None:
        for p, arr in zip(self._params, saved):
            p._write(..., arr)

    def step(self, closure: Callable[[], Any]):  # type: ignore[override]
        if closure is None:
            raise RuntimeError("LBFGS.step requires a closure that reevaluates the model and returns the loss")
        with no_grad():
            return self._step(closure)

    def _evaluate(self, closure) -> float:
        with enable_grad():
            return float(closure())

    def _step(self, closure):
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        line_search, history_size = group["line_search_fn"], group["history_size"]
        if line_search is not None and line_search != "strong_wolfe":
            raise RuntimeError("only 'strong_wolfe' is supported")

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        xp = backend_of(flat_grad).xp
        if float(xp.abs(flat_grad).max(initial=0.0)) <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # -- direction: steepest descent first, then the two-loop recursion over the curvature pairs
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * d.dtype.type(t)
                ys = float(y @ s)
                if ys > 1e-10:  # keep only pairs with positive curvature (the update stays positive definite)
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q -= q.dtype.type(al[i]) * old_dirs[i]
                d = r = q * q.dtype.type(h_diag)
                for i in range(len(old_dirs)):
                    beta = float(old_dirs[i] @ r) * ro[i]
                    r += r.dtype.type(al[i] - beta) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            # -- step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:
                break
            ls_evals = 0
            if line_search is not None:
                x0 = self._snapshot()

                def evaluate(step, _x0=x0, _d=d):
                    self._add(step, _d)
                    f_new = self._evaluate(closure)
                    g_new = self._flat_grad()
                    self._restore(_x0)
                    return f_new, g_new

                loss, flat_grad, t, ls_evals = _strong_wolfe(evaluate, t, d, loss, flat_grad, gtd,
                                                             max_ls=max_eval - evals)
                self._add(t, d)
                opt_cond = float(xp.abs(flat_grad).max()) <= tol_grad
            else:
                self._add(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the last iteration's loss is not needed (torch skips it too)
                    loss = self._evaluate(closure)
                    flat_grad = self._flat_grad()
                    opt_cond = float(xp.abs(flat_grad).max()) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            # -- stopping tests
            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if float(xp.abs(d).max()) * abs(t) <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss



