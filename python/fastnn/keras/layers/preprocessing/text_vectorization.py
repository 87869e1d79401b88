"""TextVectorization on Python strings / NumPy string arrays: standardize (ASCII lower-casing and Keras'
punctuation class, as TensorFlow's ``strings.lower`` / ``regex_replace``), split (ASCII whitespace, or
characters), ngrams (TensorFlow's order: every width in turn), then a StringLookup with mask token "" (index
0 pads 'int' output). All host work; the result is a fastnn tensor."""
from __future__ import annotations

import re

import fastnn

from ._common import HostLayer, flat, is_batch_stream, nested, tensor_of, validate_string_arg
from .lookup import StringLookup

_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_WHITESPACE = re.compile(r"[ \t\n\r\v\f]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class TextVectorization(HostLayer):
    """Strings -> token ids (int64, padded with 0 to the longest row or cut/padded to
    ``output_sequence_length``), or multi_hot / count / tf_idf vectors over the vocabulary. A callable
    ``standardize`` / ``split`` is applied to each string (str -> str, str -> list of str)."""

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation", split="whitespace", ngrams=None,
                 output_mode="int", output_sequence_length=None, pad_to_max_tokens=False, vocabulary=None,
                 idf_weights=None, sparse=False, ragged=False, encoding="utf-8", name=None, **kwargs) -> None:
        if sparse:
            raise ValueError("`sparse=True` can only be used with the TensorFlow backend.")
        if ragged:
            raise ValueError("`ragged=True` can only be used with the TensorFlow backend.")
        if not callable(standardize) and standardize is not None:
            validate_string_arg(standardize, ("lower_and_strip_punctuation", "lower", "strip_punctuation"),
                                "TextVectorization", "standardize")
        if not callable(split) and split is not None:
            validate_string_arg(split, ("whitespace", "character"), "TextVectorization", "split")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        validate_string_arg(output_mode, ("int", "one_hot", "multi_hot", "count", "tf_idf"), "TextVectorization",
                            "output_mode")
        if not (ngrams is None or isinstance(ngrams, int)
                or isinstance(ngrams, tuple) and all(isinstance(i, int) for i in ngrams)):
            raise ValueError(f"`ngrams` must be None, an integer, or a tuple of integers. Received: ngrams={ngrams}")
        if output_mode == "int" and not (isinstance(output_sequence_length, int) or output_sequence_length is None):
            raise ValueError("`output_sequence_length` must be either None or an integer when `output_mode` is "
                             f"'int'. Received: output_sequence_length={output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("`output_sequence_length` must not be set if `output_mode` is not 'int'. Received "
                             f"output_sequence_length={output_sequence_length}.")
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self._max_tokens, self._standardize, self._split = max_tokens, standardize, split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._ragged, self._output_mode = ragged, output_mode
        self._output_sequence_length, self._encoding = output_sequence_length, encoding
        self._has_input_vocabulary = has_input_vocabulary
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token="",
                                          output_mode=output_mode, sparse=sparse,
                                          has_input_vocabulary=has_input_vocabulary, encoding=encoding,
                                          vocabulary_size=vocabulary_size)

    @property
    def output_dtype(self) -> str:
        return "float32" if self._output_mode == "tf_idf" else "int64"

    # ---- text processing ----------------------------------------------------------------------------------
    def _standardize_one(self, s: str) -> str:
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            s = s.translate(_ASCII_LOWER)
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            s = _PUNCTUATION.sub("", s)
        if callable(self._standardize):
            s = self._standardize(s)
        return s

    def _tokens(self, s: str) -> list:
        if self._split == "whitespace":
            toks = [t for t in _WHITESPACE.split(s) if t]
        elif self._split == "character":
            toks = list(s)
        elif callable(self._split):
            toks = list(self._split(s))
        else:
            toks = [s]
        if self._ngrams is not None:
            toks = [" ".join(toks[i:i + n]) for n in self._ngrams for i in range(len(toks) - n + 1)]
        return toks

    def _documents(self, inputs, group_last=False):
        """(list of token lists, batch shape): one document per string (with a split), or with split=None
        one token per string, grouped into documents along the last axis when ``group_last``."""
        values, shape = nested(inputs)
        squeeze = False
        if self._split is not None and len(shape) > 1:
            if shape[-1] != 1:
                raise ValueError("When using `TextVectorization` to tokenize strings, the input rank must be 1 or "
                                 f"the last shape dimension must be 1. Received: inputs.shape={shape} with "
                                 f"rank={len(shape)}")
            shape, squeeze = shape[:-1], True
        if self._split is None and group_last and len(shape) > 1:
            rows = flat(values, shape[:-1])
            return [[self._tokens(self._standardize_one(_as_str(s)))[0] for s in r] for r in rows], shape[:-1]
        strings = flat(values, shape)
        if squeeze:
            strings = [v[0] for v in strings]
        return [self._tokens(self._standardize_one(_as_str(s))) for s in strings], shape

    # ---- vocabulary ---------------------------------------------------------------------------------------
    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learns the vocabulary from strings (a list, an array, or an iterable of batches)."""
        self.reset_state()
        if is_batch_stream(data):
            self._adapt_batches(data, steps)
        else:
            self.update_state(data)
        self.finalize_state()

    def update_state(self, data) -> None:
        docs, _ = self._documents(data)
        self._lookup_layer._update_rows(docs)

    def finalize_state(self) -> None:
        self._lookup_layer.finalize_state()
        if not self._has_input_vocabulary and self._lookup_layer._tokens:
            self._remember(**self._lookup_layer._learned_state())

    def reset_state(self) -> None:
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens=True) -> list:
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # ---- call ---------------------------------------------------------------------------------------------
    def call(self, inputs):
        lookup = self._lookup_layer
        docs, shape = self._documents(inputs, group_last=self._output_mode != "int")
        ids = [lookup._lookup(d) for d in docs]
        if self._output_mode == "int":
            if self._split is None:
                out = tensor_of([i[0] for i in ids], shape, "int64")
                if self._output_sequence_length is not None:
                    out = _fit_length(out, self._output_sequence_length)
                return out
            length = self._output_sequence_length
            if length is None:
                length = max((len(i) for i in ids), default=0)
            rows = [(i + [0] * length)[:length] for i in ids]
            return tensor_of([v for r in rows for v in r], shape + (length,), "int64")
        depth = lookup.max_tokens if lookup.pad_to_max_tokens else lookup._frozen_vocab_size
        if depth is None:
            raise RuntimeError(f"When using `output_mode={self._output_mode}` and `pad_to_max_tokens=False`, you "
                               "must set the layer's vocabulary before calling it. Either pass a `vocabulary` "
                               "argument to the layer, or call `adapt` with some sample data.")
        if self._output_mode == "one_hot":
            if any(len(i) != 1 for i in ids):
                raise ValueError("TextVectorization: output_mode='one_hot' needs exactly one token per input (use "
                                 "split=None), got rows of lengths " + str(sorted({len(i) for i in ids})))
            return _counts([[i[0]] for i in ids], shape, depth, "int64")
        dtype = "float32" if self._output_mode == "tf_idf" else "int64"
        out = _counts(ids, shape, depth, dtype, binary=self._output_mode == "multi_hot")
        if self._output_mode == "tf_idf":
            out = out * lookup.idf_weights.to(out.device)
        return out

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        if self._split is None:
            if len(input_shape) <= 1:
                input_shape = input_shape + (1,)
        else:
            input_shape = input_shape + (None,)
        return self._lookup_layer.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        lk = self._lookup_layer
        idf = lk.input_idf_weights
        vocab = lk.input_vocabulary
        return {**super().get_config(), "max_tokens": lk.max_tokens, "standardize": self._standardize,
                "split": self._split, "ngrams": self._ngrams_arg, "output_mode": self._output_mode,
                "output_sequence_length": self._output_sequence_length, "pad_to_max_tokens": lk.pad_to_max_tokens,
                "sparse": lk.sparse, "ragged": self._ragged,
                "vocabulary": vocab.tolist() if hasattr(vocab, "tolist") else vocab,
                "idf_weights": idf.tolist() if hasattr(idf, "tolist") else idf, "encoding": self._encoding,
                "vocabulary_size": self.vocabulary_size()}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        return super().from_config(config, custom_objects)


def _as_str(s) -> str:
    if isinstance(s, bytes):
        return s.decode("utf-8")
    if not isinstance(s, str):
        raise TypeError(f"TextVectorization expects string inputs, got {type(s).__name__}: {s!r}")
    return s


def _fit_length(t, length: int):
    """Cuts or zero-pads the last axis to ``length``."""
    n = t.shape[-1] if t.ndim else 1
    if t.ndim == 0:
        t = t.reshape(1)
    if n >= length:
        return t[..., :length]
    pad = fastnn.zeros(tuple(t.shape[:-1]) + (length - n,), dtype=t.dtype)
    return fastnn.cat([t, pad], dim=-1)


def _counts(ids, shape, depth, dtype, binary=False):
    """Per-document bag of ids (out-of-range ids, e.g. the mask, are dropped, as Keras' one_hot does)."""
    rows = []
    for doc in ids:
        row = [0] * depth
        for i in doc:
            if 0 <= i < depth:
                row[i] = 1 if binary else row[i] + 1
        rows.append(row)
    return tensor_of([v for r in rows for v in r], tuple(shape) + (depth,), dtype)
