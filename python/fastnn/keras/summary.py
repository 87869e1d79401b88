"""model.summary(): Keras' table of layers, output shapes and parameter counts."""
from __future__ import annotations


def _fmt_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GB"


def _shape(s) -> str:
    if s is None:
        return "?"
    if isinstance(s, list):
        return ", ".join(_shape(x) for x in s)
    return "(" + ", ".join("None" if d is None else str(d) for d in s) + ("," if len(s) == 1 else "") + ")"


def _cell(text: str, width: int, right: bool) -> str:
    text = text[:width - 2]
    return f" {text:>{width - 2}} " if right else f" {text:<{width - 2}} "


def _functional_rows(model):
    """Keras' functional listing: the inputs, then each layer call by depth (creation order within a depth),
    with the tensors it is connected to as ``layer[node][output]``."""
    depth = {}

    def depth_of(t):
        if t.source is None:
            return 0
        if id(t) not in depth:
            ins = t.source[1]
            depth[id(t)] = 1 + max(depth_of(s) for s in (ins if isinstance(ins, (list, tuple)) else [ins]))
        return depth[id(t)]

    rows = [(t.name, "InputLayer", _shape(t.shape), "0", "-") for t in model.inputs]
    calls = []
    for layer, ins, _ in model._nodes:
        ins_list = ins if isinstance(ins, (list, tuple)) else [ins]
        d = 1 + max(depth_of(s) for s in ins_list)
        links = ", ".join(f"{s.name}[0][{s.index}]" for s in ins_list)
        calls.append((d, layer._creation_id, layer, links))
    for _, _, layer, links in sorted(calls, key=lambda c: (c[0], c[1])):
        rows.append((layer.name, type(layer).__name__, _shape(layer.output_shape), f"{layer.count_params():,}",
                     links))
    return rows


def print_summary(model, print_fn=print) -> None:
    if model._functional:
        heads, widths = ("Layer (type)", "Output Shape", "Param #", "Connected to"), (21, 19, 12, 19)
        rows = _functional_rows(model)
    else:
        heads, widths = ("Layer (type)", "Output Shape", "Param #"), (33, 24, 15)
        rows = [(layer.name, type(layer).__name__, _shape(layer.output_shape) if layer.built else "?",
                 f"{layer.count_params():,}" if layer.built else "0 (unbuilt)") for layer in model.layers]
    print_fn(f'Model: "{model.name}"')
    print_fn("┏" + "┳".join("━" * w for w in widths) + "┓")
    print_fn("┃" + "┃".join(_cell(h, w, i == 2) for i, (h, w) in enumerate(zip(heads, widths))) + "┃")
    print_fn("┡" + "╇".join("━" * w for w in widths) + "┩")
    for i, row in enumerate(rows):
        cells = (f"{row[0]} ({row[1]})",) + tuple(row[2:])
        print_fn("│" + "│".join(_cell(c, w, j == 2) for j, (c, w) in enumerate(zip(cells, widths))) + "│")
        if i < len(rows) - 1:
            print_fn("├" + "┼".join("─" * w for w in widths) + "┤")
    print_fn("└" + "┴".join("─" * w for w in widths) + "┘")
    weights = model.weights
    total = sum(w.numel() for w in weights)
    trainable = sum(w.numel() for w in weights if w.requires_grad)
    size = sum(w.numel() * w.element_size() for w in weights)
    tsize = sum(w.numel() * w.element_size() for w in weights if w.requires_grad)
    print_fn(f" Total params: {total:,} ({_fmt_bytes(size)})")
    print_fn(f" Trainable params: {trainable:,} ({_fmt_bytes(tsize)})")
    print_fn(f" Non-trainable params: {total - trainable:,} ({_fmt_bytes(size - tsize)})")
