"""keras.ops.nn: conv_transpose, depthwise_conv, separable_conv, unfold, fold and ctc_decode on fastnn
Tensors (Keras 3 signatures and kernel layouts; channels_last by default). The convolutions and
unfold/fold run on fastnn.nn.functional, so they keep autograd. ctc_decode is a search, not differentiable.

(keras.ops.polar is not here: fastnn has no complex dtypes.)"""
from __future__ import annotations

import math

import fastnn
import fastnn.nn.functional as F

from ._convert import to_tensor
from .nn import _channels_first, _fn, _tuple, conv


def _data_format(data_format):
    return "channels_last" if data_format is None else data_format


def _check_channels(x, kernel, data_format, axis):
    fmt = _data_format(data_format)
    have = x.shape[-1] if fmt == "channels_last" else x.shape[1]
    want = kernel.shape[axis]
    if have != want:
        raise ValueError("The number of input channels must match the kernel's input channels. Received: input "
                         f"channels={have}, kernel input channels={want}, data_format='{fmt}'.")


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """kernel (*spatial, in, multiplier): each input channel convolved with its own `multiplier` filters;
    output channel c * multiplier + m."""
    x, k = to_tensor(inputs), to_tensor(kernel)
    _check_channels(x, k, data_format, -2)
    k = k.reshape(tuple(k.shape[:-2]) + (1, k.shape[-2] * k.shape[-1]))
    return conv(x, k, strides, padding, data_format, dilation_rate)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """A depthwise_conv, then a 1x1 conv with pointwise_kernel (*ones, in * multiplier, out)."""
    x, dk = to_tensor(inputs), to_tensor(depthwise_kernel)
    _check_channels(x, dk, data_format, -2)
    mid = depthwise_conv(x, dk, strides, padding, data_format, dilation_rate)
    return conv(mid, to_tensor(pointwise_kernel), 1, "valid", data_format, 1)


def _transpose_pads(size, stride, dilation, padding, output_padding):
    """Keras' (left, right) padding of the stride-dilated input for a transposed convolution (the
    XLA/JAX convention): 'valid' gives (n - 1) * s + max(k, s) positions, 'same' n * s, and an explicit
    output_padding (n - 1) * s + k + output_padding resp. (n - 1) * s + k % 2 + output_padding."""
    eff = (size - 1) * dilation + 1
    if padding == "valid":
        extra = max(eff, stride) - eff if output_padding is None else output_padding
        return eff - 1, eff - 1 + extra
    total = stride + eff - 2 if output_padding is None else eff + eff % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, eff - 1)
    return left, total - left


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """kernel (*spatial, out, in). Runs fastnn's conv_transpose with no padding (the full
    (n - 1) * s + dilated-k output) and crops, or zero-extends, each side to Keras' window."""
    x, k = to_tensor(inputs), to_tensor(kernel)
    nd = x.dim() - 2
    if nd not in (1, 2, 3):
        raise ValueError("Inputs to conv transpose operation should have ndim=3, 4, or 5, corresponding to 1D, "
                         f"2D and 3D inputs. Received input shape: {tuple(x.shape)}.")
    if padding not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be one of 'valid', 'same'. Received: padding={padding}")
    _check_channels(x, k, data_format, -1)
    x, last = _channels_first(x, data_format)
    strides, dil = _tuple(strides, nd), _tuple(dilation_rate, nd)
    outpad = (None,) * nd if output_padding is None else _tuple(output_padding, nd)
    w = k.permute((nd + 1, nd) + tuple(range(nd)))  # (*k, out, in) -> (in, out, *k)
    out = _fn("conv_transpose", nd)(x, w, None, stride=strides, dilation=dil)
    index, extend = [slice(None), slice(None)], []
    for i in range(nd):
        eff = (k.shape[i] - 1) * dil[i] + 1
        left, right = _transpose_pads(k.shape[i], strides[i], dil[i], padding, outpad[i])
        cut_l, cut_r = eff - 1 - left, eff - 1 - right
        index.append(slice(max(cut_l, 0), out.shape[2 + i] - max(cut_r, 0)))
        extend.append((max(-cut_l, 0), max(-cut_r, 0)))
    out = out[tuple(index)]
    if any(a or b for a, b in extend):
        out = F.pad(out, [p for pair in reversed(extend) for p in pair])
    return fastnn.movedim(out, 1, -1) if last else out


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """im2col of a (N, C, H, W) input: (N, C * kH * kW, L)."""
    x = to_tensor(x)
    if x.dim() != 4:
        raise ValueError(f"Input must be a 4D tensor. Received: input.shape={tuple(x.shape)}")
    return F.unfold(x, kernel_size, dilation=dilation, padding=padding, stride=stride)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, unfold's adjoint: (N, C * kH * kW, L) blocks summed into (N, C, *output_size)."""
    x = to_tensor(x)
    if x.dim() != 3:
        raise ValueError(f"Input must be a 3D tensor. Received: input.shape={tuple(x.shape)}")
    return F.fold(x, output_size, kernel_size, dilation=dilation, padding=padding, stride=stride)


# ---- ctc_decode ----
def _float_inputs(inputs):
    x = to_tensor(inputs)
    if not x.is_floating_point() or x.dtype == fastnn.float16:
        x = x.to(fastnn.float32)  # Keras: result_type(inputs.dtype, "float32")
    return x


def _ctc_greedy(x, lengths, merge_repeated, mask_index):
    """Per step the best class; steps past the sequence length and (when merging) repeats become the
    blank, blanks are dropped (-1, moved to the end). Scores: minus the sum of the best values."""
    batch, steps, classes = x.shape
    blank = classes - 1 if mask_index is None else mask_index
    best = x.argmax(-1).to(fastnn.int32)
    score = x.amax(-1)
    dev = x.device
    past = fastnn.arange(steps, device=dev).reshape(1, steps) >= lengths.reshape(batch, 1)
    best = fastnn.where(past, fastnn.full_like(best, blank), best)
    score = fastnn.where(past, fastnn.zeros_like(score), score)
    if merge_repeated and steps > 1:
        same = best[:, 1:] == best[:, :-1]
        same = fastnn.cat([fastnn.zeros((batch, 1), dtype=fastnn.bool, device=dev), same], dim=1)
        best = fastnn.where(same, fastnn.full_like(best, blank), best)
    dropped = best == blank
    best = fastnn.where(dropped, fastnn.full_like(best, -1), best)
    position = fastnn.where(dropped, fastnn.full((batch, steps), steps, dtype=fastnn.int64, device=dev),
                            fastnn.arange(steps, device=dev).reshape(1, steps).expand((batch, steps)))
    order = fastnn.argsort(position, dim=-1, stable=True)
    best = fastnn.take_along_dim(best, order, dim=-1)
    return best.unsqueeze(0), -score.sum(1, keepdim=True)


def _logaddexp_all(values):
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def _ctc_beam(x, lengths, beam_width, top_paths, mask_index):
    """Prefix beam search on the log-softmax of the inputs (the search Keras' backends run): each beam is
    a label prefix with two scores, ending in a blank or in its last label; every step extends each beam
    by every class (a blank or a repeat of the last label without a blank between keeps the prefix),
    merges equal prefixes in log space and keeps the beam_width best. Returns the top_paths best
    prefixes, padded with -1, and their log-probabilities."""
    batch, steps, classes = x.shape
    blank = classes - 1 if mask_index is None else mask_index
    logp = F.log_softmax(x, dim=-1)
    rows = logp.tolist()  # a search over a few floats per step: a host loop
    spans = [int(v) for v in lengths.tolist()]
    neg = -math.inf
    all_paths, all_scores = [], []
    for b in range(batch):
        lp = rows[b]
        # the best min(classes, beam_width) classes at step 0; ties to the lower class
        first = sorted(range(classes), key=lambda c: (-lp[0][c], c))[:min(classes, beam_width)]
        beams = {}  # prefix -> [score ending in a label, score ending in a blank]
        for c in first:
            key = () if c == blank else (c,)
            track = beams.setdefault(key, [neg, neg])
            track[c == blank] = _logaddexp_all([track[c == blank], lp[0][c]])
        for t in range(1, spans[b]):
            nxt = {}
            for prefix, (emit, rest) in beams.items():
                for c in range(classes):
                    if c == blank:
                        key, slot, adds = prefix, 1, (emit + lp[t][c], rest + lp[t][c])
                    elif prefix and prefix[-1] == c:
                        # the repeat merges onto a prefix that ended in the label; after a blank it is new
                        nxt.setdefault(prefix, [[], []])[0].append(emit + lp[t][c])
                        key, slot, adds = prefix + (c,), 0, (rest + lp[t][c],)
                    else:
                        key, slot, adds = prefix + (c,), 0, (emit + lp[t][c], rest + lp[t][c])
                    nxt.setdefault(key, [[], []])[slot].extend(adds)
            merged = {p: [_logaddexp_all(e) if e else neg, _logaddexp_all(r) if r else neg]
                      for p, (e, r) in nxt.items()}
            ranked = sorted(merged.items(), key=lambda kv: -_logaddexp_all(kv[1]))[:beam_width]
            beams = dict(ranked)
        final = sorted(((p, _logaddexp_all(s)) for p, s in beams.items()), key=lambda kv: -kv[1])[:top_paths]
        while len(final) < top_paths:  # fewer distinct prefixes than asked for
            final.append(((), neg))
        all_paths.append([list(p) + [-1] * (steps - len(p)) for p, _ in final])
        all_scores.append([s for _, s in final])
    paths = fastnn.tensor(all_paths, dtype=fastnn.int32, device=x.device).reshape(batch, top_paths, steps)
    paths = paths.permute(1, 0, 2)
    return paths, fastnn.tensor(all_scores, dtype=x.dtype, device=x.device).reshape(batch, top_paths)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """Keras' CTC decoding of (batch, steps, classes) scores. 'greedy': (decoded (1, batch, steps) int32
    padded with -1, scores (batch, 1) minus the summed best inputs); 'beam_search' (always merges
    repeats): (decoded (top_paths, batch, steps), log-probabilities (batch, top_paths))."""
    x = _float_inputs(inputs)
    lengths = to_tensor(sequence_lengths).to(fastnn.int64).to(x.device)
    if strategy == "greedy":
        return _ctc_greedy(x, lengths, merge_repeated, mask_index)
    if strategy == "beam_search":
        return _ctc_beam(x, lengths, beam_width, top_paths, mask_index)
    raise ValueError(f"Invalid strategy {strategy}. Supported values are 'greedy' and 'beam_search'.")
