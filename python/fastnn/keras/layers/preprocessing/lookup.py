"""StringLookup and IntegerLookup: a vocabulary (given, read from a file, or learned by ``adapt``) maps tokens
to indices on the host (Python dicts, as Keras' TensorFlow hash tables run outside the graph); the indices
become fastnn tensors (int64), encoded with fastnn ops for one_hot / multi_hot / count / tf_idf."""
from __future__ import annotations

import math
from collections import Counter

import fastnn

from ._common import HostLayer, encode_categorical, flat, is_batch_stream, nested, tensor_of, validate_string_arg
from .hashing import fingerprint64, siphash64

_INT64_MAX = 2 ** 63 - 1


class IndexLookup(HostLayer):
    """The shared machinery of StringLookup and IntegerLookup (Keras' ``IndexLookup``): index 0 is the mask
    token (when ``mask_token`` is set and ``output_mode='int'``), then ``num_oov_indices`` OOV indices,
    then the vocabulary in order (by decreasing frequency, ties by decreasing token, after ``adapt``)."""

    def __init__(self, max_tokens, num_oov_indices, mask_token, oov_token, vocabulary_dtype, vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", name=None, salt=None, **kwargs) -> None:
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"If pad_to_max_tokens is True, must set `max_tokens`. Received: max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError("`num_oov_indices` must be greater than or equal to 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        validate_string_arg(oov_method, ("floormod", "farmhash"), type(self).__name__, "oov_method")
        if salt is not None:
            if vocabulary_dtype != "string" and oov_method != "farmhash":
                raise ValueError(f"`salt` can only be used when `oov_method='farmhash'`. Received: "
                                 f"oov_method={oov_method}")
            if isinstance(salt, (tuple, list)) and len(salt) == 2:
                salt = list(salt)
            elif isinstance(salt, int):
                salt = [salt, salt]
            else:
                raise ValueError("The `salt` argument for `IndexLookup` can only be a tuple of 2 integers, or a "
                                 f"single integer. Received: salt={salt}.")
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        validate_string_arg(output_mode, ("int", "one_hot", "multi_hot", "count", "tf_idf"), type(self).__name__,
                            "output_mode")
        if invert and output_mode != "int":
            raise ValueError(f"`output_mode` must be `'int'` when `invert` is true. Received: "
                             f"output_mode={output_mode}")
        if sparse and output_mode == "int":
            raise ValueError("`sparse` may only be true if `output_mode` is `'one_hot'`, `'multi_hot'`, `'count'` or "
                             f"`'tf_idf'`. Received: sparse={sparse} and output_mode={output_mode}")
        if sparse:
            raise ValueError("`sparse=True` can only be used with the TensorFlow backend.")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError("`idf_weights` should only be set if `output_mode` is `'tf_idf'`. Received: "
                             f"idf_weights={idf_weights} and output_mode={output_mode}")
        frozen = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("dtype", None)
        trainable = kwargs.pop("trainable", True)
        if kwargs:
            raise ValueError(f"Unrecognized keyword argument(s): {kwargs}")
        super().__init__(name=name, trainable=trainable)
        self.invert, self.max_tokens, self.num_oov_indices = invert, max_tokens, num_oov_indices
        self.mask_token, self.oov_token, self.output_mode = mask_token, oov_token, output_mode
        self.sparse, self.pad_to_max_tokens = sparse, pad_to_max_tokens
        self.vocabulary_dtype, self.oov_method, self.salt = vocabulary_dtype, oov_method, salt
        self._frozen_vocab_size = frozen
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._has_input_vocabulary = has_input_vocabulary
        self._tokens: list = []  # the learned / given vocabulary without the special tokens
        self._index: dict = {}
        self.idf_weights = None
        if output_mode == "tf_idf" and has_input_vocabulary and idf_weights is None:
            raise ValueError("When specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` "
                             "argument must also be provided.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.reset_state()

    @property
    def output_dtype(self) -> str:
        if self.invert:
            return "string" if self.vocabulary_dtype == "string" else "int64"
        return "float32" if self.output_mode == "tf_idf" else "int64"

    # ---- indices ------------------------------------------------------------------------------------------
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens=True) -> list:
        vocab = [self.oov_token] * self._token_start_index() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start_index():]

    def _coerce(self, token):
        if self.vocabulary_dtype == "string":
            return token.decode("utf-8") if isinstance(token, bytes) else str(token)
        return int(token)

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError("`idf_weights` should only be set if output_mode is `'tf_idf'`. Received: output_mode="
                             f"{self.output_mode} and idf_weights={idf_weights}")
        if isinstance(vocabulary, str):
            if self.output_mode == "tf_idf":
                raise ValueError("output_mode `'tf_idf'` does not support loading a vocabulary from file.")
            try:
                with open(vocabulary, encoding="utf-8") as f:
                    lines = f.read().splitlines()
            except FileNotFoundError:
                raise ValueError(f"Vocabulary file {vocabulary} does not exist.") from None
            while lines and lines[-1] == "":
                lines.pop()
            vocabulary = lines
        values, shape = nested(vocabulary)
        vocabulary = [self._coerce(v) for v in flat(values, shape)]
        if not vocabulary:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        oov_start, token_start = self._oov_start_index(), self._token_start_index()
        special = [self.mask_token] * oov_start + [self.oov_token] * self.num_oov_indices
        found_special = vocabulary[:token_start] == special
        tokens = vocabulary[token_start:] if found_special else vocabulary
        repeated = [t for t, c in Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError("The passed vocabulary has at least one repeated term. Please uniquify your dataset. "
                             f"The repeated terms are: {repeated}")
        for token, what in ((self.mask_token, "mask"), (self.oov_token if self.invert else None, "OOV")):
            if token is not None and token in tokens:
                where = max(i for i, v in enumerate(vocabulary) if v == token)
                raise ValueError(f"Found reserved {what} token at unexpected location in `vocabulary`. Note that "
                                 "passed `vocabulary` does not need to include the OOV and mask tokens. Either "
                                 "remove all mask and OOV tokens, or include them only at the start of the "
                                 f"vocabulary in precisely this order: {special}. Received: "
                                 f"{'mask_token' if what == 'mask' else 'oov_token'}={token} at vocabulary index "
                                 f"[{where}]")
        if self.max_tokens is not None and token_start + len(tokens) > self.max_tokens:
            raise ValueError("Attempted to set a vocabulary larger than the maximum vocab size. Received vocabulary "
                             f"size is {token_start + len(tokens)}; `max_tokens` is {self.max_tokens}.")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            w_values, w_shape = nested(idf_weights)
            if len(w_shape) != 1:
                raise ValueError(f"TF-IDF data must be a 1-index array. Received: type(idf_weights)="
                                 f"{type(idf_weights)}")
            weights = [float(w) for w in w_values]
            if len(vocabulary) != len(weights):
                raise ValueError(f"`idf_weights` must be the same length as vocabulary. len(idf_weights) is "
                                 f"{len(weights)}; len(vocabulary) is {len(vocabulary)}")
            front = [] if found_special else [sum(weights) / len(weights)] * token_start
            weights = front + weights
            if self.pad_to_max_tokens and self.max_tokens is not None:
                weights += [0.0] * (self.max_tokens - len(weights))
            self.idf_weights = fastnn.tensor(weights, dtype=fastnn.float32)
        self._record_vocabulary_size()

    def _set_tokens(self, tokens) -> None:
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {t: i + start for i, t in enumerate(self._tokens)}

    def _record_vocabulary_size(self) -> None:
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is not None \
                and self.vocabulary_size() != self._frozen_vocab_size:
            raise RuntimeError(f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, the "
                               "vocabulary size cannot be changed after the layer is called. Old vocab size is "
                               f"{self._frozen_vocab_size}, new vocab size is {self.vocabulary_size()}")
        self._frozen_vocab_size = self.vocabulary_size()

    # ---- adapt --------------------------------------------------------------------------------------------
    def adapt(self, data, steps=None) -> None:
        """Learns the vocabulary (and, for tf_idf, the document frequencies) from an array / list of tokens
        (a 1-D list is one token per document) or an iterable of batches."""
        self.reset_state()
        if is_batch_stream(data):
            self._adapt_batches(data, steps)
        else:
            values, shape = nested(data)
            if len(shape) == 1:
                values, shape = [[v] for v in values], shape + (1,)
            self._update(values, shape)
        self.finalize_state()

    def update_state(self, data) -> None:
        values, shape = nested(data)
        if len(shape) == 0:
            values, shape = [values], (1,)
        if len(shape) == 1:
            values, shape = [values], (1,) + shape
        self._update(values, shape)

    def _update(self, values, shape) -> None:
        self._update_rows([flat(row, shape[1:]) for row in values])

    def _update_rows(self, rows) -> None:
        """Counts the tokens of documents given as lists of tokens (rows may differ in length)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static vocabulary via `vocabulary` "
                             "argument or `set_vocabulary()` method.")
        for row in rows:
            tokens = [self._coerce(v) for v in row]
            self._token_counts.update(tokens)
            if self.output_mode == "tf_idf":
                self._doc_counts.update(set(tokens))
        if self.output_mode == "tf_idf":
            self._num_documents += len(rows)

    def finalize_state(self) -> None:
        if self._has_input_vocabulary or not self._token_counts:
            self._record_vocabulary_size()
            return
        counts = self._token_counts
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(self._coerce(special), None)
        ordered = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            ordered = ordered[:self.max_tokens - self._token_start_index()]
        self._set_tokens(ordered)
        if self.output_mode == "tf_idf":
            idf = fastnn.tensor([math.log(1 + self._num_documents / (1 + self._doc_counts[t])) for t in ordered],
                                dtype=fastnn.float32)
            front = fastnn.full((self._token_start_index(),), float(fastnn.mean(idf)), dtype=fastnn.float32)
            weights = fastnn.cat([front, idf])
            if self.pad_to_max_tokens and self.max_tokens is not None:
                weights = fastnn.cat([weights, fastnn.zeros(self.max_tokens - weights.numel())])
            self.idf_weights = weights
        self.reset_state()
        self._record_vocabulary_size()
        self._remember(**self._learned_state())

    def _learned_state(self) -> dict:
        """The adapted vocabulary (and idf weights) as constructor arguments."""
        state = {"vocabulary": list(self._tokens), "has_input_vocabulary": False}
        if self.output_mode == "tf_idf":
            start = self._token_start_index()
            state["idf_weights"] = self.idf_weights[start:start + len(self._tokens)].tolist()
        return state

    def reset_state(self) -> None:
        if self._has_input_vocabulary:
            return
        self._token_counts: Counter = Counter()
        self._doc_counts: Counter = Counter()
        self._num_documents = 0

    # ---- call ---------------------------------------------------------------------------------------------
    def _oov_index(self, token) -> int:
        if self.num_oov_indices == 1:
            return self._oov_start_index()
        if self.vocabulary_dtype != "string" and self.oov_method != "farmhash":
            h = token % self.num_oov_indices
        else:
            s = token if isinstance(token, str) else str(token)
            h = (siphash64(self.salt, s) if self.salt is not None else fingerprint64(s)) % self.num_oov_indices
        return self._oov_start_index() + h

    def _lookup(self, tokens) -> list:
        mask = self._coerce(self.mask_token) if self.mask_token is not None else None
        mask_value = 0 if self.output_mode == "int" else _INT64_MAX
        out, missing = [], []
        for t in tokens:
            if mask is not None and t == mask:
                out.append(mask_value)
                continue
            i = self._index.get(t)
            if i is None:
                if self.num_oov_indices == 0:
                    missing.append(t)
                    i = -1
                else:
                    i = self._oov_index(t)
            out.append(i)
        if missing:
            raise ValueError(f"When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values "
                             f"{missing}, consider setting `num_oov_indices=1`.")
        return out

    def _invert(self, ids) -> list:
        out = []
        for i in ids:
            i = int(i)
            if self.mask_token is not None and i == 0:
                out.append(self.mask_token)
            else:
                j = i - self._token_start_index()
                out.append(self._tokens[j] if 0 <= j < len(self._tokens) else self.oov_token)
        return out

    def call(self, inputs):
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is None:
            raise RuntimeError(f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, you must "
                               "set the layer's vocabulary before calling it. Either pass a `vocabulary` argument to "
                               "the layer, or call `adapt` with some sample data.")
        values, shape = nested(inputs)
        leaves = flat(values, shape)
        if self.invert:
            tokens = self._invert(leaves)
            if self.vocabulary_dtype == "string":
                return _reshape_list(tokens, shape)
            return tensor_of(tokens, shape, "int64")
        ids = tensor_of(self._lookup([self._coerce(v) for v in leaves]), shape, "int64")
        if self.output_mode == "int":
            return ids
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "tf_idf":
            counts = encode_categorical(ids, "count", depth, "float32")
            return counts * self.idf_weights.to(counts.device)
        return encode_categorical(ids, self.output_mode, depth, "int64")

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "one_hot":
            if len(input_shape) > 1 and input_shape[-1] == 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)

    def get_config(self) -> dict:
        idf = self.input_idf_weights
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token, "mask_token": self.mask_token,
                "output_mode": self.output_mode, "sparse": self.sparse, "pad_to_max_tokens": self.pad_to_max_tokens,
                "vocabulary_dtype": self.vocabulary_dtype,
                "idf_weights": idf.tolist() if hasattr(idf, "tolist") else idf,
                "vocabulary": _listify(self.input_vocabulary), "vocabulary_size": self._frozen_vocab_size,
                "oov_method": self.oov_method, "salt": self.salt}


def _listify(v):
    if v is None:
        return None
    v = v.tolist() if hasattr(v, "tolist") else list(v)
    return [e.decode("utf-8") if isinstance(e, bytes) else e for e in v]


def _reshape_list(leaves, shape):
    if not shape:
        return leaves[0]
    it = iter(leaves)

    def build(depth):
        if depth == len(shape) - 1:
            return [next(it) for _ in range(shape[depth])]
        return [build(depth + 1) for _ in range(shape[depth])]

    return build(0)


class StringLookup(IndexLookup):
    """Strings -> vocabulary indices (int64 tensors), or with ``invert=True`` indices -> strings (nested
    Python lists of str, as Keras' torch backend returns Python strings)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]", vocabulary=None,
                 idf_weights=None, invert=False, output_mode="int", pad_to_max_tokens=False, sparse=False,
                 encoding="utf-8", name=None, salt=None, **kwargs) -> None:
        if sparse:
            raise ValueError("`sparse=True` can only be used with the TensorFlow backend.")
        if encoding.lower().replace("-", "") != "utf8":
            raise NotImplementedError(f"StringLookup: encoding={encoding!r} is not supported by fastnn.keras "
                                      "(only 'utf-8')")
        self.encoding = encoding
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["vocabulary_dtype"]
        return {**config, "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Integers -> vocabulary indices (int64), or with ``invert=True`` indices -> integers."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1, vocabulary=None,
                 vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int", sparse=False,
                 pad_to_max_tokens=False, oov_method="floormod", salt=None, name=None, **kwargs) -> None:
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError("If `max_tokens` is set for `IntegerLookup`, it must be greater than 1. Received: "
                             f"max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError("The value of `num_oov_indices` argument for `IntegerLookup` must >= 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if sparse:
            raise ValueError("`sparse=True` can only be used with the TensorFlow backend.")
        if vocabulary_dtype != "int64":
            raise ValueError("Only `vocabulary_dtype='int64'` is supported at this time. Received: "
                             f"vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, vocabulary_dtype=vocabulary_dtype,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt, name=name, **kwargs)

    def get_config(self) -> dict:
        config = super().get_config()
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
