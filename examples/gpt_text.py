"""A character-level GPT (decoder-only transformer) written as a PyTorch user writes one, run on fastnn by its
imports alone: ``import fastnn as torch``, ``import fastnn.nn as nn``, ``import fastnn.nn.functional as F``.

The model is nanoGPT's: token + learned position embeddings, N pre-LayerNorm blocks (causal self-attention on
the fused kernel, F.scaled_dot_product_attention(..., is_causal=True), then a GELU MLP, each added back to the
residual stream), a final LayerNorm and an lm_head whose weight is the token embedding's (weight tying). It is
trained with AdamW on two parameter groups (weight decay on the Linear layers' 2-D weights; none on biases,
LayerNorm or the embeddings), a linear warm-up + cosine learning-rate schedule (LambdaLR) and gradient
clipping, on the docstrings of Python's standard library (fastnn.datasets.stdlib_sentences(): offline, ~270k
characters), 90% of the sentences to train and 10% to validate. It prints the validation loss and perplexity
beside unigram and bigram baselines counted on the training text (add-one smoothing), and a sample drawn with
temperature + top-k sampling (torch.topk, F.softmax, torch.multinomial).

    python examples/gpt_text.py            # 3 layers, d=128, 0.61M parameters, 1000 steps of 24 x 64 characters
    python examples/gpt_text.py --smoke    # a tiny model for a few seconds (what tests/test_example_gpt.py runs)

The default run (seed 0, --threads 1) on 27,712 validation characters, nats per character (perplexity):

    unigram (add-one)  3.208 (24.7)
    bigram  (add-one)  2.543 (12.7)
    GPT                1.543 (4.68)

Its 1000 steps cost ~0.13 s of CPU time each (~2.2 minutes on one idle core; the run above took 6.6 minutes of
wall time on a 2-core machine shared with a load average of ~7). On a busy machine --threads 1 is much faster
than two threads: at this size a 2-thread GEMM waits on its partner thread more than it computes.
"""
from __future__ import annotations

import os

# NumPy's BLAS pool would fight fastnn's threads for the cores (as in bert_mlm.py); only when run as a program.
if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import fastnn as torch  # noqa: E402
import fastnn.nn as nn  # noqa: E402
import fastnn.nn.functional as F  # noqa: E402


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True


# ------------------------------------------------------------------------------------------------------ model
class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v in one GEMM
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying: one matrix embeds and un-embeds
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        assert t <= self.config.block_size, f"sequence of {t} is longer than the block size {self.config.block_size}"
        pos = torch.arange(0, t, dtype=torch.long)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        # Decay the Linear layers' weights only; biases, LayerNorm and the embeddings (the tied matrix is
        # registered first as transformer.wte.weight, so it counts as an embedding) are left alone.
        decay, no_decay = set(), set()
        for mn, m in self.named_modules():
            for pn, _ in m.named_parameters(recurse=False):
                fpn = f"{mn}.{pn}" if mn else pn
                if pn.endswith("weight") and isinstance(m, nn.Linear):
                    decay.add(fpn)
                else:
                    no_decay.add(fpn)
        param_dict = dict(self.named_parameters())
        decay &= set(param_dict)  # lm_head.weight is the tied wte.weight: named_parameters lists it once
        no_decay &= set(param_dict)
        decay -= no_decay
        assert decay | no_decay == set(param_dict)
        groups = [
            {"params": [param_dict[pn] for pn in sorted(decay)], "weight_decay": weight_decay},
            {"params": [param_dict[pn] for pn in sorted(no_decay)], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.config.block_size else idx[:, -self.config.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


# ------------------------------------------------------------------------------------------------------- data
def load_corpus(seed: int, val_fraction: float = 0.1):
    """(train_text, val_text, chars): the stdlib sentences shuffled (seeded) and split by sentence, one a line."""
    # The one fastnn-only name: the offline text. The model and training code are plain PyTorch, so with its
    # three imports switched to torch this program runs on PyTorch too (bench/train_step.py races it so).
    from fastnn.datasets import stdlib_sentences

    sentences = list(stdlib_sentences())
    random.Random(seed).shuffle(sentences)
    n_val = int(len(sentences) * val_fraction)
    train_text = "\n".join(sentences[n_val:]) + "\n"
    val_text = "\n".join(sentences[:n_val]) + "\n"
    chars = sorted(set(train_text) | set(val_text))  # the alphabet; every count comes from train_text only
    return train_text, val_text, chars


def ngram_baselines(train_ids, val_ids, vocab_size: int):
    """Mean validation cross-entropy (nats) of add-one-smoothed unigram and bigram models counted on the
    training ids, over the targets val_ids[1:] (the bigram conditions on the character before each)."""
    uni = [1.0] * vocab_size
    bi = [[1.0] * vocab_size for _ in range(vocab_size)]
    for a, b in zip(train_ids[:-1], train_ids[1:]):
        bi[a][b] += 1
    for b in train_ids:
        uni[b] += 1
    uni_total, bi_total = sum(uni), [sum(row) for row in bi]
    targets = list(zip(val_ids[:-1], val_ids[1:]))
    unigram = -sum(math.log(uni[b] / uni_total) for _, b in targets) / len(targets)
    bigram = -sum(math.log(bi[a][b] / bi_total[a]) for a, b in targets) / len(targets)
    return unigram, bigram


def get_batch(data, block_size: int, batch_size: int):
    ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[i:i + block_size] for i in ix.tolist()])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix.tolist()])
    return x, y


@torch.no_grad()
def evaluate(model, data, block_size: int, batch_size: int = 64):
    """Mean cross-entropy over every target of data[1:], in non-overlapping windows of block_size."""
    model.eval()
    n = (len(data) - 1) // block_size
    x = data[:n * block_size].view(n, block_size)
    y = data[1:n * block_size + 1].view(n, block_size)
    total = 0.0
    for i in range(0, n, batch_size):
        _, loss = model(x[i:i + batch_size], y[i:i + batch_size])
        total += loss.item() * x[i:i + batch_size].size(0)
    model.train()
    return total / n, n * block_size


# ------------------------------------------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a tiny model for a few seconds (the test's run)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-chars", type=int, default=None)
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads for the run (restored after); 1 wins on a busy machine")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)


def run(args) -> dict:
    torch.manual_seed(args.seed)
    if args.smoke:
        cfg = dict(block_size=32, n_layer=2, n_head=2, n_embd=48)
        steps, batch_size, lr, warmup, val_chars, sample_chars = 150, 16, 3e-3, 15, 6000, 60
    else:
        cfg = dict(block_size=64, n_layer=3, n_head=4, n_embd=128)
        steps, batch_size, lr, warmup, val_chars, sample_chars = 1000, 24, 2e-3, 100, None, 300
    steps = args.steps or steps
    sample_chars = args.sample_chars or sample_chars

    train_text, val_text, chars = load_corpus(args.seed)
    if val_chars is not None:
        val_text = val_text[:val_chars]
    stoi = {ch: i for i, ch in enumerate(chars)}
    encode = lambda s: [stoi[c] for c in s]  # noqa: E731
    decode = lambda ids: "".join(chars[i] for i in ids)  # noqa: E731
    train_ids, val_ids = encode(train_text), encode(val_text)
    train_data = torch.tensor(train_ids, dtype=torch.long)
    val_data = torch.tensor(val_ids, dtype=torch.long)
    print(f"corpus: {len(train_ids)} training / {len(val_ids)} validation characters, vocabulary {len(chars)}")

    model = GPT(GPTConfig(vocab_size=len(chars), **cfg))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {cfg['n_layer']} layers, {cfg['n_head']} heads, d={cfg['n_embd']}, block {cfg['block_size']}: "
          f"{n_params / 1e6:.2f}M parameters")
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=lr, betas=(0.9, 0.99))

    def lr_lambda(step):  # linear warm-up, then cosine decay to a tenth of the peak
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

    start = time.perf_counter()
    first_loss = None
    for step in range(steps):
        xb, yb = get_batch(train_data, cfg["block_size"], batch_size)
        _, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        if first_loss is None:
            first_loss = loss.item()
        if step % max(1, steps // 10) == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {scheduler.get_last_lr()[0]:.2e}  "
                  f"{time.perf_counter() - start:6.1f} s")
    train_seconds = time.perf_counter() - start

    val_loss, n_targets = evaluate(model, val_data, cfg["block_size"])
    # The baselines are scored on the very targets the model was (evaluate drops the tail past the last window).
    unigram, bigram = ngram_baselines(train_ids, val_ids[:n_targets + 1], len(chars))
    print(f"validation ({n_targets} characters), nats per character and perplexity:")
    print(f"  unigram (add-one)  {unigram:.4f}  ppl {math.exp(unigram):6.2f}")
    print(f"  bigram  (add-one)  {bigram:.4f}  ppl {math.exp(bigram):6.2f}")
    print(f"  GPT                {val_loss:.4f}  ppl {math.exp(val_loss):6.2f}   ({train_seconds:.1f} s of training)")

    model.eval()
    prompt = torch.tensor([encode("the ")], dtype=torch.long)
    out = model.generate(prompt, sample_chars, temperature=0.8, top_k=10)
    sample = decode(out[0].tolist())
    print("sample (temperature 0.8, top-k 10):")
    print(sample)
    return {"val_loss": val_loss, "unigram": unigram, "bigram": bigram, "first_loss": first_loss,
            "train_seconds": train_seconds, "sample": sample, "n_params": n_params}


if __name__ == "__main__":
    main()
