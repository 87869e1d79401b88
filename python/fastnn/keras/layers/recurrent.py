"""SimpleRNN, LSTM and GRU with Keras' arguments and weights, each run as ONE autograd op per layer
(fastnn.ops.rnn.rnn_layer: the input projection as one GEMM, one recurrent GEMM per step, a hand-written
backward through time) rather than a graph of per-step ops.

Weights are stored in Keras' layouts so ``get_weights``/``set_weights`` trade arrays with Keras unchanged:
kernel (in, gates*u), recurrent_kernel (u, gates*u), bias (gates*u,) -- GRU (2, 3u) with reset_after. At
call time they are handed to the op in torch's layout: a transposed view for SimpleRNN and LSTM (Keras'
LSTM gate order i, f, c, o is torch's i, f, g, o), and for GRU a column reorder (Keras z, r, h -> torch r,
z, n), one copy of the weights per call -- (in + u) * 3u floats, against the T recurrent GEMMs of the layer.
Keras' GRU with reset_after=True applies r after the recurrent matmul, exactly torch's GRU formula.

Input (batch, time, features); ``go_backwards`` flips the time axis first and, as Keras, leaves the
returned sequence in processing order. ``dropout`` on the inputs uses one mask per sequence shared by all
steps (Keras' rule). With a mask, ``stateful=True``, ``recurrent_dropout`` in training, activations other than
the fused cells' or GRU(reset_after=False), the layer runs its cell step by step instead (layers/rnn_cells.py,
same weights): masked steps keep the states."""
from __future__ import annotations

import numpy as np

from ... import creation, ops
from ...ops.rnn import rnn_layer
from .. import activations
from ..device_scope import get_device
from .base import Layer
from .seeded import dropout as seeded_dropout, make_stream, stream
from .conv import as_float


def _is(fn, name: str) -> bool:
    return fn is activations.get(name)


class _RNN(Layer):
    _gates = 1
    _mode = "RNN_TANH"

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed=None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, use_cudnn="auto", **kwargs) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        self._preset_weights(kernel=(kernel_regularizer, kernel_constraint),
                             recurrent_kernel=(recurrent_regularizer, recurrent_constraint),
                             bias=(bias_regularizer, bias_constraint))
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for argument `units`, expected a positive integer, got "
                             f"{units}.")
        if not 0 <= dropout < 1:
            raise ValueError(f"{cls}: dropout must be in [0, 1), got {dropout}")
        if not 0 <= recurrent_dropout < 1:
            raise ValueError(f"{cls}: recurrent_dropout must be in [0, 1), got {recurrent_dropout}")
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self.dropout, self.recurrent_dropout = float(dropout), float(recurrent_dropout)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        make_stream(self, seed)  # the dropout masks' own stream when seeded (Keras' SeedGenerator)
        self._check_activations()

    def _check_activations(self) -> None:
        """The fused op's cell is tanh / sigmoid; other activations run the cell loop."""
        if not (_is(self.activation, "tanh") and _is(self.recurrent_activation, "sigmoid")):
            self.__dict__["_fused"] = False

    def build(self, input_shape) -> None:
        if isinstance(input_shape, list):  # [inputs, *initial states], packed by __call__
            input_shape = input_shape[0]
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name}: expected an input of shape (batch, time, features) "
                             f"with known features, got {tuple(input_shape)}")
        width = self._gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer)
        self.bias = self.add_weight("bias", self._bias_shape(), self.bias_initializer) if self.use_bias else None

    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _torch_weights(self):
        """(w_ih (gates*u, in), w_hh (gates*u, u), b_ih, b_hh) for the op, from Keras' weights."""
        b_ih = self.bias
        b_hh = None if b_ih is None else creation.zeros(b_ih.shape[-1], dtype=b_ih.dtype.name, device=b_ih.device)
        return self.kernel.t(), self.recurrent_kernel.t(), b_ih, b_hh

    def _states_in(self, initial_state, n: int, device):
        if initial_state is None:
            return None, None
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        want = 2 if self._mode == "LSTM" else 1
        if len(states) != want:
            raise ValueError(f"{type(self).__name__} {self.name}: expected {want} initial state tensor(s), got "
                             f"{len(states)}")
        out = []
        for s in states:
            s = creation.tensor(np.asarray(s, np.float32), device=device) if not hasattr(s, "_data") else as_float(s)
            if tuple(s.shape) != (n, self.units):
                raise ValueError(f"{type(self).__name__} {self.name}: an initial state must have shape "
                                 f"({n}, {self.units}), got {tuple(s.shape)}")
            out.append(s.unsqueeze(0))
        return out[0], (out[1] if want == 2 else None)

    def __call__(self, inputs, initial_state=None, **kwargs):
        """Packs ``initial_state`` with the inputs into one list, so a functional model (an encoder's states
        feeding a decoder) records the states as inputs of this call; ``call`` unpacks it."""
        if initial_state is None or kwargs.get("_states"):
            return super().__call__(inputs, **kwargs)
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        return super().__call__([inputs] + states, _states=len(states), **kwargs)

    def call(self, inputs, training=None, initial_state=None, mask=None, _states: int = 0):
        if _states:
            inputs, initial_state = inputs[0], list(inputs[1:])
            if not hasattr(inputs, "_data"):
                inputs = creation.tensor(np.asarray(inputs), device=get_device())
        if isinstance(mask, (list, tuple)):  # the masks of [inputs, *initial states]: the inputs' one
            mask = mask[0]
        if mask is not None or self.stateful or not self.__dict__.get("_fused", True) or (
                training and self.recurrent_dropout > 0):
            # the fused op has no per-step mask, kept state or state dropout: this layer's cell runs the loop
            return self._masked_runner().call(inputs, initial_state=initial_state, mask=mask,
                                              training=bool(training))
        if inputs.ndim != 3:
            raise ValueError(f"{type(self).__name__} {self.name}: expected an input of shape (batch, time, "
                             f"features), got {tuple(inputs.shape)}")
        x = as_float(inputs)
        n, length = x.shape[0], x.shape[1]
        if length == 0:
            raise ValueError(f"{type(self).__name__} {self.name}: the sequence has no time steps")
        if self.go_backwards:
            x = x[:, ::-1]
        if training and self.dropout > 0:  # one mask per sequence, shared by all its steps (Keras)
            with stream(self):
                keep = seeded_dropout(creation.ones((n, 1, x.shape[2]), dtype=x.dtype.name, device=x.device),
                                      self.dropout)
            x = x * keep
        hx, cx = self._states_in(initial_state, n, x.device)
        y = rnn_layer(self._mode, x.transpose(0, 1), length, [self._torch_weights()], hx, cx, 0)
        last = y[length - 1]
        out = y.transpose(0, 1) if self._mode != "LSTM" else y[:length].transpose(0, 1)
        out = out if self.return_sequences else last
        if not self.return_state:
            return out
        return [out, last, y[length]] if self._mode == "LSTM" else [out, last]

    def _masked_runner(self):
        """A generic RNN (layers/rnn_cells.py) over this layer's cell on the SAME weight tensors, made once: it
        steps in Python, keeping states and outputs through masked steps as Keras does."""
        runner = self.__dict__.get("_runner")
        if runner is None:
            from .rnn_cells import RNN, GRUCell, LSTMCell, SimpleRNNCell

            cls = {"LSTM": LSTMCell, "GRU": GRUCell}.get(self._mode, SimpleRNNCell)
            kw = {} if cls is SimpleRNNCell else {"recurrent_activation": self.recurrent_activation}
            if cls is GRUCell:
                kw["reset_after"] = self.reset_after
            cell = cls(self.units, activation=self.activation, use_bias=self.use_bias, dropout=self.dropout,
                       recurrent_dropout=self.recurrent_dropout, seed=self.seed, name=f"{self.name}_cell", **kw)
            cell.kernel, cell.recurrent_kernel, cell.bias = self.kernel, self.recurrent_kernel, self.bias
            cell.built = True
            runner = RNN(cell, return_sequences=self.return_sequences, return_state=self.return_state,
                         go_backwards=self.go_backwards, stateful=self.stateful, name=f"{self.name}_masked")
            runner.built = True
            self.__dict__["_runner"] = runner
        return runner

    @property
    def states(self):
        """With ``stateful=True``: the states the next call starts from (None before the first call)."""
        runner = self.__dict__.get("_runner")
        return None if runner is None else runner.states

    def reset_state(self) -> None:
        runner = self.__dict__.get("_runner")
        if runner is not None:
            runner.reset_state()

    reset_states = reset_state

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out] + [None] * (2 if self._mode == "LSTM" else 1) if self.return_state else out

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": activations.name_of(self.activation),
                "use_bias": self.use_bias, "dropout": self.dropout, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards}


class SimpleRNN(_RNN):
    """h_t = activation(x_t kernel + h_{t-1} recurrent_kernel + bias); activation 'tanh' or 'relu'."""

    def __init__(self, units: int, activation="tanh", **kwargs) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def _check_activations(self) -> None:
        if _is(self.activation, "tanh"):
            self._mode = "RNN_TANH"
        elif _is(self.activation, "relu"):
            self._mode = "RNN_RELU"
        else:  # the fused op has tanh and relu cells: others run the cell loop
            self.__dict__["_fused"] = False


class LSTM(_RNN):
    """Gates i, f, c, o (Keras' order, = torch's i, f, g, o); ``unit_forget_bias`` starts the forget gate's
    bias at 1."""
    _gates = 4
    _mode = "LSTM"

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs) -> None:
        self.unit_forget_bias = bool(unit_forget_bias)
        super().__init__(units, **kwargs)

    def build(self, input_shape) -> None:
        super().build(input_shape)
        if self.use_bias and self.unit_forget_bias:
            u = self.units
            self.bias._write(slice(u, 2 * u), 1.0)


class GRU(_RNN):
    """Keras' GRU with reset_after=True (its default): gates z, r, h, bias (2, 3u) = [input bias, recurrent
    bias]; the reset gate multiplies (h W_h + b_rec_h), which is torch's GRU cell exactly."""
    _gates = 3
    _mode = "GRU"

    def __init__(self, units: int, reset_after: bool = True, **kwargs) -> None:
        self.reset_after = bool(reset_after)
        super().__init__(units, **kwargs)
        if not self.reset_after:  # Keras 1's variant (r before the recurrent matmul): the cell loop runs it
            self.__dict__["_fused"] = False

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _torch_weights(self):
        u = self.units

        def reorder(t):  # last dim Keras z, r, h -> torch r, z, n
            return ops.cat([t[..., u:2 * u], t[..., :u], t[..., 2 * u:]], -1)

        w_ih = reorder(self.kernel).t()
        w_hh = reorder(self.recurrent_kernel).t()
        if self.bias is None:
            return w_ih, w_hh, None, None
        b = reorder(self.bias)
        return w_ih, w_hh, b[0], b[1]
