"""Every loss of fastnn.nn (functional and module) against torch 2.13 in every reduction, float32 and
float64: the value, the input gradient and the target gradient where torch gives one; float64 gradcheck
of each loss op; torch's errors for bad input. The class-index losses (nll_loss, cross_entropy,
multi_margin_loss) are in test_nn_loss_class.py."""
import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F
from fastnn.autograd import gradcheck
from loss_helpers import DTYPES, REDUCTIONS, compare, probs, rand

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.torch


# ---- regression losses --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {}),
                                     ("huber_loss", {"delta": 0.6}), ("smooth_l1_loss", {}),
                                     ("smooth_l1_loss", {"beta": 0.4}), ("smooth_l1_loss", {"beta": 0.0})])
@pytest.mark.parametrize("shape", [(3, 5, 2), (7,), ()])
def test_regression_losses(name, kw, reduction, dtype, shape):
    rng = np.random.default_rng(1)
    x, y = rand(rng, shape, dtype), rand(rng, shape, dtype)
    compare(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kw),
            lambda a, b: getattr(TF, name)(a, b, reduction=reduction, **kw), [x, y], [0, 1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_regression_losses_weighted(name, reduction):
    rng = np.random.default_rng(2)
    x, y, w = rand(rng, (4, 3), np.float64), rand(rng, (4, 3), np.float64), rand(rng, (4, 3), np.float64, 0.1, 2)
    # torch's weighted forms are plain autograd graphs: the weight gets a gradient too.
    compare(lambda a, b, c: getattr(F, name)(a, b, reduction=reduction, weight=c),
            lambda a, b, c: getattr(TF, name)(a, b, reduction=reduction, weight=c), [x, y, w], [0, 1, 2])
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        getattr(F, name)(fastnn.tensor(x), fastnn.tensor(y), weight=fastnn.tensor(w[0]))


def test_regression_broadcast_warns_like_torch():
    rng = np.random.default_rng(3)
    x, y = rand(rng, (3, 4), np.float32), rand(rng, (4,), np.float32)
    with pytest.warns(UserWarning, match="different to the input size"):
        compare(lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), [x, y], [0, 1])
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="must match the size"):
        F.l1_loss(fastnn.tensor(x), fastnn.tensor(np.zeros(5, np.float32)))
    # float32 with float64 promotes as torch does
    compare(lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), [x, x.astype(np.float64) + 1], [0])


def test_regression_errors():
    x = fastnn.randn(3)
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    assert np.isnan(F.mse_loss(fastnn.zeros(0), fastnn.zeros(0)).item())  # torch: nan mean of nothing


# ---- binary cross-entropy -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(reduction, dtype, weighted):
    rng = np.random.default_rng(4)
    x, y = rand(rng, (5, 3), dtype, 0.02, 0.98), rand(rng, (5, 3), dtype, 0, 1)
    w = rand(rng, (3,), dtype, 0.2, 2.0)
    kw = lambda lib, c: {"weight": lib.tensor(w)} if weighted else {}  # noqa: E731
    compare(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction, **kw(fastnn, w)),
            lambda a, b: TF.binary_cross_entropy(a, b, reduction=reduction, **kw(torch, w)), [x, y], [0, 1])


def test_bce_log_clamp_at_edges():
    """x = 0 or 1 with the matching target: torch clamps the logs at -100, so the loss stays finite and
    the input gradient uses its 1e-12 floor; the target gradient is +-inf there."""
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5], np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.0, 0.3], np.float32)
    for red in REDUCTIONS:
        compare(lambda a, b: F.binary_cross_entropy(a, b, reduction=red),
                lambda a, b: TF.binary_cross_entropy(a, b, reduction=red), [x, y], [0, 1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight,pos_weight", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits(reduction, dtype, weight, pos_weight):
    rng = np.random.default_rng(5)
    x, y = rand(rng, (4, 2, 3), dtype, -30, 30), rand(rng, (4, 2, 3), dtype, 0, 1)  # far tails: stable log-sigmoid
    w, pw = rand(rng, (2, 1), dtype, 0.2, 2), rand(rng, (3,), dtype, 0.2, 3)

    def kw(lib):
        d = {}
        if weight:
            d["weight"] = lib.tensor(w)
        if pos_weight:
            d["pos_weight"] = lib.tensor(pw)
        return d

    compare(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction, **kw(fastnn)),
            lambda a, b: TF.binary_cross_entropy_with_logits(a, b, reduction=reduction, **kw(torch)), [x, y], [0, 1])


def test_bce_errors():
    x, y = fastnn.rand(3), fastnn.rand(3)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(fastnn.tensor([0.5, 1.5]), fastnn.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(fastnn.tensor([0.5, float("nan")]), fastnn.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(fastnn.tensor([0.5]), fastnn.tensor([1.5]))
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(x, fastnn.rand(3, 1))
    with pytest.raises(ValueError, match=r"Target size \(torch.Size\(\[3, 1\]\)\) must be the same as input size"):
        F.binary_cross_entropy_with_logits(x, fastnn.rand(3, 1))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        F.binary_cross_entropy(x, y, weight=fastnn.rand(3, requires_grad=True))
    with pytest.raises(RuntimeError, match="not broadcastable"):
        F.binary_cross_entropy(fastnn.rand(3, 4), fastnn.rand(3, 4), weight=fastnn.rand(3))
    with pytest.raises(RuntimeError, match="expected Float"):
        F.binary_cross_entropy(x, y.double())


# ---- kl_div -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, dtype, log_target):
    rng = np.random.default_rng(6)
    x = np.log(probs(rng, (4, 5), dtype))
    t = probs(rng, (4, 5), dtype)
    t = np.log(t) if log_target else t
    ctx = pytest.warns(UserWarning, match="batchmean") if reduction == "mean" else _nullcontext()
    with ctx:
        compare(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target), [x, t], [0, 1])


def test_kl_div_zero_target_gives_torchs_nan_target_grad():
    x = np.log(np.array([0.2, 0.3, 0.5]))
    t = np.array([0.0, 0.5, 0.5])
    compare(lambda a, b: F.kl_div(a, b, reduction="sum"), lambda a, b: TF.kl_div(a, b, reduction="sum"), [x, t], [0, 1])


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ---- hinge losses -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_hinge_embedding_loss(reduction, dtype, margin):
    rng = np.random.default_rng(13)
    x = rand(rng, (6, 5), dtype, -2, 2)
    y = np.where(rng.random((6, 5)) < 0.5, -1.0, 1.0).astype(dtype)
    y[0, :2] = 0.5  # neither 1 nor -1: torch adds both terms
    compare(lambda a, b: F.hinge_embedding_loss(a, b, margin=margin, reduction=reduction),
            lambda a, b: TF.hinge_embedding_loss(a, b, margin=margin, reduction=reduction), [x, y], [0])


# ---- gradcheck of every loss op ---------------------------------------------------------------------

def _gc(fn, *arrays):
    ts = [fastnn.tensor(a, requires_grad=a.dtype == np.float64) for a in arrays]
    assert gradcheck(fn, ts)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_all_losses(reduction):
    rng = np.random.default_rng(14)
    r = reduction
    x, y = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (3, 4))
    w = rng.uniform(0.2, 2, (3, 4))
    _gc(lambda a, b: F.mse_loss(a, b, reduction=r), x, y)
    _gc(lambda a, b, c: F.mse_loss(a, b, reduction=r, weight=c), x, y, w)
    _gc(lambda a, b: F.l1_loss(a, b, reduction=r), x, y)
    _gc(lambda a, b: F.huber_loss(a, b, reduction=r, delta=0.8), x, y)
    _gc(lambda a, b: F.smooth_l1_loss(a, b, reduction=r, beta=0.7), x, y)
    pr = rng.uniform(0.05, 0.95, (3, 4))
    _gc(lambda a, b: F.binary_cross_entropy(a, b, reduction=r, weight=fastnn.tensor(w)), pr, rng.uniform(0, 1, (3, 4)))
    _gc(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=r, weight=fastnn.tensor(w),
                                                        pos_weight=fastnn.tensor(w[0])), x, rng.uniform(0, 1, (3, 4)))
    _gc(lambda a, b: F.kl_div(a, b, reduction=r), np.log(pr), pr[::-1].copy())
    _gc(lambda a, b: F.kl_div(a, b, reduction=r, log_target=True), np.log(pr), np.log(pr[::-1].copy()))
    t = np.array([0, 3, -100], np.int64)
    cw = rng.uniform(0.2, 2, 4)
    _gc(lambda a: F.nll_loss(a, fastnn.tensor(t), weight=fastnn.tensor(cw), reduction=r), x)
    _gc(lambda a: F.cross_entropy(a, fastnn.tensor(t), weight=fastnn.tensor(cw), label_smoothing=0.2,
                                  reduction=r), x)
    _gc(lambda a: F.cross_entropy(a, fastnn.tensor(t), weight=fastnn.tensor(cw), reduction=r), x)
    x4 = rng.uniform(-2, 2, (2, 4, 3))
    t4 = np.array([[0, 3, -100], [1, 2, 2]], np.int64)
    _gc(lambda a: F.cross_entropy(a, fastnn.tensor(t4), weight=fastnn.tensor(cw), label_smoothing=0.1,
                                  reduction=r), x4)
    _gc(lambda a, b: F.cross_entropy(a, b, weight=fastnn.tensor(cw), label_smoothing=0.1, reduction=r), x,
        rng.uniform(0, 1, (3, 4)))
    # hinge kinks: keep margin - x_y + x_j away from 0
    xm = np.array([[0.1, 2.0, -0.7, 0.45], [1.3, -0.2, 0.6, 0.0], [0.25, 0.9, -1.4, 2.2]])
    for p in (1, 2):
        _gc(lambda a: F.multi_margin_loss(a, fastnn.tensor([1, 0, 3]), p=p, weight=fastnn.tensor(cw), reduction=r),
            xm)
    _gc(lambda a: F.hinge_embedding_loss(a, fastnn.tensor(np.sign(y)), margin=0.55, reduction=r), xm)


# ---- modules --------------------------------------------------------------------------------------------

def _module_cases(rng):
    x, y = rand(rng, (4, 3), np.float32), rand(rng, (4, 3), np.float32)
    pr, tp = rand(rng, (4, 3), np.float32, 0.05, 0.95), rand(rng, (4, 3), np.float32, 0, 1)
    logp = np.log(probs(rng, (4, 3), np.float32))
    t = np.array([0, 2, 1, -100], np.int64)
    w = np.array([0.5, 2.0, 1.5], np.float32)
    pm = np.sign(y).astype(np.float32)
    return [
        ("MSELoss", {}, [x, y]), ("L1Loss", {"reduction": "sum"}, [x, y]),
        ("HuberLoss", {"delta": 0.5}, [x, y]), ("SmoothL1Loss", {"beta": 0.3, "reduction": "none"}, [x, y]),
        ("KLDivLoss", {"reduction": "batchmean", "log_target": False}, [logp, tp]),
        ("NLLLoss", {"weight": w, "ignore_index": -100}, [logp, t]),
        ("CrossEntropyLoss", {"weight": w, "label_smoothing": 0.1}, [x, t]),
        ("CrossEntropyLoss", {"reduction": "none", "ignore_index": 1}, [x, np.array([0, 1, 2, 1])]),
        ("BCELoss", {"weight": w}, [pr, tp]),
        ("BCEWithLogitsLoss", {"weight": w, "pos_weight": w[::-1].copy()}, [x, tp]),
        ("MultiMarginLoss", {"p": 2, "margin": 0.7, "weight": w}, [x, np.array([0, 2, 1, 1])]),
        ("HingeEmbeddingLoss", {"margin": 0.4}, [x, pm]),
    ]


def test_modules_match_torch_and_share_state_dict_keys():
    rng = np.random.default_rng(15)
    for name, kw, arrays in _module_cases(rng):
        ours = getattr(nn, name)(**{k: fastnn.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()})
        theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                            for k, v in kw.items()})
        assert list(ours.state_dict()) == list(theirs.state_dict()), name
        assert repr(ours) == repr(theirs), name
        assert ours.reduction == theirs.reduction
        diff = [0, 1] if arrays[1].dtype.kind == "f" and name not in ("HingeEmbeddingLoss",) else [0]
        compare(ours, theirs, arrays, diff)
    # weight is a buffer: it follows .double() and round-trips through state_dict
    m = nn.CrossEntropyLoss(weight=fastnn.tensor([1.0, 2.0]))
    m.load_state_dict({"weight": torch.tensor([3.0, 4.0]).numpy()})
    assert m.weight.tolist() == [3.0, 4.0]
    assert m.double().weight.dtype == fastnn.float64
    assert nn.MSELoss().state_dict() == {} and nn.CrossEntropyLoss().state_dict() == {}


def test_module_legacy_reduction_args():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        m = nn.MSELoss(size_average=False)
    assert m.reduction == "sum"
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        nn.L1Loss(reduction="bad")(fastnn.randn(2), fastnn.randn(2))
