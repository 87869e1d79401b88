"""Keras' recurrent cells (SimpleRNNCell, LSTMCell, GRUCell), StackedRNNCells and the generic RNN layer
that runs any cell -- ours or a user's object with ``state_size`` and ``call(inputs, states)`` -- one step at
a time with fastnn ops (so autograd sees every step; the fused SimpleRNN / LSTM / GRU layers of
layers/recurrent.py stay the fast path for the standard cells).

Weights are in Keras' layouts and order: kernel (in, gates * u), recurrent_kernel (u, gates * u), bias
(gates * u,) -- GRU's (2, 3u) with reset_after -- with Keras' gate orders (LSTM i, f, c, o; GRU z, r, h).

RNN follows Keras' loop (backend/torch/rnn.py): ``go_backwards`` flips the time axis and the returned
sequence stays in processing order; with a mask (batch, time) a masked step keeps every state and repeats
the previous output (zeros before the first unmasked step, or always zeros with zero_output_for_mask).
``unroll`` only chooses how Keras builds the loop, not its results, so it is recorded and the loop is the
same. Dropout masks (``dropout`` on the inputs, ``recurrent_dropout`` on the state) are drawn once per
sequence and shared by its steps, as Keras' DropoutRNNCell."""
from __future__ import annotations

import functools
import inspect

from ... import creation, ops
from .. import activations, constraints, regularizers
from ..device_scope import get_device
from .base import Layer
from .seeded import dropout as seeded_dropout, make_stream, stream
from .conv import as_float
from .conv_extra import _serialize


# ---- nested state structures (a state is a tensor or a list of them, as Keras' tree) ------------------------
def _nested(x) -> bool:
    return isinstance(x, (list, tuple))


def _flatten(x) -> list:
    if _nested(x):
        return [t for v in x for t in _flatten(v)]
    return [x]


def _pack(structure, flat: list):
    """``flat`` (consumed from the front) in the nesting of ``structure``."""
    it = iter(flat)

    def build(s):
        if _nested(s):
            return [build(v) for v in s]
        return next(it)
    return build(structure)


@functools.lru_cache(maxsize=None)
def _takes_training(fn) -> bool:
    params = inspect.signature(fn).parameters
    return "training" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def call_cell(cell, inputs, states, training: bool):
    """Keras' step call: ``cell.call(inputs, states)`` plus ``training=`` when the call accepts it."""
    fn = cell.call
    target = getattr(fn, "__func__", fn)
    if _takes_training(target):
        return fn(inputs, states, training=training)
    return fn(inputs, states)


def _build_cell(cell, input_shape) -> None:
    if isinstance(cell, Layer) and not cell.built:
        cell.build(input_shape)
        cell.built = True


def _output_size(cell) -> int:
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    return cell.state_size[0] if _nested(cell.state_size) else cell.state_size


def _zeros_states(state_size, batch: int, like):
    sizes = state_size if _nested(state_size) else [state_size]
    return [creation.zeros((batch, int(d)), dtype=like.dtype.name, device=like.device) for d in sizes]


def _check_cell(cell, what: str = "Argument `cell` should have") -> None:
    if "call" not in dir(cell):
        raise ValueError(f"{what} a `call` method. Received: cell={cell}")
    if "state_size" not in dir(cell):
        raise ValueError("The RNN cell should have a `state_size` attribute (single integer or list of integers, "
                         f"one integer per RNN state). Received: cell={cell}")


def serialize_cell(cell) -> dict:
    """Keras' serialized form of a cell (``from_config`` of the RNN rebuilds it from this)."""
    from .. import config_lib

    return config_lib.serialize_object(cell)


def _saved_cell(value):
    """A cell given as a recorded layer config (as ``_record_cells`` stores it, model.save's form) or in
    Keras' serialized form -> a fresh cell."""
    from .. import config_lib, saving

    if isinstance(value, dict) and "class_name" in value and "args" in value and "kwargs" in value:
        return saving._make_layer(value, saving._layer_classes(None))
    return config_lib.deserialize_object(value) if config_lib.is_serialized_object(value) else value


def _record_cells(layer, name: str, cells) -> None:
    """Rewrites the recorded constructor argument ``name`` as the cells' recorded configs (model.save's
    layer_config, as Bidirectional stores its layer), so a copy made from the constructor arguments
    (Bidirectional's backward layer, load_model) gets cells of its own, as Keras' serialize/deserialize
    round trip does, instead of sharing these cell objects."""
    from .. import saving

    cls, args, kw = layer.__dict__.get("_init_args", (None, (), {}))
    if cls is None or name not in inspect.signature(cls.__init__).parameters:
        return  # made by a subclass with its own arguments (ConvLSTM2D): nothing to rewrite
    try:
        many = isinstance(cells, (list, tuple))
        saved = [saving.layer_config(c) for c in cells] if many else saving.layer_config(cells)
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return  # a cell without a usable config stays an object (a copy then shares it)
    if name in kw or not args:
        kw = {**kw, name: saved}
    else:
        args = (saved,) + tuple(args[1:])
    layer.__dict__["_init_args"] = (cls, args, kw)


# ---- cells ------------------------------------------------------------------------------------------------------
class _Cell(Layer):
    """Shared: Keras' arguments, per-sequence dropout masks, and a direct ``cell(inputs, states)`` call."""
    _gates = 1

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed=None, **kwargs) -> None:
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Received an invalid value for argument `units`, expected a positive integer, got "
                             f"{units}.")
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.recurrent_initializer = kernel_initializer, recurrent_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        make_stream(self, seed)  # the dropout masks' own stream when seeded (Keras' SeedGenerator)
        self.state_size = units
        self.output_size = units
        self._dropout_mask = None
        self._recurrent_dropout_mask = None

    def _weight(self, name, shape, initializer, regularizer, constraint):
        kw = {k: v for k, v in (("regularizer", regularizer), ("constraint", constraint)) if v is not None}
        return self.add_weight(shape=shape, initializer=initializer, name=name, **kw)

    def build(self, input_shape) -> None:
        width = self._gates * self.units
        self.kernel = self._weight("kernel", (input_shape[-1], width), self.kernel_initializer,
                                   self.kernel_regularizer, self.kernel_constraint)
        self.recurrent_kernel = self._weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                                             self.recurrent_regularizer, self.recurrent_constraint)
        self.bias = self._weight("bias", self._bias_shape(), self.bias_initializer, self.bias_regularizer,
                                 self.bias_constraint) if self.use_bias else None

    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def forward(self, inputs, states=None, training=None, **kwargs):
        """``cell(inputs, states)``: one step (Keras cells are callable on a step and its states)."""
        self._maybe_build(inputs)
        if states is None:
            states = self.get_initial_state(inputs.shape[0])
        return self.call(as_float(inputs), states, training=bool(self.training if training is None else training))

    # dropout masks, one per sequence (Keras' DropoutRNNCell): made on first use, dropped by reset_*
    def _mask(self, like, rate: float, count: int):
        ones = creation.ones(tuple(like.shape), dtype=like.dtype.name, device=like.device)
        with stream(self):
            masks = [seeded_dropout(ones, rate) for _ in range(count)]
        return masks if count > 1 else masks[0]

    def _mask_count(self) -> int:
        return 1

    def get_dropout_mask(self, step_input):
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._mask(step_input, self.dropout, self._mask_count())
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_input):
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._mask(step_input, self.recurrent_dropout, self._mask_count())
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def get_initial_state(self, batch_size=None):
        ref = self.kernel if self.built else creation.zeros(1, device=get_device())
        return _zeros_states(self.state_size, int(batch_size), ref)

    def get_config(self) -> dict:
        cfg = {**super().get_config(), "units": self.units, "activation": activations.name_of(self.activation)}
        if self._gates > 1:
            cfg["recurrent_activation"] = activations.name_of(self.recurrent_activation)
        cfg.update({"use_bias": self.use_bias,
                    "kernel_initializer": _serialize("initializers", self.kernel_initializer),
                    "recurrent_initializer": _serialize("initializers", self.recurrent_initializer),
                    "bias_initializer": _serialize("initializers", self.bias_initializer),
                    "kernel_regularizer": _serialize("regularizers", self.kernel_regularizer),
                    "recurrent_regularizer": _serialize("regularizers", self.recurrent_regularizer),
                    "bias_regularizer": _serialize("regularizers", self.bias_regularizer),
                    "kernel_constraint": _serialize("constraints", self.kernel_constraint),
                    "recurrent_constraint": _serialize("constraints", self.recurrent_constraint),
                    "bias_constraint": _serialize("constraints", self.bias_constraint),
                    "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed})
        return cfg


class SimpleRNNCell(_Cell):
    """h_t = activation(x_t kernel + bias + h_{t-1} recurrent_kernel)."""

    def __init__(self, units: int, activation="tanh", use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed=None, **kwargs) -> None:
        super().__init__(units, activation, "sigmoid", use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed,
                         **kwargs)

    def call(self, sequence, states, training=False):
        prev = states[0] if _nested(states) else states
        dp, rec_dp = self.get_dropout_mask(sequence), self.get_recurrent_dropout_mask(prev)
        if training and dp is not None:
            sequence = sequence * dp
        h = ops.matmul(sequence, self.kernel)
        if self.bias is not None:
            h = h + self.bias
        if training and rec_dp is not None:
            prev = prev * rec_dp
        output = self.activation(h + ops.matmul(prev, self.recurrent_kernel))
        return output, ([output] if _nested(states) else output)


class LSTMCell(_Cell):
    """Gates i, f, c, o: c_t = f c_{t-1} + i act(x W_c + h U_c + b_c), h_t = o act(c_t); ``unit_forget_bias``
    starts the forget gate's bias at 1."""
    _gates = 4

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed=None, **kwargs) -> None:
        implementation = kwargs.pop("implementation", 2)
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, seed, **kwargs)
        self.implementation = 1 if self.recurrent_dropout != 0.0 else implementation
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [units, units]

    def _mask_count(self) -> int:
        return self._gates if self.implementation == 1 else 1

    def build(self, input_shape) -> None:
        super().build(input_shape)
        if self.bias is not None and self.unit_forget_bias:
            self.bias._write(slice(self.units, 2 * self.units), 1.0)

    def _inputs_per_gate(self, x, mask, training):
        if training and mask is not None:
            return [x * m for m in mask] if isinstance(mask, list) else [x * mask] * self._gates
        return [x] * self._gates

    def _pre_activations(self, inputs, h, training):
        """The gates' pre-activations [z_0 .. z_{gates-1}], each (batch, units)."""
        u = self.units
        xs = self._inputs_per_gate(inputs, self.get_dropout_mask(inputs), training)
        hs = self._inputs_per_gate(h, self.get_recurrent_dropout_mask(h), training)
        if all(x is inputs for x in xs) and all(t is h for t in hs):  # one GEMM each (Keras' implementation 2)
            z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel)
            if self.bias is not None:
                z = z + self.bias
            return [z[:, g * u:(g + 1) * u] for g in range(self._gates)]
        out = []
        for g in range(self._gates):
            z = ops.matmul(xs[g], self.kernel[:, g * u:(g + 1) * u])
            z = z + ops.matmul(hs[g], self.recurrent_kernel[:, g * u:(g + 1) * u])
            out.append(z + self.bias[g * u:(g + 1) * u] if self.bias is not None else z)
        return out

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        z_i, z_f, z_c, z_o = self._pre_activations(inputs, h_prev, training)
        i, f, o = self.recurrent_activation(z_i), self.recurrent_activation(z_f), self.recurrent_activation(z_o)
        c = f * c_prev + i * self.activation(z_c)
        h = o * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg["unit_forget_bias"] = self.unit_forget_bias
        return cfg


class GRUCell(_Cell):
    """Gates z, r, h: h_t = z h_{t-1} + (1 - z) act(x W_h + r (h U_h + b_rh)) with ``reset_after`` (Keras 3's
    default, bias (2, 3u) = [input bias, recurrent bias]), or act(x W_h + (r h) U_h) without."""
    _gates = 3

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, reset_after: bool = True, seed=None, **kwargs) -> None:
        implementation = kwargs.pop("implementation", 2)
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, seed, **kwargs)
        self.implementation = 1 if self.recurrent_dropout != 0.0 else implementation
        self.reset_after = bool(reset_after)

    def _mask_count(self) -> int:
        return self._gates if self.implementation == 1 else 1

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        u = self.units
        h_prev = states[0] if _nested(states) else states
        in_bias = rec_bias = None
        if self.bias is not None:
            in_bias, rec_bias = (self.bias[0], self.bias[1]) if self.reset_after else (self.bias, None)
        dp, rec_dp = self.get_dropout_mask(inputs), self.get_recurrent_dropout_mask(h_prev)

        def per_gate(x, mask):
            if training and mask is not None:
                return [x * m for m in mask] if isinstance(mask, list) else [x * mask] * 3
            return [x] * 3

        xs, hs = per_gate(inputs, dp), per_gate(h_prev, rec_dp)
        xz, xr, xh = (ops.matmul(xs[g], self.kernel[:, g * u:(g + 1) * u]) for g in range(3))
        if in_bias is not None:
            xz, xr, xh = xz + in_bias[:u], xr + in_bias[u:2 * u], xh + in_bias[2 * u:]
        rz = ops.matmul(hs[0], self.recurrent_kernel[:, :u])
        rr = ops.matmul(hs[1], self.recurrent_kernel[:, u:2 * u])
        if rec_bias is not None:
            rz, rr = rz + rec_bias[:u], rr + rec_bias[u:2 * u]
        z = self.recurrent_activation(xz + rz)
        r = self.recurrent_activation(xr + rr)
        if self.reset_after:
            rh = ops.matmul(hs[2], self.recurrent_kernel[:, 2 * u:])
            if rec_bias is not None:
                rh = rh + rec_bias[2 * u:]
            rh = r * rh
        else:
            rh = ops.matmul(r * hs[2], self.recurrent_kernel[:, 2 * u:])
        hh = self.activation(xh + rh)
        h = z * h_prev + (1 - z) * hh
        return h, ([h] if _nested(states) else h)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg["reset_after"] = self.reset_after
        return cfg


class StackedRNNCells(Layer):
    """Cells run one after another within each step: cell k's output is cell k+1's input; the states are one
    entry per cell (each that cell's state list)."""

    def __init__(self, cells, **kwargs) -> None:
        super().__init__(**kwargs)
        cells = [_saved_cell(c) for c in cells]
        _record_cells(self, "cells", cells)
        for cell in cells:
            if "call" not in dir(cell):
                raise ValueError(f"All cells must have a `call` method. Received cell without a `call` method: "
                                 f"{cell}")
            if "state_size" not in dir(cell):
                raise ValueError(f"All cells must have a `state_size` attribute. Received cell without a "
                                 f"`state_size`: {cell}")
        self.__dict__["cells"] = list(cells)
        for i, cell in enumerate(self.cells):
            if isinstance(cell, Layer):
                setattr(self, f"cell_{i}", cell)  # registered in order: weights follow Keras' order

    @property
    def state_size(self):
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return _output_size(self.cells[-1])

    def get_initial_state(self, batch_size=None, like=None):
        out = []
        for cell in self.cells:
            fn = getattr(cell, "get_initial_state", None)
            if fn is not None:
                out.append(fn(batch_size=batch_size))
            else:
                states = _zeros_states(cell.state_size, int(batch_size), like if like is not None else
                                       creation.zeros(1, device=get_device()))
                out.append(states if _nested(cell.state_size) else states[0])
        return out

    def build(self, input_shape) -> None:
        for cell in self.cells:
            _build_cell(cell, input_shape)
            input_shape = (input_shape[0], _output_size(cell))

    def forward(self, inputs, states=None, training=None, **kwargs):
        self._maybe_build(inputs)
        if states is None:
            states = self.get_initial_state(inputs.shape[0], inputs)
        return self.call(as_float(inputs), states, training=bool(self.training if training is None else training))

    def call(self, inputs, states, training=False):
        new_states = []
        for cell, s in zip(self.cells, states):
            was_list = _nested(s)
            s = list(s) if was_list else [s]
            inputs, s = call_cell(cell, inputs, s, training)
            s = list(s) if _nested(s) else [s]
            new_states.append(s[0] if len(s) == 1 and not was_list else s)
        return inputs, (new_states[0] if len(new_states) == 1 else new_states)

    def reset_dropout_mask(self) -> None:
        for c in self.cells:
            if hasattr(c, "reset_dropout_mask"):
                c.reset_dropout_mask()
                c.reset_recurrent_dropout_mask()

    reset_recurrent_dropout_mask = reset_dropout_mask

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": [serialize_cell(c) for c in self.cells]}


class RNN(Layer):
    """Runs ``cell`` over the time axis of (batch, time, features): outputs the last step's output, or the
    whole sequence with ``return_sequences``, plus the final states with ``return_state``."""

    def __init__(self, cell, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs) -> None:
        cell = [_saved_cell(c) for c in cell] if isinstance(cell, (list, tuple)) else _saved_cell(cell)
        _record_cells(self, "cell", cell)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        _check_cell(cell)
        super().__init__(**kwargs)
        if isinstance(cell, Layer):
            self.cell = cell
        else:
            self.__dict__["cell"] = cell
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful, self.unroll = bool(go_backwards), bool(stateful), bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        size = getattr(cell, "state_size", None)
        if size is None:
            raise ValueError("state_size must be specified as property on the RNN cell.")
        if not isinstance(size, (list, tuple, int)):
            raise ValueError("state_size must be an integer, or a list/tuple of integers (one for each state "
                             "tensor).")
        self.state_size = [size] if isinstance(size, int) else list(size)
        self.single_state = isinstance(size, int)
        self.__dict__["states"] = None

    def build(self, input_shape) -> None:
        if isinstance(input_shape, list):  # [sequences, *initial states], packed by __call__
            input_shape = input_shape[0]
        if len(input_shape) < 3:
            raise ValueError(f"RNN {self.name}: expected an input of shape (batch, time, ...), got "
                             f"{tuple(input_shape)}")
        _build_cell(self.cell, (input_shape[0],) + tuple(input_shape[2:]))

    def get_initial_state(self, batch_size, like=None):
        fn = getattr(self.cell, "get_initial_state", None)
        if fn is not None:
            if isinstance(self.cell, StackedRNNCells):
                state = fn(batch_size=batch_size, like=like)
            else:
                state = fn(batch_size=batch_size)
            return list(state) if _nested(state) else [state]
        ref = like if like is not None else creation.zeros(1, device=get_device())
        return _zeros_states(self.state_size, int(batch_size), ref)

    def reset_state(self) -> None:
        if self.states is not None:
            self.__dict__["states"] = _pack(self.states, [s * 0.0 for s in _flatten(self.states)])

    reset_states = reset_state

    def compute_mask(self, inputs, mask=None):
        if _nested(mask):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out] + [None] * len(self.state_size) if self.return_state else out

    def __call__(self, inputs, initial_state=None, **kwargs):
        """Packs ``initial_state`` with the inputs into one list (as layers/recurrent.py's RNNs), so a
        functional model records the states as inputs of this call; ``call`` unpacks it."""
        if initial_state is None or kwargs.get("_states"):
            return super().__call__(inputs, **kwargs)
        states = list(initial_state) if _nested(initial_state) else [initial_state]
        return super().__call__([inputs] + states, _states=len(states), **kwargs)

    def _reset_masks(self) -> None:
        if hasattr(self.cell, "reset_dropout_mask"):
            self.cell.reset_dropout_mask()
            self.cell.reset_recurrent_dropout_mask()

    def call(self, sequences, initial_state=None, mask=None, training=False, _states: int = 0):
        if _states:
            sequences, initial_state = sequences[0], list(sequences[1:])
        if not hasattr(sequences, "_data"):
            sequences = creation.tensor(sequences, device=get_device())
        x = as_float(sequences)
        if x.ndim < 3:
            raise ValueError(f"RNN {self.name}: expected an input of shape (batch, time, ...), got {tuple(x.shape)}")
        batch, steps = x.shape[0], x.shape[1]
        if initial_state is None:
            if self.stateful and self.states is not None:
                if _flatten(self.states)[0].shape[0] != batch:
                    raise ValueError(f"If an RNN is stateful, the batch size of the input sequences must be the "
                                     f"same as the batch size of the initial state. \n- Expected batch size: "
                                     f"{_flatten(self.states)[0].shape[0]}\n- Received batch size: {batch}")
                initial_state = self.states
            else:
                initial_state = self.get_initial_state(batch, x)
        states = list(initial_state) if _nested(initial_state) else [initial_state]
        states = _pack(states, [s if hasattr(s, "_data") else creation.tensor(s, device=x.device)
                                for s in _flatten(states)])
        if _nested(mask):  # the masks of [sequences, *initial states] (packed by __call__): the sequences'
            mask = mask[0]
        if mask is not None:
            if not hasattr(mask, "_data"):
                mask = creation.tensor(mask, device=x.device)
            mask = mask.bool() if mask.dtype.name != "bool" else mask
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        self._reset_masks()
        outputs, prev = [], None
        try:
            for t in order:
                out, new = call_cell(self.cell, x[:, t], tuple(states), bool(training))
                new = list(new) if _nested(new) else [new]
                if mask is not None:
                    m = mask[:, t]
                    if prev is None:
                        prev = out * 0.0
                    fallback = out * 0.0 if self.zero_output_for_mask else prev
                    out = ops.where(m.reshape(batch, *([1] * (out.ndim - 1))), out, fallback)
                    flat = [ops.where(m.reshape(batch, *([1] * (n.ndim - 1))), n, o)
                            for n, o in zip(_flatten(new), _flatten(states))]
                    new = _pack(new, flat)
                    prev = out
                states = new
                outputs.append(out)
        finally:
            self._reset_masks()
        if self.stateful:
            self.__dict__["states"] = _pack(states, [s.detach() for s in _flatten(states)])
        result = ops.stack(outputs, 1) if self.return_sequences else outputs[-1]
        if self.return_state:
            return [result, *states]
        return result

    def get_config(self) -> dict:
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "cell": serialize_cell(self.cell)}
