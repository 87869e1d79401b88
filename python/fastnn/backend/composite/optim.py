"""Fused optimizer updates in ``xp`` calls: the references of backend/cpu/optim.py.

Both kernels take lists of arrays (one entry per tensor of a parameter group) and update them in place
with torch.optim's single-tensor formulas in torch's operation order, as the native kernels
(csrc/cpu/optim_update.cpp) do: scalars torch computes in Python (bias corrections, step size) are
computed in double and rounded to the arrays' dtype where torch rounds them, and where torch's
vectorised kernels round ``a * b + c`` once (lerp_, add_(alpha=), addcmul_), so does ``_fma`` here. So
float32 results agree with the native kernels bit for bit (float64 ones to an ulp: no exact float64 FMA
in xp).

Every check the native binding makes (csrc/bindings/bind_optim.cpp) is made here, with the same exception
types, before any element or step counter is written.
"""
from __future__ import annotations

import math


class OptimKernels:
    def adam_update(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2, eps,
                    weight_decay, amsgrad, maximize, decoupled):
        """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step, in place, over lists of
        C-contiguous float32/float64 arrays of one dtype (grads only read, may be read-only or shared).

        ``steps[i]`` is tensor i's step counter (a one-element float32/float64 array, torch's
        ``state['step']``), incremented in its own dtype before use; ``max_exp_avg_sqs`` is needed with
        ``amsgrad`` and ignored otherwise. Per element, with step t::

            g = -grad if maximize else grad;  g += wd * p (L2)  or  p *= 1 - lr * wd (decoupled)
            m = lerp(m, g, 1 - beta1);  v = v * beta2 + (1 - beta2) * g * g;  vmax = maximum(vmax, v)
            p += -(lr / (1 - beta1**t)) * m / (sqrt(v or vmax) / (1 - beta2**t) ** 0.5 + eps)
        """
        table = _Table(self.xp, "adam_update")
        n = table.length("params", params)
        table.add("params", params, written=True)
        table.add("grads", grads, written=False, count=n)
        table.add("exp_avgs", exp_avgs, written=True, count=n)
        table.add("exp_avg_sqs", exp_avg_sqs, written=True, count=n)
        if amsgrad:
            if max_exp_avg_sqs is None:
                raise ValueError("adam_update: amsgrad=True needs max_exp_avg_sqs")
            table.add("max_exp_avg_sqs", max_exp_avg_sqs, written=True, count=n)
        new_steps = table.add_counters("steps", steps, count=n)
        if n == 0:
            return
        table.check_overlaps()
        for counter, step in zip(steps, new_steps):
            counter[...] = step
        dt = params[0].dtype.type
        # Coefficients shared by every tensor, rounded to the dtype as torch rounds them.
        lerp_weight = dt(1.0 - beta1)
        lerp_small = abs(lerp_weight) < 0.5  # torch's lerp formula is picked on the rounded weight
        decay = "none" if weight_decay == 0.0 else "decoupled" if decoupled else "l2"
        c_beta2, c_one_minus_beta2, c_eps = dt(beta2), dt(1.0 - beta2), dt(eps)
        c_weight_decay, decay_factor = dt(weight_decay), dt(1.0 - lr * weight_decay)
        for i, (param, grad, exp_avg, exp_avg_sq) in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs)):
            # Per tensor, from its step count as Python floats (pow, not sqrt, for the ** 0.5).
            neg_step_size = dt(-(lr / (1.0 - math.pow(beta1, new_steps[i]))))
            bias_correction2_sqrt = dt(math.pow(1.0 - math.pow(beta2, new_steps[i]), 0.5))
            g = -grad if maximize else grad
            p = param
            if decay == "l2":
                g = self._fma(p, c_weight_decay, g)                         # grad.add(param, alpha=wd)
            elif decay == "decoupled":
                p = p * decay_factor                                        # param.mul_(1 - lr * wd)
            if lerp_small:                                                  # exp_avg.lerp_(grad, 1 - beta1)
                m = self._fma(lerp_weight, g - exp_avg, exp_avg)
            else:
                m = self._fma(lerp_weight - dt(1), g - exp_avg, g)
            v = self._fma(c_one_minus_beta2 * g, g, exp_avg_sq * c_beta2)   # .mul_(b2).addcmul_(g, g, 1 - b2)
            exp_avg[...] = m
            exp_avg_sq[...] = v
            if amsgrad:
                v = self.xp.maximum(max_exp_avg_sqs[i], v)                  # torch.maximum: NaN wins
                max_exp_avg_sqs[i][...] = v
            denom = self.xp.sqrt(v) / bias_correction2_sqrt + c_eps
            param[...] = p + (neg_step_size * m) / denom                    # addcdiv_(m, denom, -step_size)

    def sgd_update(self, params, grads, momentum_buffers, *, lr, momentum, dampening, nesterov, weight_decay,
                   maximize):
        """One SGD step, in place, over lists of C-contiguous float32/float64 arrays of one dtype::

            g = -grad if maximize else grad;  g += wd * p  (when wd != 0)
            buf = g (a new buffer)  or  buf * momentum + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf;  p += -lr * g

        With ``momentum != 0``, entries of ``momentum_buffers`` (or the whole list) may be None: new
        buffers are made for them (torch's first momentum step). Returns the list of buffers then, None
        without momentum (``momentum_buffers`` is not read).
        """
        table = _Table(self.xp, "sgd_update")
        n = table.length("params", params)
        table.add("params", params, written=True)
        table.add("grads", grads, written=False, count=n)
        buffers = fresh = None
        if momentum != 0.0:
            items = [None] * n if momentum_buffers is None else list(table.items("momentum_buffers",
                                                                                 momentum_buffers, n))
            fresh = [b is None for b in items]
            buffers = [self.xp.empty(params[i].shape, params[i].dtype) if fresh[i] else b
                       for i, b in enumerate(items)]
            table.add("momentum_buffers", buffers, written=True, count=n)
        if n == 0:
            return buffers
        table.check_overlaps()
        dt = params[0].dtype.type
        neg_lr, c_momentum = dt(-lr), dt(momentum)
        one_minus_dampening, c_weight_decay = dt(1.0 - dampening), dt(weight_decay)
        for i, (param, grad) in enumerate(zip(params, grads)):
            g = -grad if maximize else grad
            if weight_decay != 0.0:  # torch skips the term at 0 (an inf parameter would give NaN)
                g = self._fma(param, c_weight_decay, g)                     # grad.add(param, alpha=wd)
            if buffers is not None:
                buf = buffers[i]
                # first step: buf = grad.clone(); then buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                b = g if fresh[i] else self._fma(g, one_minus_dampening, buf * c_momentum)
                buf[...] = b
                g = self._fma(b, c_momentum, g) if nesterov else b          # grad.add(buf, alpha=momentum)
            param[...] = self._fma(g, neg_lr, param)                        # param.add_(grad, alpha=-lr)
        return buffers

    def _fma(self, a, b, c):
        """``a * b + c`` rounded once (an FMA), in the dtype of the arrays.

        float32: the product is exact in float64 (24 + 24 bits), and the float64 sum is rounded to odd
        (the neighbour with an odd last bit when inexact), which makes the final rounding to float32 the
        correct one (Boldo & Melquiond, 2008); plain float64 rounding would round twice. float64: rounded
        twice, as the kernels' generic ISA level does (xp has no exact float64 FMA)."""
        xp = self.xp
        if xp.result_type(a, b, c) != xp.float32:
            return a * b + c
        prod = xp.asarray(a, xp.float64) * xp.asarray(b, xp.float64)
        c64 = xp.asarray(c, xp.float64)
        s = prod + c64
        # TwoSum: the exact error of the rounded sum; NaN (never > 0 or < 0) when s is inf or NaN.
        back = s - prod
        err = (prod - (s - back)) + (c64 - back)
        even = (s.view(xp.int64) & 1) == 0
        nudge = ((err > 0) | (err < 0)) & even
        s = xp.where(nudge, xp.nextafter(s, xp.where(err > 0, math.inf, -math.inf)), s)
        return s.astype(xp.float32)


class _Table:
    """The binding's checks over the lists of one call: list types and lengths, dtype (that of
    params[0]), shapes (those of params), C-contiguity, writeability, step counters, and no overlap
    between an array that is written and any other."""

    def __init__(self, xp, op: str):
        self.xp, self.op = xp, op
        self.dtype = None
        self.shapes = None
        self.lists = []  # (name, arrays, written)

    def items(self, name, obj, count):
        if not isinstance(obj, (list, tuple)):
            raise TypeError(f"{self.op}: expected {name} to be a list of arrays, got {type(obj).__name__}")
        if count is not None and len(obj) != count:
            raise ValueError(f"{self.op}: got {count} params but {len(obj)} {name}")
        return obj

    def length(self, name, obj) -> int:
        return len(self.items(name, obj, None))

    def _array(self, a, what):
        if not isinstance(a, self.xp.ndarray):
            raise TypeError(f"{self.op}: {what}, got {type(a).__name__}")

    def add(self, name, obj, *, written, count=None):
        arrays = self.items(name, obj, count)
        for i, a in enumerate(arrays):
            where = f"{name}[{i}]"
            self._array(a, f"expected {where} to be a NumPy array")
            if self.dtype is None:
                if a.dtype not in (self.xp.float32, self.xp.float64):
                    raise TypeError(f"{self.op}: expected float32 or float64 arrays, got {where} of dtype {a.dtype}")
                self.dtype = a.dtype
            elif a.dtype != self.dtype:
                raise TypeError(f"{self.op}: {where} has dtype {a.dtype}, expected {self.dtype} (the dtype of "
                                "params[0])")
            if self.shapes is not None and a.shape != self.shapes[i]:
                raise ValueError(f"{self.op}: {where} has shape {_dims(a.shape)} but params[{i}] has shape "
                                 f"{_dims(self.shapes[i])}")
            if not a.flags.c_contiguous:
                raise ValueError(f"{self.op}: {where} (shape {_dims(a.shape)}) is not C-contiguous")
            if written and not a.flags.writeable:
                raise ValueError(f"{self.op}: {where} is read-only")
        if self.shapes is None:
            self.shapes = [a.shape for a in arrays]
        self.lists.append((name, arrays, written))

    def add_counters(self, name, obj, *, count):
        """Checks the step counters and returns each one's count after this step, incremented in the
        counter's own dtype (torch's ``step_t += 1``), as Python floats."""
        arrays = self.items(name, obj, count)
        steps = []
        for i, a in enumerate(arrays):
            what = f"{self.op}: {name}[{i}]"
            self._array(a, f"{name}[{i}] must be a NumPy array holding the step count (torch's state['step'])")
            if a.dtype not in (self.xp.float32, self.xp.float64):
                raise TypeError(f"{what} must be float32 or float64, got {a.dtype}")
            if a.size != 1:
                raise ValueError(f"{what} must hold one element, has shape {_dims(a.shape)}")
            if not a.flags.writeable:
                raise ValueError(f"{what} is read-only")
        for i, a in enumerate(arrays):
            step = float((a.reshape(()) + 1).item())
            if not (step >= 1.0 and math.isfinite(step)):
                raise ValueError(f"{self.op}: {name}[{i}] must hold a finite count >= 0 (the steps taken so far), "
                                 f"got {step - 1.0}")
            steps.append(step)
        self.lists.append((name, arrays, True))
        return steps

    def check_overlaps(self):
        """ValueError when a written array shares memory with any other (a parameter aliasing its own
        state, or two tensors of the group sharing storage, would mix their updates).

        Arrays are compared pairwise only where they can overlap: views of one owning array (the root of
        their ``.base`` chain), and any array whose memory no array of ours owns (a view of a foreign
        buffer) against all, so that the usual call (every array its own allocation) costs O(n)."""
        by_root, foreign = {}, []
        for name, arrays, written in self.lists:
            for i, a in enumerate(arrays):
                if a.size == 0:
                    continue
                root = a
                while isinstance(root, self.xp.ndarray) and root.base is not None:
                    root = root.base
                entry = (f"{name}[{i}]", a, written)
                if isinstance(root, self.xp.ndarray) and root.flags.owndata:
                    by_root.setdefault(id(root), []).append(entry)
                else:
                    foreign.append(entry)
        for group in by_root.values():
            for j, entry in enumerate(group):
                self._check_against(entry, group[:j])
        rooted = [entry for group in by_root.values() for entry in group]
        for j, entry in enumerate(foreign):
            self._check_against(entry, foreign[:j] + rooted)

    def _check_against(self, entry, others):
        name, a, written = entry
        for other_name, b, other_written in others:
            if (written or other_written) and self.xp.may_share_memory(a, b):
                raise ValueError(f"{self.op}: {name} overlaps {other_name} in memory; every parameter and state "
                                 "needs its own storage")


def _dims(shape) -> str:
    """A shape as the binding prints it: (5,), (5, 1), ()."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
