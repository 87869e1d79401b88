"""keras.ops.nn conv_transpose / depthwise_conv / separable_conv / unfold / fold / ctc_decode against
Keras 3 (torch backend): values, and gradients of a weighted sum (torch autograd on the Keras side)."""
import keras_helpers  # noqa: F401 - sets KERAS_BACKEND first

import inspect

import keras
import numpy as np
import pytest
import torch

import fastnn
import fastnn.keras as fk


def _rng(seed):
    return np.random.default_rng(seed)


def _compare(name, arrays, kwargs, atol=1e-4):
    """Runs keras.ops.<name> and ours on float64 copies of ``arrays``; compares outputs and the gradients
    of sum(out * w) for a random w."""
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    theirs = getattr(keras.ops, name)(*theirs_in, **kwargs)
    ours_in = [fastnn.tensor(a, requires_grad=True) for a in arrays]
    ours = getattr(fk.ops, name)(*ours_in, **kwargs)
    assert tuple(ours.shape) == tuple(theirs.shape), (name, kwargs)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=atol, rtol=1e-6)
    w = _rng(99).standard_normal(tuple(theirs.shape))
    (theirs * torch.tensor(w)).sum().backward()
    (ours * fastnn.tensor(w)).sum().backward()
    for a, b in zip(ours_in, theirs_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol, rtol=1e-6)


def test_signatures_match_keras():
    for name in ("conv_transpose", "depthwise_conv", "separable_conv", "fold", "unfold", "ctc_decode"):
        ours, theirs = inspect.signature(getattr(fk.ops, name)), inspect.signature(getattr(keras.ops, name))
        assert [(p.name, p.default) for p in ours.parameters.values()] == \
            [(p.name, p.default) for p in theirs.parameters.values()], name
        assert getattr(fk.ops.nn, name) is getattr(fk.ops, name)


def _inputs(nd, size, channels, channels_first, seed):
    shape = (2, channels) + (size,) * nd if channels_first else (2,) + (size,) * nd + (channels,)
    return _rng(seed).standard_normal(shape)


TRANSPOSE_CASES = [
    (1, 3, 1, "valid", None, 1, False), (1, 3, 2, "same", None, 1, False), (1, 4, 3, "valid", 1, 1, True),
    (1, 3, 2, "same", 1, 2, False), (2, 3, 2, "same", None, 1, False), (2, 2, 2, "valid", None, 1, True),
    (2, 3, 2, "valid", 1, 1, False), (2, 3, (2, 1), "same", 0, (1, 2), True), (2, 1, 3, "same", None, 1, False),
    (2, 3, 1, "same", None, 2, False), (3, 2, 2, "same", None, 1, False), (3, 3, 1, "valid", None, 1, True),
]


@pytest.mark.parametrize("nd,k,strides,padding,output_padding,dilation,cf", TRANSPOSE_CASES)
def test_conv_transpose(nd, k, strides, padding, output_padding, dilation, cf):
    x = _inputs(nd, 5 if nd < 3 else 4, 3, cf, nd)
    kernel = _rng(10 + nd).standard_normal((k,) * nd + (4, 3))  # (*spatial, out, in)
    _compare("conv_transpose", [x, kernel], dict(strides=strides, padding=padding, output_padding=output_padding,
                                                 data_format="channels_first" if cf else None,
                                                 dilation_rate=dilation))


CONV_CASES = [
    (1, 3, 1, "valid", 1, False), (1, 3, 2, "same", 1, True), (1, 2, 1, "same", 2, False),
    (2, 3, 1, "same", 1, False), (2, 3, 2, "valid", 1, True), (2, 2, 2, "same", 1, False),
    (2, 3, 1, "valid", 2, False), (2, 3, (2, 1), "same", 1, True), (3, 2, 1, "same", 1, False),
    (3, 2, 2, "valid", 1, True),
]


@pytest.mark.parametrize("nd,k,strides,padding,dilation,cf", CONV_CASES)
def test_depthwise_and_separable_conv(nd, k, strides, padding, dilation, cf):
    x = _inputs(nd, 6 if nd < 3 else 4, 3, cf, 20 + nd)
    depthwise = _rng(30 + nd).standard_normal((k,) * nd + (3, 2))  # (*spatial, in, multiplier)
    pointwise = _rng(40 + nd).standard_normal((1,) * nd + (6, 4))
    kw = dict(strides=strides, padding=padding, data_format="channels_first" if cf else None,
              dilation_rate=dilation)
    _compare("depthwise_conv", [x, depthwise], kw)
    _compare("separable_conv", [x, depthwise, pointwise], kw)


@pytest.mark.parametrize("kw", [dict(kernel_size=2, stride=2), dict(kernel_size=(3, 2), padding=1),
                                dict(kernel_size=2, dilation=2, padding=(1, 0), stride=(1, 2))])
def test_unfold_and_fold(kw):
    x = _rng(5).standard_normal((2, 3, 6, 5))
    _compare("unfold", [x], kw)
    cols = np.asarray(keras.ops.unfold(torch.tensor(x), **kw))
    _compare("fold", [cols], dict(output_size=(6, 5), **kw))


def test_conv_errors_like_keras():
    x, k = np.zeros((1, 5, 3)), np.zeros((3, 4, 2))
    for name in ("conv_transpose", "depthwise_conv"):
        with pytest.raises(ValueError) as theirs:
            getattr(keras.ops, name)(x, k)
        with pytest.raises(ValueError) as ours:
            getattr(fk.ops, name)(x, k)
        assert str(ours.value) == str(theirs.value)
    for name, arg in (("unfold", np.zeros((1, 2, 3))), ("fold", np.zeros((1, 2, 3, 4)))):
        extra = {"output_size": 4} if name == "fold" else {}
        with pytest.raises(ValueError, match="Input must be a"):
            getattr(fk.ops, name)(arg, kernel_size=2, **extra)
        with pytest.raises(ValueError, match="Input must be a"):
            getattr(keras.ops, name)(arg, kernel_size=2, **extra)
    with pytest.raises(ValueError, match="Invalid strategy"):
        fk.ops.ctc_decode(np.zeros((1, 2, 3)), [2], strategy="other")


@pytest.mark.parametrize("merge_repeated", [True, False])
@pytest.mark.parametrize("mask_index", [0, 2, None])
def test_ctc_decode_greedy(merge_repeated, mask_index):
    x = _rng(7).standard_normal((3, 8, 4)).astype(np.float32)
    x[0, 2:4] = x[0, 1]  # repeats of the same best class
    lengths = np.array([8, 5, 0])
    theirs = keras.ops.ctc_decode(x, lengths, merge_repeated=merge_repeated, mask_index=mask_index)
    ours = fk.ops.ctc_decode(x, lengths, merge_repeated=merge_repeated, mask_index=mask_index)
    assert ours[0].dtype == fastnn.int32 and ours[1].dtype == fastnn.float32
    np.testing.assert_array_equal(ours[0].numpy(), np.asarray(theirs[0]))
    np.testing.assert_allclose(ours[1].numpy(), np.asarray(theirs[1]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("beam_width,top_paths,mask_index", [(3, 2, 0), (6, 3, 4), (1, 1, None), (10, 4, 2)])
def test_ctc_decode_beam_search(beam_width, top_paths, mask_index):
    x = _rng(8 + beam_width).standard_normal((3, 7, 5)).astype(np.float32) * 2
    x[1, 2:5, 3] += 4  # a long repeat
    lengths = np.array([7, 4, 1])
    kw = dict(strategy="beam_search", beam_width=beam_width, top_paths=top_paths, mask_index=mask_index)
    theirs = keras.ops.ctc_decode(x, lengths, **kw)
    ours = fk.ops.ctc_decode(x, lengths, **kw)
    assert tuple(ours[0].shape) == (top_paths, 3, 7) and ours[0].dtype == fastnn.int32
    np.testing.assert_array_equal(ours[0].numpy(), np.asarray(theirs[0]))
    np.testing.assert_allclose(ours[1].numpy(), np.asarray(theirs[1]), rtol=1e-5, atol=1e-5)
