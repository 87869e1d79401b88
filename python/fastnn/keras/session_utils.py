"""keras.utils' session helpers: ``set_random_seed``, ``clear_session`` and ``Config`` (an attribute
dict that can be frozen)."""
from __future__ import annotations

import difflib
import gc
import json


def set_random_seed(seed) -> None:
    """Seeds every random stream a Keras program draws from: fastnn's generator (layers' initializers,
    dropout, shuffling in fit), NumPy's global generator and Python's ``random``."""
    from .. import random as fastnn_random

    if not isinstance(seed, int):
        raise ValueError(f"Expected `seed` argument to be an integer. Received: seed={seed} (of type {type(seed)})")
    fastnn_random.seed_host_generators(seed)
    fastnn_random.manual_seed(seed)


def clear_session(free_memory: bool = True) -> None:
    """Resets Keras' global state: layer names start over (``dense``, ``dense_1``, ...), custom object
    scopes and the interactive-logging switch return to their defaults; ``free_memory`` also runs the
    garbage collector and returns cached device memory."""
    from . import object_registry, progbar
    from .layers import base

    base._name_counts.clear()
    object_registry._state.__dict__.clear()
    progbar.enable_interactive_logging()
    if free_memory:
        gc.collect()
        from .. import cuda

        if cuda.is_available():
            cuda.empty_cache()


class Config:
    """``Config(learning_rate=0.1)``: values read and set as attributes or items; ``freeze()`` makes it
    read-only (a mutation then raises ValueError). Iterating gives the keys in sorted order, as Keras'."""

    def __init__(self, **kwargs):
        object.__setattr__(self, "_config", kwargs)
        object.__setattr__(self, "_frozen", False)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self) -> None:
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self) -> None:
        object.__setattr__(self, "_frozen", False)

    def _check_mutable(self) -> None:
        if self._frozen:
            raise ValueError("Cannot mutate attribute(s) because the config is frozen.")

    def as_dict(self) -> dict:
        return dict(self._config)

    def to_json(self) -> str:
        return json.dumps(self._config)

    def keys(self):
        return self._config.keys()

    def values(self):
        return self._config.values()

    def items(self):
        return self._config.items()

    def get(self, keyname, value=None):
        return self._config.get(keyname, value)

    def pop(self, *args):
        self._check_mutable()
        return self._config.pop(*args)

    def update(self, *args, **kwargs):
        self._check_mutable()
        return self._config.update(*args, **kwargs)

    def __getattr__(self, name):  # only for names that are not the class' own
        config = object.__getattribute__(self, "_config")
        if name in config:
            return config[name]
        close = difflib.get_close_matches(name, list(config), n=1, cutoff=0.7)
        raise AttributeError(f"Unknown attribute: '{name}'." + (f" Did you mean '{close[0]}'?" if close else ""))

    def __setattr__(self, name, value):
        if hasattr(type(self), name):  # a method or property of Config itself
            return object.__setattr__(self, name, value)
        self[name] = value

    def __setitem__(self, key, item):
        self._check_mutable()
        self._config[key] = item

    def __getitem__(self, key):
        return self._config[key]

    def __delitem__(self, key):
        self._check_mutable()
        del self._config[key]

    def __contains__(self, item) -> bool:
        return item in self._config

    def __iter__(self):
        return iter(sorted(self._config))

    def __len__(self) -> int:
        return len(self._config)

    def __repr__(self) -> str:
        return f"<Config {self._config}>"


__all__ = ["Config", "clear_session", "set_random_seed"]
