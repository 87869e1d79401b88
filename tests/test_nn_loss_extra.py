"""The remaining torch.nn losses (ranking/embedding, multi-label, Poisson and Gaussian NLL), functional
and module forms, against torch 2.13: values and input gradients for every reduction, float64
gradchecks, and torch's argument errors."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F
from op_helpers import assert_close, gradcheck_op

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch
TF = torch.nn.functional
REDUCTIONS = ["none", "mean", "sum"]


def _pair(arr, grad=True):
    return fastnn.tensor(arr, requires_grad=grad), torch.tensor(arr, requires_grad=grad)


def compare(fn_name, float_args, other_args=(), kw=None, tol=None):
    """Runs F.<fn_name> and torch's on the same arrays; compares value and the float inputs' gradients."""
    kw = kw or {}
    ours, theirs = zip(*(_pair(a) for a in float_args)) if float_args else ((), ())
    o_other = [fastnn.tensor(a) for a in other_args]
    t_other = [torch.tensor(a) for a in other_args]
    yo = getattr(F, fn_name)(*ours, *o_other, **kw)
    yt = getattr(TF, fn_name)(*theirs, *t_other, **kw)
    atol, rtol = tol or (1e-12, 1e-10)
    assert_close(yo, yt.detach().numpy(), atol=atol, rtol=rtol, msg=f"{fn_name} {kw}")
    g = np.random.default_rng(9).standard_normal(tuple(yt.shape))
    yo.backward(fastnn.tensor(g))
    yt.backward(torch.tensor(g))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a.grad, b.grad.numpy(), atol=atol, rtol=rtol, msg=f"{fn_name} grad {i} {kw}")


rng = np.random.default_rng(0)
X1, X2, X3 = (rng.standard_normal((6, 5)) for _ in range(3))
SIGNS = np.where(rng.random(6) > 0.5, 1.0, -1.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ranking_and_embedding_losses(reduction):
    compare("margin_ranking_loss", [X1[:, 0], X2[:, 0]], [SIGNS], dict(margin=0.3, reduction=reduction))
    compare("cosine_embedding_loss", [X1, X2], [SIGNS], dict(margin=0.2, reduction=reduction))
    compare("cosine_embedding_loss", [X1[0], X2[0]], [np.array(SIGNS[0])], dict(reduction=reduction))
    compare("soft_margin_loss", [X1 * 10], [np.sign(X2)], dict(reduction=reduction))
    for kw in (dict(), dict(margin=0.5, p=1), dict(p=3, swap=True), dict(p=np.inf)):
        compare("triplet_margin_loss", [X1, X2, X3], (), dict(reduction=reduction, **kw))
    compare("triplet_margin_with_distance_loss", [X1, X2, X3], (), dict(reduction=reduction, swap=True))


def test_triplet_with_a_custom_distance_function():
    def l1(a, b):
        return (a - b).abs().sum(-1)

    ours = [fastnn.tensor(a, requires_grad=True) for a in (X1, X2, X3)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (X1, X2, X3)]
    yo = F.triplet_margin_with_distance_loss(*ours, distance_function=l1, margin=2.0)
    yt = TF.triplet_margin_with_distance_loss(*theirs, distance_function=l1, margin=2.0)
    assert_close(yo, yt.detach().numpy(), atol=1e-12, rtol=1e-10)
    yo.backward()
    yt.backward()
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad.numpy(), atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_losses(reduction):
    targets = (rng.random((6, 5)) > 0.5).astype(np.float64)
    compare("multilabel_soft_margin_loss", [X1 * 5], [targets], dict(reduction=reduction))
    w = rng.uniform(0.5, 2, 5)
    ours = F.multilabel_soft_margin_loss(fastnn.tensor(X1), fastnn.tensor(targets), weight=fastnn.tensor(w),
                                         reduction=reduction)
    theirs = TF.multilabel_soft_margin_loss(torch.tensor(X1), torch.tensor(targets), weight=torch.tensor(w),
                                            reduction=reduction)
    assert_close(ours, theirs.numpy(), atol=1e-12, rtol=1e-10)
    # multilabel_margin: target rows list class indices, ended by -1; repeated and empty lists included
    idx = np.array([[3, 0, -1, 1, 1], [1, 1, 2, -1, 0], [-1, 2, 2, 2, 2], [4, 3, 2, 1, 0], [0, -1, -1, -1, -1],
                    [2, 4, -1, 3, 3]], np.int64)
    compare("multilabel_margin_loss", [X1], [idx], dict(reduction=reduction))
    compare("multilabel_margin_loss", [X1[0]], [idx[0]], dict(reduction=reduction))


def test_multilabel_margin_gradcheck_and_errors():
    idx = fastnn.tensor(np.array([[3, 0, -1, 1], [1, 2, -1, 0]], np.int64))
    gradcheck_op(lambda x: F.multilabel_margin_loss(x, idx, reduction="sum"), (2, 4))
    with pytest.raises(RuntimeError, match="inconsistent target size"):
        F.multilabel_margin_loss(fastnn.ones(2, 4), fastnn.tensor(np.zeros((2, 3), np.int64)))
    with pytest.raises(RuntimeError, match="target index out of range"):
        F.multilabel_margin_loss(fastnn.ones(1, 4), fastnn.tensor(np.array([[7, -1, 0, 0]], np.int64)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_likelihood_losses(reduction):
    counts = rng.poisson(3, (6, 5)).astype(np.float64)
    for kw in (dict(), dict(full=True), dict(log_input=False), dict(log_input=False, full=True, eps=1e-4)):
        x = X1 if kw.get("log_input", True) else np.abs(X1) + 0.1
        compare("poisson_nll_loss", [x], [counts], dict(reduction=reduction, **kw))
    var = rng.uniform(0.05, 2, (6, 5))
    var[0, 0] = 1e-9  # below eps: clamped in value, its gradient passed through
    for v in (var, var[:, :1], var[:, 0]):
        for kw in (dict(), dict(full=True, eps=1e-3)):
            compare("gaussian_nll_loss", [X1, X2, v], (), dict(reduction=reduction, **kw))


def test_gaussian_nll_errors():
    x = fastnn.ones(3, 2)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(x, x, fastnn.ones(2, 2))
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(x, x, -fastnn.ones(3, 2))


def test_gradchecks():
    gradcheck_op(lambda a, b, c: F.triplet_margin_loss(a, b, c, swap=True), (4, 3), (4, 3), (4, 3))
    gradcheck_op(lambda a, b: F.cosine_embedding_loss(a, b, fastnn.tensor([1.0, -1.0, 1.0], dtype=fastnn.float64),
                                                      margin=-0.5), (3, 4), (3, 4))
    gradcheck_op(lambda a, v: F.gaussian_nll_loss(a, fastnn.zeros(3, 2, dtype=fastnn.float64), v + 3, full=True),
                 (3, 2), (3, 2))
    gradcheck_op(lambda a: F.poisson_nll_loss(a, fastnn.tensor([[1.0, 4.0]], dtype=fastnn.float64), full=True), (1, 2))


MODULES = [
    ("MarginRankingLoss", dict(margin=0.1), 3), ("CosineEmbeddingLoss", dict(margin=0.1), 3),
    ("SoftMarginLoss", {}, 2), ("MultiLabelSoftMarginLoss", {}, 2), ("TripletMarginLoss", dict(p=1.5), 3),
    ("TripletMarginWithDistanceLoss", dict(margin=0.5), 3), ("PoissonNLLLoss", dict(full=True), 2),
    ("GaussianNLLLoss", dict(full=True), 3),
]


@pytest.mark.parametrize("cls,kw,n", MODULES, ids=[m[0] for m in MODULES])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_modules_match_torch(cls, kw, n, reduction):
    pos = np.abs(X2) + 0.1
    args = {"MarginRankingLoss": [X1[:, 0], X2[:, 0], SIGNS], "CosineEmbeddingLoss": [X1, X2, SIGNS],
            "SoftMarginLoss": [X1, np.sign(X2)], "MultiLabelSoftMarginLoss": [X1, (X2 > 0) * 1.0],
            "TripletMarginLoss": [X1, X2, X3], "TripletMarginWithDistanceLoss": [X1, X2, X3],
            "PoissonNLLLoss": [X1, np.round(pos * 3)], "GaussianNLLLoss": [X1, X2, pos]}[cls]
    ours, theirs = getattr(nn, cls)(reduction=reduction, **kw), getattr(torch.nn, cls)(reduction=reduction, **kw)
    assert repr(ours) == repr(theirs)
    yo = ours(*[fastnn.tensor(a) for a in args[:n]])
    yt = theirs(*[torch.tensor(a) for a in args[:n]])
    assert_close(yo, yt.numpy(), atol=1e-12, rtol=1e-10)


def test_module_argument_errors_match_torch():
    for lib, ones in ((nn, fastnn.ones), (torch.nn, torch.ones)):
        with pytest.raises(ValueError, match="expected margin to be greater than 0"):
            lib.TripletMarginLoss(margin=0.0)
        with pytest.raises(ValueError, match="is not a valid value for reduction"):
            lib.SoftMarginLoss(reduction="avg")(ones(2), ones(2))


def test_distance_modules_match_torch():
    a, b = X1, X2
    for cls, kw in (("PairwiseDistance", {}), ("PairwiseDistance", dict(p=1.0, keepdim=True)),
                    ("CosineSimilarity", {}), ("CosineSimilarity", dict(dim=0, eps=1e-3))):
        ours, theirs = getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw)
        assert_close(ours(fastnn.tensor(a), fastnn.tensor(b)), theirs(torch.tensor(a), torch.tensor(b)).numpy(),
                     atol=1e-12, rtol=1e-10)
    gradcheck_op(lambda u, v: F.cosine_similarity(u, v, dim=1), (3, 4), (3, 4))
    gradcheck_op(lambda u, v: F.pairwise_distance(u, v, p=3), (3, 4), (3, 4))
