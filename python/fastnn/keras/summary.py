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


def print_summary(model, print_fn=print) -> None:
    widths = (33, 24, 15)
    title = "Sequential" if type(model).__name__ == "Sequential" else "Functional"
    print_fn(f'Model: "{model.name}"')
    top = "┏" + "┳".join("━" * w for w in widths) + "┓"
    head = "┃" + "┃".join(f" {t:<{w - 2}} " if i < 2 else f" {t:>{w - 2}} "
                          for i, (t, w) in enumerate(zip(("Layer (type)", "Output Shape", "Param #"), widths))) + "┃"
    sep = "┡" + "╇".join("━" * w for w in widths) + "┩"
    print_fn(top)
    print_fn(head)
    print_fn(sep)
    layers = model.layers
    for i, layer in enumerate(layers):
        name = f"{layer.name} ({type(layer).__name__})"
        shape = _shape(layer.output_shape) if layer.built else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        print_fn("│" + f" {name[:widths[0] - 2]:<{widths[0] - 2}} │ {shape:<{widths[1] - 2}} │ "
                 f"{params:>{widths[2] - 2}} " + "│")
        if i < len(layers) - 1:
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
    del title
