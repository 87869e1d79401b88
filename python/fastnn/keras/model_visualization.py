"""``keras.utils.model_to_dot`` / ``plot_model``: a model's layer graph as a pydot graph, drawn to an image
by Graphviz. Both need the ``pydot`` package (and plot_model the Graphviz programs); without them they raise
an ImportError that says so, as Keras does."""
from __future__ import annotations

import os
import sys


def _pydot():
    try:
        import pydot
    except ImportError:
        return None
    return pydot


def _has_graphviz(pydot) -> bool:
    try:
        pydot.Dot.create(pydot.Dot())
        return True
    except (OSError, pydot.PydotException if hasattr(pydot, "PydotException") else OSError):
        return False


def _activation_name(layer) -> str:
    act = layer.activation
    return getattr(act, "name", None) or getattr(act, "__name__", None) or str(act)


def _label(name, class_name, layer, in_shape, out_shape, dtype, opts) -> str:
    rows = [f"{name} ({class_name})" if opts["show_layer_names"] else class_name]
    if opts["show_layer_activations"] and layer is not None and getattr(layer, "activation", None) is not None:
        rows.append(f"Activation: {_activation_name(layer)}")
    cols = []
    if opts["show_shapes"]:
        if class_name != "InputLayer":
            cols.append(f"Input shape: {in_shape if in_shape is not None else '?'}")
        cols.append(f"Output shape: {out_shape if out_shape is not None else '?'}")
    if opts["show_dtype"]:
        cols.append(f"Output dtype: {dtype or '?'}")
    if opts["show_trainable"] and layer is not None and layer.weights:
        cols.append("Trainable" if layer.trainable else "Non-trainable")
    if cols:
        rows.append(" | ".join(cols))
    return "\n".join(rows)


def _graph(model):
    """(nodes, edges): nodes as (key, name, class name, layer or None, input shape, output shape, dtype) in
    order, edges as (from key, to key)."""
    from .models import Sequential

    nodes, edges = [], []
    if isinstance(model, Sequential):  # its layers in a chain (Keras draws no input node for it)
        prev = None
        shape = model._input_spec.shape if model._input_spec is not None else None
        for layer in model.layers:
            key = f"layer:{id(layer)}"
            out = layer.output_shape
            nodes.append((key, layer.name, type(layer).__name__, layer, shape, out, "float32"))
            if prev is not None:
                edges.append((prev, key))
            prev, shape = key, out
        return nodes, edges
    if not getattr(model, "_functional", False):  # a subclassed model: one node, as Keras draws it
        return [(f"layer:{id(model)}", model.name, type(model).__name__, model, None, None, None)], []
    for t in model.inputs:
        nodes.append((f"input:{id(t)}", t.name or "input_layer", "InputLayer", None, None, t.shape, t.dtype))
    for layer, ins, _ in model._nodes:
        key = f"layer:{id(layer)}"
        ins_list = list(ins) if isinstance(ins, (list, tuple)) else [ins]
        outs = model._outputs_of(layer, ins)
        if all(n[0] != key for n in nodes):
            in_shape = [t.shape for t in ins_list] if len(ins_list) > 1 else ins_list[0].shape
            out_shape = outs[0].shape if len(outs) == 1 else [t.shape for t in outs]
            nodes.append((key, layer.name, type(layer).__name__, layer, in_shape, out_shape,
                          outs[0].dtype if outs else None))
        for t in ins_list:
            src = f"input:{id(t)}" if t.source is None else f"layer:{id(t.source[0])}"
            if (src, key) not in edges:
                edges.append((src, key))
    return nodes, edges


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False, show_trainable=False,
                 splines="ortho", **kwargs):
    """A ``pydot.Dot`` (or, with ``subgraph=True``, a ``pydot.Cluster``) with one node per layer and an edge
    per connection."""
    pydot = _pydot()
    if pydot is None:
        raise ImportError("You must install pydot (`pip install pydot`) for model_to_dot to work.")
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("Argument `layer_range` is no longer supported.")
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
    if expand_nested:
        raise NotImplementedError("model_to_dot(expand_nested=True): nested models are drawn as one node")
    if not model.built:
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")
    opts = {"show_shapes": show_shapes, "show_dtype": show_dtype, "show_layer_names": show_layer_names,
            "show_layer_activations": show_layer_activations, "show_trainable": show_trainable}
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name)
        dot.set("label", model.name)
        dot.set("labeljust", "l")
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set("splines", splines)
        dot.set_node_defaults(shape="record")
    nodes, edges = _graph(model)
    for key, name, class_name, layer, in_shape, out_shape, dtype in nodes:
        node = pydot.Node(key.replace(":", "_"), label=_label(name, class_name, layer, in_shape, out_shape, dtype,
                                                               opts))
        node.set("fontname", "Helvetica")
        dot.add_node(node)
    for src, dst in edges:
        dot.add_edge(pydot.Edge(src.replace(":", "_"), dst.replace(":", "_")))
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False, rankdir="TB",
               expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False, splines="ortho",
               **kwargs):
    """Draws the model's graph to ``to_file`` (the format from its extension: png, svg, pdf, dot, ...)."""
    pydot = _pydot()
    if pydot is None:
        raise ImportError("You must install pydot (`pip install pydot`) for `plot_model` to work.")
    to_file = os.fspath(to_file)
    _, ext = os.path.splitext(to_file)
    fmt = ext[1:] if ext else "png"
    if fmt != "dot" and not _has_graphviz(pydot):
        raise ImportError("You must install graphviz (see instructions at https://graphviz.gitlab.io/download/) "
                          "for `plot_model` to work.")
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype, show_layer_names=show_layer_names,
                       rankdir=rankdir, expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations, show_trainable=show_trainable, splines=splines,
                       **kwargs)
    if fmt == "dot":  # the graph's source text needs no Graphviz program
        with open(to_file, "w") as f:
            f.write(dot.to_string())
    else:
        dot.write(to_file, format=fmt)
    if fmt in ("png", "jpg", "jpeg", "gif") and "IPython" in sys.modules:  # shown inline in a notebook
        from IPython import display

        return display.Image(filename=to_file)
    return None


__all__ = ["model_to_dot", "plot_model"]
