"""examples/gpt_text.py: the n-gram baselines, the AdamW parameter groups and weight tying, the causal model,
and the --smoke run, which must beat the unigram baseline on held-out text."""
from __future__ import annotations

import math
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))

import gpt_text  # noqa: E402
import fastnn  # noqa: E402


def test_ngram_baselines_are_smoothed_cross_entropies():
    train, val = [0, 1, 0, 1, 0, 2], [0, 1, 2]
    unigram, bigram = gpt_text.ngram_baselines(train, val, 3)
    uni = np.array([3, 2, 1]) + 1.0  # counts + 1 over 6 + 3
    bi = np.ones((3, 3))
    for a, b in zip(train[:-1], train[1:]):
        bi[a, b] += 1
    want_uni = -np.mean([math.log(uni[1] / uni.sum()), math.log(uni[2] / uni.sum())])
    want_bi = -np.mean([math.log(bi[0, 1] / bi[0].sum()), math.log(bi[1, 2] / bi[1].sum())])
    assert math.isclose(unigram, want_uni) and math.isclose(bigram, want_bi)


def _tiny():
    fastnn.manual_seed(0)
    return gpt_text.GPT(gpt_text.GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16))


def test_weight_tying_and_parameter_groups():
    model = _tiny()
    assert model.lm_head.weight is model.transformer.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names and "transformer.wte.weight" in names  # the shared matrix, once
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3, betas=(0.9, 0.99))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"]) and len(decay["params"]) == 4 * 2  # 4 Linear a block
    emb = {id(model.transformer.wte.weight), id(model.transformer.wpe.weight)}
    assert emb <= {id(p) for p in no_decay["params"]}
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == sum(p.numel() for p in model.parameters())


def test_model_is_causal():
    model = _tiny().eval()
    idx = fastnn.tensor([[1, 2, 3, 4, 5, 6]])
    changed = fastnn.tensor([[1, 2, 3, 9, 9, 9]])
    with fastnn.no_grad():
        a, _ = model(idx)
        b, _ = model(changed)
    np.testing.assert_allclose(np.asarray(a[0, :3]), np.asarray(b[0, :3]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(np.asarray(a[0, 3:]), np.asarray(b[0, 3:]))
    out = model.generate(idx[:, :2], 10, temperature=0.8, top_k=3)
    assert out.shape == (1, 12) and int(out.max()) < 11


def test_top_k_sampling_draws_only_the_top_k():
    model = _tiny().eval()
    fastnn.manual_seed(3)
    idx = fastnn.tensor([[4]])
    with fastnn.no_grad():
        logits, _ = model(idx)
    top3 = set(fastnn.topk(logits[0, -1], 3).indices.tolist())
    draws = {int(model.generate(idx, 1, top_k=3)[0, -1]) for _ in range(40)}
    assert draws <= top3 and len(draws) > 1


def test_smoke_run_beats_the_unigram_baseline(capsys):
    metrics = gpt_text.main(["--smoke", "--threads", "1"])
    out = capsys.readouterr().out
    assert "unigram" in out and "bigram" in out and "sample" in out and "ppl" in out
    assert metrics["val_loss"] < metrics["unigram"], metrics
    assert metrics["val_loss"] < metrics["first_loss"] - 1.0, metrics
    assert metrics["bigram"] < metrics["unigram"]
    assert metrics["sample"].startswith("the ") and len(metrics["sample"]) == 4 + 60


def test_same_source_in_torch_gives_the_same_training_step():
    """The example's model source run by torch (bench/train_step.py's port: only the imports switched), from
    fastnn's initial weights: the same loss, gradients and parameters after two clipped AdamW steps."""
    import torch

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "bench"))
    from train_step import gpt_module

    tg = gpt_module("torch")
    cfg = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    ours = _tiny()
    theirs = tg.GPT(tg.GPTConfig(**cfg)).double()
    ours = ours.double()
    state = {k: torch.tensor(np.asarray(v.detach())) for k, v in ours.state_dict().items()}
    state.setdefault("lm_head.weight", state["transformer.wte.weight"])
    theirs.load_state_dict(state)
    assert theirs.lm_head.weight is theirs.transformer.wte.weight
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 11, (3, 8)), rng.integers(0, 11, (3, 8))
    opts = [m.configure_optimizers(weight_decay=0.1, learning_rate=1e-2, betas=(0.9, 0.99)) for m in (ours, theirs)]
    for _ in range(2):
        losses = []
        for lib, model, opt in ((fastnn, ours, opts[0]), (torch, theirs, opts[1])):
            _, loss = model(lib.tensor(x), lib.tensor(y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            losses.append(loss.item())
        assert math.isclose(losses[0], losses[1], rel_tol=1e-9), losses
    got = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(np.asarray(got[name].detach()), p.detach().numpy(), rtol=1e-7, atol=1e-9,
                                   err_msg=name)
