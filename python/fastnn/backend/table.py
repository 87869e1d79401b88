"""The kernel table: every backend implements every name here (composite/ in ``xp`` calls, a device
backend natively where it can). ``tests/test_backend.py`` checks that each backend has them all and that
the CPU backend's native kernels agree with the composite ones.

Each family's signatures and semantics are documented on its composite implementation, the readable
reference (``backend/composite/<family>.py``); the CPU twin is ``backend/cpu/<family>.py``.
"""
from __future__ import annotations

KERNELS = {
    "linalg": ("matmul", "gemm_into", "linear", "erf", "matmul_bf16", "pack_bf16"),
    "nn": ("softmax_last", "softmax_last_backward", "cross_entropy_rows", "cross_entropy_rows_backward",
           "layer_norm_rows", "layer_norm_rows_backward"),
    "batchnorm": ("batch_norm_forward", "batch_norm_backward"),
    "pool": ("max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"),
    "attention": ("attention_forward", "attention_backward"),
    "conv": ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight", "conv2d_backward_bias"),
    "rnn": ("rnn_direction_forward", "rnn_direction_backward"),
    "optim": ("adam_update", "sgd_update"),
    "sparse": ("spmm", "sddmm"),
    "activation": ("gelu_forward", "gelu_backward"),
}


def all_kernels():
    return tuple(name for names in KERNELS.values() for name in names)
