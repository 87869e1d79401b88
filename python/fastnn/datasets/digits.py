"""scikit-learn's handwritten digits (1797 8×8 images, 10 classes), read from the CSV that ships inside the
scikit-learn wheel, so nothing is downloaded. The file is located without importing scikit-learn
(importing it would pull in SciPy: ~0.5 s)."""
from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

_INSTALL_HINT = "pip install scikit-learn (its wheel ships the digits data; nothing is downloaded)"


def _digits_csv() -> Path:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"fastnn.datasets.load_digits needs scikit-learn's data files: {_INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"scikit-learn is installed but {path} is missing; reinstall it: {_INSTALL_HINT}")
    return path


def load_digits(split: str | None = None, test_fraction: float = 0.2, seed: int = 0, flatten: bool = False):
    """Returns ``(images, labels)``: float32 images in [0, 1] of shape (N, 8, 8) ((N, 64) with
    ``flatten``), int64 labels 0-9.

    ``split='train'`` / ``'test'`` gives a stratified, seeded split (``test_fraction`` of each class in the
    test part), the same for every call with the same seed; ``None`` gives all 1797 samples."""
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    with gzip.open(_digits_csv(), "rt") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.float32)
    if raw.ndim != 2 or raw.shape[1] != 65:
        raise ValueError(f"unexpected digits file layout {raw.shape}")
    images = (raw[:, :64] / 16.0).astype(np.float32)  # pixel counts are 0..16
    labels = raw[:, 64].astype(np.int64)
    if split is not None:
        rng = np.random.default_rng(seed)
        test = np.zeros(len(labels), bool)
        for c in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == c))
            test[members[: int(round(test_fraction * len(members)))]] = True
        keep = test if split == "test" else ~test
        images, labels = images[keep], labels[keep]
    return (images if flatten else images.reshape(-1, 8, 8)), labels
