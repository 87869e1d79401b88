"""keras.utils' dataset builders: ``timeseries_dataset_from_array``, ``split_dataset`` and
``image_dataset_from_directory`` / ``text_dataset_from_directory`` / ``audio_dataset_from_directory``.

Keras returns tf.data datasets; here each returns a PyDataset of batches (fastnn tensors; text batches are
lists of Python strings) that ``model.fit`` / ``evaluate`` / ``predict`` iterate, with Keras' arguments,
defaults, file discovery, label modes, validation splits and messages. The directory builders also carry
``class_names`` and ``file_paths``. Image files are read with Pillow, WAV files with the standard library."""
from __future__ import annotations

import array
import math
import os
import random as _pyrandom
import sys
import wave

from .. import creation
from .._tensor import Tensor
from .progbar import print_msg
from .pydataset import PyDataset

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
TEXT_EXTENSIONS = (".txt",)
AUDIO_EXTENSIONS = (".wav",)


def _check_format(format) -> None:
    """Keras' ``format`` picks a tf.data or a Grain dataset; fastnn makes its own PyDataset for the default
    ``"tf"`` and refuses ``"grain"`` rather than return something else."""
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if format == "grain":
        raise NotImplementedError("format='grain': fastnn.keras does not make Grain datasets; the default "
                                  "format='tf' returns a fastnn PyDataset of batches that fit() iterates")


def _length(x) -> int:
    return int(x.shape[0]) if hasattr(x, "shape") else len(x)


# ---- timeseries_dataset_from_array ------------------------------------------------------------------------
class TimeseriesDataset(PyDataset):
    """Windows ``data[start + p + k * sampling_rate]`` (k < sequence_length) for the start positions ``p``,
    batched; with targets, each window's target is ``targets[start + p]``."""

    def __init__(self, data, targets, positions, sequence_length, sampling_rate, start_index, batch_size):
        super().__init__()
        self.data = data if isinstance(data, Tensor) else creation.tensor(data)
        self.targets = None if targets is None else (targets if isinstance(targets, Tensor)
                                                     else creation.tensor(targets))
        self.positions = positions
        self.offsets = creation.arange(0, sequence_length * sampling_rate, sampling_rate)
        self.start_index = start_index
        self.batch_size = batch_size

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.positions)
        return math.ceil(len(self.positions) / self.batch_size)

    def __getitem__(self, index):
        if index < 0 or index >= len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        if self.batch_size is None:
            starts = self.positions[index:index + 1]
        else:
            starts = self.positions[index * self.batch_size:(index + 1) * self.batch_size]
        starts = creation.tensor(starts).long() + self.start_index
        windows = self.data[starts.unsqueeze(1) + self.offsets.unsqueeze(0)]
        if self.batch_size is None:
            windows = windows[0]
        if self.targets is None:
            return windows
        target = self.targets[starts]
        return windows, (target[0] if self.batch_size is None else target)


def _shuffled(n: int, seed):
    if seed is None:
        seed = _pyrandom.randint(0, 10**6)
    order = list(range(n))
    _pyrandom.Random(seed).shuffle(order)
    return order


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None,
                                  format="tf"):
    """Sliding windows over a time series (``data`` of shape (timesteps, ...)) as batches of
    (batch, sequence_length, ...) with their targets. ``shuffle`` shuffles the windows' start positions
    (reproducibly with ``seed``); Keras additionally shuffles within a buffer, which this does not."""
    n = _length(data)
    if start_index:
        if start_index < 0:
            raise ValueError(f"`start_index` must be 0 or greater. Received: start_index={start_index}")
        if start_index >= n:
            raise ValueError(f"`start_index` must be lower than the length of the data. Received: "
                             f"start_index={start_index}, for data of length {n}")
    if end_index:
        if start_index and end_index <= start_index:
            raise ValueError(f"`end_index` must be higher than `start_index`. Received: start_index={start_index}, "
                             f"and end_index={end_index} ")
        if end_index >= n:
            raise ValueError(f"`end_index` must be lower than the length of the data. Received: "
                             f"end_index={end_index}, for data of length {n}")
        if end_index <= 0:
            raise ValueError(f"`end_index` must be higher than 0. Received: end_index={end_index}")
    if sampling_rate <= 0:
        raise ValueError(f"`sampling_rate` must be higher than 0. Received: sampling_rate={sampling_rate}")
    if sampling_rate >= n:
        raise ValueError(f"`sampling_rate` must be lower than the length of the data. Received: "
                         f"sampling_rate={sampling_rate}, for data of length {n}")
    if sequence_stride <= 0:
        raise ValueError(f"`sequence_stride` must be higher than 0. Received: sequence_stride={sequence_stride}")
    if sequence_stride >= n:
        raise ValueError(f"`sequence_stride` must be lower than the length of the data. Received: "
                         f"sequence_stride={sequence_stride}, for data of length {n}")
    _check_format(format)
    start_index = start_index or 0
    end_index = end_index or n
    num_seqs = end_index - start_index - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num_seqs = min(num_seqs, _length(targets) - start_index)
    positions = list(range(0, max(num_seqs, 0), sequence_stride))
    if shuffle:
        positions = [positions[i] for i in _shuffled(len(positions), seed)]
    return TimeseriesDataset(data, targets, positions, sequence_length, sampling_rate, start_index, batch_size)


# ---- split_dataset -----------------------------------------------------------------------------------------
def _split_sizes(left_size, right_size, total: int):
    """Keras' rules for left_size / right_size (ints are counts, floats fractions; one may be None)."""
    lt, rt = type(left_size), type(right_size)
    if left_size is not None and lt not in (int, float) and right_size is not None and rt not in (int, float):
        raise TypeError(f"Invalid `left_size` and `right_size` Types. Expected: integer or float or None, Received: "
                        f"type(left_size)={lt} and type(right_size)={rt}")
    if left_size is not None and lt not in (int, float):
        raise TypeError(f"Invalid `left_size` Type. Expected: int or float or None, Received: type(left_size)={lt}.  ")
    if right_size is not None and rt not in (int, float):
        raise TypeError(f"Invalid `right_size` Type. Expected: int or float or None,Received: type(right_size)={rt}.")
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split sizes must be "
                         "non-zero.")
    if (lt is int and (left_size <= 0 or left_size >= total)) or (lt is float and (left_size <= 0 or left_size >= 1)):
        raise ValueError(f"`left_size` should be either a positive integer smaller than {total}, or a float within "
                         f"the range `[0, 1]`. Received: left_size={left_size}")
    if (rt is int and (right_size <= 0 or right_size >= total)) or (
            rt is float and (right_size <= 0 or right_size >= 1)):
        raise ValueError(f"`right_size` should be either a positive integer and smaller than {total} or a float "
                         f"within the range `[0, 1]`. Received: right_size={right_size}")
    if lt is float and rt is float and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal "
                         "to 1.")
    left = round(left_size * total) if lt is float else left_size
    right = round(right_size * total) if rt is float else right_size
    if left is None:
        left = total - right
    elif right is None:
        right = total - left
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the {total}. Received: "
                         f"left_size + right_size = {left + right}and total_length = {total}")
    for split, side in ((left, "left"), (right, "right")):
        if split == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and `right_size`={right}."
                             f"Resulting {side} side dataset split will be empty. Adjust any of the aforementioned "
                             "parameters")
    return int(left), int(right)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None, preferred_backend=None):
    """Two fastnn datasets (``Subset``s) of the samples of ``dataset`` (an array, a list/tuple of arrays of one
    length, or a fastnn Dataset): the first ``left_size`` samples and the ``right_size`` after them, after
    shuffling the samples if ``shuffle`` (reproducibly with ``seed``)."""
    from ..data import Dataset, Subset, TensorDataset

    if preferred_backend not in (None, "torch", "fastnn"):
        raise ValueError(f"split_dataset: preferred_backend={preferred_backend!r}: fastnn.keras makes fastnn datasets "
                         "(None, 'torch' or 'fastnn')")
    if isinstance(dataset, Dataset):
        source = dataset
    elif isinstance(dataset, (list, tuple)) and dataset and all(hasattr(a, "shape") for a in dataset):
        lengths = {_length(a) for a in dataset}
        if len(lengths) != 1:
            raise ValueError(f"split_dataset: the arrays have different lengths {sorted(lengths)}")
        source = TensorDataset(*[a if isinstance(a, Tensor) else creation.tensor(a) for a in dataset])
    elif hasattr(dataset, "shape"):
        source = TensorDataset(dataset if isinstance(dataset, Tensor) else creation.tensor(dataset))
    else:
        raise TypeError("The `dataset` argument must be a fastnn Dataset object, or a list/tuple of arrays. "
                        f"Received: dataset={dataset} of type {type(dataset)}")
    if right_size is None and left_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. Received: "
                         "left_size=None and right_size=None")
    total = len(source)
    left, right = _split_sizes(left_size, right_size, total)
    order = _shuffled(total, seed) if shuffle else list(range(total))
    return Subset(source, order[:left]), Subset(source, order[left:left + right])


# ---- *_dataset_from_directory ------------------------------------------------------------------------------
def _walk(directory, extensions, follow_links):
    found = []
    for root, dirs, files in os.walk(directory, followlinks=follow_links):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(extensions):
                found.append(os.path.join(root, name))
    return found


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """(file paths, labels or None, class names) as Keras finds them: with ``labels='inferred'`` each
    subdirectory is a class (alphanumeric order) holding its files at any depth; a list of labels pairs
    with the files in alphanumeric order; None finds the files alone."""
    if labels == "inferred":
        subdirs = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
        if class_names is not None:
            if not set(class_names).issubset(subdirs):
                raise ValueError(f"The `class_names` passed did not match the names of the subdirectories of the "
                                 f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)
        class_names = subdirs
        paths, found_labels = [], []
        for i, sub in enumerate(subdirs):
            files = _walk(os.path.join(directory, sub), formats, follow_links)
            paths += files
            found_labels += [i] * len(files)
    else:
        paths = _walk(directory, formats, follow_links)
        found_labels = None
        if labels is not None:
            if len(labels) != len(paths):
                raise ValueError(f"Expected the lengths of `labels` to match the number of files in the target "
                                 f"directory. len(labels) is {len(labels)} while we found {len(paths)} files in "
                                 f"directory {directory}.")
            found_labels = list(labels)
            class_names = [str(c) for c in sorted(set(found_labels))] if class_names is None else class_names
    if verbose:
        if labels is None:
            print_msg(f"Found {len(paths)} files.")
        else:
            print_msg(f"Found {len(paths)} files belonging to {len(class_names)} classes.")
    if shuffle:
        order = _shuffled(len(paths), seed)
        paths = [paths[i] for i in order]
        if found_labels is not None:
            found_labels = [found_labels[i] for i in order]
    return paths, found_labels, class_names


def _check_common(labels, label_mode, class_names, validation_split, subset, seed, shuffle):
    if labels not in ("inferred", None) and not isinstance(labels, (list, tuple)):
        raise ValueError("`labels` argument should be a list/tuple of integer labels, of the same size as the number "
                         f"of files in the target directory. If you wish to infer the labels from the subdirectory "
                         f'names in the target directory, pass `labels="inferred"`. If you wish to get a dataset that '
                         f"only contains data (no labels), pass `labels=None`. Received: labels={labels}")
    if class_names and labels != "inferred":
        raise ValueError('You can only pass `class_names` if `labels="inferred"`. Received: labels='
                         f"{labels}, and class_names={class_names}")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError('`label_mode` argument must be one of "int", "categorical", "binary", or None. Received: '
                         f"label_mode={label_mode}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if validation_split is not None:
        if not 0 < validation_split < 1:
            raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
        if subset not in ("training", "validation", "both"):
            raise ValueError('`subset` must be either "training", "validation" or "both", received: '
                             f"{subset}")
        if shuffle and seed is None:
            raise ValueError("If using `validation_split` and shuffling the data, you must provide a `seed` "
                             "argument, to make sure that there is no overlap between the training and validation "
                             "subset.")
    elif subset is not None:
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    return labels, label_mode


def _subsets(paths, labels, validation_split, subset, verbose):
    """[(paths, labels)] for the subsets asked for: the last ``validation_split`` of the (shuffled) files
    are the validation set, as Keras splits them."""
    if validation_split is None:
        return [(paths, labels)]
    n_val = int(validation_split * len(paths))
    cut = len(paths) - n_val
    train = (paths[:cut], labels[:cut] if labels is not None else None)
    val = (paths[cut:], labels[cut:] if labels is not None else None)
    if verbose:
        if subset in ("training", "both"):
            print_msg(f"Using {cut} files for training.")
        if subset in ("validation", "both"):
            print_msg(f"Using {n_val} files for validation.")
    return {"training": [train], "validation": [val], "both": [train, val]}[subset]


class DirectoryDataset(PyDataset):
    """Batches of samples read from files (``load(path)`` makes one sample) with their labels."""

    def __init__(self, paths, labels, label_mode, class_names, batch_size, load, collate):
        super().__init__()
        self.file_paths = list(paths)
        self.labels = labels
        self.label_mode = label_mode
        self.class_names = class_names
        self.batch_size = batch_size
        self._load = load
        self._collate = collate

    def __len__(self) -> int:
        n = len(self.file_paths)
        return n if self.batch_size is None else math.ceil(n / self.batch_size)

    def _label_tensor(self, labels):
        if self.label_mode == "int":
            return creation.tensor(labels, dtype="int32")
        if self.label_mode == "binary":
            return creation.tensor(labels, dtype="float32").reshape(-1, 1)
        eye = creation.eye(len(self.class_names), dtype="float32")
        return eye[creation.tensor(labels).long()]

    def __getitem__(self, index):
        if index < 0 or index >= len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        size = 1 if self.batch_size is None else self.batch_size
        sl = slice(index * size, (index + 1) * size)
        x = self._collate([self._load(p) for p in self.file_paths[sl]])
        if self.label_mode is None:
            return x[0] if self.batch_size is None else x
        y = self._label_tensor(self.labels[sl])
        return (x[0], y[0]) if self.batch_size is None else (x, y)


def _from_directory(directory, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split, subset,
                    follow_links, verbose, formats, load, collate):
    labels, label_mode = _check_common(labels, label_mode, class_names, validation_split, subset, seed, shuffle)
    if seed is None:
        seed = _pyrandom.randint(0, 10**6)
    paths, found, names = index_directory(directory, labels if labels is not None else None, formats,
                                          class_names=class_names, shuffle=shuffle, seed=seed,
                                          follow_links=follow_links, verbose=verbose)
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: '
                         f"class_names={names}")
    if not paths:
        raise ValueError(f"No files found in directory {directory}. Allowed formats: {formats}")
    sets = [DirectoryDataset(p, lab, label_mode, names, batch_size, load, collate)
            for p, lab in _subsets(paths, found, validation_split, subset, verbose)]
    return sets if len(sets) > 1 else sets[0]


_INTERPOLATIONS = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic", "area": "area"}


def _resize(img, size, interpolation, crop, pad):
    """An (H, W, C) float tensor resized to ``size`` = (height, width) with Keras' crop/pad-to-aspect rules."""
    from ..nn import functional as F

    h, w = int(img.shape[0]), int(img.shape[1])
    th, tw = size
    if crop:
        ch, cw = min(h, (w * th) // tw), min(w, (h * tw) // th)
        top, left = (h - ch) // 2, (w - cw) // 2
        img = img[top:top + ch, left:left + cw]
    elif pad:
        ph, pw = max(h, (w * th) // tw), max(w, (h * tw) // th)
        top, left = (ph - h) // 2, (pw - w) // 2
        img = F.pad(img.permute(2, 0, 1), (left, pw - w - left, top, ph - h - top)).permute(1, 2, 0)
    if tuple(img.shape[:2]) == (th, tw):
        return img
    mode = _INTERPOLATIONS[interpolation]
    x = img.permute(2, 0, 1).unsqueeze(0)
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    return F.interpolate(x, size=(th, tw), mode=mode, **kwargs)[0].permute(1, 2, 0)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, color_mode="rgb",
                                 batch_size=32, image_size=(256, 256), shuffle=True, seed=None, validation_split=None,
                                 subset=None, interpolation="bilinear", follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf", verbose=True):
    """Batches of images (float32 (batch, height, width, channels), values 0-255) and labels from a
    directory of class subdirectories; the result has ``class_names`` and ``file_paths``."""
    from .image_utils import pil_image

    pil_image()
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}.get(color_mode)
    if channels is None:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. Received: '
                         f"color_mode={color_mode}")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"image_dataset_from_directory: interpolation={interpolation!r} is not supported; use one of "
                         f"{sorted(_INTERPOLATIONS)}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be set to `True`.")
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Invalid data_format: {data_format}")
    _check_format(format)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    size = tuple(image_size)

    def load(path):
        Image = pil_image()
        with Image.open(path) as im:
            im = im.convert(mode)
            t = creation.tensor(im).to("float32")
        if t.ndim == 2:
            t = t.unsqueeze(-1)
        t = _resize(t, size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio)
        return t.permute(2, 0, 1) if data_format == "channels_first" else t

    def collate(images):
        from .. import stack

        return stack(images)

    return _from_directory(directory, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split,
                           subset, follow_links, verbose, IMAGE_EXTENSIONS, load, collate)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, format="tf", verbose=True):
    """Batches of texts (lists of Python strings, cut to ``max_length`` characters) and labels from a
    directory of class subdirectories of .txt files; the result has ``class_names`` and ``file_paths``."""
    _check_format(format)

    def load(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        return text[:max_length] if max_length is not None else text

    return _from_directory(directory, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split,
                           subset, follow_links, verbose, TEXT_EXTENSIONS, load, list)


def read_wav(path):
    """(float32 tensor (samples, channels) in [-1, 1], sampling rate) of a PCM WAV file."""
    with wave.open(os.fspath(path), "rb") as w:
        channels, width, rate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
        raw = w.readframes(frames)
    codes = {1: "B", 2: "h", 4: "i" if array.array("i").itemsize == 4 else "l"}
    if width not in codes:
        raise ValueError(f"{path}: {8 * width}-bit WAV samples are not supported (8, 16 or 32-bit PCM are)")
    samples = array.array(codes[width], raw)
    if sys.byteorder == "big":  # WAV samples are little-endian
        samples.byteswap()
    t = creation.tensor(samples).to("float32")
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        t = (t - 128.0) / 128.0
    else:
        t = t / float(2 ** (8 * width - 1))
    return t.reshape(-1, channels), rate


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                 sampling_rate=None, output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None, follow_links=False, verbose=True):
    """Batches of audio (float32 (batch, samples, channels) in [-1, 1], zero-padded to the longest clip of the
    batch or cut/padded to ``output_sequence_length``) and labels from a directory of class subdirectories of
    .wav files; the result has ``class_names`` and ``file_paths``."""
    from ..nn import functional as F

    if ragged:
        raise ValueError("audio_dataset_from_directory(ragged=True): fastnn has no ragged tensors; leave "
                         "ragged=False (clips are zero-padded to the longest of the batch)")
    if sampling_rate is not None:
        if not isinstance(sampling_rate, int):
            raise ValueError(f"`sampling_rate` should have an integer value. Received: sampling_rate={sampling_rate}")
        if sampling_rate <= 0:
            raise ValueError(f"`sampling_rate` should be higher than 0. Received: sampling_rate={sampling_rate}")

    def load(path):
        audio, rate = read_wav(path)
        if sampling_rate is not None and rate != sampling_rate:
            raise NotImplementedError(f"{path} is sampled at {rate} Hz, not sampling_rate={sampling_rate}: resampling "
                                      "audio is not supported")
        if output_sequence_length is not None:
            audio = audio[:output_sequence_length]
        return audio

    def collate(clips):
        from .. import stack

        longest = output_sequence_length or max(int(c.shape[0]) for c in clips)
        return stack([F.pad(c, (0, 0, 0, longest - int(c.shape[0]))) for c in clips])

    return _from_directory(directory, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split,
                           subset, follow_links, verbose, AUDIO_EXTENSIONS, load, collate)


__all__ = ["audio_dataset_from_directory", "image_dataset_from_directory", "split_dataset",
           "text_dataset_from_directory", "timeseries_dataset_from_array"]
