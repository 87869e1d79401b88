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


def _backward_reference(x, g, w):
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    cols = x.shape[1]
    if cols == 0:  # rows of no columns: nothing to normalise (the statistics are not read)
        return g64, np.zeros(0), np.zeros(0), np.zeros(x.shape[0]), np.ones(x.shape[0])
    mean = x64.mean(1, keepdims=True)
    rstd = 1.0 / np.sqrt(((x64 - mean) ** 2).mean(1, keepdims=True) + 1e-5)
    xhat = (x64 - mean) * rstd
    gw = g64 if w is None else g64 * w
    dx = rstd * (gw - gw.mean(1, keepdims=True) - xhat * (gw * xhat).mean(1, keepdims=True))
    return dx, (g64 * xhat).sum(0), g64.sum(0), mean[:, 0], rstd[:, 0]


@pytest.mark.parametrize("rows, cols, affine", [(1, 1, True), (5, 33, True), (9, 100, False), (0, 7, True),
                                                (70, 40, True), (3, 0, True)])
def test_layer_norm_rows_backward(target, rows, cols, affine):
    rng = np.random.default_rng(rows * 31 + cols)
    x = (rng.standard_normal((rows, cols)) * 2 + 5).astype(np.float32)
    g = rng.standard_normal((rows, cols)).astype(np.float32)
    w = rng.standard_normal(cols).astype(np.float32) if affine else None
    want_dx, want_dw, want_db, mean, rstd = _backward_reference(x, g, w)
    dev = target.to_device
    dx, dw, db = target.empty((rows, cols), np.float32), target.empty(cols, np.float32), target.empty(cols, np.float32)
    scratch = target.empty(target.native.layer_norm_rows_backward_scratch(rows, cols), np.float32)
    target.native.layer_norm_rows_backward_f32(dev(x), dev(g), dev(mean.astype(np.float32)),
                                               dev(rstd.astype(np.float32)), None if w is None else dev(w), dx, dw,
                                               db, scratch, device=0, stream=target.stream)
    tol = 1e-5 * (rows + 1)
    np.testing.assert_allclose(target.to_host(dx), want_dx, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(target.to_host(dw), want_dw, rtol=1e-5, atol=tol)
    np.testing.assert_allclose(target.to_host(db), want_db, rtol=1e-5, atol=tol)


def test_layer_norm_rows_backward_outputs_are_optional_and_deterministic(target):
    rng = np.random.default_rng(8)
    rows, cols = 300, 37  # 10 strips of rows
    x, g = (rng.standard_normal((rows, cols)).astype(np.float32) for _ in range(2))
    _, want_dw, _, mean, rstd = _backward_reference(x, g, None)
    dev = target.to_device
    args = [dev(x), dev(g), dev(mean.astype(np.float32)), dev(rstd.astype(np.float32)), None]
    n_scratch = target.native.layer_norm_rows_backward_scratch(rows, cols)
    assert n_scratch == 2 * 10 * cols
    results = []
    for _ in range(2):
        dw = target.empty(cols, np.float32)
        target.native.layer_norm_rows_backward_f32(*args, None, dw, None, target.empty(n_scratch, np.float32),
                                                   stream=target.stream)
        results.append(target.to_host(dw))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], want_dw, rtol=1e-5, atol=1e-4)
    dx = target.empty((rows, cols), np.float32)
    target.native.layer_norm_rows_backward_f32(*args, dx, None, None, None, stream=target.stream)
    assert np.isfinite(target.to_host(dx)).all()
    with pytest.raises(ValueError, match="dweight / dbias need scratch of 740 float32"):
        target.native.layer_norm_rows_backward_f32(*args, None, None, target.empty(cols, np.float32), None)
    with pytest.raises(ValueError, match=r"layer_norm_rows_backward_f32: scratch must have shape \(740,\)"):
        target.native.layer_norm_rows_backward_f32(*args, None, dw, None, target.empty(10, np.float32))
    with pytest.raises(ValueError, match=r"layer_norm_rows_backward_f32: rstd must have shape \(300,\)"):
        target.native.layer_norm_rows_backward_f32(*args[:3], dev(np.ones(3, np.float32)), None, dx, None, None,
                                                   None)
    with pytest.raises(ValueError, match=r"layer_norm_rows_backward_f32: dx must have shape \(300, 37\)"):
        target.native.layer_norm_rows_backward_f32(*args, target.empty((2, 2), np.float32), None, None, None)


def test_a_missing_barrier_in_the_column_sums_is_caught():
    import fastnn._emu as emu
    from cuda_kernel_helpers import HostDeviceArray, planted_barrier
    rng = np.random.default_rng(4)
    rows, cols = 64, 40
    x, g = (rng.standard_normal((rows, cols)).astype(np.float32) for _ in range(2))
    _, want_dw, want_db, mean, rstd = _backward_reference(x, g, None)
    caught = set()
    with planted_barrier("layernorm.cu", "barrier: column partials"):
        for sched in emu.schedules():
            emu.set_schedule(sched, 3)
            dw, db = (HostDeviceArray(np.full(cols, np.nan, np.float32)) for _ in range(2))
            scratch = HostDeviceArray(np.full(emu.layer_norm_rows_backward_scratch(rows, cols), np.nan, np.float32))
            emu.layer_norm_rows_backward_f32(*(HostDeviceArray(a) for a in (x, g, mean.astype(np.float32),
                                                                            rstd.astype(np.float32))),
                                             None, None, dw, db, scratch)
            if not (np.allclose(dw.a, want_dw, atol=1e-4) and np.allclose(db.a, want_db, atol=1e-4)):
                caught.add(sched)
        assert emu.planted_barrier_hits() > 0
    emu.set_schedule("forward", 0)
    assert "random" in caught, caught
