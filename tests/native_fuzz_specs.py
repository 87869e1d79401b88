"""What test_fuzz_native feeds each native function: a template of well-formed arguments per function (as the
plain descriptors of fuzz_cases_native), and the mutations that make them hostile (wrong dtypes and ndim,
zero-size and huge dims, int64-overflowing sizes, negative and huge strides / paddings / kernel sizes /
dilations, non-contiguous and read-only arrays, NaN/inf, out-of-range indices).

``C_SPECS`` / ``EMU_SPECS`` map a function name to ``(template, wordings)``: ``template(draw)`` returns
``(args, kwargs)`` and ``wordings`` are the op names a clear error may carry instead of the function's own name
(a binding's message starts with the op it serves, e.g. "conv2d:" for conv2d_forward)."""
from __future__ import annotations

from hypothesis import strategies as st

# Integers a hostile caller passes as a size, stride, padding, index or count.
HOSTILE_INTS = (0, -1, -3, 1, 2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**62, 2**63 - 1, -2**63, 2**64, 10**6)
HOSTILE_FLOATS = (float("nan"), float("inf"), -float("inf"), 1e308, -1e308, -0.0, 1e-320)
DTYPES = ("float32", "float64", "float16", "int64", "int32", "uint8", "bool", "complex64")
LAYOUTS = ("c", "t", "step", "bcast", "ro", "neg")
FILLS = ("rand", "nan", "inf", "big", 0.0)
# Dims no memory can hold (4 TiB and up): with broadcasting they cost one element of memory.
HUGE_DIMS = (2**40, 2**50, 2**58)


def A(shape, dtype="float32", layout="c", fill="rand"):
    return ("arr", tuple(shape), dtype, layout, fill)


def D(shape, dtype="float32", fill="rand"):
    return ("dev", A(shape, dtype, "c", fill))


def L(*items):
    return ("list", list(items))


def dims(draw, n, lo=1, hi=4):
    return [draw(st.integers(lo, hi)) for _ in range(n)]


def pair(draw, lo, hi):
    return (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))


# ---------------------------------------------------------------------------------------------------- mutations

def _mutate_array(draw, desc):
    kind = desc[0]
    if kind == "dev":
        if draw(st.integers(0, 5)) == 0:  # a device array claiming a shape whose element count overflows int64
            nd = len(desc[1][1]) or 1
            shape = [draw(st.sampled_from((2**31, 2**33, 2**62))) for _ in range(nd)]
            if nd == 1:
                shape = [2**62, 2**62][:max(nd, 2)]
            return ("fakedev", tuple(shape), draw(st.sampled_from(("<f4", "<i8", "<i4", "<f8"))))
        inner = _mutate_array(draw, desc[1])
        if not (isinstance(inner, tuple) and inner[:1] == ("arr",)):
            return inner  # not an array at all
        if inner[3] == "bcast":  # a zero-stride device array: small dims only
            inner = inner[:1] + (tuple(min(int(s), 5) for s in inner[1]),) + inner[2:]
        return ("dev", inner)
    _, shape, dtype, layout, fill = desc
    sized = bool(shape) and isinstance(shape[0], str)  # ("emu_size", ...): a size the emulator computes
    shape = list(shape)
    what = draw(st.sampled_from(("dtype", "layout", "fill", "notarray") if sized else
                                ("dtype", "ndim", "zero", "huge", "layout", "fill", "notarray")))
    if what == "dtype":
        dtype = draw(st.sampled_from(DTYPES))
    elif what == "ndim":
        if shape and draw(st.booleans()):
            shape.pop(draw(st.integers(0, len(shape) - 1)))
        else:
            shape.insert(draw(st.integers(0, len(shape))), draw(st.integers(1, 3)))
    elif what == "zero" and shape:
        shape[draw(st.integers(0, len(shape) - 1))] = 0
    elif what == "huge" and shape:
        for i in draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=2, unique=True)):
            shape[i] = draw(st.sampled_from(HUGE_DIMS))
        layout = "bcast"
    elif what == "layout":
        layout = draw(st.sampled_from(LAYOUTS))
    elif what == "fill":
        fill = draw(st.sampled_from(FILLS))
    elif what == "notarray":
        return draw(st.sampled_from((None, 3, "x", [1.0, 2.0])))
    return ("arr", tuple(shape), dtype, layout, fill)


def mutate_value(draw, v):
    if isinstance(v, tuple) and v and v[0] in ("arr", "dev"):
        return _mutate_array(draw, v)
    if isinstance(v, tuple) and v and v[0] == "list":
        items = list(v[1])
        choice = draw(st.integers(0, 3))
        if items and choice < 3:
            i = draw(st.integers(0, len(items) - 1))
            items[i] = mutate_value(draw, items[i])
        elif items:
            items.pop()  # a list one shorter than its partners
        return ("list", items)
    if isinstance(v, bool):
        return draw(st.sampled_from((not v, None, 2)))
    if isinstance(v, int):
        return draw(st.sampled_from(HOSTILE_INTS))
    if isinstance(v, float):
        return draw(st.sampled_from(HOSTILE_FLOATS + (2**63 * 1.0,)))
    if isinstance(v, str):
        return draw(st.sampled_from(("", "mmx", "none", "relu", "gelu", "simt", "mma", "auto", "\x00", "x" * 300)))
    if isinstance(v, tuple) and all(isinstance(e, int) and not isinstance(e, bool) for e in v):
        items = list(v)
        if items and draw(st.integers(0, 4)):
            for i in draw(st.lists(st.integers(0, len(items) - 1), min_size=1, max_size=len(items), unique=True)):
                items[i] = draw(st.sampled_from(HOSTILE_INTS))
        elif draw(st.booleans()):
            items.append(1)
        elif items:
            items.pop()
        return tuple(items)
    if isinstance(v, list) and all(isinstance(e, int) for e in v):
        return list(mutate_value(draw, tuple(v)))
    if v is None:
        return draw(st.sampled_from((A((3,)), A((2, 2), "int64"), 1.5)))
    return v


@st.composite
def hostile_call(draw, template):
    """(args, kwargs): the template's arguments with zero to three of them made hostile."""
    args, kwargs = template(draw)
    args = list(args)
    keys = [("a", i) for i in range(len(args))] + [("k", k) for k in kwargs]
    n = draw(st.integers(0, min(3, len(keys))))
    for where, key in draw(st.lists(st.sampled_from(keys), min_size=n, max_size=n, unique=True)) if keys else []:
        if where == "a":
            args[key] = mutate_value(draw, args[key])
        else:
            kwargs[key] = mutate_value(draw, kwargs[key])
    if not keys or draw(st.integers(0, 19)) == 0:  # a stray argument
        kwargs["bogus_argument"] = 1
    return tuple(args), kwargs


# ----------------------------------------------------------------------------------------------- _C templates

def _isa(draw):
    return {"isa": draw(st.sampled_from((None, None, "generic", "avx2")))}


def t_conv2d_forward(draw):
    n, g = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c, o = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    kh, kw = pair(draw, 1, 3)
    h, w = kh + draw(st.integers(0, 3)), kw + draw(st.integers(0, 3))
    bias = A((o,)) if draw(st.booleans()) else None
    return (A((n, c, h, w)), A((o, c // g, kh, kw)), bias, pair(draw, 1, 2), pair(draw, 0, 1), (1, 1), g), _isa(draw)


def _conv_out(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def _conv_backward_geometry(draw):
    """A valid geometry for both conv2d backward templates: sizes, kernel, stride, padding, output size."""
    kh, kw = pair(draw, 1, 3)
    h, w = kh + draw(st.integers(0, 3)), kw + draw(st.integers(0, 3))
    s, p = pair(draw, 1, 2), pair(draw, 0, 1)
    return (h, w), (kh, kw), s, p, (_conv_out(h, kh, s[0], p[0], 1), _conv_out(w, kw, s[1], p[1], 1))


def t_conv2d_backward_data(draw):
    n, c, o = 2, 2, 3
    hw, k, s, p, out = _conv_backward_geometry(draw)
    return (A((n, o, *out)), A((o, c, *k)), hw, s, p, (1, 1), 1), _isa(draw)


def t_conv2d_backward_weight(draw):
    n, c, o = 2, 2, 3
    hw, k, s, p, out = _conv_backward_geometry(draw)
    return (A((n, o, *out)), A((n, c, *hw)), k, s, p, (1, 1), 1), _isa(draw)


def t_conv2d_backward_bias(draw):
    return (A(dims(draw, 4)),), _isa(draw)


def _pool_in(draw):
    return A((draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.integers(2, 6))))


def t_max_pool2d_forward(draw):
    return (_pool_in(draw), (2, 2), pair(draw, 1, 2), (0, 0), (1, 1), draw(st.booleans())), _isa(draw)


def t_max_pool2d_backward(draw):
    n, c, h, w = 1, 2, 4, 4
    return (A((n, c, h, w)), A((n, c, 2, 2)), (2, 2), (2, 2), (0, 0), (1, 1), False), _isa(draw)


def t_avg_pool2d_forward(draw):
    return (_pool_in(draw), (2, 2), pair(draw, 1, 2), (1, 1), draw(st.booleans()), True, None), _isa(draw)


def t_avg_pool2d_backward(draw):
    return (A((1, 2, 2, 2)), (1, 2, 4, 4), (2, 2), (2, 2), (0, 0), False, True, None), _isa(draw)


def t_matmul(draw):
    m, k, n = dims(draw, 3)
    if draw(st.booleans()):
        b = draw(st.integers(1, 3))
        return (A((b, m, k)), A((b, k, n))), _isa(draw)
    return (A((m, k)), A((k, n))), _isa(draw)


def t_gemm(draw):
    m, k, n = dims(draw, 3)
    return (A((m, k)), A((k, n)), A((m, n)), 1.0, 0.5), _isa(draw)


def t_linear(draw):
    m, k, n = dims(draw, 3)
    return (A((m, k)), A((n, k)), A((n,)), draw(st.sampled_from(("none", "relu", "gelu")))), _isa(draw)


def _bf16_operand(draw, shape):
    if draw(st.booleans()):
        return A(shape, "uint16", fill="int:0:16000")  # bf16 bits of values up to ~0.2
    return A(shape)


def _bf16_isa(draw):
    return {"isa": draw(st.sampled_from((None, None, "generic", "avx512_bf16", "amx")))}


def t_matmul_bf16(draw):
    m, k, n = dims(draw, 3)
    bias = A((n,)) if draw(st.booleans()) else None
    return (_bf16_operand(draw, (m, k)), _bf16_operand(draw, (k, n)), bias), _bf16_isa(draw)


def t_gemm_bf16(draw):
    m, k, n = dims(draw, 3)
    return (_bf16_operand(draw, (m, k)), _bf16_operand(draw, (k, n)), A((m, n)), 1.0, 0.5), _bf16_isa(draw)


def t_pack_bf16(draw):
    return (_bf16_operand(draw, tuple(dims(draw, 2))),), {}


def t_probe_peak_bf16(draw):
    return (), {**_bf16_isa(draw), "threads": 1, "repeats": 1}


def _attn(draw):
    b, h, lq, lk, d = 1, draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)), 4
    return b, h, lq, lk, d


def t_attention_forward(draw):
    b, h, lq, lk, d = _attn(draw)
    mask = draw(st.sampled_from((None, A((lq, lk), "bool"), A((b, h, lq, lk)))))
    return (A((b, h, lq, d)), A((b, h, lk, d)), A((b, h, lk, d)), mask, False, None), _isa(draw)


def t_attention_backward(draw):
    b, h, lq, lk, d = _attn(draw)
    return (A((b, h, lq, d)), A((b, h, lq, d)), A((b, h, lk, d)), A((b, h, lk, d)), A((b, h, lq, d)),
            A((b, h, lq)), None, draw(st.booleans()), 0.5), _isa(draw)


def t_vector_exp(draw):
    kw = _isa(draw)
    if draw(st.booleans()):
        kw["base2"] = draw(st.booleans())
    return (A(dims(draw, draw(st.integers(0, 2)))),), kw


def t_erf(draw):
    return (A(dims(draw, draw(st.integers(0, 3)))),), {}


def t_bf16_from_f32(draw):
    return (A(dims(draw, draw(st.integers(0, 3)))), draw(st.integers(-2, 0x10001))), _isa(draw)


def t_f32_from_bf16(draw):
    return (A(dims(draw, draw(st.integers(0, 3))), dtype="uint16"),), _isa(draw)


def t_softmax_forward(draw):
    return (A(dims(draw, 2)), draw(st.booleans())), _isa(draw)


def t_softmax_backward(draw):
    shape = dims(draw, 2)
    return (A(shape), A(shape), draw(st.booleans())), _isa(draw)


def _targets(draw, n, c):
    lo, hi = draw(st.sampled_from(((0, c), (0, c), (-100, c), (-2**62, 2**62), (c, c + 3))))
    return A((n,), "int64", "c", f"int:{lo}:{hi}")


def t_cross_entropy_forward(draw):
    n, c = dims(draw, 2, 1, 5)
    return (A((n, c)), _targets(draw, n, c), -100, draw(st.sampled_from((0.0, 0.1)))), _isa(draw)


def t_cross_entropy_backward(draw):
    n, c = dims(draw, 2, 1, 5)
    rows = A((n,)) if draw(st.booleans()) else None
    return (A((n, c)), _targets(draw, n, c), A((n,)), rows, 1.0, -100, 0.0), _isa(draw)


def t_layer_norm_forward(draw):
    r, c = dims(draw, 2)
    return (A((r, c)), A((c,)), A((c,)), 1e-5), _isa(draw)


def t_layer_norm_backward(draw):
    r, c = dims(draw, 2)
    kw = _isa(draw)
    kw.update(need_input=True, need_weight=draw(st.booleans()), need_bias=draw(st.booleans()))
    return (A((r, c)), A((r, c)), A((r,)), A((r,), fill=1.0), A((c,))), kw


def t_batch_norm_forward(draw):
    n, c, l = dims(draw, 3)
    training = draw(st.booleans())
    return (A((n, c, l)), A((c,)), A((c,)), A((c,)), A((c,), fill=1.0), training, 1e-5), _isa(draw)


def t_batch_norm_backward(draw):
    n, c, l = dims(draw, 3)
    kw = _isa(draw)
    kw.update(need_input=True, need_weight=draw(st.booleans()), need_bias=draw(st.booleans()))
    return (A((n, c, l)), A((n, c, l)), A((c,), "float64"), A((c,), "float64", fill=1.0), A((c,)),
            draw(st.booleans())), kw


def _tensors(draw, dtype="float32", count=None, maker=A):
    k = draw(st.integers(0, 3)) if count is None else count
    shapes = [tuple(dims(draw, draw(st.integers(1, 2)))) for _ in range(k)]
    return shapes, lambda fill="rand": L(*(maker(s, dtype, fill=fill) for s in shapes))


def t_adam_update(draw):
    shapes, make = _tensors(draw)
    steps = L(*(A((1,), fill=0.0) for _ in shapes))
    kw = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=draw(st.booleans()),
              maximize=False)
    kw.update(_isa(draw))
    return (make(), make(), make(0.0), make(0.0), make(0.0), steps), kw


def t_sgd_update(draw):
    shapes, make = _tensors(draw)
    momentum = draw(st.sampled_from((0.0, 0.9)))
    bufs = None if momentum == 0.0 or draw(st.booleans()) else make(0.0)
    kw = dict(lr=0.1, momentum=momentum, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False)
    kw.update(_isa(draw))
    return (make(), make(), bufs), kw


def t_probe_peak(draw):
    return (draw(st.sampled_from((None, "generic"))), 1, 1), {}


def t_probe_bandwidth(draw):
    return (draw(st.sampled_from((1, 1024, 1 << 16))), 1, 1), {}


def t_set_num_threads(draw):
    return (draw(st.integers(1, 2)),), {}


def t_gelu_forward(draw):
    return (A(dims(draw, draw(st.integers(0, 3)))),), _isa(draw)


def t_gelu_backward(draw):
    shape = dims(draw, draw(st.integers(0, 3)))
    return (A(shape), A(shape), A(shape)), _isa(draw)


def _coo(draw, m, k):
    nnz = draw(st.integers(0, 6))
    return A((nnz,), "int64", "c", f"int:0:{m}"), A((nnz,), "int64", "c", f"int:0:{k}"), nnz


def t_spmm(draw):
    m, k, n = dims(draw, 3)
    rows, cols, nnz = _coo(draw, m, k)
    return (rows, cols, A((nnz,)), A((k, n)), m), _isa(draw)


def t_sddmm(draw):
    m, k, n = dims(draw, 3)
    rows, cols, _ = _coo(draw, m, k)
    return (rows, cols, A((m, n)), A((k, n))), _isa(draw)


def _seq(draw):
    return draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 5))  # L, N, H


def _maybe(draw, desc):
    return desc if draw(st.booleans()) else None


def t_lstm_sequence_forward(draw):
    L_, N, H = _seq(draw)
    return (A((L_, N, 4 * H)), _maybe(draw, A((4 * H,))), A((H, 4 * H)), A((N, H)), A((N, H)), A((L_, N, H)),
            A((N, H)), A((L_, N, H)), _maybe(draw, A((L_, N, H))), draw(st.booleans())), _isa(draw)


def t_lstm_sequence_backward(draw):
    L_, N, H = _seq(draw)
    return (A((L_, N, 4 * H)), A((L_, N, H)), A((L_, N, H)), A((N, H)), A((4 * H, H)), A((L_, N, H)),
            _maybe(draw, A((N, H))), A((L_, N, 4 * H)), _maybe(draw, A((N, H))), A((N, H)),
            draw(st.booleans())), _isa(draw)


def t_gru_sequence_forward(draw):
    L_, N, H = _seq(draw)
    return (A((L_, N, 3 * H)), _maybe(draw, A((3 * H,))), _maybe(draw, A((H,))), A((H, 3 * H)), A((N, H)),
            A((L_, N, H)), _maybe(draw, A((L_, N, H))), draw(st.booleans())), _isa(draw)


def t_gru_sequence_backward(draw):
    L_, N, H = _seq(draw)
    return (A((L_, N, 3 * H)), A((L_, N, H)), A((N, H)), A((L_, N, H)), A((3 * H, H)), A((L_, N, H)),
            A((L_, N, 3 * H)), A((L_, N, 3 * H)), _maybe(draw, A((N, H))), draw(st.booleans())), _isa(draw)


def t_none(draw):
    return (), {}


C_SPECS = {
    "conv2d_forward": (t_conv2d_forward, ("conv2d",)),
    "conv2d_backward_data": (t_conv2d_backward_data, ()),
    "conv2d_backward_weight": (t_conv2d_backward_weight, ()),
    "conv2d_backward_bias": (t_conv2d_backward_bias, ()),
    "max_pool2d_forward": (t_max_pool2d_forward, ("max_pool2d",)),
    "max_pool2d_backward": (t_max_pool2d_backward, ()),
    "avg_pool2d_forward": (t_avg_pool2d_forward, ("avg_pool2d",)),
    "avg_pool2d_backward": (t_avg_pool2d_backward, ()),
    "matmul": (t_matmul, ()),
    "gemm": (t_gemm, ()),
    "linear": (t_linear, ()),
    "matmul_bf16": (t_matmul_bf16, ()),
    "gemm_bf16": (t_gemm_bf16, ()),
    "pack_bf16": (t_pack_bf16, ()),
    "probe_peak_gflops_bf16": (t_probe_peak_bf16, ()),
    "attention_forward": (t_attention_forward, ("attention",)),
    "attention_backward": (t_attention_backward, ("attention",)),
    "vector_exp": (t_vector_exp, ()),
    "erf": (t_erf, ()),
    "bf16_from_f32": (t_bf16_from_f32, ()),
    "f32_from_bf16": (t_f32_from_bf16, ()),
    "softmax_forward": (t_softmax_forward, ("softmax",)),
    "softmax_backward": (t_softmax_backward, ("softmax_backward",)),
    "cross_entropy_forward": (t_cross_entropy_forward, ("cross_entropy",)),
    "cross_entropy_backward": (t_cross_entropy_backward, ()),
    "layer_norm_forward": (t_layer_norm_forward, ("layer_norm",)),
    "layer_norm_backward": (t_layer_norm_backward, ()),
    "batch_norm_forward": (t_batch_norm_forward, ()),
    "batch_norm_backward": (t_batch_norm_backward, ()),
    "adam_update": (t_adam_update, ()),
    "sgd_update": (t_sgd_update, ()),
    "probe_peak_gflops_f32": (t_probe_peak, ()),
    "probe_memory_bandwidth": (t_probe_bandwidth, ()),
    "set_num_threads": (t_set_num_threads, ()),
    "gelu_forward": (t_gelu_forward, ()),
    "gelu_backward": (t_gelu_backward, ()),
    "spmm": (t_spmm, ()),
    "sddmm": (t_sddmm, ()),
    "lstm_sequence_forward": (t_lstm_sequence_forward, ()),
    "lstm_sequence_backward": (t_lstm_sequence_backward, ()),
    "gru_sequence_forward": (t_gru_sequence_forward, ()),
    "gru_sequence_backward": (t_gru_sequence_backward, ()),
    **{name: (t_none, ()) for name in ("build_info", "cache_info", "cuda_built", "cuda_device_count", "cuda_status",
                                       "get_num_threads", "isa_active", "isa_levels", "isa_supported",
                                       "bf16_isa_active", "bf16_isa_levels", "bf16_isa_supported",
                                       "max_num_threads")},
}

# ---------------------------------------------------------------------------------------------- _emu templates

_DEV = {"device": 0, "stream": 0}


def e_conv2d_forward(draw):
    n, c, o = 1, 2, 2
    kh, kw = pair(draw, 1, 2)
    h, w = kh + draw(st.integers(0, 2)), kw + draw(st.integers(0, 2))
    s, p = pair(draw, 1, 2), pair(draw, 0, 1)
    oh, ow = _conv_out(h, kh, s[0], p[0], 1), _conv_out(w, kw, s[1], p[1], 1)
    bias = D((o,)) if draw(st.booleans()) else None
    return (D((n, c, h, w)), D((o, c, kh, kw)), bias, D((n, o, oh, ow)), s, p, (1, 1), 1), dict(_DEV)


def e_conv2d_backward_data(draw):
    n, c, o, kh, kw, h, w = 1, 2, 2, 2, 2, 3, 3
    return (D((n, o, 2, 2)), D((o, c, kh, kw)), D((n, c, h, w)), (1, 1), (0, 0), (1, 1), 1), dict(_DEV)


def e_conv2d_backward_weight(draw):
    n, c, o, kh, kw, h, w = 1, 2, 2, 2, 2, 3, 3
    ws = None if draw(st.booleans()) else D((2 * o * c * kh * kw,))
    return (D((n, o, 2, 2)), D((n, c, h, w)), D((o, c, kh, kw)), ws, (1, 1), (0, 0), (1, 1), 1), dict(_DEV)


def e_conv2d_backward_weight_splits(draw):
    return ([1, 2, 3, 3], 2, (2, 2), (1, 1), (0, 0), (1, 1), 1), {}


def e_conv2d_backward_bias(draw):
    n, o, h, w = dims(draw, 4, 1, 3)
    ws = None if draw(st.booleans()) else D((2 * o,))
    return (D((n, o, h, w)), D((o,)), ws), dict(_DEV)


def e_conv2d_backward_bias_splits(draw):
    return (dims(draw, 4, 1, 5),), {}


def e_max_pool2d(draw):
    return (D((1, 2, 4, 4)), D((1, 2, 2, 2)), D((1, 2, 2, 2), "int32"), (2, 2), (2, 2), (0, 0), (1, 1), False), \
        dict(_DEV)


def e_max_pool2d_backward(draw):
    return (D((1, 2, 2, 2)), D((1, 2, 2, 2), "int32", fill="int:0:16"), D((1, 2, 4, 4)), (2, 2), (2, 2), (0, 0),
            (1, 1), False), dict(_DEV)


def e_avg_pool2d(draw):
    return (D((1, 2, 4, 4)), D((1, 2, 2, 2)), (2, 2), (2, 2), (0, 0), False, True, None), dict(_DEV)


def e_avg_pool2d_backward(draw):
    return (D((1, 2, 2, 2)), D((1, 2, 4, 4)), (2, 2), (2, 2), (0, 0), False, True, None), dict(_DEV)


def e_softmax_last(draw):
    shape = dims(draw, 2)
    return (D(shape), D(shape), draw(st.booleans())), dict(_DEV)


def e_softmax_last_backward(draw):
    shape = dims(draw, 2)
    return (D(shape), D(shape), D(shape), draw(st.booleans())), dict(_DEV)


def _dev_targets(draw, n, c):
    lo, hi = draw(st.sampled_from(((0, c), (-100, c), (-2**62, 2**62), (c, c + 3))))
    return D((n,), "int64", fill=f"int:{lo}:{hi}")


def e_cross_entropy_rows(draw):
    n, c = dims(draw, 2)
    return (D((n, c)), _dev_targets(draw, n, c), D((n,)), D((n,)), D((1,), "int32", fill=0), -100, 0.0), dict(_DEV)


def e_cross_entropy_rows_backward(draw):
    n, c = dims(draw, 2)
    return (D((n, c)), _dev_targets(draw, n, c), D((n,)), None, D((n, c)), D((1,), "int32", fill=0), 1.0, -100,
            0.0), dict(_DEV)


def e_layer_norm_rows(draw):
    r, c = dims(draw, 2)
    return (D((r, c)), D((c,)), D((c,)), D((r, c)), D((r,)), D((r,)), 1e-5), dict(_DEV)


def e_layer_norm_rows_backward(draw):
    r, c = dims(draw, 2)
    return (D((r, c)), D((r, c)), D((r,)), D((r,), fill=1.0), D((c,)), D((r, c)), None, None, None), dict(_DEV)


def e_rows_cols(draw):
    return tuple(dims(draw, 2, 0, 64)), {}


def e_batch_norm_workspace(draw):
    return tuple(dims(draw, 3)), {}


def e_batch_norm_forward(draw):
    n, c, l = 2, 2, 3
    work = ("dev", ("arr", ("emu_size", "batch_norm_workspace", (n, c, l)), "float64", "c", 0.0))
    return (D((n, c, l)), D((c,)), D((c,)), D((c,)), D((c,), fill=1.0), D((n, c, l)), D((c,), "float64"),
            D((c,), "float64"), D((c,), "float64"), work, True, 1e-5), dict(_DEV)


def e_batch_norm_backward(draw):
    n, c, l = 2, 2, 3
    work = ("dev", ("arr", ("emu_size", "batch_norm_workspace", (n, c, l)), "float64", "c", 0.0))
    return (D((n, c, l)), D((n, c, l)), D((c,), "float64"), D((c,), "float64", fill=1.0), D((c,)), D((n, c, l)),
            None, None, work, True), dict(_DEV)


def _attn_dev(draw):
    return 1, draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), 4


def e_attention_forward(draw):
    b, h, lq, lk, d = _attn_dev(draw)
    mask = draw(st.sampled_from((None, D((b, h, lq, lk), "bool"))))
    return (D((b, h, lq, d)), D((b, h, lk, d)), D((b, h, lk, d)), mask, D((b, h, lq, d)), D((b, h, lq)), False,
            0.5), dict(_DEV)


def e_attention_backward(draw):
    b, h, lq, lk, d = _attn_dev(draw)
    return (D((b, h, lq, d)), D((b, h, lq, d)), D((b, h, lk, d)), D((b, h, lk, d)), D((b, h, lq, d)),
            D((b, h, lq)), None, D((b, h, lq)), D((b, h, lq, d)), D((b, h, lk, d)), D((b, h, lk, d)), False, 0.5), \
        dict(_DEV)


def e_attention_kernel_for(draw):
    return (draw(st.sampled_from((4, 8, 64))), draw(st.sampled_from((4, 8, 64)))), {}


def e_gemm_f32(draw):
    m, k, n = dims(draw, 3)
    return (D((m, k)), D((k, n)), D((m, n)), 1.0, 0.0), dict(_DEV)


def e_gemm_bf16(draw):
    m, k, n = dims(draw, 3)
    return (D((m, k), "uint16", fill="int:0:16000"), D((k, n), "uint16", fill="int:0:16000"), D((m, n))), dict(_DEV)


def e_linear_f32(draw):
    m, k, n = dims(draw, 3)
    return (D((m, k)), D((n, k)), D((n,)), D((m, n)), draw(st.sampled_from(("none", "relu", "gelu")))), dict(_DEV)


def e_linear_bf16(draw):
    m, k, n = dims(draw, 3)
    return (D((m, k), "uint16", fill="int:0:16000"), D((n, k), "uint16", fill="int:0:16000"), None, D((m, n))), \
        dict(_DEV)


def e_gemm_query(draw):
    return tuple(dims(draw, 3, 1, 64)), {"batch": 1, "dtype": draw(st.sampled_from(("float32", "bfloat16")))}


def e_launch_count(draw):
    return (dims(draw, draw(st.integers(0, 3)), 0, 10**5),), {"chunk": 65536}


def e_adam_update(draw):
    shapes, make = _tensors(draw, maker=D)
    steps = L(*(D((1,), fill=0.0) for _ in shapes))
    kw = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
              decoupled=False, chunk=65536, **_DEV)
    return (make(), make(), make(0.0), make(0.0), None, steps, D((1,), "int32", fill=0)), kw


def e_sgd_update(draw):
    shapes, make = _tensors(draw, maker=D)
    kw = dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False, chunk=65536,
              **_DEV)
    return (make(), make(), None, None), kw


EMU_SPECS = {
    "conv2d_forward_f32": (e_conv2d_forward, ()),
    "conv2d_backward_data_f32": (e_conv2d_backward_data, ()),
    "conv2d_backward_weight_f32": (e_conv2d_backward_weight, ()),
    "conv2d_backward_weight_f32_splits": (e_conv2d_backward_weight_splits, ()),
    "conv2d_backward_bias_f32": (e_conv2d_backward_bias, ()),
    "conv2d_backward_bias_f32_splits": (e_conv2d_backward_bias_splits, ()),
    "max_pool2d_f32": (e_max_pool2d, ()),
    "max_pool2d_backward_f32": (e_max_pool2d_backward, ()),
    "avg_pool2d_f32": (e_avg_pool2d, ()),
    "avg_pool2d_backward_f32": (e_avg_pool2d_backward, ()),
    "softmax_last_f32": (e_softmax_last, ()),
    "softmax_last_backward_f32": (e_softmax_last_backward, ()),
    "cross_entropy_rows_f32": (e_cross_entropy_rows, ()),
    "cross_entropy_rows_backward_f32": (e_cross_entropy_rows_backward, ()),
    "layer_norm_rows_f32": (e_layer_norm_rows, ()),
    "layer_norm_rows_backward_f32": (e_layer_norm_rows_backward, ()),
    "layer_norm_rows_backward_scratch": (e_rows_cols, ()),
    "batch_norm_workspace": (e_batch_norm_workspace, ()),
    "batch_norm_forward_f32": (e_batch_norm_forward, ()),
    "batch_norm_backward_f32": (e_batch_norm_backward, ()),
    "attention_forward_f32": (e_attention_forward, ()),
    "attention_backward_f32": (e_attention_backward, ()),
    "attention_forward_kernel_for": (e_attention_kernel_for, ()),
    "gemm_f32": (e_gemm_f32, ()),
    "gemm_bf16": (e_gemm_bf16, ()),
    "linear_f32": (e_linear_f32, ()),
    "linear_bf16": (e_linear_bf16, ()),
    "gemm_kernel_for": (e_gemm_query, ()),
    "gemm_workspace_size": (e_gemm_query, ()),
    "adam_launch_count": (e_launch_count, ()),
    "sgd_launch_count": (e_launch_count, ()),
    "adam_update_f32": (e_adam_update, ()),
    "sgd_update_f32": (e_sgd_update, ()),
}

# fastnn._emu functions that are the emulator's own test hooks, not CUDA kernel bindings: no fuzz strategy.
EMU_HOOKS = {"plant_missing_barrier", "planted_barrier_hits", "schedule", "schedules", "set_schedule", "stats",
             "selftest_block_sum", "selftest_broken", "selftest_count_odd", "selftest_read_unwritten_shared",
             "selftest_tiled_matmul", "selftest_warp_ops"}
# fastnn._C members that are not functions to fuzz: the CUDA submodule holds the functions EMU_SPECS covers.
# Bf16PackedB: the type pack_bf16 returns (no constructor from Python); matmul_bf16 is fuzzed with it in
# tests/test_gemm_bf16.py.
C_NOT_FUNCTIONS = {"cuda", "Bf16PackedB"}
