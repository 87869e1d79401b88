"""Keras' Layer on fastnn's Module: weights made lazily in ``build(input_shape)`` on first call, automatic
snake_case names, ``get_weights`` / ``set_weights`` in Keras' layouts, and symbolic calls on ``Input``
tensors for the functional API (a KerasTensor only records which layer made it from what)."""
from __future__ import annotations

import functools
import inspect
import itertools
import re
import threading
import weakref
from collections import defaultdict

import numpy as np

from ... import amp_state, creation, dtypes
from ...autograd.grad_mode import no_grad
from ...backend import backend_of
from ...nn.module import Module
from ...nn.parameter import Parameter
from ..._tensor import Tensor
from .. import _load_budget, dtype_policies, masking
from ..device_scope import device_of_layer

_name_counts: defaultdict = defaultdict(int)
# The eager call context, per thread as Keras keeps it: ``depth`` nests layer calls (the outermost clears the
# add_loss values of the last one) and ``training`` is the enclosing call's value, which nested calls inherit.
# Module-wide, a call in progress in one thread leaked training=True into layers called in another.
_context = threading.local()
_loss_sources = 0  # layers that ever added a loss or a regularizer: while 0, ``losses`` is [] at once


def _note_loss_source() -> None:
    global _loss_sources
    _loss_sources += 1
_creation_order = itertools.count()  # model.summary lists layers of equal depth in creation order


_WEIGHT_PATHS: dict = {}  # id(weight) -> (weakref, "layer_name/weight_name"): Keras' Variable.path


def weight_path(weight) -> str | None:
    """Keras' ``variable.path`` (``"layer_name/weight_name"``) of a weight made by ``add_weight``, else None."""
    entry = _WEIGHT_PATHS.get(id(weight))
    return entry[1] if entry is not None and entry[0]() is weight else None


def unique_name(base: str) -> str:
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def snake_case(name: str) -> str:
    """Keras' ``to_snake_case``: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, SimpleRNN -> simple_rnn."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class KerasTensor:
    """A placeholder flowing through layers when a functional model is defined: ``shape`` has ``None``
    for the batch dim; ``source`` is (layer, input KerasTensors) or None for an Input."""

    def __init__(self, shape, dtype: str = "float32", source=None, name: str | None = None):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.source = source
        self.name = name
        self.index = 0  # which output of its layer call this is (a layer may return several)
        self.input_layer = None  # the InputLayer of a keras.Input tensor

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    # Operators record keras.ops nodes (layers/op_layer.py), as on Keras 3's KerasTensor. == and != keep
    # Python's identity meaning (KerasTensors are dict keys in graph code), as in Keras.
    def _op(self, name, *args):
        from .op_layer import symbolic_call

        return symbolic_call(name, args, {})

    def __add__(self, other): return self._op("add", self, other)  # noqa: E704
    def __radd__(self, other): return self._op("add", other, self)  # noqa: E704
    def __sub__(self, other): return self._op("subtract", self, other)  # noqa: E704
    def __rsub__(self, other): return self._op("subtract", other, self)  # noqa: E704
    def __mul__(self, other): return self._op("multiply", self, other)  # noqa: E704
    def __rmul__(self, other): return self._op("multiply", other, self)  # noqa: E704
    def __truediv__(self, other): return self._op("divide", self, other)  # noqa: E704
    def __rtruediv__(self, other): return self._op("divide", other, self)  # noqa: E704
    def __floordiv__(self, other): return self._op("floor_divide", self, other)  # noqa: E704
    def __rfloordiv__(self, other): return self._op("floor_divide", other, self)  # noqa: E704
    def __mod__(self, other): return self._op("mod", self, other)  # noqa: E704
    def __rmod__(self, other): return self._op("mod", other, self)  # noqa: E704
    def __pow__(self, other): return self._op("power", self, other)  # noqa: E704
    def __rpow__(self, other): return self._op("power", other, self)  # noqa: E704
    def __matmul__(self, other): return self._op("matmul", self, other)  # noqa: E704
    def __rmatmul__(self, other): return self._op("matmul", other, self)  # noqa: E704
    def __neg__(self): return self._op("negative", self)  # noqa: E704
    def __pos__(self): return self  # noqa: E704
    def __abs__(self): return self._op("absolute", self)  # noqa: E704
    def __lt__(self, other): return self._op("less", self, other)  # noqa: E704
    def __le__(self, other): return self._op("less_equal", self, other)  # noqa: E704
    def __gt__(self, other): return self._op("greater", self, other)  # noqa: E704
    def __ge__(self, other): return self._op("greater_equal", self, other)  # noqa: E704
    def __and__(self, other): return self._op("logical_and", self, other)  # noqa: E704
    def __or__(self, other): return self._op("logical_or", self, other)  # noqa: E704
    def __xor__(self, other): return self._op("logical_xor", self, other)  # noqa: E704
    def __invert__(self): return self._op("logical_not", self)  # noqa: E704
    def __getitem__(self, key): return self._op("operator.getitem", self, key)  # noqa: E704

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError("A symbolic KerasTensor has no truth value: it holds no data until the model runs")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"A symbolic KerasTensor cannot be converted to a NumPy array: {self!r} holds no data "
                        "until the model runs (call the model on data instead)")


def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _is_symbolic(x) -> bool:
    if isinstance(x, KerasTensor):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(v, KerasTensor) for v in x)


def _shape_of(x):
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    return (None,) + tuple(x.shape[1:])


def _dtype_of(x):
    if isinstance(x, (list, tuple)):
        return [_dtype_of(v) for v in x]
    dt = getattr(x, "dtype", "float32")
    return dt if isinstance(dt, str) else getattr(dt, "name", str(dt))


_EXAMPLE_DTYPES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")


def _example(ks, device=None):
    """A batch of one zero sample shaped like a KerasTensor (to trace output shapes), on ``device``."""
    if isinstance(ks, (list, tuple)):
        return [_example(k, device) for k in ks]
    dt = ks.dtype if ks.dtype in _EXAMPLE_DTYPES else ("int64" if ks.dtype.startswith("int") else "float32")
    shape = (1,) + tuple(1 if s is None else s for s in ks.shape[1:])
    _load_budget.check_example(shape, dtypes.to_dtype(dt).itemsize)  # (a no-op outside load_model)
    return creation.zeros(shape, dtype=dt, device=device)


@functools.lru_cache(maxsize=None)
def _call_parameters(cls) -> frozenset:
    return frozenset(inspect.signature(cls.call).parameters)


@functools.lru_cache(maxsize=None)
def _call_arguments(cls) -> tuple[bool, bool, bool]:
    """(accepts training=, accepts mask=, accepts **kwargs) of ``cls.call``: Keras passes ``training`` and
    ``mask`` only to a call whose signature has them, so a custom ``call(self, inputs)`` works."""
    params = inspect.signature(cls.call).parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return ("training" in params or var_kw, "mask" in params or var_kw, var_kw)


class Layer(Module):
    """Subclasses implement ``build(input_shape)`` (create weights with ``add_weight``) and
    ``call(inputs, training=None)``."""

    _passes_masks = None  # True on layers that keep the steps axis as it is (Keras' supports_masking = True)
    input_spec = None  # an InputSpec (or a list of them) the layer's inputs are checked against

    def __init_subclass__(cls, **kwargs):
        """Records the arguments each layer was constructed with (the outermost, most derived __init__
        call), so model.save can store the architecture as data instead of code."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            if "_init_args" not in self.__dict__:
                self.__dict__["_init_args"] = (type(self), args, dict(kw))  # a subclass may inherit __init__
            init(self, *args, **kw)

        cls.__init__ = recording_init

    def __init__(self, name: str | None = None, trainable: bool = True, input_shape=None, input_dim=None,
                 dtype=None, activity_regularizer=None, **kwargs) -> None:
        from .. import regularizers

        super().__init__()
        # Keras' dtype policy (None: the global one): "mixed_bfloat16" computes in bfloat16 (dtype_policies.py)
        self.__dict__["_dtype_policy"] = dtype_policies.get(dtype)
        # Keras calls a layer in inference mode unless told otherwise (``training=True``, or fit's train mode)
        self.training = False
        kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unrecognized keyword arguments {sorted(kwargs)}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.__dict__["_creation_id"] = next(_creation_order)
        self.built = False
        self.trainable = trainable
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = tuple(input_shape) if input_shape is not None else None
        self._weight_order: list[str] = []
        self.output_shape = None
        self.activity_regularizer = regularizers.get(activity_regularizer)
        if self.activity_regularizer is not None:
            _note_loss_source()
        self.__dict__["_added_losses"] = []  # add_loss values of the latest outermost call
        self.__dict__["_weight_regularizers"] = {}  # weight name -> regularizer

    # ---- dtype policy -------------------------------------------------------------------------------------
    @property
    def dtype_policy(self):
        return self.__dict__["_dtype_policy"]

    @dtype_policy.setter
    def dtype_policy(self, value):
        self.__dict__["_dtype_policy"] = dtype_policies.get(value)

    def _policy_name(self, given) -> str:
        policy = self.__dict__.get("_dtype_policy")
        if policy is not None:
            return policy.name
        return "float32" if given is None else given

    @property
    def compute_dtype(self) -> str:
        return self.__dict__["_dtype_policy"].compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self.__dict__["_dtype_policy"].variable_dtype

    # ---- weights ----------------------------------------------------------------------------------------
    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable: bool = True,
                   autocast: bool = True, regularizer=None, constraint=None, aggregation: str = "none",
                   overwrite_with_gradient: bool = False, name: str | None = None) -> Parameter:
        """Keras 3's ``add_weight(shape, initializer, dtype, trainable, ..., name=None)``; the Keras 2 order
        ``add_weight(name, shape, initializer, trainable)`` (a name first) is accepted too. The initializer
        defaults to glorot_uniform for floating weights and zeros otherwise, as Keras'."""
        if args and isinstance(args[0], str):  # Keras 2's positional order, which this library's layers use
            legacy = dict(zip(("name", "shape", "initializer", "trainable"), args))
        else:
            legacy = dict(zip(("shape", "initializer", "dtype", "trainable"), args))
        name = legacy.get("name", name)
        shape = legacy.get("shape", shape)
        initializer = legacy.get("initializer", initializer)
        dtype = legacy.get("dtype", dtype)
        trainable = legacy.get("trainable", trainable)
        if aggregation not in ("none", "mean", "sum", "only_first_replica"):
            raise ValueError(f"Invalid value for argument `aggregation`: {aggregation!r}")
        dt = dtypes.to_dtype(dtype) if dtype is not None else dtypes.float32
        if initializer is None:
            initializer = "glorot_uniform" if dt.is_floating_point else "zeros"
        if name is None:
            name = f"variable_{len(self._weight_order)}" if self._weight_order else "variable"
        shape = () if shape is None else tuple(shape)
        from .. import constraints, regularizers

        preset = self.__dict__.get("_weight_presets", {}).get(name, (None, None))
        regularizer = preset[0] if regularizer is None else regularizer
        constraint = preset[1] if constraint is None else constraint
        p = self._new_weight(name, shape, initializer, trainable, dt)
        if regularizer is not None:
            self._weight_regularizers[name] = regularizers.get(regularizer)
            _note_loss_source()
        constraints.attach(p, constraints.get(constraint))
        return p

    def _preset_weights(self, **presets) -> None:
        """Regularizer and constraint of each named weight, given to the constructor (``kernel_regularizer=``,
        ``bias_constraint=``) and used when ``build`` adds the weight: ``kernel=(regularizer, constraint)``."""
        from .. import constraints, regularizers

        self.__dict__["_weight_presets"] = {name: (regularizers.get(r), constraints.get(c))
                                            for name, (r, c) in presets.items()}

    def _preset_config(self) -> dict:
        """The presets as Keras' get_config keys (``kernel_regularizer``, ``kernel_constraint``, ...)."""
        from .. import constraints, regularizers

        config = {}
        for name, (r, c) in self.__dict__.get("_weight_presets", {}).items():
            # Keras' argument names drop "_kernel" from the other kernels: recurrent_regularizer (of
            # recurrent_kernel), depthwise_constraint, pointwise_regularizer
            key = name[:-len("_kernel")] if name.endswith("_kernel") and name != "kernel" else name
            config[f"{key}_regularizer"] = regularizers.serialize(r)
            config[f"{key}_constraint"] = constraints.serialize(c)
        return config

    def _new_weight(self, name: str, shape, initializer, trainable: bool, dt) -> Parameter:
        from .. import initializers

        from ..device_scope import get_device

        _load_budget.charge_weight(self.name, name, shape, dt.itemsize)  # (a no-op outside load_model)
        p = Parameter(creation.empty(shape, dtype=dt, device=get_device()),
                      requires_grad=trainable and dt.is_floating_point)
        initializers.initialize(p, initializer)
        key = id(p)
        _WEIGHT_PATHS[key] = (weakref.ref(p, lambda _, k=key: _WEIGHT_PATHS.pop(k, None)), f"{self.name}/{name}")
        if trainable:
            self.register_parameter(name, p)
        else:
            p.requires_grad_(False)
            self.register_buffer(name, p)
        self._weight_order.append(name)
        return p

    @property
    def weights(self) -> list[Tensor]:
        return [getattr(self, n) for n in self._weight_order] + [w for m in self._sublayers() for w in m.weights]

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [w for w in self.weights if w.requires_grad] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        return [w for w in self.weights if not w.requires_grad or not self.trainable]

    def _sublayers(self):
        return [m for m in self.children() if isinstance(m, Layer)]

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights as NumPy arrays (host data, as Keras returns them)."""
        return [backend_of(w._data).to_host(w._data).copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"Layer {self.name} expects {len(own)} weights, but the given weights list has "
                             f"{len(weights)}")
        for w, value in zip(own, weights):
            arr = np.asarray(value)  # host data (Keras' get_weights of another model, a file)
            if tuple(arr.shape) != tuple(w.shape):
                raise ValueError(f"Layer {self.name} weight shape {tuple(w.shape)} is not compatible with provided "
                                 f"weight shape {arr.shape}")
            w._write(..., backend_of(w._data).from_host(arr))  # cast to the weight's dtype as it is written

    # ---- losses -----------------------------------------------------------------------------------------
    def add_loss(self, loss) -> None:
        """A scalar added to the training loss, from ``call`` (Keras' eager ``add_loss``); the losses of
        one outermost call replace those of the previous one."""
        for x in (loss if isinstance(loss, (list, tuple)) else [loss]):
            if not isinstance(x, Tensor):
                raise ValueError("`add_loss()` can only be called from inside `build()` or `call()`, on a tensor "
                                 f"input. Received invalid value: {x}")
            self._added_losses.append(x)
        _note_loss_source()

    @property
    def losses(self) -> list[Tensor]:
        """add_loss values of this layer and its sublayers, then the weight regularization penalties."""
        if not _loss_sources:  # no layer anywhere has added a loss or a regularizer: nothing to walk
            return []
        found = list(self.__dict__.get("_added_losses", []))
        for layer in self._all_sublayers():
            found.extend(layer.__dict__.get("_added_losses", []))
        for layer in [self] + self._all_sublayers():
            regs = layer.__dict__.get("_weight_regularizers", {})
            for name, reg in regs.items():
                w = getattr(layer, name)
                if w.requires_grad:  # Keras penalises trainable weights only
                    found.append(reg(w))
        return found

    def _all_sublayers(self) -> list["Layer"]:
        out, stack = [], list(self._sublayers())
        while stack:
            layer = stack.pop(0)
            if layer not in out:
                out.append(layer)
                stack.extend(layer._sublayers())
        return out

    def _clear_losses(self) -> None:
        if not _loss_sources:
            return  # no layer has ever added a loss: nothing to clear
        for layer in [self] + self._all_sublayers():
            if "_added_losses" in layer.__dict__:
                layer.__dict__["_added_losses"] = []

    def count_params(self) -> int:
        return int(sum(w.numel() for w in self.weights))

    @property
    def trainable(self) -> bool:
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.__dict__["_trainable"] = bool(value)
        for name in self.__dict__.get("_weight_order", []):
            if name in self._parameters:
                self._parameters[name].requires_grad_(bool(value))
        for m in self.__dict__.get("_modules", {}).values():
            if isinstance(m, Layer):
                m.trainable = value

    # ---- calling ----------------------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        pass

    def call(self, inputs, training=None):
        raise NotImplementedError(f"Layer {type(self).__name__} does not implement call()")

    def compute_output_shape(self, input_shape):
        return None  # traced with a batch of one by default

    def _maybe_build(self, x) -> None:
        if not self.built:
            shape = _shape_of(x)
            self.__dict__["_build_input"] = (shape, _dtype_of(x))  # Keras' build_config, for loading
            self.build(shape)
            self.built = True

    def forward(self, inputs, training=None, **kwargs):
        self._maybe_build(inputs)
        takes_training, takes_mask, takes_any = _call_arguments(type(self))
        if takes_training:
            kwargs["training"] = self.training if training is None else training
        if "mask" in kwargs and not takes_mask:  # Keras passes a mask only to a call that declares it
            del kwargs["mask"]
        if not takes_any:
            kwargs = {k: v for k, v in kwargs.items() if k in _call_parameters(type(self))}
        return self.call(inputs, **kwargs)

    def __call__(self, inputs, *args, **kwargs):
        if self.__dict__.get("input_spec") is not None:  # Keras checks the inputs against it before build
            from .input_spec import assert_input_compatibility

            assert_input_compatibility(self.input_spec, inputs, self.name)
        if _is_symbolic(inputs):
            return self._call_symbolic(inputs, **kwargs)
        if isinstance(inputs, np.ndarray) and inputs.dtype.kind not in ("U", "S", "O"):  # strings stay host data
            inputs = creation.tensor(inputs, device=device_of_layer(self))  # host data: to the layer's device
        ctx = _context
        depth = getattr(ctx, "depth", 0)
        if depth == 0:  # an outermost call starts a fresh set of add_loss values, as in Keras
            self._clear_losses()
        outer_training = getattr(ctx, "training", None)
        if kwargs.get("training") is None:
            if outer_training is not None:  # Keras' call context: inner layers inherit the outer training
                kwargs["training"] = outer_training
        else:
            ctx.training = kwargs["training"]
        previous_mask = None
        if masking._MASKS:  # Keras' masks: fill ``mask=`` (and ``<arg>_mask=``) from the inputs' masks
            previous_mask = self._fill_masks(inputs, kwargs)
        region = None
        policy = self.__dict__.get("_dtype_policy")
        if policy is not None and (policy._compute_dtype != "float32" or amp_state.ACTIVE):
            inputs, region = dtype_policies.call_scope(policy, inputs)
        ctx.depth = depth + 1
        try:
            if region is None:
                outputs = super().__call__(inputs, *args, **kwargs)
            else:
                with region:
                    outputs = super().__call__(inputs, *args, **kwargs)
        finally:
            ctx.depth = depth
            ctx.training = outer_training
        if previous_mask is not None or self._computes_masks():
            if self.supports_masking:
                masking.attach_output_masks(outputs, self.compute_mask(inputs, previous_mask))
            elif previous_mask is not None and any(m is not None for m in _flat(previous_mask)):
                import warnings

                warnings.warn(f"Layer '{self.name}' (of type {type(self).__name__}) was passed an input with a mask "
                              "attached to it. However, this layer does not support masking and will therefore "
                              "destroy the mask information. Downstream layers will not see the mask.", stacklevel=2)
        reg = self.__dict__.get("activity_regularizer")
        if reg is not None:
            for out in (outputs if isinstance(outputs, (list, tuple)) else [outputs]):
                if isinstance(out, Tensor):
                    penalty = reg(out)
                    # Keras 3 divides by the batch size so the strength does not depend on it
                    self.add_loss(penalty / out.shape[0] if out.ndim > 0 and out.shape[0] else penalty)
        return outputs

    # ---- masks --------------------------------------------------------------------------------------------
    @property
    def supports_masking(self) -> bool:
        """Keras 3: a layer that defines compute_mask, or sets ``supports_masking = True``, passes masks on."""
        explicit = self.__dict__.get("_supports_masking", type(self)._passes_masks)
        return explicit if explicit is not None else type(self).compute_mask is not Layer.compute_mask

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, previous_mask=None):
        return previous_mask

    def _computes_masks(self) -> bool:
        """Whether this layer makes masks of its own (Embedding(mask_zero=True), Masking) with none given."""
        return type(self).compute_mask is not Layer.compute_mask

    def _fill_masks(self, inputs, kwargs):
        params = _call_parameters(type(self))
        if "mask" in params and kwargs.get("mask") is None:
            found = masking.get_mask(inputs)
            if found is not None:
                kwargs["mask"] = found
        for name, value in list(kwargs.items()):
            key = f"{name}_mask"
            if key in params and kwargs.get(key) is None and name != "mask":
                found = masking.get_mask(value)
                if found is not None:
                    kwargs[key] = found
        mask = kwargs.get("mask")
        return mask if mask is not None else masking.get_mask(inputs)

    def _call_symbolic(self, inputs, **kwargs):
        self._maybe_build(inputs)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                out = self.forward(_example(inputs, device_of_layer(self)), **kwargs)
        finally:
            self.train(was_training)

        def to_symbolic(t):
            return KerasTensor((None,) + tuple(t.shape[1:]), t.dtype.name, (self, inputs, kwargs), self.name)

        result = [to_symbolic(t) for t in out] if isinstance(out, (list, tuple)) else to_symbolic(out)
        for i, r in enumerate(result if isinstance(result, list) else []):
            r.index = i
        self.output_shape = [r.shape for r in result] if isinstance(result, list) else result.shape
        result = tuple(result) if isinstance(out, tuple) else result
        self.__dict__.setdefault("_inbound_nodes", []).append((inputs, result))
        return result

    # ---- the symbolic calls made so far (Keras' inbound nodes) ---------------------------------------------
    def _node_attribute(self, which: int, what: str):
        nodes = self.__dict__.get("_inbound_nodes")
        if not nodes:
            raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}.")
        return nodes[0][which]  # Keras 3 answers with the first call's tensors

    @property
    def input(self):
        """The symbolic input of the layer's first call in a functional graph."""
        return self._node_attribute(0, "input")

    @property
    def output(self):
        """The symbolic output of the layer's first call: a functional model can end there
        (``Model(model.input, model.get_layer("dense").output)``)."""
        return self._node_attribute(1, "output")

    def _missing_attribute(self, name: str) -> str:
        # a failed ``input`` / ``output`` property ends in Module.__getattr__ too (Python's fallback): Keras'
        # message instead of a bare "no attribute"
        d = self.__dict__
        if name in ("input", "output") and "_modules" in d:
            layer = d.get("name", type(self).__name__)
            return f"The layer {layer} has never been called and thus has no defined {name}."
        return super()._missing_attribute(name)

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        return f"name={self.name}"

    def get_config(self) -> dict:
        """Keras 3's default: the constructor's arguments (serialized), the name and ``trainable``; layers
        add their own keys. A custom layer built from arguments that are not data must override it."""
        from .. import config_lib

        config, failed = config_lib.init_config(self)
        if failed and type(self).get_config is Layer.get_config:
            raise NotImplementedError(f"Layer {type(self).__name__} was created by passing non-serializable argument "
                                      f"values in `__init__()` ({', '.join(failed)}), and therefore the layer must "
                                      "override `get_config()` in order to be serializable. Please implement "
                                      "`get_config()`.")
        config.update({"name": self.name, "trainable": self.trainable, **self._preset_config(),
                       "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                 "config": {"name": self._policy_name(config.get("dtype"))},
                                 "registered_name": None}})
        if self.__dict__.get("activity_regularizer") is not None:
            from .. import regularizers

            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """``cls(**config)``, with the Keras objects in the config (initializers, layers, ...) rebuilt."""
        from .. import config_lib

        return cls(**config_lib.deserialize_value(dict(config), custom_objects))


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype="float32", name=None, **kwargs) -> None:
        shape = kwargs.pop("input_shape", shape)
        super().__init__(name=name or unique_name("input_layer"))
        self.shape = tuple(shape)
        self.dtype_name = dtype or "float32"
        tensor = KerasTensor((None,) + self.shape, self.dtype_name, None, self.name)
        tensor.input_layer = self
        self.__dict__["_inbound_nodes"] = [(tensor, tensor)]
        self.output_shape = tensor.shape
        self.built = True

    def call(self, inputs, training=None):
        return inputs


def Input(shape=None, batch_size=None, dtype="float32", name=None, **kwargs) -> KerasTensor:  # noqa: N802
    """A symbolic input of per-sample ``shape`` (the batch dim is left out, as in Keras)."""
    if shape is None:
        raise ValueError("Input() needs a shape (the per-sample shape, without the batch dimension)")
    layer = InputLayer(shape=shape, dtype=dtype, name=name)
    return layer.output
