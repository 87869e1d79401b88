"""keras.optimizers.legacy: in Keras 3 these names exist only to say that Keras 2's legacy optimizers are gone."""
from __future__ import annotations


class _LegacyOptimizer:
    def __init__(self, *args, **kwargs) -> None:
        raise ImportError("`keras.optimizers.legacy` is not supported in Keras 3. When using `tf.keras`, to continue "
                          "using a `tf.keras.optimizers.legacy` optimizer, you can install the `tf_keras` package "
                          "(Keras 2) and set the environment variable `TF_USE_LEGACY_KERAS=True` to configure "
                          "TensorFlow to use `tf_keras` when accessing `tf.keras`.")


Adagrad = Adam = Ftrl = Optimizer = RMSprop = SGD = _LegacyOptimizer
