"""The class-index losses against torch 2.13: nll_loss, cross_entropy (indices incl. (N, C, d1, ...) and
probabilities; weight, ignore_index, label_smoothing; the all-ignored batch) and multi_margin_loss, in
every reduction and float32/float64, with torch's errors for bad targets and weights."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F
from loss_helpers import DTYPES, REDUCTIONS, compare, labels, probs, rand

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.torch


# ---- nll_loss and cross_entropy with class indices -----------------------------------------------------

CLASS_SHAPES = [((6, 5), (6,)), ((3, 4, 2, 3), (3, 2, 3)), ((7,), ())]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CLASS_SHAPES)
@pytest.mark.parametrize("weighted,ignore", [(False, -100), (True, -100), (False, 1), (True, 2)])
def test_nll_loss(shapes, reduction, dtype, weighted, ignore):
    rng = np.random.default_rng(7)
    xs, ts = shapes
    c = xs[0] if len(xs) == 1 else xs[1]
    x = np.log(probs(rng, xs, dtype, axis=0 if len(xs) == 1 else 1))
    t = labels(rng, ts, c, None if len(xs) == 1 else ignore)
    w = rand(rng, (c,), dtype, 0.2, 2.0)

    def kw(lib):
        return {"weight": lib.tensor(w)} if weighted else {}

    compare(lambda a, b: F.nll_loss(a, b, reduction=reduction, ignore_index=ignore, **kw(fastnn)),
            lambda a, b: TF.nll_loss(a, b, reduction=reduction, ignore_index=ignore, **kw(torch)), [x, t], [0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CLASS_SHAPES + [((33, 17), (33,))])
@pytest.mark.parametrize("weighted,ignore,ls", [(False, -100, 0.0), (True, -100, 0.0), (True, 3, 0.0),
                                                (True, -100, 0.2), (True, 1, 0.15), (False, 2, 0.3),
                                                (True, -100, 1.0)])
def test_cross_entropy_indices(shapes, reduction, dtype, weighted, ignore, ls):
    rng = np.random.default_rng(8)
    xs, ts = shapes
    c = xs[0] if len(xs) == 1 else xs[1]
    x = rand(rng, xs, dtype, -4, 4)
    t = labels(rng, ts, c, None if len(xs) == 1 else ignore)
    w = rand(rng, (c,), dtype, 0.2, 2.0)

    def kw(lib):
        return {"weight": lib.tensor(w)} if weighted else {}

    compare(lambda a, b: F.cross_entropy(a, b, reduction=reduction, ignore_index=ignore, label_smoothing=ls,
                                         **kw(fastnn)),
            lambda a, b: TF.cross_entropy(a, b, reduction=reduction, ignore_index=ignore, label_smoothing=ls,
                                          **kw(torch)), [x, t], [0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,ls", [(False, 0.0), (True, 0.0), (True, 0.25)])
def test_cross_entropy_probabilities(reduction, dtype, weighted, ls):
    rng = np.random.default_rng(9)
    x, p = rand(rng, (4, 6, 3), dtype, -3, 3), probs(rng, (4, 6, 3), dtype)
    w = rand(rng, (6,), dtype, 0.2, 2.0)

    def kw(lib):
        return {"weight": lib.tensor(w)} if weighted else {}

    compare(lambda a, b: F.cross_entropy(a, b, reduction=reduction, label_smoothing=ls, **kw(fastnn)),
            lambda a, b: TF.cross_entropy(a, b, reduction=reduction, label_smoothing=ls, **kw(torch)), [x, p], [0, 1])


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("weighted,ls", [(False, 0.0), (True, 0.0), (True, 0.1), (False, 0.1)])
def test_all_ignored_batch(fn, weighted, ls):
    """Every target ignored: torch's 'mean' is 0/0 = nan, 'sum' is 0, and the input gradient is 0."""
    if fn == "nll_loss" and ls:
        pytest.skip("nll_loss has no label smoothing")
    x = np.random.default_rng(10).standard_normal((3, 4)).astype(np.float32)
    t = np.full(3, -100, np.int64)
    w = np.linspace(0.5, 2, 4).astype(np.float32)
    for red in REDUCTIONS:
        extra = {"label_smoothing": ls} if fn == "cross_entropy" else {}

        def kw(lib):
            return {"weight": lib.tensor(w)} if weighted else {}

        out = compare(lambda a, b: getattr(F, fn)(a, b, reduction=red, **kw(fastnn), **extra),
                      lambda a, b: getattr(TF, fn)(a, b, reduction=red, **kw(torch), **extra), [x, t], [0])
        if red == "mean":
            assert np.isnan(out.item())


def test_cross_entropy_module_uses_the_kernel_gradient_for_large_logits():
    """Logits near 1e4 in float32 (where a naive log(softmax) loses everything): weighted + smoothed."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((8, 10)) * 3 + 1e4).astype(np.float32)
    t = labels(rng, (8,), 10)
    w = rand(rng, (10,), np.float32, 0.5, 1.5)
    compare(lambda a, b: nn.CrossEntropyLoss(weight=fastnn.tensor(w), label_smoothing=0.1)(a, b),
            lambda a, b: torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1)(a, b), [x, t], [0],
            atol=1e-4, rtol=1e-4)


def test_class_index_errors():
    x = fastnn.randn(3, 4)
    with pytest.raises(IndexError, match="Target 5 is out of bounds"):
        F.nll_loss(x, fastnn.tensor([0, 1, 5]))
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        F.nll_loss(x, fastnn.tensor([0, -1, 1]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 5]), weight=fastnn.ones(4))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 5]), label_smoothing=0.1)
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.nll_loss(x, fastnn.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"Expected target size \[2, 4\], got \[2, 5\]"):
        F.nll_loss(fastnn.randn(2, 3, 4), fastnn.tensor(np.zeros((2, 5), np.int64)))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2]), weight=fastnn.ones(3))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes"):
        F.nll_loss(x, fastnn.tensor([0, 1, 2]), weight=fastnn.ones(3))
    with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2]), weight=fastnn.ones(4, dtype=fastnn.float64))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long"):
        F.nll_loss(x, fastnn.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        F.cross_entropy(x, fastnn.rand(3, 4), ignore_index=0)
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2]), weight=fastnn.ones(4, requires_grad=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin,weighted", [(1, 1.0, False), (2, 1.0, False), (1, 0.5, True), (2, 2.0, True)])
@pytest.mark.parametrize("shapes", [((5, 7), (5,)), ((4,), ()), ((1, 3), (1,))])
def test_multi_margin_loss(shapes, reduction, dtype, p, margin, weighted):
    rng = np.random.default_rng(12)
    xs, ts = shapes
    x = rand(rng, xs, dtype, -1.5, 1.5)
    t = labels(rng, ts, xs[-1])
    w = rand(rng, (xs[-1],), dtype, 0.2, 2.0)

    def kw(lib):
        return {"weight": lib.tensor(w)} if weighted else {}

    compare(lambda a, b: F.multi_margin_loss(a, b, p=p, margin=margin, reduction=reduction, **kw(fastnn)),
            lambda a, b: TF.multi_margin_loss(a, b, p=p, margin=margin, reduction=reduction, **kw(torch)),
            [x, t], [0])


def test_multi_margin_errors():
    x = fastnn.randn(3, 4)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, fastnn.tensor([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(x, fastnn.tensor([0, 1, 4]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[3\], but got \[2\]"):
        F.multi_margin_loss(x, fastnn.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="inconsistent weight size, expected 4 but got \\[3\\]"):
        F.multi_margin_loss(x, fastnn.tensor([0, 1, 2]), weight=fastnn.ones(3))
    with pytest.raises(RuntimeError, match="Expected non-empty vector or matrix"):
        F.multi_margin_loss(fastnn.randn(3, 4, 2), fastnn.tensor([0, 1, 2]))
