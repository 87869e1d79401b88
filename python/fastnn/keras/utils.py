"""keras.utils' data helpers: ``to_categorical`` and ``pad_sequences``, returning NumPy arrays as Keras'
do (they prepare host data before training), built on fastnn tensors."""
from __future__ import annotations

from .. import creation
from ..nn.functional import one_hot


def to_categorical(x, num_classes=None):
    """Class indices -> one-hot rows (float64, as Keras returns them); a trailing dim of 1 is dropped first,
    as Keras does for (n, 1) label columns."""
    labels = creation.tensor(x).long()
    shape = tuple(labels.shape)
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    n = int(num_classes) if num_classes is not None else (int(flat.max().item()) + 1 if flat.numel() else 0)
    return one_hot(flat, n).double().reshape(shape + (n,)).numpy()


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Variable-length sequences -> one (len(sequences), maxlen) array: shorter ones padded with ``value``,
    longer ones cut, each at the start ('pre') or the end ('post'), as keras.utils.pad_sequences."""
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood')
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood')
    seqs = [list(s) for s in sequences]
    if maxlen is None:
        if not seqs:
            raise ValueError("zero-size array to reduction operation maximum which has no identity")
        maxlen = max(len(s) for s in seqs)
    rows = []
    for s in seqs:
        s = (s[-maxlen:] if truncating == "pre" else s[:maxlen]) if maxlen else []
        pad = [value] * (maxlen - len(s))
        rows.append(pad + s if padding == "pre" else s + pad)
    return creation.tensor(rows, dtype=dtype).reshape(len(rows), maxlen).numpy()


__all__ = ["pad_sequences", "to_categorical"]

from .dataset_utils import (audio_dataset_from_directory, image_dataset_from_directory, split_dataset,  # noqa: E402
                            text_dataset_from_directory, timeseries_dataset_from_array)
from .file_utils import get_file  # noqa: E402
from .image_utils import array_to_img, img_to_array, load_img, save_img  # noqa: E402
from .model_visualization import model_to_dot, plot_model  # noqa: E402
from .object_registry import (CustomObjectScope, custom_object_scope, deserialize_keras_object,  # noqa: E402
                              get_custom_objects, get_registered_name, get_registered_object,
                              register_keras_serializable, serialize_keras_object)
from .progbar import (Progbar, disable_interactive_logging, enable_interactive_logging,  # noqa: E402
                      is_interactive_logging_enabled)
from .pydataset import PyDataset, Sequence  # noqa: E402
from .session_utils import Config, clear_session, set_random_seed  # noqa: E402
from .tensor_utils import get_source_inputs, is_keras_tensor, normalize, standardize_dtype  # noqa: E402
from .training_data import pack_x_y_sample_weight, unpack_x_y_sample_weight  # noqa: E402

__all__ += ["Config", "CustomObjectScope", "Progbar", "PyDataset", "Sequence", "array_to_img",
            "audio_dataset_from_directory", "clear_session", "custom_object_scope", "deserialize_keras_object",
            "disable_interactive_logging", "enable_interactive_logging", "get_custom_objects", "get_file",
            "get_registered_name", "get_registered_object", "get_source_inputs", "image_dataset_from_directory",
            "img_to_array", "is_interactive_logging_enabled", "is_keras_tensor", "load_img", "model_to_dot",
            "normalize", "pack_x_y_sample_weight", "plot_model", "register_keras_serializable", "save_img",
            "serialize_keras_object", "set_random_seed", "split_dataset", "standardize_dtype",
            "text_dataset_from_directory", "timeseries_dataset_from_array", "unpack_x_y_sample_weight"]
