"""RNN, LSTM and GRU: multi-layer, optionally bidirectional recurrent layers with torch's arguments,
parameter names and layouts (weight_ih_l{k}[_reverse] of shape (gates*H, in), gates stacked in torch's
order: LSTM i, f, g, o; GRU r, z, n), so a torch state_dict loads unchanged.

Each layer runs as one autograd op (ops/rnn.py); dropout sits between layers in training mode."""
from __future__ import annotations

import math
import numbers
import warnings

from .. import amp_state, creation, dtypes
from ..ops.dropout import dropout as _dropout
from ..ops.rnn import final_states, rnn_layer
from .._tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _dims(t) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


class RNNBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size != 0:
            raise NotImplementedError("fastnn: LSTM with proj_size > 0 is not implemented")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
        gate_size = _GATES[mode] * hidden_size
        num_directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [(gate_size, layer_input), (gate_size, hidden_size)]
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                if bias:
                    shapes += [(gate_size,), (gate_size,)]
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(creation.empty(*shape, dtype=dt, device=device)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """torch packs weights for cuDNN here; fastnn's layout needs nothing."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ---- forward ----------------------------------------------------------------------------------------
    def _check_hidden(self, h, expected, what: str) -> None:
        if tuple(h.shape) != expected:
            raise RuntimeError(f"Expected {what} size {expected}, got {_dims(h)}")

    def _run(self, input, hx, cx):
        """Validates and runs the layers: returns (output, h_n, c_n or None), batched shapes restored."""
        if self.mode != "GRU" and amp_state.applies(self.weight_ih_l0, input):
            return self._run_autocast(input, hx, cx)
        return self._run_layers(input, hx, cx, self.all_weights)

    def _run_autocast(self, input, hx, cx):
        """torch's CPU autocast runs LSTM and RNN in bfloat16 (its oneDNN RNN layer is on the lower-precision
        list; GRU is not): the recurrence computes in float32 on bf16-rounded input, states and weights, and
        the outputs are bfloat16."""
        shape = [len(ws) for ws in self.all_weights]
        flat = [w for ws in self.all_weights for w in ws]

        def run(x, h, c, *ws):
            it = iter(ws)
            return self._run_layers(x, h, c, [[next(it) for _ in range(k)] for k in shape])

        out = amp_state.on_rounded(run, input, hx, cx, *flat)
        return tuple(None if t is None else t.to(amp_state.STATE.dtype) for t in out)

    def _run_layers(self, input, hx, cx, weights):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead")
        weight_dt = weights[0][0].dtype
        if input.dtype is not weight_dt:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight_dt}). Convert "
                             f"input: input.to({weight_dt}), or convert model: model.to({input.dtype})")
        lstm = self.mode == "LSTM"
        batched = input.ndim == 3
        states = [s for s in (hx, cx) if s is not None]
        for s in states:
            if not isinstance(s, Tensor):
                raise TypeError(f"{name}: expected hx to be a Tensor, got {type(s).__name__}")
        want = 3 if batched else 2
        if any(s.ndim != want for s in states):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            if lstm:
                got = ", ".join(f"{s.ndim}-D" for s in states)
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got ({got}) tensors")
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {states[0].ndim}-D tensor")
        if not batched:
            input = input.unsqueeze(1)
            hx = hx.unsqueeze(1) if hx is not None else None
            cx = cx.unsqueeze(1) if cx is not None else None
        elif self.batch_first:
            input = input.transpose(0, 1)
        length, n, in_size = input.shape
        if in_size != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {in_size}")
        ndir = 2 if self.bidirectional else 1
        expected = (self.num_layers * ndir, n, self.hidden_size)
        for s, what in ((hx, "hidden[0]" if lstm else "hidden"), (cx, "hidden[1]")):
            if s is not None:
                if s.dtype is not weight_dt:
                    raise RuntimeError(f"{name}: expected {what} of dtype {weight_dt}, got {s.dtype}")
                self._check_hidden(s, expected, what)
        if length == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        layer_outputs = []
        x = input
        for layer in range(self.num_layers):
            ws = [tuple(d[:2]) + (tuple(d[2:]) if self.bias else (None, None)) for d in
                  weights[layer * ndir:(layer + 1) * ndir]]
            y = rnn_layer(self.mode, x, length, ws, hx, cx if lstm else None, layer)
            layer_outputs.append(y)
            x = y
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _dropout(y, self.dropout, True)
        output = layer_outputs[-1][:length] if lstm else layer_outputs[-1]
        final = final_states(layer_outputs, length, ndir, lstm)
        h_n, c_n = (final[0], final[1]) if lstm else (final, None)
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n, c_n


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act tanh or relu."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n


class LSTM(RNNBase):
    """LSTM with gates i, f, g, o: c_t = f c_{t-1} + i g, h_t = o tanh(c_t); returns (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of Tensors")
            h0, c0 = hx
        output, h_n, c_n = self._run(input, h0, c0)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """GRU with gates r, z, n: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        output, h_n, _ = self._run(input, hx, None)
        return output, h_n
