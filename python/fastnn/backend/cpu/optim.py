"""Fused optimizer updates on the native kernels (csrc/cpu/optim_update.cpp): one pass over each
(param, grad, state) list, in place; arrays are C-contiguous (the caller copies strided ones)."""
from __future__ import annotations

from ... import _C


class CpuOptimKernels:
    def adam_update(self, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2, eps,
                    weight_decay, amsgrad, maximize, decoupled):
        _C.adam_update(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr=lr, beta1=beta1,
                       beta2=beta2, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                       decoupled=decoupled)

    def sgd_update(self, params, grads, momentum_buffers, *, lr, momentum, dampening, nesterov, weight_decay,
                   maximize):
        return _C.sgd_update(params, grads, momentum_buffers, lr=lr, momentum=momentum, dampening=dampening,
                             nesterov=nesterov, weight_decay=weight_decay, maximize=maximize)
