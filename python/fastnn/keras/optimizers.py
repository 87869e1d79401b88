"""Keras optimizers (names, arguments and defaults as Keras) driving fastnn.optim's fused updates. The
inner optimizer is made when the model's weights exist; ``learning_rate`` stays readable and writable."""
from __future__ import annotations

from .. import optim
from ..backend import backend_of


class Optimizer:
    _defaults: dict = {}

    def __init__(self, learning_rate: float = 0.001, **kwargs) -> None:
        unknown = set(kwargs) - set(self._defaults) - {"name", "clipnorm", "clipvalue", "global_clipnorm"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(unknown)}")
        self.name = kwargs.pop("name", type(self).__name__.lower())
        self.clipnorm = kwargs.pop("clipnorm", None)
        self.clipvalue = kwargs.pop("clipvalue", None)
        self.global_clipnorm = kwargs.pop("global_clipnorm", None)
        self.config = {**self._defaults, **kwargs}
        self._lr = float(learning_rate)
        self._inner = None
        self.iterations = 0

    def _make(self, params):
        raise NotImplementedError

    def build(self, params) -> None:
        self._params = [p for p in params if p.requires_grad]
        self._inner = self._make(self._params) if self._params else None

    @property
    def learning_rate(self) -> float:
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._lr = float(value)
        if isinstance(self._inner, optim.Optimizer):  # Keras' RMSprop is its own update and reads _lr
            for group in self._inner.param_groups:
                group["lr"] = self._lr

    lr = learning_rate

    def apply_gradients(self) -> None:
        if self._inner is None:
            return
        if self.clipvalue is not None or self.clipnorm is not None or self.global_clipnorm is not None:
            self._clip()
        self._before_step()
        self._inner.step()
        self.iterations += 1

    def apply(self, grads, trainable_variables=None) -> None:
        """Keras 3's ``optimizer.apply(grads, variables)``: sets each variable's gradient and steps (the state is
        built on first use for these variables)."""
        variables = list(trainable_variables if trainable_variables is not None else self._params)
        grads = list(grads)
        if len(grads) != len(variables):
            raise ValueError(f"Received {len(grads)} gradients for {len(variables)} variables")
        if self._inner is None or [id(v) for v in variables] != [id(p) for p in self._params]:
            self.build(variables)
        for v, g in zip(variables, grads):
            v.grad = g
        self.apply_gradients()

    def _before_step(self) -> None:
        pass

    def _clip(self) -> None:
        from ..nn.utils import clip_grad_norm_, clip_grad_value_

        if self.clipvalue is not None:
            clip_grad_value_(self._params, self.clipvalue)
        if self.global_clipnorm is not None:
            clip_grad_norm_(self._params, self.global_clipnorm)
        if self.clipnorm is not None:
            for p in self._params:
                clip_grad_norm_([p], self.clipnorm)

    def zero_grad(self) -> None:
        for p in getattr(self, "_params", []):
            p.grad = None

    def get_config(self) -> dict:
        return {"name": self.name, "learning_rate": self._lr, **self.config}


class SGD(Optimizer):
    _defaults = {"momentum": 0.0, "nesterov": False, "weight_decay": None}

    def __init__(self, learning_rate: float = 0.01, **kwargs) -> None:
        super().__init__(learning_rate, **kwargs)

    def _make(self, params):
        c = self.config
        return optim.SGD(params, lr=self._lr, momentum=c["momentum"], nesterov=c["nesterov"],
                         weight_decay=c["weight_decay"] or 0.0)


class _KerasEpsilon:
    """Keras adds epsilon to sqrt(v) before bias correction, torch after: torch's update with
    eps_t = eps / sqrt(1 - beta_2^t) is exactly Keras' update, so the fused kernel serves both."""

    def apply(self, grads, trainable_variables=None) -> None:
        """Keras 3's ``optimizer.apply(grads, variables)``: sets each variable's gradient and steps (the state is
        built on first use for these variables)."""
        variables = list(trainable_variables if trainable_variables is not None else self._params)
        grads = list(grads)
        if len(grads) != len(variables):
            raise ValueError(f"Received {len(grads)} gradients for {len(variables)} variables")
        if self._inner is None or [id(v) for v in variables] != [id(p) for p in self._params]:
            self.build(variables)
        for v, g in zip(variables, grads):
            v.grad = g
        self.apply_gradients()

    def _before_step(self) -> None:
        t = self.iterations + 1
        eps = self.config["epsilon"] / (1.0 - self.config["beta_2"] ** t) ** 0.5
        for group in self._inner.param_groups:
            group["eps"] = eps


class Adam(_KerasEpsilon, Optimizer):
    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False, "weight_decay": None}

    def _make(self, params):
        c = self.config
        return optim.Adam(params, lr=self._lr, betas=(c["beta_1"], c["beta_2"]), eps=c["epsilon"],
                          amsgrad=c["amsgrad"], weight_decay=c["weight_decay"] or 0.0)


class AdamW(_KerasEpsilon, Optimizer):
    _defaults = {"weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

    def _make(self, params):
        c = self.config
        return optim.AdamW(params, lr=self._lr, betas=(c["beta_1"], c["beta_2"]), eps=c["epsilon"],
                           amsgrad=c["amsgrad"], weight_decay=c["weight_decay"])


class RMSprop(Optimizer):
    """Keras' RMSprop: epsilon inside the square root (g / sqrt(v + eps)), which torch's formula cannot
    express, so the update is its own vectorised pass in the weights' array module."""

    _defaults = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False, "weight_decay": None}

    def _make(self, params):
        return self

    def step(self) -> None:
        c = self.config
        rho, eps, mom, wd = c["rho"], c["epsilon"], c["momentum"], c["weight_decay"]
        state = self.__dict__.setdefault("_state", {})
        for p in self._params:
            if p.grad is None:
                continue
            w, g = p._data, p.grad._data
            xp = backend_of(w, g).xp
            if wd:
                w -= w * (wd * self._lr)
            v, avg, buf = state.setdefault(id(p), (xp.zeros_like(w), xp.zeros_like(w), xp.zeros_like(w)))
            v *= rho
            v += (1 - rho) * g * g
            denom = v
            if c["centered"]:
                avg *= rho
                avg += (1 - rho) * g
                denom = v - avg * avg
            step = (self._lr * g) / xp.sqrt(denom + eps)
            if mom:
                buf *= mom
                buf += step
                step = buf
            w -= step
            p._written()


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r} (known: {', '.join(_BY_NAME)})")
