"""Tiny BERT: masked-language-model pre-training on the stdlib docstrings, then fine-tuning on a labelled task.

The corpus is fastnn.datasets.stdlib_sentences(): ~3100 lower-cased sentences from the docstrings of Python's
standard library. Two labelled tasks; the same architecture fine-tuned from random weights, with the same
seeds and budget, is the baseline.

--task order (default), word-order acceptability: is a sentence as written (label 1) or its own words in a
wrong order (label 0)? 800 sentences of 6..30 tokens are drawn at random (seeded) and held out of the
pre-training corpus; each is used once, as itself or corrupted, half each way: 400 to train (200 a class),
400 to test. Both classes have the same words, so a bag of words is at chance by construction. --corruption:
shuffle (default: a random permutation of the words), swap (two different words 2+ apart), span (a 3-4 word
span reversed), mixed (swap or span).

--task module, the earlier task: which of the 4 modules with the most sentences (logging, typing, inspect,
difflib; balanced by subsampling) a sentence comes from, 100 labelled sentences a class, the other 126 a
class to test (held out of pre-training too).

    python examples/bert_mlm.py            # ~56 s on 2 cores (47 s pre-training, 8 s fine-tuning)

The MLM learns (held-out masked loss 5.7 after the first epoch -> 4.2, masked-token accuracy 10% -> 26%;
2343 sentences, 37k in-vocabulary words, 1110 steps of a 166k-parameter encoder). Test accuracy, pre-trained
vs from scratch, seeds 0 / 1 (`*`: fine-tuning the default run's pre-trained model on its held-out
sentences, not a full run):

    order, shuffle, 200 a class (default)   0.875 vs 0.568  /  0.883 vs 0.623   pre-training wins by 26-31
    order, shuffle, 100 a class*            0.730 vs 0.503  /  0.690 vs 0.495
    order, shuffle, 400 a class             0.835 vs 0.690 (seed 0; 1200 held out, so 1943 to pre-train)
    order, swap, 200 a class                0.520 vs 0.558  /  0.548* vs 0.503*  both near chance
    order, span, 200 a class                0.533 vs 0.573  /  0.540* vs 0.483*  both near chance
    order, mixed, 200 a class               0.550 vs 0.525 (seed 0)
    module, 100 a class                     0.780 vs 0.790  /  0.758 vs 0.816   scratch wins

Our reading. A shuffled sentence breaks nearly every bigram, and the MLM has learnt which word follows which
(from 37k words); from scratch, 400 labelled sentences are too few to learn that, so the classifier memorises
them (training loss 0.001-0.004) at 57-62% test. A single swap or a reversed 3-word span changes two or three
positions of ~15: at this scale the MLM barely notices (zero-shot, its mean log-probability of the sentence's
own tokens separates originals from swaps with AUC 0.53-0.57) and neither model learns it from 400 labels (a
ceiling below 100% too: 1.5% of the swaps exchange two words that are both [UNK] and encode as the original; no
shuffle does). The module task is keyword spotting: a random embedding table (after LayerNorm) is already a
near-orthogonal bag of words, while the MLM's embeddings group words by context, which blurs rare keywords (a
linear probe on frozen mean-pooled embeddings does favour the pre-trained ones, 0.59 vs 0.50, but fine-tuning
the random ones fits faster and generalises better). Tuning tried on the module task, both runs on the same
seeds each time: untied instead of tied output projection (gap 7 points -> 0-5), and with 20 epochs of
pre-training: 40 epochs instead (0.76 vs 0.79), transferring only the embeddings (0.76 vs 0.79), 20 labels a
class (0.51 vs 0.56 and 0.55 vs 0.61 on seeds 0 and 1), fine-tuning lr 2e-4..2e-3 (pre-trained ahead only at
2e-3 with 170 labels a class, 0.82 vs 0.79, where scratch does its worst). Longer pre-training narrowed the gap
on seed 0 (20 -> 30 epochs: 0.738 -> 0.780 vs 0.790).
"""
from __future__ import annotations

import os

# NumPy's BLAS pool would fight fastnn's threads for the 2 cores (clip_grad_norm_'s float64 dot woke it:
# up to 0.1 s a step on a busy machine, 1 ms with one thread). Only takes effect before NumPy's first import,
# so only when run as a program (an importer keeps its environment).
if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import collections  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import fastnn  # noqa: E402
from fastnn import nn  # noqa: E402
from fastnn.data import DataLoader, TensorDataset  # noqa: E402
from fastnn.optim.lr_scheduler import LinearLR, SequentialLR  # noqa: E402

from _util import Timer, parse_args  # noqa: E402

SPECIALS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]")
PAD, CLS, SEP, MASK, UNK = range(len(SPECIALS))
SMOKE_STEPS = 4  # batches per epoch under --smoke
IGNORE = -100  # CrossEntropyLoss's ignore_index: the label of every position the MLM loss skips


# ----------------------------------------------------------------------------------------------- tokenizer
class WordTokenizer:
    """Word-level: lower-case words/numbers (underscores kept, so ``__init__`` is one word) and single
    punctuation marks; the ``vocab_size - 5`` most frequent words of the corpus, the rest map to [UNK]."""

    pattern = re.compile(r"[a-z0-9_]+|[^\sa-z0-9_]")

    def __init__(self, corpus: list[str], vocab_size: int) -> None:
        counts = collections.Counter(w for s in corpus for w in self.pattern.findall(s))
        words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        self.itos = list(SPECIALS) + words[:vocab_size - len(SPECIALS)]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, sentences: list[str], max_len: int) -> np.ndarray:
        """(N, max_len) int64: [CLS] words... [SEP] then [PAD]s; a long sentence is cut to fit."""
        out = np.full((len(sentences), max_len), PAD, np.int64)
        for row, s in enumerate(sentences):
            ids = [self.stoi.get(w, UNK) for w in self.pattern.findall(s)][:max_len - 2]
            out[row, :len(ids) + 2] = [CLS, *ids, SEP]
        return out


def mask_tokens(ids: np.ndarray, rng: np.random.Generator, vocab_size: int, mask_prob: float = 0.15):
    """BERT's masking: each non-special token is selected with probability ``mask_prob``; a selected token
    becomes [MASK] 80% of the time, a random ordinary word 10%, stays itself 10%. Returns (inputs, labels)
    with labels = the original id at selected positions and IGNORE elsewhere, so the loss sees only those.
    (The random replacement is drawn from ordinary words, not [PAD]/[CLS]/..., which carry no meaning.)"""
    selected = (rng.random(ids.shape) < mask_prob) & (ids >= len(SPECIALS))
    labels = np.where(selected, ids, IGNORE)
    roll = rng.random(ids.shape)
    inputs = ids.copy()
    inputs[selected & (roll < 0.8)] = MASK
    to_random = selected & (roll >= 0.8) & (roll < 0.9)
    inputs[to_random] = rng.integers(len(SPECIALS), vocab_size, int(to_random.sum()))
    return inputs, labels


def trim(ids: np.ndarray, *others: np.ndarray):
    """Cuts a batch's columns to its longest sentence: most sentences are ~15 tokens of a 32 budget, so
    attention and the feed-forward blocks run on about half the positions."""
    width = int((ids != PAD).sum(1).max())
    return (ids[:, :width], *(o[:, :width] for o in others))


class LengthBuckets:
    """A DataLoader sampler: a fresh permutation each epoch, cut into windows of 8 batches, each window
    sorted by sentence length, then the batches shuffled. Random batches of 64 nearly always hold a
    30-token sentence, so trim() saved little; length-sorted ones average ~20 columns, 1.6x fewer."""

    def __init__(self, ids: np.ndarray, batch_size: int, seed: int) -> None:
        self.lengths = (ids != PAD).sum(1)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        order = self.rng.permutation(len(self.lengths))
        window = 8 * self.batch_size
        chunks = [order[i:i + window] for i in range(0, len(order), window)]
        order = np.concatenate([c[np.argsort(self.lengths[c], kind="stable")] for c in chunks])
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        return iter(np.concatenate([batches[i] for i in self.rng.permutation(len(batches))]).tolist())


# ----------------------------------------------------------------------------------------------- model
class Encoder(nn.Module):
    """Token + learned position embeddings, LayerNorm, then a pre-norm TransformerEncoder (GELU)."""

    def __init__(self, vocab_size: int, max_len: int, d_model: int, nhead: int, num_layers: int,
                 dim_feedforward: int, dropout: float) -> None:
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.pos_emb = nn.Embedding(max_len, d_model)
        # BERT's N(0, 0.02) for the embeddings: with the tied output projection below, torch's N(0, 1)
        # default would start the MLM logits ~8x too large.
        for emb in (self.tok_emb, self.pos_emb):
            nn.init.normal_(emb.weight, std=0.02)
        with fastnn.no_grad():
            self.tok_emb.weight[PAD] = 0.0
        self.emb_norm = nn.LayerNorm(d_model)
        self.emb_drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model),
                                             enable_nested_tensor=False)

    def forward(self, ids):
        """ids: (B, L) int64 -> hidden states (B, L, d_model); [PAD] keys are masked out of attention."""
        positions = fastnn.arange(ids.shape[1])
        x = self.emb_drop(self.emb_norm(self.tok_emb(ids) + self.pos_emb(positions)))
        return self.encoder(x, src_key_padding_mask=ids == PAD)


class MaskedLM(nn.Module):
    """Encoder + BERT's MLM head: dense, GELU, LayerNorm, then the output projection to the vocabulary:
    its own Linear by default, or (tied=True, as BERT) the token embedding (h @ tok_emb.weight.T + bias).
    Untied is the default here. Tied: held-out masked loss 4.54, fine-tuned accuracy 0.73 vs 0.80 from
    scratch; untied: 4.26 and 0.80 vs 0.80 (20 epochs, 1000 words, dropout 0, 170 labels a class). Likely
    why: through a tied matrix the softmax's gradient pushes every rare word's embedding the same way
    (Gao et al. 2019, "representation degeneration"), and rare words tell the modules apart."""

    def __init__(self, encoder: Encoder, tied: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        d_model, vocab = encoder.tok_emb.embedding_dim, encoder.tok_emb.num_embeddings
        self.transform = nn.Sequential(nn.Linear(d_model, d_model), nn.GELU(), nn.LayerNorm(d_model))
        self.decoder = None if tied else nn.Linear(d_model, vocab, bias=False)
        self.bias = nn.Parameter(fastnn.zeros(vocab))

    def forward(self, ids):
        weight = self.encoder.tok_emb.weight if self.decoder is None else self.decoder.weight
        return fastnn.linear(self.transform(self.encoder(ids)), weight, self.bias)


class Classifier(nn.Module):
    """Encoder + dropout + a linear layer on the [CLS] position's hidden state."""

    def __init__(self, encoder: Encoder, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.tok_emb.embedding_dim, num_classes)

    def forward(self, ids):
        return self.head(self.drop(self.encoder(ids)[:, 0]))


# ----------------------------------------------------------------------------------------------- data
def load_task(num_classes: int, train_per_class: int, seed: int):
    """(pretrain_sentences, train (sentences, labels), test (sentences, labels), class names): the
    ``num_classes`` modules with the most sentences, each subsampled to the smallest one's count;
    ``train_per_class`` labelled sentences of each for training, the rest for testing. The test sentences
    are removed from the pre-training corpus."""
    sentences, modules = fastnn.datasets.stdlib_sentences(return_modules=True)
    names = [m for m, _ in collections.Counter(modules).most_common(num_classes)]
    by_class = [[i for i, m in enumerate(modules) if m == name] for name in names]
    per_class = min(len(idx) for idx in by_class)
    if not 0 < train_per_class < per_class:
        raise ValueError(f"train_per_class must be in [1, {per_class - 1}], got {train_per_class}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label, idx in enumerate(by_class):
        chosen = rng.permutation(idx)[:per_class]
        train += [(i, label) for i in chosen[:train_per_class]]
        test += [(i, label) for i in chosen[train_per_class:]]
    held_out = {i for i, _ in test}
    pretrain = [s for i, s in enumerate(sentences) if i not in held_out]
    split = lambda pairs: ([sentences[i] for i, _ in pairs], np.array([y for _, y in pairs], np.int64))  # noqa: E731
    return pretrain, split(train), split(test), names


def corrupt(words: list[str], rng: np.random.Generator, kind: str) -> list[str]:
    """A copy of ``words`` in a wrong order, the same multiset of words: ``swap`` exchanges two different words
    at least two positions apart; ``span`` reverses a contiguous span of 3-4 words that is not a palindrome;
    ``mixed`` picks one of the two at random. Needs a sentence with two different words 2 apart (swap) or a
    non-palindromic span (span); the caller keeps only such sentences (see ``can_corrupt``)."""
    if kind == "mixed":
        kind = ("swap", "span")[int(rng.integers(2))]
    n = len(words)
    if kind == "swap":
        pairs = [(i, j) for i in range(n) for j in range(i + 2, n) if words[i] != words[j]]
        i, j = pairs[int(rng.integers(len(pairs)))]
        out = list(words)
        out[i], out[j] = out[j], out[i]
        return out
    if kind == "span":
        spans = [(i, k) for k in (3, 4) for i in range(n - k + 1) if words[i:i + k] != words[i:i + k][::-1]]
        i, k = spans[int(rng.integers(len(spans)))]
        return words[:i] + words[i:i + k][::-1] + words[i + k:]
    if kind == "shuffle":
        while True:  # can_corrupt's sentences have two different words, so a new order exists
            out = [words[i] for i in rng.permutation(n)]
            if out != words:
                return out
    raise ValueError(f"corruption must be 'swap', 'span', 'mixed' or 'shuffle', got {kind!r}")


def can_corrupt(words: list[str]) -> bool:
    """True when both corruptions exist: two different words 2+ apart, and a 3-word span not a palindrome."""
    return any(words[i] != words[j] for i in range(len(words)) for j in range(i + 2, len(words))) and \
        any(words[i:i + 3] != words[i:i + 3][::-1] for i in range(len(words) - 2))


def load_order_task(train_size: int, test_size: int, seed: int, max_words: int, corruption: str = "shuffle"):
    """(pretrain_sentences, train (sentences, labels), test (sentences, labels), class names) for word-order
    acceptability: label 1 = a stdlib sentence as written, 0 = the same words in a corrupted order
    (``corrupt``). ``train_size + test_size`` sentences of 6..``max_words`` tokens are drawn at random and
    held out of the pre-training corpus (all of them: the pre-trained model never read any labelled sentence,
    in either order); each is used once, as itself or corrupted, half of each split each way, so no pair
    gives the answer away. A bag of words cannot solve it: both classes have the same word statistics."""
    sentences = fastnn.datasets.stdlib_sentences()
    tokens = [WordTokenizer.pattern.findall(s) for s in sentences]
    # <= max_words tokens so the encoder sees the whole sentence (a cut could drop the corrupted part)
    usable = [i for i, t in enumerate(tokens) if 6 <= len(t) <= max_words and can_corrupt(t)]
    if train_size < 2 or test_size < 2 or train_size + test_size > len(usable):
        raise ValueError(f"train_size and test_size must be >= 2 and sum to at most {len(usable)}, "
                         f"got {train_size} and {test_size}")
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(usable)[:train_size + test_size]
    held_out = set(chosen.tolist())
    pretrain = [s for i, s in enumerate(sentences) if i not in held_out]

    def build(idx):
        labels = np.zeros(len(idx), np.int64)
        labels[rng.permutation(len(idx))[:len(idx) // 2]] = 1  # exactly half originals (floor)
        text = [sentences[i] if y else " ".join(corrupt(tokens[i], rng, corruption)) for i, y in zip(idx, labels)]
        return text, labels

    return pretrain, build(chosen[:train_size]), build(chosen[train_size:]), ["corrupted", "original"]


def warmup_then_decay(opt, total_steps: int, warmup_fraction: float = 0.1):
    """Linear warm-up from 1% of the lr, then linear decay to 0 (BERT's schedule), stepped per batch."""
    warmup = max(1, int(total_steps * warmup_fraction))
    decay = max(1, total_steps - warmup)
    return SequentialLR(opt, [LinearLR(opt, start_factor=0.01, total_iters=warmup),
                              LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=decay)],
                        milestones=[warmup])


def train_step(model, opt, sched, loss_fn, inputs, targets, clip: float) -> float:
    opt.zero_grad()
    logits = model(fastnn.tensor(inputs))
    loss = loss_fn(logits.reshape(-1, logits.shape[-1]) if logits.dim() == 3 else logits,
                   fastnn.tensor(targets.reshape(-1) if targets.ndim == 2 else targets))
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    sched.step()
    return loss.item()


# ----------------------------------------------------------------------------------------------- phases
def pretrain(model: MaskedLM, ids: np.ndarray, eval_ids: np.ndarray, args) -> list[float]:
    """MLM on ``ids`` with a fresh mask each time a sentence is seen (RoBERTa's dynamic masking; BERT drew 10
    static masks). Prints per epoch the mean training loss and the held-out masked loss and accuracy."""
    vocab = model.bias.shape[0]
    rng = np.random.default_rng(args.seed)
    eval_inputs, eval_labels = trim(*mask_tokens(eval_ids, np.random.default_rng(args.seed + 1), vocab))
    loader = DataLoader(TensorDataset(ids), batch_size=args.batch_size,
                        sampler=LengthBuckets(ids, args.batch_size, args.seed))
    per_epoch = SMOKE_STEPS if args.smoke else len(loader)
    opt = fastnn.optim.AdamW(model.parameters(), lr=args.mlm_lr, weight_decay=0.01)
    sched = warmup_then_decay(opt, args.epochs * per_epoch)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE)
    losses = []
    for epoch in range(args.epochs):
        model.train()
        total, count = 0.0, 0
        for (batch,) in loader:
            inputs, labels = trim(*mask_tokens(batch.numpy(), rng, vocab))
            total += train_step(model, opt, sched, loss_fn, inputs, labels, clip=1.0)
            count += 1
            if count == per_epoch:
                break
        losses.append(total / count)
        model.eval()
        with fastnn.no_grad():
            logits = model(fastnn.tensor(eval_inputs))
            eval_loss = loss_fn(logits.reshape(-1, vocab), fastnn.tensor(eval_labels.reshape(-1))).item()
            hit = (logits.argmax(-1).numpy() == eval_labels)[eval_labels != IGNORE]
        print(f"mlm epoch {epoch + 1:2d}/{args.epochs}  train loss {losses[-1]:.3f}  held-out masked loss "
              f"{eval_loss:.3f}  masked-token acc {hit.mean():.3f}", flush=True)
    return losses


def finetune(encoder_state, make_encoder, train, test, num_classes: int, args, tag: str) -> float:
    """Fine-tunes Encoder + [CLS] head (from ``encoder_state``, or from its random init when None) and returns
    test accuracy. Seeds are reset first, so both runs get the same head init, batch order and dropout."""
    fastnn.manual_seed(args.seed + 2)
    model = Classifier(make_encoder(), num_classes, args.dropout)
    if encoder_state is not None:
        model.encoder.load_state_dict(encoder_state)
    (x_train, y_train), (x_test, y_test) = train, test
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.ft_batch_size,
                        sampler=LengthBuckets(x_train, args.ft_batch_size, args.seed + 2))
    per_epoch = SMOKE_STEPS if args.smoke else len(loader)
    opt = fastnn.optim.AdamW(model.parameters(), lr=args.ft_lr, weight_decay=0.01)
    sched = warmup_then_decay(opt, args.ft_epochs * per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.ft_epochs):
        model.train()
        total, count = 0.0, 0
        for xb, yb in loader:
            (xb,) = trim(xb.numpy())
            total += train_step(model, opt, sched, loss_fn, xb, yb.numpy(), clip=1.0)
            count += 1
            if count == per_epoch:
                break
        acc = evaluate(model, x_test, y_test)
        print(f"{tag:>11} fine-tune epoch {epoch + 1:2d}/{args.ft_epochs}  loss {total / count:.3f}  "
              f"test acc {acc:.3f}", flush=True)
    return acc


def evaluate(model: Classifier, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with fastnn.no_grad():
        pred = model(fastnn.tensor(trim(x)[0])).argmax(1).numpy()
    return fastnn.metrics.accuracy(y, pred)


EXTRA = [  # the command line beyond _util's --epochs (pre-training), --seed and --smoke
    (("--ft-epochs",), {"type": int, "default": 15, "help": "fine-tuning epochs (each run)"}),
    (("--classes",), {"type": int, "default": 4, "help": "number of modules to tell apart"}),
    (("--vocab",), {"type": int, "default": 1000}),
    (("--max-len",), {"type": int, "default": 32}),
    (("--d-model",), {"type": int, "default": 64}),
    (("--layers",), {"type": int, "default": 2}),
    (("--heads",), {"type": int, "default": 4}),
    (("--dropout",), {"type": float, "default": 0.1}),
    (("--batch-size",), {"type": int, "default": 64}),
    (("--mlm-lr",), {"type": float, "default": 4e-3}),
    (("--ft-lr",), {"type": float, "default": 1e-3}),
    (("--threads",), {"type": int, "default": 1, "help": "fastnn's kernel threads"}),
    (("--ft-batch-size",), {"type": int, "default": 32}),
    (("--tied",), {"action": "store_true", "help": "tie the MLM output projection to the token embedding"}),
    (("--task",), {"choices": ("order", "module"), "default": "order",
                   "help": "order: is the word order original or corrupted; module: which stdlib module"}),
    (("--train-per-class",), {"type": int, "default": None,
                              "help": "labelled sentences per class (default: 100 module, 200 order)"}),
    (("--test-size",), {"type": int, "default": 400, "help": "order task: test sentences"}),
    (("--corruption",), {"choices": ("shuffle", "swap", "span", "mixed"), "default": "shuffle",
                         "help": "order task: how a sentence is corrupted"}),
]


def main(argv=None) -> dict:
    args = parse_args(__doc__.splitlines()[0], epochs=30, argv=argv, extra=EXTRA)
    # This model's GEMMs are tiny (~1500x64x64): a second thread gains nothing, and on a shared, busy machine
    # its OpenMP spin-waits made a training step 10x slower (0.7 s instead of 0.08 s at load 6 on 2 cores).
    threads_before = fastnn.get_num_threads()
    fastnn.set_num_threads(args.threads)
    try:
        return run(args)
    finally:  # a caller (the tests) keeps its own setting
        fastnn.set_num_threads(threads_before)


def run(args) -> dict:
    if args.smoke:
        args.ft_epochs = min(args.ft_epochs, 1)
    if args.task == "module":
        task = load_task(args.classes, args.train_per_class or 100, args.seed)
    else:
        task = load_order_task(2 * (args.train_per_class or 200), args.test_size, args.seed, args.max_len - 2,
                               args.corruption)
    pretrain_text, (train_text, y_train), (test_text, y_test), names = task
    tok = WordTokenizer(pretrain_text, args.vocab)
    ids = tok.encode(pretrain_text, args.max_len)
    x_train, x_test = tok.encode(train_text, args.max_len), tok.encode(test_text, args.max_len)
    what = f"{len(names)} modules ({', '.join(names)})" if args.task == "module" else \
        f"word order original or corrupted ({args.corruption})"
    print(f"corpus: {len(pretrain_text)} pre-training sentences, vocab {len(tok)}; task: {what}, "
          f"{len(y_train)} train / {len(y_test)} test sentences")

    def make_encoder():
        return Encoder(len(tok), args.max_len, args.d_model, args.heads, args.layers, 4 * args.d_model,
                       args.dropout)

    fastnn.manual_seed(args.seed)
    mlm = MaskedLM(make_encoder(), tied=args.tied)
    print(f"model: d_model {args.d_model}, {args.layers} layers, {args.heads} heads, "
          f"{sum(p.numel() for p in mlm.encoder.parameters())} encoder parameters, "
          f"{'tied' if args.tied else 'untied'} output projection")
    with Timer() as t_pre:
        # held-out MLM loss on sentences as written (the order task's corrupted ones are not language)
        losses = pretrain(mlm, ids, x_test if args.task == "module" else x_test[y_test == 1], args)
    state = {k: v.detach().numpy().copy() for k, v in mlm.encoder.state_dict().items()}
    with Timer() as t_ft:
        pre_acc = finetune(state, make_encoder, (x_train, y_train), (x_test, y_test), len(names), args, "pretrained")
        scratch_acc = finetune(None, make_encoder, (x_train, y_train), (x_test, y_test), len(names), args, "scratch")
    print(f"pre-training {t_pre.seconds:.1f} s, fine-tuning {t_ft.seconds:.1f} s; MLM loss {losses[0]:.3f} -> "
          f"{losses[-1]:.3f}; test accuracy ({len(names)} classes, chance {1 / len(names):.2f}): "
          f"pre-trained {pre_acc:.4f} vs from scratch {scratch_acc:.4f}")
    return {"mlm_first_loss": losses[0], "mlm_last_loss": losses[-1], "pretrained_accuracy": pre_acc,
            "scratch_accuracy": scratch_acc}


if __name__ == "__main__":
    main(sys.argv[1:])
