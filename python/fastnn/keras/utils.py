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
