"""The CUDA layer-norm kernels against a float64 NumPy reference, on the emulator under every schedule
(and on a GPU where there is one)."""
import numpy as np
import pytest


def _reference(x, w, b, eps):
    x64 = x.astype(np.float64)
    mean = x64.mean(1)
    rstd = 1.0 / np.sqrt(((x64 - mean[:, None]) ** 2).mean(1) + eps)
    y = (x64 - mean[:, None]) * rstd[:, None]
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y, mean, rstd


@pytest.mark.parametrize("rows, cols, affine", [(1, 1, True), (5, 33, True), (9, 100, False), (0, 7, True),
                                                (3, 257, True)])
def test_layer_norm_rows_forward(target, rows, cols, affine):
    rng = np.random.default_rng(rows * 1000 + cols)
    x = (rng.standard_normal((rows, cols)) * 3 + 50).astype(np.float32)  # |mean| >> std: no cancellation
    w = rng.standard_normal(cols).astype(np.float32) if affine else None
    b = rng.standard_normal(cols).astype(np.float32) if affine else None
    y = target.empty((rows, cols), np.float32)
    mean, rstd = target.empty(rows, np.float32), target.empty(rows, np.float32)
    dev = target.to_device
    target.native.layer_norm_rows_f32(dev(x), None if w is None else dev(w), None if b is None else dev(b),
                                      y, mean, rstd, 1e-5, device=0, stream=target.stream)
    want_y, want_mean, want_rstd = _reference(x, w, b, 1e-5)
    np.testing.assert_allclose(target.to_host(y), want_y, rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(target.to_host(mean), want_mean, rtol=1e-6)
    np.testing.assert_allclose(target.to_host(rstd), want_rstd, rtol=1e-5)


def test_layer_norm_rows_checks_its_arguments(target):
    x = target.to_device(np.ones((2, 3), np.float32))
    y, m, r = target.empty((2, 3), np.float32), target.empty(2, np.float32), target.empty(2, np.float32)
    f = target.native.layer_norm_rows_f32
    with pytest.raises(TypeError, match="layer_norm_rows_f32: x must be a CUDA device array"):
        f(np.ones((2, 3), np.float32), None, None, y, m, r, 1e-5)
    with pytest.raises(TypeError, match="layer_norm_rows_f32: x must be float32, got float64"):
        f(target.to_device(np.ones((2, 3))), None, None, y, m, r, 1e-5)
    with pytest.raises(ValueError, match=r"layer_norm_rows_f32: weight must have shape \(3,\), got \(4,\)"):
        f(x, target.to_device(np.ones(4, np.float32)), None, y, m, r, 1e-5)
    with pytest.raises(ValueError, match=r"layer_norm_rows_f32: y must have shape \(2, 3\)"):
        f(x, None, None, target.empty((3, 2), np.float32), m, r, 1e-5)
    with pytest.raises(ValueError, match="rows of no columns"):
        f(target.to_device(np.ones((2, 0), np.float32)), None, None, target.empty((2, 0), np.float32), m, r, 1e-5)
