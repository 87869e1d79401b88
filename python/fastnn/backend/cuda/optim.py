"""Fused optimizer updates on the CUDA kernels (csrc/cuda/optim.cu): one launch per call over every tensor
of the group (more only when a launch's table fills), in place, float32 with torch's rounding (bit for bit
the CPU kernels' results). float64 groups go to the composite formulas (super()).

One difference from the composite and CPU versions: the step counters stay on the device and are read by
the kernel, so their values are not checked (finite, >= 0) here -- that would cost a host sync per tensor,
which is what the device-side counters exist to avoid (torch's fused CUDA Adam does not check them either).
"""
from __future__ import annotations


class CudaOptimKernels:
    def _native_f32(self, params) -> bool:
        """The native kernels take the group when params[0] is float32 (the binding checks the rest with
        the composite's rules); anything else (float64, not a list) is the composite's to handle or reject."""
        return (isinstance(params, (list, tuple)) and len(params) > 0
                and getattr(params[0], "dtype", None) == self.xp.float32)

    def adam_update(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2, eps,
                    weight_decay, amsgrad, maximize, decoupled):
        if not self._native_f32(params):
            return super().adam_update(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=lr,
                                       beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                                       amsgrad=amsgrad, maximize=maximize, decoupled=decoupled)
        ticket = self.xp.zeros((1,), self.xp.int32)  # the launch's blocks count themselves done here
        self.native.adam_update_f32(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, ticket,
                                    lr=float(lr), beta1=float(beta1), beta2=float(beta2), eps=float(eps),
                                    weight_decay=float(weight_decay), amsgrad=bool(amsgrad),
                                    maximize=bool(maximize), decoupled=bool(decoupled), device=self.device_id,
                                    stream=self.stream())
        return None

    def sgd_update(self, params, grads, momentum_buffers, *, lr, momentum, dampening, nesterov, weight_decay,
                   maximize):
        if not self._native_f32(params):
            return super().sgd_update(params, grads, momentum_buffers, lr=lr, momentum=momentum,
                                      dampening=dampening, nesterov=nesterov, weight_decay=weight_decay,
                                      maximize=maximize)
        buffers = fresh = None
        if momentum != 0.0:
            if momentum_buffers is None:
                momentum_buffers = [None] * len(params)
            elif not isinstance(momentum_buffers, (list, tuple)):
                raise TypeError("sgd_update: expected momentum_buffers to be a list of arrays, got "
                                f"{type(momentum_buffers).__name__}")
            # torch's first momentum step: a new buffer, set to the gradient by the kernel (never read).
            fresh = [b is None for b in momentum_buffers]
            buffers = [self.xp.empty(getattr(p, "shape", (0,)), self.xp.float32) if f else b
                       for p, b, f in zip(params, momentum_buffers, fresh)]
            buffers += list(momentum_buffers[len(buffers):])  # a longer list is the binding's to reject
        self.native.sgd_update_f32(params, grads, buffers, fresh, lr=float(lr), momentum=float(momentum),
                                   dampening=float(dampening), nesterov=bool(nesterov),
                                   weight_decay=float(weight_decay), maximize=bool(maximize),
                                   device=self.device_id, stream=self.stream())
        return buffers
