"""RNNCell, LSTMCell, GRUCell: one time step, with torch's parameter names (weight_ih, weight_hh, bias_ih,
bias_hh) and layouts. A step is the one-step, one-layer case of the recurrent layer op (ops/rnn.py)."""
from __future__ import annotations

import math

from .. import amp_state, creation, dtypes
from ..ops.rnn import rnn_layer
from .._tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


class RNNCellBase(Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.default_float
        self.weight_ih = Parameter(creation.empty(num_chunks * hidden_size, input_size, dtype=dt, device=device))
        self.weight_hh = Parameter(creation.empty(num_chunks * hidden_size, hidden_size, dtype=dt, device=device))
        if bias:
            self.bias_ih = Parameter(creation.empty(num_chunks * hidden_size, dtype=dt, device=device))
            self.bias_hh = Parameter(creation.empty(num_chunks * hidden_size, dtype=dt, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _step(self, mode: str, input, states, weights=None):
        """Validates, then runs one step: returns the layer op's packed output (1 or 2, N, H) and whether
        the input was batched. ``weights``: (w_ih, w_hh, b_ih, b_hh) in place of the parameters."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        params = self._parameters  # read once: each self.weight_ih goes through Module.__getattr__
        if weights is not None:
            w_ih, w_hh, b_ih, b_hh = weights
        else:
            try:
                w_ih, w_hh, b_ih, b_hh = (params["weight_ih"], params["weight_hh"], params["bias_ih"],
                                          params["bias_hh"])
            except KeyError:  # one was deleted: the attribute look-up raises its usual error
                w_ih, w_hh, b_ih, b_hh = self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        wdt = w_ih.dtype
        if input.dtype is not wdt:
            raise ValueError(f"{name}: input dtype ({input.dtype}) does not match weight dtype "
                             f"({wdt})")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} expected {self.input_size}")
        checked = []
        for k, s in enumerate(states):
            if s is None:
                checked.append(None)
                continue
            if not isinstance(s, Tensor):
                raise TypeError(f"{name}: expected hx to be a Tensor, got {type(s).__name__}")
            if s.ndim != input.ndim - (0 if batched else 1):
                raise RuntimeError(f"{name}: expected hidden{k} to be {input.ndim - (0 if batched else 1)}-D "
                                   f"like the input, got {s.ndim}-D")
            if s.dtype is not wdt:
                raise RuntimeError(f"{name}: expected hidden{k} of dtype {wdt}, got {s.dtype}")
            if not batched:
                s = s.unsqueeze(0)
            if s.shape[0] != input.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{k} batch size "
                                   f"{s.shape[0]}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {s.shape[1]}, expected "
                                   f"{self.hidden_size}")
            checked.append(s)  # (N, H): the layer op reads 2-D states as one layer, one direction
        weights = ((w_ih, w_hh, b_ih, b_hh),)
        cx = checked[1] if len(checked) > 1 else None
        return rnn_layer(mode, input, 1, weights, checked[0], cx, 0), batched


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        if amp_state.applies(self.weight_ih, input):
            # torch's cell is built of linears, which CPU autocast runs in bfloat16 (LSTMCell / GRUCell are
            # fused ops outside its lists and stay float32): the step on rounded values, a bfloat16 result
            y, batched = amp_state.on_rounded(lambda x, h, *ws: self._step(mode, x, (h,), ws), input, hx,
                                              self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
            y = y.to(amp_state.STATE.dtype)
        else:
            y, batched = self._step(mode, input, (hx,))
        return y[0] if batched else y[0, 0]


class LSTMCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTMCell: hx must be a tuple (h_0, c_0) of Tensors")
            h0, c0 = hx
        y, batched = self._step("LSTM", input, (h0, c0))
        return (y[0], y[1]) if batched else (y[0, 0], y[1, 0])


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        y, batched = self._step("GRU", input, (hx,))
        return y[0] if batched else y[0, 0]
