"""ConvLSTM1D / 2D / 3D: an LSTM whose gates are convolutions (Keras' ConvLSTMCell) run by the generic RNN
loop of layers/rnn_cells.py over (batch, time, *spatial, channels) (or (batch, time, channels, *spatial)).

Per step: x_g = conv(x, kernel_g, strides, padding, dilation) + bias_g and h_g = conv(h, recurrent_kernel_g,
stride 1, 'same') for the gates g = i, f, c, o (kernels (k..., in, 4 * filters) and (k..., filters,
4 * filters) in Keras' layout, the gates side by side on the last axis). Without per-gate dropout masks the
four gates are one convolution each for the input and the state."""
from __future__ import annotations

from ... import creation
from .. import activations
from .conv import normalize_data_format, normalize_tuple
from .conv_extra import _padding_arg, _serialize, channels_first, channels_last, conv_nd, torch_kernel
from .rnn_cells import RNN, _Cell


class ConvLSTMCell(_Cell):
    """One ConvLSTM step on a (batch, *spatial, channels) frame (or channels_first)."""
    _gates = 4

    def __init__(self, rank: int, filters: int, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed=None, **kwargs) -> None:
        if rank > 3:
            raise ValueError(f"Rank {rank} convolutions are not currently implemented. Received: rank={rank}")
        super().__init__(filters, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, seed, **kwargs)
        self.rank = rank
        self.filters = filters
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size")
        self.strides = normalize_tuple(strides, rank, "strides")
        self.padding = _padding_arg(padding, False)
        self.data_format = normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"Specifying `strides > 1` is not compatible with `dilation_rate > 1`. Please provide "
                             f"`strides=1` or `dilation_rate=1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = -1  # the states are frames: get_initial_state makes them
        self.output_size = None

    def _mask_count(self) -> int:
        return 4

    def build(self, input_shape) -> None:
        input_shape = tuple(input_shape)
        if self.data_format == "channels_first":
            self.spatial_dims, c = tuple(input_shape[2:]), input_shape[1]
        else:
            self.spatial_dims, c = tuple(input_shape[1:-1]), input_shape[-1]
        if None in self.spatial_dims:
            raise ValueError(f"ConvLSTM layers only support static input shapes for the spatial dimension. "
                             f"Received invalid input shape: input_shape={input_shape}")
        if c is None:
            raise ValueError(f"The channel dimension of the inputs (last axis) should be defined. Found None. Full "
                             f"input shape received: input_shape={input_shape}")
        self.input_dim = c
        f4 = 4 * self.filters
        self.kernel = self._weight("kernel", self.kernel_size + (c, f4), self.kernel_initializer,
                                   self.kernel_regularizer, self.kernel_constraint)
        self.recurrent_kernel = self._weight("recurrent_kernel", self.kernel_size + (self.filters, f4),
                                             self.recurrent_initializer, self.recurrent_regularizer,
                                             self.recurrent_constraint)
        self.bias = self._weight("bias", (f4,), self.bias_initializer, self.bias_regularizer,
                                 self.bias_constraint) if self.use_bias else None
        if self.bias is not None and self.unit_forget_bias:
            self.bias._write(slice(self.filters, 2 * self.filters), 1.0)

    def _state_spatial(self) -> tuple:
        out = []
        for i, n in enumerate(self.spatial_dims):
            k = (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1
            if self.padding == "same":
                out.append(-(-n // self.strides[i]))
            else:
                out.append((n - k) // self.strides[i] + 1)
        return tuple(out)

    def get_initial_state(self, batch_size=None):
        sp = self._state_spatial()
        shape = (int(batch_size),) + (sp + (self.filters,) if self.data_format == "channels_last"
                                      else (self.filters,) + sp)
        ref = self.kernel
        return [creation.zeros(shape, dtype=ref.dtype.name, device=ref.device) for _ in range(2)]

    def _gate_convs(self, xs, kernel, bias, strides, padding, dilation):
        """The four gates' convolutions of the (channels-first) inputs ``xs`` (one per gate, or one shared)."""
        r, f = self.rank, self.filters
        if all(x is xs[0] for x in xs):
            y = conv_nd(xs[0], torch_kernel(kernel, r), bias, strides, padding, dilation, 1, r)
            return [y[:, g * f:(g + 1) * f] for g in range(4)]
        return [conv_nd(xs[g], torch_kernel(kernel[..., g * f:(g + 1) * f], r),
                        None if bias is None else bias[g * f:(g + 1) * f], strides, padding, dilation, 1, r)
                for g in range(4)]

    def call(self, inputs, states, training=False):
        r, fmt = self.rank, self.data_format
        h_prev, c_prev = states[0], states[1]
        dp, rec_dp = self.get_dropout_mask(inputs), self.get_recurrent_dropout_mask(h_prev)
        xs = [inputs * m for m in dp] if training and dp is not None else [inputs] * 4
        hs = [h_prev * m for m in rec_dp] if training and rec_dp is not None else [h_prev] * 4
        xs = [channels_first(x, r, fmt) for x in xs] if len({id(x) for x in xs}) > 1 else \
            [channels_first(xs[0], r, fmt)] * 4
        hs = [channels_first(h, r, fmt) for h in hs] if len({id(h) for h in hs}) > 1 else \
            [channels_first(hs[0], r, fmt)] * 4
        x_g = self._gate_convs(xs, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
        h_g = self._gate_convs(hs, self.recurrent_kernel, None, (1,) * r, "same", (1,) * r)
        i = self.recurrent_activation(x_g[0] + h_g[0])
        f = self.recurrent_activation(x_g[1] + h_g[1])
        c = f * channels_first(c_prev, r, fmt) + i * self.activation(x_g[2] + h_g[2])
        o = self.recurrent_activation(x_g[3] + h_g[3])
        h = channels_last(o * self.activation(c), r, fmt)
        c = channels_last(c, r, fmt)
        return h, [h, c]

    def get_config(self) -> dict:
        cfg = super().get_config()
        del cfg["units"]
        cfg.update({"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                    "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                    "unit_forget_bias": self.unit_forget_bias})
        return cfg


_CELL_ATTRS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
               "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
               "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
               "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
               "recurrent_dropout")


class _ConvLSTM(RNN):
    _rank = 2

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation="tanh", recurrent_activation="sigmoid", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed=None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False, **kwargs) -> None:
        cell = ConvLSTMCell(self._rank, filters, kernel_size, strides, padding, data_format, dilation_rate,
                            activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
                            bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer,
                            bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                            recurrent_dropout, seed, name="conv_lstm_cell")
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, activity_regularizer=activity_regularizer,
                         **kwargs)

    def build(self, input_shape) -> None:
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        if len(shape) != self._rank + 3:
            raise ValueError(f"Input 0 of layer \"{self.name}\" is incompatible with the layer: expected "
                             f"ndim={self._rank + 3}, found ndim={len(shape)}. Full shape received: {tuple(shape)}")
        super().build(input_shape)

    def __getattr__(self, name: str):
        if name in _CELL_ATTRS:
            return getattr(self.cell, name)
        return super().__getattr__(name)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out, None, None] if self.return_state else out

    def get_config(self) -> dict:
        cfg = super().get_config()
        del cfg["cell"]
        c = self.cell
        cfg.update({"filters": c.filters, "kernel_size": c.kernel_size, "strides": c.strides, "padding": c.padding,
                    "data_format": c.data_format, "dilation_rate": c.dilation_rate,
                    "activation": activations.name_of(c.activation),
                    "recurrent_activation": activations.name_of(c.recurrent_activation), "use_bias": c.use_bias,
                    "kernel_initializer": _serialize("initializers", c.kernel_initializer),
                    "recurrent_initializer": _serialize("initializers", c.recurrent_initializer),
                    "bias_initializer": _serialize("initializers", c.bias_initializer),
                    "unit_forget_bias": c.unit_forget_bias,
                    "kernel_regularizer": _serialize("regularizers", c.kernel_regularizer),
                    "recurrent_regularizer": _serialize("regularizers", c.recurrent_regularizer),
                    "bias_regularizer": _serialize("regularizers", c.bias_regularizer),
                    "activity_regularizer": _serialize("regularizers", self.activity_regularizer),
                    "kernel_constraint": _serialize("constraints", c.kernel_constraint),
                    "recurrent_constraint": _serialize("constraints", c.recurrent_constraint),
                    "bias_constraint": _serialize("constraints", c.bias_constraint),
                    "dropout": c.dropout, "recurrent_dropout": c.recurrent_dropout, "seed": c.seed})
        return cfg


class ConvLSTM1D(_ConvLSTM):
    """ConvLSTM over (batch, time, steps, channels) sequences of 1-D frames."""
    _rank = 1


class ConvLSTM2D(_ConvLSTM):
    """ConvLSTM over (batch, time, rows, cols, channels) sequences of images."""
    _rank = 2


class ConvLSTM3D(_ConvLSTM):
    """ConvLSTM over (batch, time, depth, rows, cols, channels) sequences of volumes."""
    _rank = 3

