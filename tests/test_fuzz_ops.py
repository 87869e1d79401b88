"""Fuzzes fastnn's main public ops with hostile arguments, each case beside torch 2.13 on the same arguments.

Per case (tests/fuzz_cases_ops.py:differential, run in FuzzRunner's worker):
- both raise -> fastnn's error must be clear (fuzz_harness.is_clear: a clear type naming the op or carrying
  torch's wording);
- torch returns, fastnn raises -> "rejected" (a failure unless GAPS documents it);
- torch raises, fastnn returns -> "silent garbage" (a failure unless GAPS documents it);
- both return but shape, dtype or values differ -> "differs";
- the worker died or overran -> "crash" / "hang".

FASTNN_FUZZ_EXAMPLES raises the example count (default: a few dozen per family, derandomized). With
FASTNN_FUZZ_REPORT=<file> nothing fails: every verdict is counted and written to that JSON file (how the
before/after figures of issue 14 were taken).
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import functools
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_cases_ops import ArraySpec, TensorSpec
from fuzz_harness import Outcome, FuzzRunner, fuzz_settings, is_clear

CASE = "fuzz_cases_ops:differential"
REPORT = os.environ.get("FASTNN_FUZZ_REPORT")
COUNTS: collections.Counter = collections.Counter()
EXAMPLES: dict = collections.defaultdict(list)



def _huge_int(args, kwargs) -> bool:
    """Some integer argument at or beyond 2**62 (the int64-overflow probes)."""
    def walk(v):
        if isinstance(v, bool):
            return False
        if isinstance(v, int):
            return abs(v) >= 2 ** 62
        if isinstance(v, (list, tuple)):
            return any(walk(x) for x in v)
        return False
    return walk(args) or walk(list(kwargs.values()))


def _big_fill(args, kwargs) -> bool:
    return any(isinstance(a, TensorSpec) and a.fill == "big" for a in args)


# Where fastnn knowingly answers otherwise than torch: (op, verdict, when(args, kwargs), why).
GAPS = [
    ("unfold", "rejected", _huge_int, "torch's own int64 overflow: with a 2**62 kernel torch computes a block count "
     "that wrapped and returns a (1, 0, L) garbage shape; fastnn refuses the window with the sizes named"),
    ("fold", "unclear", _huge_int, "torch's message is an internal one (\"SymIntArrayRef expected to contain only "
     "concrete integers\"); fastnn's names the sizes and the op"),
    ("take_along_dim", "rejected", lambda a, k: True, "torch 2.13's take_along_dim does not check its indices "
     "(an index of 6 into 4 elements reads whatever lies there); fastnn raises gather's IndexError"),
    ("layer_norm", "rejected", lambda a, k: k.get("eps", 0) < 0, "fastnn refuses a negative eps (ValueError) where "
     "torch computes rsqrt(var + eps) and returns NaN"),
    ("cross_entropy", "rejected", lambda a, k: "weight" in k and not 0 <= k.get("label_smoothing", 0) <= 1,
     "torch checks label_smoothing's range only on its unweighted path"),
    ("matmul", "rejected", lambda a, k: any(0 in s.shape for s in a if isinstance(s, TensorSpec)),
     "torch's bmm skips its dtype check when the product is empty and promotes; fastnn wants one dtype"),
    *[(op, "rejected", _huge_int, "an empty tensor whose other sizes overflow int64 in bytes, e.g. (2**62, 0): "
       "torch describes it, NumPy's arrays cannot; fastnn says so") for op in ("zeros", "ones", "empty", "full",
                                                                              "rand", "randn")],
    ("layer_norm", "garbage", lambda a, k: len(a) > 1 and isinstance(a[1], int), "F.layer_norm takes an int "
     "normalized_shape as nn.LayerNorm does (fastnn's Keras layer relies on it); torch's functional wants a tuple"),
    ("RMSprop", "differs", lambda a, k: k.get("centered") and isinstance(k.get("alpha"), float) and k["alpha"] < 1e-30,
     "centered RMSprop with alpha ~ 0 divides by g*g - g*g, pure rounding noise (torch's fused addcmul rounds "
     "otherwise)"),
    ("layer_norm", "differs", _big_fill, "rows near float32's limit: the numerics engineer owns layer_norm there "
     "(issue 14, item 5: NaN on a row of 3.4e38)"),
    ("cross_entropy", "differs", _big_fill, "logits at float32's limit: the numerics engineer owns cross_entropy "
     "there (issue 14, item 5)"),
    ("prod", "garbage", lambda a, k: isinstance(k.get("dim"), (tuple, list)), "fastnn's prod takes a tuple of "
     "dims, as its sum and mean do (its own tests rely on it); torch 2.13's prod takes one int"),
    ("linear", "differs", _big_fill, "float32 sums near 3.4e38 overflow at different points in another summation "
     "order (the GEMM's blocking); the numerics engineer owns values at float32 extremes"),
]


def _gap(op: str, verdict: str, args, kwargs):
    return next((why for name, v, when, why in GAPS if name == _short(op) and v == verdict and when(args, kwargs)),
                None)


@pytest.fixture(scope="module")
def run():
    with FuzzRunner(timeout_s=20.0) as runner:
        yield runner


def _write_report():
    if REPORT:
        with open(REPORT, "w") as f:
            json.dump({"counts": dict(COUNTS), "examples": dict(EXAMPLES)}, f,
                      indent=1, default=str)


atexit.register(_write_report)


def _short(op: str) -> str:
    return op.partition(".")[2].rstrip("_")


def classify(outcome: Outcome, op: str) -> str:
    """The verdict on one case: "clear", "ok", "unclear", "rejected", "garbage", "differs", "crash", "hang"."""
    if outcome.kind != "ok":
        return {"error": "harness-error", "sanitizer": "sanitizer"}.get(outcome.kind, outcome.kind)
    verdict = outcome.value
    fn, tr = verdict["fastnn"], verdict["torch"]
    if tr[0] == "skipped":  # fastnn alone after torch hung, and its error was not clear
        return "unclear" if fn[0] == "error" else "garbage"
    if tr[1:2] == ("Hang",):  # torch hung; fastnn answered clearly (or returned: nothing to compare with)
        return "clear" if fn[0] == "error" else "ok"
    if fn[0] == "error" and tr[0] == "error":
        wording = tr[2][:48]
        if fn[1:] == tr[1:]:  # torch's own exception type and wording (an AssertionError included)
            return "clear"
        mine = Outcome(outcome.case, "error", exc_type=fn[1], message=fn[2])
        return "clear" if is_clear(mine, _short(op), *([wording] if len(wording) > 12 else [])) else "unclear"
    if fn[0] == "error":
        return "rejected"
    if tr[0] == "error":
        return "garbage"
    return "differs" if verdict["differs"] else "ok"


FAILING = {"unclear", "rejected", "garbage", "differs", "crash", "hang", "sanitizer", "harness-error"}


def _on(value, device: str):
    """The spec tree with every TensorSpec on ``device`` (fastnn's side; torch's twin stays on the CPU)."""
    if isinstance(value, TensorSpec):
        return dataclasses.replace(value, device=device)
    if isinstance(value, (list, tuple)):
        return type(value)(_on(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _on(v, device) for k, v in value.items()}
    return value


def check(run, op: str, args=(), kwargs=None, compare: str = "values", device: str = "cpu") -> None:
    kwargs = kwargs or {}
    args = tuple(args)
    if device != "cpu":
        args, kwargs = _on(args, device), _on(kwargs, device)
    outcome = run(CASE, op, args, kwargs, compare)
    if outcome.kind == "hang":  # whose? fastnn alone, once more: a torch hang is torch's (counted, not failed)
        alone = run(CASE, op, args, kwargs, compare, False)
        if alone.kind == "ok":
            fn = alone.value["fastnn"]
            COUNTS["torch hangs"] += 1
            EXAMPLES["torch hangs"].append(alone.describe()[:600])
            mine = Outcome(alone.case, "error", exc_type=fn[1], message=fn[2]) if fn[0] == "error" else None
            outcome = Outcome(alone.case, "ok", value={"fastnn": fn, "torch": ("error", "Hang", ""), "differs": ""},
                              args=args) if mine is None or is_clear(mine, _short(op)) else alone
    verdict = classify(outcome, op)
    if verdict in FAILING and _gap(op, verdict, args, kwargs):
        verdict = "gap"
    COUNTS[verdict] += 1
    COUNTS["cases"] += 1
    COUNTS["cases on " + device] += 1
    if verdict in FAILING or verdict == "gap":
        EXAMPLES[verdict].append(outcome.describe()[:600])
    if REPORT or verdict not in FAILING:
        return
    raise AssertionError(f"{verdict}: {outcome.describe()}")


def _cuda_available() -> bool:
    import fastnn

    return fastnn.cuda.is_available()


# The emulated CUDA device in CI (FASTNN_CUDA=emulate): a third of the cases run their tensors there.
DEVICES = st.sampled_from(["cpu", "cpu", "cuda"] if _cuda_available() else ["cpu"])


# ---------------------------------------------------------------- strategies
DTYPES = st.sampled_from(["float32", "float64", "int64", "int32", "bool"])
FLOATS = st.sampled_from(["float32", "float64"])
HOSTILE_INT = st.sampled_from([0, 1, 2, 3, -1, -2, -3, 5, 2 ** 31, 2 ** 62, 2 ** 63 - 1, -2 ** 63])
SMALL_INT = st.integers(-4, 4)
HOSTILE_FLAG = st.sampled_from([True, False, 1, 0, 2, 1.5, None, "yes"])
HOSTILE_SCALAR = st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e308, -1e308, float("nan"), float("inf"), 1e-45, 2, -3,
                                  True])
FILLS = st.sampled_from(["randn", "randn", "nan", "inf", "big", "zeros"])


def shapes(min_rank=0, max_rank=4, max_side=4):
    return st.lists(st.integers(0, max_side), min_size=min_rank, max_size=max_rank).map(tuple)


@st.composite
def tensors(draw, shape=None, dtype=None, fill=None, min_rank=0, max_rank=4):
    shape = draw(shapes(min_rank, max_rank)) if shape is None else shape
    dtype = draw(DTYPES) if dtype is None else dtype
    fill = draw(FILLS) if fill is None else fill
    return TensorSpec(tuple(shape), dtype, fill if dtype.startswith("float") else "randn", seed=draw(st.integers(0, 3)))


def index_tensor(draw, n, count_shape, lo=-6, hi=7, dtype="int64"):
    fill = f"int:{draw(st.integers(lo, 0))}:{max(n, 1) + draw(st.integers(0, hi))}"
    return TensorSpec(tuple(count_shape), dtype, fill, seed=draw(st.integers(0, 3)))


# ---------------------------------------------------------------- families
@given(data=st.data())
@fuzz_settings(40)
def test_creation(run, data):
    op = data.draw(st.sampled_from(["zeros", "ones", "empty", "full", "arange", "eye", "linspace", "randn", "rand"]))
    # No 2**31: a legal 8 GiB tensor is no hostile argument (it only takes minutes); 2**62 and up overflow.
    size = data.draw(st.lists(st.one_of(HOSTILE_INT.filter(lambda v: v != 2 ** 31), st.integers(0, 4), st.just(2.0)),
                              min_size=0, max_size=3))
    if op in ("zeros", "ones", "empty", "randn", "rand"):
        dtype = data.draw(st.sampled_from([None, "dtype:float32", "dtype:int64", "dtype:bool"]))
        kwargs = {} if dtype is None or op in ("randn", "rand") and dtype != "dtype:float32" else {"dtype": dtype}
        check(run, "T." + op, tuple(size), kwargs, compare="shape" if op in ("empty", "randn", "rand") else "values")
    elif op == "full":
        check(run, "T.full", (tuple(size), data.draw(HOSTILE_SCALAR)))
    elif op == "arange":
        check(run, "T.arange", tuple(data.draw(st.lists(st.one_of(SMALL_INT, HOSTILE_SCALAR), min_size=1,
                                                                   max_size=3))))
    elif op == "eye":
        check(run, "T.eye", tuple(data.draw(st.lists(st.one_of(SMALL_INT, HOSTILE_INT.filter(lambda v: v != 2 ** 31)),
                                                      min_size=1, max_size=2))))
    else:
        check(run, "T.linspace", (data.draw(HOSTILE_SCALAR), data.draw(SMALL_INT), data.draw(
            st.one_of(SMALL_INT, st.just(2.5)))))


UNARY = ["relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs", "neg", "sin", "floor", "sign", "isnan",
         "logical_not", "erf", "reciprocal", "square"]


@given(data=st.data())
@fuzz_settings(40)
def test_elementwise(run, data):
    go = functools.partial(check, run, device=data.draw(DEVICES))
    x = data.draw(tensors())
    if data.draw(st.booleans()):
        go("T." + data.draw(st.sampled_from(UNARY)), (x,))
        return
    op = data.draw(st.sampled_from(["add", "sub", "mul", "div", "maximum", "minimum", "pow", "eq", "lt", "where",
                                    "clamp", "remainder", "atan2"]))
    other = data.draw(st.one_of(tensors(), HOSTILE_SCALAR))
    if op == "where":
        go("T.where", (TensorSpec(x.shape, "bool"), x, other))
    elif op == "clamp":
        go("T.clamp", (x,), {"min": data.draw(st.one_of(st.none(), HOSTILE_SCALAR)),
                                     "max": data.draw(st.one_of(st.none(), HOSTILE_SCALAR))})
    elif op in ("add", "sub") and data.draw(st.booleans()):
        go("T." + op, (x, other), {"alpha": data.draw(HOSTILE_SCALAR)})
    else:
        go("T." + op, (x, other))


@given(data=st.data())
@fuzz_settings(40)
def test_reductions(run, data):
    go = functools.partial(check, run, device=data.draw(DEVICES))
    x = data.draw(tensors(max_rank=3))
    op = data.draw(st.sampled_from(["sum", "mean", "amax", "amin", "argmax", "prod", "std", "var", "logsumexp",
                                    "all", "any", "max", "cumsum", "softmax", "log_softmax"]))
    dim = data.draw(st.one_of(SMALL_INT, st.sampled_from([1.5, None, (0, 0), (0, -1), 2 ** 62])))
    kwargs = {}
    if op not in ("cumsum", "softmax", "log_softmax"):
        kwargs["keepdim"] = data.draw(HOSTILE_FLAG)
    if op in ("softmax", "log_softmax"):
        go("F." + op, (x, dim))
    elif op in ("cumsum", "logsumexp", "max"):
        go("T." + op, (x, dim), kwargs)
    else:
        go("T." + op, (x,), dict(kwargs, dim=dim))


@given(data=st.data())
@fuzz_settings(60)
def test_indexing(run, data):
    go = functools.partial(check, run, device=data.draw(DEVICES))
    shape = data.draw(shapes(1, 3))
    x = TensorSpec(shape, data.draw(FLOATS))
    dim = data.draw(st.one_of(st.integers(-len(shape) - 1, len(shape)), st.just(1.0)))
    d = dim if isinstance(dim, int) and -len(shape) <= dim < len(shape) else 0
    n = shape[d]
    idx_dtype = data.draw(st.sampled_from(["int64", "int64", "int64", "int32", "float32", "bool"]))
    op = data.draw(st.sampled_from(["index_select", "gather", "scatter", "scatter_add", "index_add", "index_copy",
                                    "index_fill", "take", "put_", "embedding", "one_hot", "masked_fill",
                                    "take_along_dim"]))
    if op == "index_select":
        index = data.draw(st.one_of(st.just("T"), st.sampled_from([None, -2, 1, [0]])))
        index = index_tensor(data.draw, n, (data.draw(st.integers(0, 4)),), dtype=idx_dtype) if index == "T" else index
        go("T.index_select", (x, dim, index))
    elif op in ("gather", "take_along_dim"):
        ishape = tuple(min(s, data.draw(st.integers(0, 3))) for s in shape)
        index = index_tensor(data.draw, n, ishape, dtype=idx_dtype)
        go("T." + op, (x, dim, index) if op == "gather" else (x, index, dim))
    elif op in ("scatter", "scatter_add"):
        ishape = tuple(min(s, data.draw(st.integers(0, 3))) for s in shape)
        src = data.draw(st.one_of(st.just(TensorSpec(ishape, x.dtype)), HOSTILE_SCALAR)) if op == "scatter" else \
            TensorSpec(ishape, x.dtype)
        go("T." + op, (x, dim, index_tensor(data.draw, n, ishape, dtype=idx_dtype), src))
    elif op in ("index_add", "index_copy", "index_fill"):
        k = data.draw(st.integers(0, 3))
        index = index_tensor(data.draw, n, (k,), dtype=idx_dtype)
        src_shape = tuple(k if i == d else s for i, s in enumerate(shape))
        third = data.draw(HOSTILE_SCALAR) if op == "index_fill" else TensorSpec(src_shape, x.dtype)
        go("T." + op, (x, dim, index, third))
    elif op in ("take", "put_"):
        total = 1
        for s in shape:
            total *= s
        index = index_tensor(data.draw, total, (data.draw(st.integers(0, 3)),), lo=-total - 2, dtype=idx_dtype)
        if op == "take":
            go("T.take", (x, index))
        else:
            go("M.put_", (x, index, TensorSpec(index.shape, x.dtype)),
                  {"accumulate": data.draw(st.sampled_from([False, True, 1]))})
    elif op == "embedding":
        rows = data.draw(st.integers(0, 4))
        go("F.embedding", (index_tensor(data.draw, rows, (2,), dtype=idx_dtype), TensorSpec((rows, 3))),
              {"padding_idx": data.draw(st.one_of(st.none(), st.integers(-6, 6), st.just(1.5)))})
    elif op == "one_hot":
        classes = data.draw(st.one_of(st.integers(-2, 5), st.just(1.5), st.just(2 ** 62)))
        go("F.one_hot", (index_tensor(data.draw, 4, (3,), dtype=idx_dtype), classes))
    else:
        go("T.masked_fill", (x, TensorSpec(shape, data.draw(st.sampled_from(["bool", "bool", "int64"]))),
                                     data.draw(HOSTILE_SCALAR)))


@given(data=st.data())
@fuzz_settings(40)
def test_matmul_family(run, data):
    go = functools.partial(check, run, device=data.draw(DEVICES))
    op = data.draw(st.sampled_from(["matmul", "mm", "bmm", "linear", "dot", "outer"]))
    dt = data.draw(st.sampled_from(["float32", "float32", "float64", "int64"]))
    a = data.draw(tensors(dtype=dt, max_rank=3, min_rank=1))
    b_shape = data.draw(st.one_of(shapes(1, 3), st.just(tuple(reversed(a.shape)))))
    b = TensorSpec(b_shape, data.draw(st.sampled_from([dt, dt, "float64"])))
    if op == "linear":
        bias = data.draw(st.one_of(st.none(), st.just(TensorSpec(b_shape[:1], dt))))
        go("F.linear", (a, b, bias))
    else:
        go("T." + op, (a, b))


def window(draw, n):
    return draw(st.one_of(HOSTILE_INT, st.integers(0, 4), st.just(1.5),
                          st.lists(st.one_of(st.integers(-1, 4), HOSTILE_INT), min_size=n - 1, max_size=n + 1)
                          .map(tuple)))


@given(data=st.data())
@fuzz_settings(60)
def test_windows(run, data):
    go = functools.partial(check, run, device=data.draw(DEVICES))
    op = data.draw(st.sampled_from(["conv2d", "conv1d", "max_pool2d", "avg_pool2d", "max_pool1d", "unfold", "fold",
                                    "pad", "interpolate", "adaptive_avg_pool2d", "conv_transpose2d"]))
    if op in ("conv2d", "conv1d", "conv_transpose2d"):
        nd = 1 if op == "conv1d" else 2
        x = TensorSpec((2, 4) + (5,) * nd, data.draw(FLOATS))
        groups = data.draw(st.sampled_from([1, 1, 2, 3, 0, -1, 1.5]))
        w_shape = (4, 4 // groups if isinstance(groups, int) and groups > 0 and 4 % groups == 0 else 4) + \
            (data.draw(st.integers(0, 6)),) * nd
        kw = {k: window(data.draw, nd) for k in data.draw(st.sets(st.sampled_from(["stride", "padding",
                                                                                   "dilation"])))}
        if data.draw(st.booleans()) and op != "conv_transpose2d":
            kw["padding"] = data.draw(st.sampled_from(["same", "valid", "full"]))
        go("F." + op, (x, TensorSpec(w_shape, x.dtype)), dict(kw, groups=groups))
    elif op in ("max_pool2d", "avg_pool2d", "max_pool1d"):
        nd = 1 if op.endswith("1d") else 2
        x = TensorSpec((1, 2) + (6,) * nd, data.draw(FLOATS), fill=data.draw(FILLS))
        kw = {"kernel_size": window(data.draw, nd)}
        names = ["stride", "padding", "ceil_mode"] + (["dilation", "return_indices"] if op.startswith("max") else
                                                      ["count_include_pad", "divisor_override"])
        for k in data.draw(st.sets(st.sampled_from(names))):
            kw[k] = data.draw(HOSTILE_FLAG) if k in ("ceil_mode", "return_indices", "count_include_pad") else \
                data.draw(st.one_of(HOSTILE_INT, st.just(0))) if k == "divisor_override" else window(data.draw, nd)
        go("F." + op, (x,), kw)
    elif op == "adaptive_avg_pool2d":
        go("F.adaptive_avg_pool2d", (TensorSpec((1, 2, 5, 5)), window(data.draw, 2)))
    elif op == "unfold":
        kw = {k: window(data.draw, 2) for k in data.draw(st.sets(st.sampled_from(["stride", "padding", "dilation"])))}
        go("F.unfold", (TensorSpec((1, 2, 5, 5)), window(data.draw, 2)), kw)
    elif op == "fold":
        go("F.fold", (TensorSpec((1, 8, data.draw(st.integers(0, 9)))), window(data.draw, 2),
                              window(data.draw, 2)))
    elif op == "pad":
        pad = tuple(data.draw(st.lists(st.one_of(st.integers(-6, 4), HOSTILE_INT), min_size=0, max_size=5)))
        mode = data.draw(st.sampled_from(["constant", "constant", "reflect", "replicate", "circular", "bogus"]))
        go("F.pad", (TensorSpec((1, 2, 4, 4)), pad), {"mode": mode})
    else:
        kw = data.draw(st.sampled_from(["size", "scale_factor"]))
        val = window(data.draw, 2) if kw == "size" else data.draw(st.one_of(HOSTILE_SCALAR, st.floats(0.1, 3.0)))
        mode = data.draw(st.sampled_from(["nearest", "bilinear", "bicubic", "area", "linear", "bogus"]))
        go("F.interpolate", (TensorSpec((1, 2, 4, 4)),), {kw: val, "mode": mode}, compare="shape"
              if mode == "bicubic" else "values")


@given(data=st.data())
@fuzz_settings(40)
def test_norms_and_losses(run, data):
    go = functools.partial(check, run, device=data.draw(DEVICES))
    op = data.draw(st.sampled_from(["layer_norm", "batch_norm", "group_norm", "cross_entropy", "nll_loss",
                                    "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                                    "dropout"]))
    dt = data.draw(FLOATS)
    if op == "layer_norm":
        x = TensorSpec((2, 3, 4), dt, fill=data.draw(FILLS))
        ns = data.draw(st.one_of(st.just((4,)), st.just((3, 4)), st.just((5,)), st.just(4), st.just(()),
                                 st.just((4.0,)), st.just((-4,))))
        go("F.layer_norm", (x, ns), {"eps": data.draw(st.sampled_from([1e-5, 0.0, -1.0, 1e308]))})
    elif op == "batch_norm":
        c = data.draw(st.integers(1, 4))
        go("F.batch_norm", (TensorSpec((2, 3, 4), dt), TensorSpec((c,), dt), TensorSpec((c,), dt, "zeros")),
              {"training": data.draw(st.booleans()), "momentum": data.draw(HOSTILE_SCALAR)})
    elif op == "group_norm":
        go("F.group_norm", (TensorSpec((2, 4, 3), dt), data.draw(st.sampled_from([1, 2, 3, 0, -1, 1.5]))))
    elif op in ("cross_entropy", "nll_loss"):
        c = data.draw(st.integers(0, 4))
        logits = TensorSpec((3, c), dt, fill=data.draw(FILLS))
        target = index_tensor(data.draw, c, (3,), lo=-3, hi=3, dtype=data.draw(st.sampled_from(
            ["int64", "int64", "int32", "float32"])))
        kw = {}
        for k in data.draw(st.sets(st.sampled_from(["ignore_index", "reduction", "label_smoothing", "weight"]))):
            kw[k] = {"ignore_index": data.draw(st.sampled_from([1.5, -100, 1, 2 ** 62, True, "x"])),
                     "reduction": data.draw(st.sampled_from(["mean", "sum", "none", "bogus", None])),
                     "label_smoothing": data.draw(st.sampled_from([0.1, -0.5, 1.5, float("nan"), 1])),
                     "weight": TensorSpec((data.draw(st.sampled_from([c, c, c + 1])),), dt)}[k]
        if op == "nll_loss":
            kw.pop("label_smoothing", None)
        go("F." + op, (logits, target), kw)
    elif op == "dropout":
        go("F.dropout", (TensorSpec((3, 4), dt),), {"p": data.draw(HOSTILE_SCALAR),
                                                              "training": data.draw(HOSTILE_FLAG)}, compare="shape")
    else:
        shape = data.draw(shapes(0, 3))
        fill = "int:0:2" if op == "binary_cross_entropy" else data.draw(FILLS)
        tshape = data.draw(st.one_of(st.just(shape), shapes(0, 3)))
        go("F." + op, (TensorSpec(shape, dt, "zeros" if op == "binary_cross_entropy" else fill),
                               TensorSpec(tshape, data.draw(st.sampled_from([dt, dt, "int64"])), fill)),
              {"reduction": data.draw(st.sampled_from(["mean", "sum", "none", "bogus"]))})


@given(data=st.data())
@fuzz_settings(50)
def test_shape_ops(run, data):
    go = functools.partial(check, run, device=data.draw(DEVICES))
    x = data.draw(tensors(max_rank=3, fill="randn"))
    n = len(x.shape)
    op = data.draw(st.sampled_from(["reshape", "view", "permute", "transpose", "flatten", "squeeze", "unsqueeze",
                                    "cat", "stack", "split", "chunk", "expand", "narrow", "movedim", "flip"]))
    size = tuple(data.draw(st.lists(st.one_of(st.integers(-2, 6), HOSTILE_INT), min_size=0, max_size=4)))
    d = data.draw(st.one_of(st.integers(-n - 1, n), st.just(1.5), HOSTILE_INT))
    if op in ("reshape", "view", "expand"):
        go("M." + op, (x,) + size)
    elif op in ("permute", "flip"):
        go("T." + op, (x, tuple(data.draw(st.lists(st.integers(-n - 1, n), min_size=0, max_size=n + 1)))))
    elif op in ("transpose", "movedim"):
        go("T." + op, (x, d, data.draw(st.integers(-n - 1, n))))
    elif op == "flatten":
        go("T.flatten", (x, d, data.draw(st.integers(-n - 1, n))))
    elif op in ("squeeze", "unsqueeze"):
        go("T." + op, (x, d))
    elif op in ("cat", "stack"):
        others = data.draw(st.lists(st.one_of(st.just(x), tensors(max_rank=3, fill="randn")), min_size=0,
                                    max_size=3))
        go("T." + op, ([x] + others if others or data.draw(st.booleans()) else [],), {"dim": d})
    elif op == "split":
        sections = data.draw(st.one_of(st.integers(-1, 4), st.lists(st.integers(-1, 4), min_size=1, max_size=3)))
        go("T.split", (x, sections, d))
    elif op == "chunk":
        go("T.chunk", (x, data.draw(st.integers(-1, 4)), d))
    else:
        go("T.narrow", (x, d, data.draw(st.integers(-5, 5)), data.draw(st.integers(-2, 5))))


@given(data=st.data())
@fuzz_settings(40)
def test_optimizers(run, data):
    opt = data.draw(st.sampled_from(["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam",
                                     "Adadelta"]))
    params = [TensorSpec((3,)), TensorSpec((2, 2))]
    hyper = {"SGD": ["lr", "momentum", "weight_decay", "dampening", "nesterov"],
             "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum", "centered"],
             "Adagrad": ["lr", "lr_decay", "weight_decay", "eps", "initial_accumulator_value"],
             "Adadelta": ["lr", "rho", "eps", "weight_decay"]}.get(opt, ["lr", "betas", "eps", "weight_decay",
                                                                            "amsgrad"])
    kw = {}
    for k in data.draw(st.sets(st.sampled_from(hyper), min_size=1)):
        if k in ("nesterov", "centered", "amsgrad"):
            kw[k] = data.draw(st.sampled_from([True, False]))
        elif k == "betas":
            kw[k] = data.draw(st.sampled_from([(0.9, 0.999), (-0.1, 0.9), (0.9, 1.0), (1.5, 0.9), (0.9,),
                                               (float("nan"), 0.9)]))
        else:
            kw[k] = data.draw(st.one_of(HOSTILE_SCALAR, st.sampled_from([0.9, 0.1, 1e-3, -0.5])))
    if opt == "SGD" and "lr" not in kw and data.draw(st.booleans()):
        kw["lr"] = 0.1
    if kw.get("nesterov") and data.draw(st.booleans()):
        kw.update(momentum=0.9, dampening=0.0)
    check(run, "O." + opt, ([p for p in params],), kw)


@given(data=st.data())
@fuzz_settings(30)
def test_non_tensor_inputs(run, data):
    """A NumPy array or a list where torch wants a Tensor: torch's TypeError names the op and the argument."""
    arr = data.draw(st.sampled_from([ArraySpec((2, 3)), [[1.0, 2.0], [3.0, 4.0]]]))
    op, extra = data.draw(st.sampled_from([
        ("T.relu", ()), ("T.sigmoid", ()), ("T.tanh", ()), ("T.exp", ()), ("T.sum", ()), ("T.mean", ()),
        ("T.argmax", ()), ("T.abs", ()), ("T.sqrt", ()), ("T.flatten", ()), ("T.squeeze", ()), ("T.tril", ()),
        ("T.std", ()), ("T.var", ()), ("T.reshape", ((-1,),)), ("T.softmax", (0,)), ("T.transpose", (0, 1)),
        ("T.unsqueeze", (0,)), ("T.cumsum", (0,)), ("F.relu", ()), ("F.gelu", ()), ("F.softmax", (0,)),
        ("F.log_softmax", (0,)), ("F.layer_norm", ((3,),)), ("T.index_select", (0, TensorSpec((1,), "int64",
                                                                                              "zeros"))),
        ("F.linear", (TensorSpec((4, 3)),)), ("T.matmul", (TensorSpec((3, 2)),)),
        ("F.max_pool1d", (2,)), ("F.dropout", ()), ("T.clone", ()), ("T.logsumexp", (0,)),
    ]))
    check(run, op, (arr,) + extra, compare="none")


DEVICE_CASES = [
    ("T.add", lambda c, g: (c, g)), ("T.mul", lambda c, g: (g, c)), ("T.matmul", lambda c, g: (c, g)),
    ("T.cat", lambda c, g: ([c, g],)), ("T.stack", lambda c, g: ([g, c],)), ("T.maximum", lambda c, g: (c, g)),
    ("T.where", lambda c, g: (TensorSpec((2, 2), "bool"), c, g)), ("F.linear", lambda c, g: (g, c)),
    ("F.mse_loss", lambda c, g: (c, g)), ("T.index_select", lambda c, g: (g, 0, TensorSpec((1,), "int64", "zeros"))),
    ("T.gather", lambda c, g: (g, 0, TensorSpec((1, 2), "int64", "zeros"))),
    ("F.embedding", lambda c, g: (TensorSpec((2,), "int64", "zeros", device="cuda"), c)),
    ("F.layer_norm", lambda c, g: (g, (2,), TensorSpec((2,)))),
    ("F.conv1d", lambda c, g: (g, TensorSpec((1, 2, 1)))),
    ("F.cross_entropy", lambda c, g: (g, TensorSpec((2,), "int64", "zeros"))),
]


@pytest.mark.parametrize("op,make", DEVICE_CASES, ids=[c[0] for c in DEVICE_CASES])
def test_device_mismatch(run, op, make):
    """A CPU tensor beside an (emulated) CUDA tensor in one op: torch's RuntimeError."""
    import fastnn

    if not fastnn.cuda.is_available():
        pytest.skip("no CUDA device (FASTNN_CUDA=off)")
    cpu, gpu = TensorSpec((2, 2)), TensorSpec((2, 2), device="cuda")
    outcome = run("fuzz_cases_ops:device_mismatch", op, make(cpu, gpu), {})
    result = outcome.value["fastnn"] if outcome.kind == "ok" else ("crash",)
    clear = result[0] == "error" and result[1] == "RuntimeError" and \
        "Expected all tensors to be on the same device" in result[2]
    COUNTS["cases"] += 1
    COUNTS["clear" if clear else "device-unclear"] += 1
    if not clear:
        EXAMPLES["device-unclear"].append(f"{op}: {result}")
    if not REPORT:
        assert clear, f"{op}: {result}"
