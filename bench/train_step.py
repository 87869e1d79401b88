"""One training step (forward, backward, optimizer) of the four model families issue 5 promises, written
once over a library's `nn` / `optim` namespaces so fastnn and torch run the very same model.

NumPy has no autograd or layers: its worker reports no rows here."""
from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np

from common import median_time

MODELS = ("mlp", "cnn", "lstm", "transformer", "gpt", "gcn")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _lib(lib: str):
    if lib == "fastnn":
        import fastnn as m
    else:
        import torch as m
    return m


def _mlp(L):
    nn = L.nn
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    return model, (128, 784), 10


def _cnn(L):
    nn = L.nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return model, (64, 1, 28, 28), 10


def _lstm(L):
    nn = L.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(28, 128, num_layers=2, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    return LSTMClassifier(), (32, 50, 28), 10


def _transformer(L):
    nn = L.nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.1, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=2)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            return self.head(self.encoder(x).mean(1))

    return Encoder(), (16, 128, 128), 10


BUILDERS = {"mlp": _mlp, "cnn": _cnn, "lstm": _lstm, "transformer": _transformer}
CASES = {"mlp": "MLP 784-256-256-10 b128", "cnn": "LeNet 1x28x28 b64", "lstm": "LSTM 2x128 seq50 b32",
         "transformer": "encoder 2xd128 L128 b16", "gpt": "GPT 3xd128 L64 b24 AdamW",
         "gcn": "GCN sparse adj 2708n 1433-16-7"}
# examples/gpt_text.py's default configuration (its vocabulary is the corpus's 73 characters).
GPT_SIZES = {"vocab_size": 73, "block_size": 64, "n_layer": 3, "n_head": 4, "n_embd": 128}
GPT_BATCH = 24
_PORT = {"import fastnn as torch": "import torch", "import fastnn.nn as nn": "import torch.nn as nn",
         "import fastnn.nn.functional as F": "import torch.nn.functional as F"}


def gpt_module(lib: str):
    """examples/gpt_text.py as a module of ``lib``: for torch its three imports are switched, the port the
    example promises in reverse, so both libraries run the very same model source."""
    source = (EXAMPLES / "gpt_text.py").read_text()
    if lib == "torch":
        for ours, theirs in _PORT.items():
            assert ours in source, ours
            source = source.replace(ours, theirs)
    spec = importlib.util.spec_from_loader(f"gpt_text_{lib}", loader=None)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses looks its class's module up there
    exec(compile(source, str(EXAMPLES / "gpt_text.py"), "exec"), module.__dict__)
    return module


def gpt_step_fn(L, lib: str):
    """One training step of the example's GPT as the example takes it: forward with the LM loss, backward,
    gradient clipping and the AdamW step over its two parameter groups."""
    g = gpt_module(lib)
    L.manual_seed(0)
    model = g.GPT(g.GPTConfig(**GPT_SIZES))
    model.train()
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3, betas=(0.9, 0.99))
    rng = np.random.default_rng(0)
    shape = (GPT_BATCH, GPT_SIZES["block_size"])
    x = L.tensor(rng.integers(0, GPT_SIZES["vocab_size"], shape))
    y = L.tensor(rng.integers(0, GPT_SIZES["vocab_size"], shape))
    clip = L.nn.utils.clip_grad_norm_

    def step():
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip(model.parameters(), 1.0)
        opt.step()

    return step


# Cora's sizes (Kipf & Welling's GCN): 2708 nodes, 5278 undirected edges, 1433 binary bag-of-words features
# (1.27% set), 7 classes, 140 labelled training nodes; the graph and features here are random of those sizes.
GCN_SIZES = {"nodes": 2708, "edges": 5278, "features": 1433, "hidden": 16, "classes": 7, "train": 140}


def gcn_graph(L):
    """The normalised adjacency D^-1/2 (A + I) D^-1/2 as a COO sparse tensor (both edge directions plus
    self loops: 13264 entries, duplicates left for the library to add), binary features, labels and the
    training nodes, from one seed for every library."""
    s = GCN_SIZES
    n = s["nodes"]
    rng = np.random.default_rng(0)
    src, dst = rng.integers(0, n, s["edges"]), rng.integers(0, n, s["edges"])
    rows = np.concatenate([src, dst, np.arange(n)])
    cols = np.concatenate([dst, src, np.arange(n)])
    deg = np.bincount(rows, minlength=n).astype(np.float64)
    vals = (1.0 / np.sqrt(deg[rows] * deg[cols])).astype(np.float32)
    with warnings.catch_warnings():  # torch's note that it skips the invariant checks by default
        warnings.simplefilter("ignore", UserWarning)
        adj = L.sparse_coo_tensor(L.tensor(np.stack([rows, cols])), L.tensor(vals), (n, n))
    x = L.tensor((rng.random((n, s["features"])) < 0.0127).astype(np.float32))
    y = L.tensor(rng.integers(0, s["classes"], n))
    train = L.tensor(rng.choice(n, s["train"], replace=False))
    return adj, x, y, train


def gcn_step_fn(L):
    """One Adam step (lr 0.01, weight decay 5e-4) of pygcn's two-layer GCN: relu(A @ (X @ W1) + b1),
    dropout 0.5, A @ (H @ W2) + b2, log_softmax and the NLL loss over the training nodes."""
    nn, F = L.nn, L.nn.functional
    s = GCN_SIZES

    class GraphConvolution(nn.Module):
        def __init__(self, fan_in, fan_out):
            super().__init__()
            bound = 1.0 / fan_out ** 0.5
            self.weight = nn.Parameter(L.empty(fan_in, fan_out).uniform_(-bound, bound))
            self.bias = nn.Parameter(L.empty(fan_out).uniform_(-bound, bound))

        def forward(self, x, adj):
            return L.sparse.mm(adj, L.mm(x, self.weight)) + self.bias

    class GCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.gc1 = GraphConvolution(s["features"], s["hidden"])
            self.gc2 = GraphConvolution(s["hidden"], s["classes"])

        def forward(self, x, adj):
            h = F.dropout(F.relu(self.gc1(x, adj)), 0.5, training=self.training)
            return F.log_softmax(self.gc2(h, adj), dim=1)

    L.manual_seed(0)
    adj, x, y, train = gcn_graph(L)
    model = GCN()
    model.train()
    opt = L.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

    def step():
        opt.zero_grad()
        loss = F.nll_loss(model(x, adj)[train], y[train])
        loss.backward()
        opt.step()

    return step


def step_fn(L, name: str, wrap=None):
    """A closure running one Adam training step of model ``name`` on fixed random data; ``wrap`` (model ->
    model, e.g. DistributedDataParallel) is applied before the optimizer sees the parameters."""
    if name == "gpt":
        if wrap is not None:
            raise ValueError("step_fn: the gpt step takes no wrap")
        return gpt_step_fn(L, L.__name__)
    if name == "gcn":
        if wrap is not None:
            raise ValueError("step_fn: the gcn step takes no wrap")
        return gcn_step_fn(L)
    L.manual_seed(0)
    model, x_shape, classes = BUILDERS[name](L)
    model.train()
    if wrap is not None:
        model = wrap(model)
    rng = np.random.default_rng(0)
    x = L.tensor(rng.standard_normal(x_shape).astype(np.float32))
    y = L.tensor(rng.integers(0, classes, x_shape[0]))
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    cross_entropy = L.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


def run(lib: str, quick: bool) -> list[dict]:
    if lib == "numpy":
        return []
    L = _lib(lib)
    rows = []
    for name in MODELS:
        step = step_fn(L, name)
        rows.append({"kernel": "train", "case": CASES[name],
                     "seconds": median_time(step, repeats=3 if quick else 7, warmup=2)})
    return rows
