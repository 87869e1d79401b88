"""examples/bert_mlm.py: BERT's masking statistics, the tokenizer, both labelled tasks (word order, module) and
--smoke runs of each."""
from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

import bert_mlm  # noqa: E402
import fastnn  # noqa: E402

from bert_mlm import CLS, IGNORE, MASK, PAD, SEP, SPECIALS, mask_tokens  # noqa: E402


def _batch(rng, vocab: int, rows: int = 4000, width: int = 32) -> np.ndarray:
    """Sentences of random ordinary words: [CLS] words [SEP] then [PAD]s, lengths 5..30."""
    ids = np.full((rows, width), PAD, np.int64)
    for r, n in enumerate(rng.integers(5, width - 1, rows)):
        ids[r, 0], ids[r, 1:n + 1], ids[r, n + 1] = CLS, rng.integers(len(SPECIALS), vocab, n), SEP
    return ids


def test_masking_follows_bert_15_percent_and_80_10_10():
    vocab = 1000
    ids = _batch(np.random.default_rng(0), vocab)
    inputs, labels = mask_tokens(ids, np.random.default_rng(1), vocab)
    special = ids < len(SPECIALS)
    selected = labels != IGNORE
    assert not (selected & special).any(), "a special token was selected"
    assert (inputs[special] == ids[special]).all(), "a special token was changed"
    assert (inputs[~selected] == ids[~selected]).all(), "an unselected token was changed"
    np.testing.assert_array_equal(labels[selected], ids[selected])
    n = int(selected.sum())  # ~11,000 of ~72,000 ordinary tokens: binomial sd of a fraction <= 0.005
    assert abs(n / (~special).sum() - 0.15) < 0.006
    to_mask = (inputs[selected] == MASK).mean()
    changed = ((inputs[selected] != MASK) & (inputs[selected] != ids[selected])).mean()
    kept = (inputs[selected] == ids[selected]).mean()
    assert abs(to_mask - 0.8) < 0.015
    assert abs(changed - 0.1 * (1 - 1 / (vocab - len(SPECIALS)))) < 0.01  # a random draw may hit the original
    assert abs(kept - 0.1) < 0.01
    random_ids = inputs[selected & (inputs != MASK) & (inputs != ids)]
    assert random_ids.min() >= len(SPECIALS) and random_ids.max() < vocab


def test_masking_is_seeded():
    ids = _batch(np.random.default_rng(0), 500, rows=50)
    a = mask_tokens(ids, np.random.default_rng(3), 500)
    b = mask_tokens(ids, np.random.default_rng(3), 500)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_tokenizer_keeps_frequent_words_and_frames_sentences():
    tok = bert_mlm.WordTokenizer(["the cat sat.", "the dog sat on the mat"], vocab_size=len(SPECIALS) + 3)
    assert tok.itos[:len(SPECIALS)] == list(SPECIALS)
    assert tok.itos[len(SPECIALS):] == ["the", "sat", "."]  # by count, ties alphabetically
    ids = tok.encode(["the cat sat.", "the " * 40], max_len=8)
    unk, the, sat, dot = bert_mlm.UNK, tok.stoi["the"], tok.stoi["sat"], tok.stoi["."]
    np.testing.assert_array_equal(ids[0], [CLS, the, unk, sat, dot, SEP, PAD, PAD])
    np.testing.assert_array_equal(ids[1], [CLS] + [the] * 6 + [SEP])  # cut to fit, [SEP] kept


def test_task_split_is_balanced_and_held_out_of_pretraining():
    pretrain, (train, y_train), (test, y_test), names = bert_mlm.load_task(4, 20, seed=0)
    assert len(names) == 4 and np.bincount(y_train).tolist() == [20] * 4
    assert len(set(np.bincount(y_test).tolist())) == 1
    assert not set(test) & set(pretrain) and set(train) <= set(pretrain)
    with pytest.raises(ValueError, match="train_per_class"):
        bert_mlm.load_task(4, 10_000, seed=0)


@pytest.mark.parametrize("kind", ["shuffle", "swap", "span", "mixed"])
def test_corrupt_keeps_the_words_and_changes_the_order(kind):
    rng = np.random.default_rng(0)
    words = "the logger passes the record to each of its handlers .".split()
    for _ in range(50):
        bad = bert_mlm.corrupt(words, rng, kind)
        assert bad != words and sorted(bad) == sorted(words)
        changed = [i for i, (a, b) in enumerate(zip(words, bad)) if a != b]
        if kind == "swap":
            assert len(changed) == 2 and changed[1] - changed[0] >= 2
        elif kind == "span":
            assert 2 <= len(changed) and changed[-1] - changed[0] <= 3
    with pytest.raises(ValueError, match="corruption"):
        bert_mlm.corrupt(words, rng, "rotate")


def test_order_task_is_balanced_held_out_and_same_words():
    pretrain, (train, y_train), (test, y_test), names = bert_mlm.load_order_task(60, 41, seed=0, max_words=30)
    assert names == ["corrupted", "original"]
    assert len(train) == 60 and np.bincount(y_train).tolist() == [30, 30]
    assert len(test) == 41 and np.bincount(y_test).tolist() == [21, 20]
    sentences = fastnn.datasets.stdlib_sentences()
    assert len(pretrain) == len(sentences) - 101
    words = {tuple(sorted(bert_mlm.WordTokenizer.pattern.findall(s))): s for s in sentences}
    pretrain_set = set(pretrain)
    for text, y in zip(train + test, np.concatenate([y_train, y_test])):
        toks = bert_mlm.WordTokenizer.pattern.findall(text)
        assert 6 <= len(toks) <= 30
        original = words[tuple(sorted(toks))]  # the source sentence: same multiset of words
        assert original not in pretrain_set, "a labelled sentence was in the pre-training corpus"
        assert (bert_mlm.WordTokenizer.pattern.findall(original) == toks) == bool(y)
    again = bert_mlm.load_order_task(60, 41, seed=0, max_words=30)
    assert again[1][0] == train and again[2][0] == test  # seeded
    with pytest.raises(ValueError, match="train_size"):
        bert_mlm.load_order_task(10_000, 10, seed=0, max_words=30)


def test_smoke_run_learns(capsys):
    metrics = bert_mlm.main(["--smoke"])
    assert set(metrics) == {"mlm_first_loss", "mlm_last_loss", "pretrained_accuracy", "scratch_accuracy"}
    assert metrics["mlm_last_loss"] < metrics["mlm_first_loss"]
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("pretrained_accuracy", "scratch_accuracy"))
    out = capsys.readouterr().out
    assert "mlm epoch" in out and "pre-trained" in out and "word order" in out
    metrics = bert_mlm.main(["--smoke", "--task", "module"])
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("pretrained_accuracy", "scratch_accuracy"))
    assert "4 modules" in capsys.readouterr().out
