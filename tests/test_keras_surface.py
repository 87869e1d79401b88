"""fastnn.keras against Keras 3.15's public surface, namespace by namespace, ratcheted by a baseline.

For each namespace below, the Keras names are ``dir()`` of the pinned keras module (public names, submodules
skipped); fastnn.keras has a name when the same namespace of fastnn.keras has an attribute of that name. Each
present name must be of the same kind as Keras' (class vs function). tests/keras_surface_baseline.json holds,
per namespace, the names fastnn had at the last ``python tests/test_keras_surface.py --update``: a name that
disappears, or a new kind mismatch, fails the test, so coverage can only go up. OUT_OF_SCOPE lists the Keras
names fastnn does not aim at, each with its reason; they are left out of the coverage counts.

``pytest -s tests/test_keras_surface.py`` prints the coverage table."""
from __future__ import annotations

import importlib
import json
import pathlib
import sys
import types

import keras_helpers  # noqa: F401  (sets KERAS_BACKEND=torch before keras is imported)

BASELINE = pathlib.Path(__file__).with_name("keras_surface_baseline.json")

NAMESPACES = ("layers", "ops", "ops.nn", "ops.linalg", "losses", "metrics", "callbacks", "optimizers", "activations",
              "initializers", "regularizers", "constraints", "random", "utils", "models", "saving", "distribution")

_TF = "needs TensorFlow"
OUT_OF_SCOPE = {
    "layers.TFSMLayer": f"{_TF}: it loads a TensorFlow SavedModel and calls it through tf.function",
    "layers.JaxLayer": "needs JAX: it wraps a JAX function and its JAX parameter pytrees",
    "layers.FlaxLayer": "needs JAX and Flax: it wraps a flax.linen Module",
    "callbacks.OrbaxCheckpoint": "needs JAX's Orbax checkpointing library (orbax.checkpoint)",
    "utils.FeatureSpace": f"{_TF}: FeatureSpace.adapt() runs on a tf.data.Dataset (a dict of arrays is made into "
                          "one) and maps each feature with tf.data",
    "distribution.ModelParallel": "shards weights over a device mesh inside one SPMD program (JAX / XLA); fastnn keeps "
                                  "a whole model on every MPI rank (DataParallel only)",
    "distribution.LayoutMap": "maps weight paths to sharded layouts, which only ModelParallel reads",
    "distribution.distribute_tensor": "re-lays a tensor out over the mesh inside a jitted program; an MPI rank holds "
                                      "whole tensors",
    "saving.KerasFileEditor": "edits Keras' own .keras archives (zip + HDF5 weights); fastnn.keras saves its own "
                              "safetensors format, which model.save / load_model read and write",
}


def keras_names(ns: str) -> dict:
    """Keras' public names of one namespace -> the objects."""
    module = importlib.import_module("keras." + ns)
    return {n: getattr(module, n) for n in dir(module)
            if not n.startswith("_") and not isinstance(getattr(module, n), types.ModuleType)}


def fastnn_namespace(ns: str):
    try:
        return importlib.import_module("fastnn.keras." + ns)
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("fastnn.keras"):
            raise  # a namespace that exists but fails to import is a bug, not a missing namespace
        return None


def kind(obj) -> str:
    if isinstance(obj, type):
        return "class"
    if callable(obj):
        return "function"
    return type(obj).__name__


def survey() -> dict:
    """Per namespace: Keras' in-scope names, the ones fastnn has, and the present ones of another kind."""
    report = {}
    for ns in NAMESPACES:
        theirs = keras_names(ns)
        module = fastnn_namespace(ns)
        in_scope = sorted(n for n in theirs if f"{ns}.{n}" not in OUT_OF_SCOPE)
        present = [n for n in in_scope if module is not None and hasattr(module, n)]
        mismatched = [f"{n}: keras {kind(theirs[n])}, fastnn {kind(getattr(module, n))}" for n in present
                      if kind(theirs[n]) != kind(getattr(module, n))]
        report[ns] = {"keras": in_scope, "present": present, "missing": sorted(set(in_scope) - set(present)),
                      "kind_mismatch": mismatched, "namespace_exists": module is not None}
    return report


def table(report: dict) -> str:
    lines = [f"{'namespace':<14} {'fastnn / keras':>15}   coverage"]
    have = total = 0
    for ns, r in report.items():
        n, k = len(r["present"]), len(r["keras"])
        have, total = have + n, total + k
        note = "" if r["namespace_exists"] else "   (no fastnn.keras namespace)"
        lines.append(f"{ns:<14} {n:>7} / {k:<7} {100 * n / max(k, 1):6.1f}%{note}")
    lines.append(f"{'all':<14} {have:>7} / {total:<7} {100 * have / max(total, 1):6.1f}%   "
                 f"({len(OUT_OF_SCOPE)} names out of scope)")
    return "\n".join(lines)


def baseline_of(report: dict) -> dict:
    return {"present": {ns: r["present"] for ns, r in report.items()},
            "kind_mismatch": {ns: r["kind_mismatch"] for ns, r in report.items() if r["kind_mismatch"]}}


_REPORT = None


def _report():
    global _REPORT
    if _REPORT is None:
        _REPORT = survey()
    return _REPORT


def test_coverage_does_not_fall_below_the_baseline():
    report = _report()
    print("\n" + table(report))
    baseline = json.loads(BASELINE.read_text())
    lost = {ns: sorted(set(names) - set(report[ns]["present"])) for ns, names in baseline["present"].items()}
    lost = {ns: names for ns, names in lost.items() if names}
    assert not lost, f"names fastnn.keras had at the baseline are gone: {lost}"


def test_present_names_are_the_same_kind_as_keras():
    baseline = json.loads(BASELINE.read_text())["kind_mismatch"]
    new = {ns: sorted(set(r["kind_mismatch"]) - set(baseline.get(ns, []))) for ns, r in _report().items()}
    new = {ns: v for ns, v in new.items() if v}
    assert not new, f"fastnn.keras names of another kind than Keras' (class vs function): {new}"


def test_out_of_scope_names_are_real_keras_names_and_absent():
    # The list may not rot: each entry is still a Keras name, and one fastnn now has is no longer out of scope.
    for qualified, reason in OUT_OF_SCOPE.items():
        ns, name = qualified.rsplit(".", 1)
        assert name in keras_names(ns), f"{qualified} is no longer a Keras 3.15 name"
        module = fastnn_namespace(ns)
        assert module is None or not hasattr(module, name), f"fastnn.keras has {qualified}: drop it from OUT_OF_SCOPE"
        assert len(reason) > 20


def test_the_survey_sees_what_it_counts():
    # The survey must be able to fail: Keras' names are found, and a fastnn name of another kind is caught.
    report = _report()
    assert len(report["layers"]["keras"]) > 150 and len(report["ops"]["keras"]) > 300
    assert "Dense" in report["layers"]["present"] and "FlaxLayer" not in report["layers"]["keras"]
    assert kind(type) == "class" and kind(len) == "function" and kind(3) == "int"


def main(argv) -> int:
    report = survey()
    print(table(report))
    if "--update" in argv:
        BASELINE.write_text(json.dumps(baseline_of(report), indent=1, sort_keys=True) + "\n")
        print(f"wrote {BASELINE}")
    if "--missing" in argv:
        for ns, r in report.items():
            print(f"{ns}: {' '.join(r['missing'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
