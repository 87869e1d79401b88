"""The house's layering, checked on the source (an AST scan, no import): only ``backend/`` reaches the
native module, no code outside it decides paths by NumPy array types, and the layers above the backend
(ops, nn, optim, keras) use NumPy only for dtypes and shape arithmetic. The counts below may only go
down: a change that needs a new NumPy array call above the backend should put it behind a backend
method instead (see ARCHITECTURE.md, "Add an op")."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "python" / "fastnn"
UPPER = ("ops", "nn", "optim", "keras")  # the layers that must be device-neutral

# NumPy names that are dtypes, constants, dtype arithmetic or shape arithmetic: device-neutral.
NEUTRAL = {
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_", "dtype", "integer",
    "floating", "number", "generic", "signedinteger", "finfo", "iinfo", "issubdtype", "promote_types",
    "result_type", "can_cast", "broadcast_shapes", "newaxis", "inf", "nan", "pi", "e", "ndarray",
}

# Files above the backend that still make NumPy array calls, with their counts, and why they may.
# (Host data by definition: arrays a user hands to fit/predict before they become tensors, results that
# leave as Python numbers, files on disk.) A count may go down; a new file or a higher count fails.
NUMPY_ARRAY_CALLS_ALLOWED: dict[str, int] = {
    "keras/layers/attention.py": 1,  # a user's mask given as a list or array, before it becomes a tensor
    "keras/layers/base.py": 1,  # set_weights values from another model or a file
    "keras/layers/merge.py": 1,  # inputs given as arrays
    "keras/layers/recurrent.py": 2,  # initial states / inputs given as arrays
    "keras/models.py": 1,  # the dtype of data a Sequential is built from
    "keras/saving.py": 1,  # a weight value read from a file
    "keras/training.py": 5,  # class weights from the labels, and predict's host outputs
    "keras/training_data.py": 2,  # fit's user data and sample weights, sliced on the host into batches
}

# isinstance / type-is checks on NumPy array types outside backend/ that decide nothing about devices
# (argument validation with PyTorch's TypeError, e.g. from_numpy refusing a list).
NDARRAY_CHECKS_ALLOWED: dict[str, int] = {
    "creation.py": 3,  # tensor()'s copy rule and dtype inference of host data; from_numpy's TypeError
    "data/dataset.py": 2,  # TensorDataset accepts host arrays; Subset accepts an index array
    "data/loader.py": 1,  # default_collate of host samples
    "keras/layers/base.py": 1,  # a layer called on a host array converts it first
    "keras/training_data.py": 1,  # fit's x: a host array is data, not an iterable of batches
}


def _sources():
    return sorted(p for p in ROOT.rglob("*.py") if "backend" not in p.relative_to(ROOT).parts)


def _rel(p) -> str:
    return p.relative_to(ROOT).as_posix()


def _numpy_aliases(tree) -> set:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name == "numpy"}
    return names


def _imports_native(tree, rel: str) -> list:
    """Lines that import fastnn._C, absolutely or relatively."""
    depth = len(pathlib.PurePosixPath(rel).parts) - 1  # package depth of the module below fastnn/
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == "fastnn._C" or a.name.startswith("fastnn._C.")
                                                for a in node.names):
            hits.append(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 0:
                absolute = mod
            elif node.level - 1 == depth:  # relative to the fastnn package itself
                absolute = "fastnn" + ("." + mod if mod else "")
            else:
                continue  # relative to a subpackage: fastnn.<sub>._C is not the native module
            if absolute == "fastnn._C" or absolute.startswith("fastnn._C.") or (
                    absolute == "fastnn" and any(a.name == "_C" for a in node.names)):
                hits.append(node.lineno)
    return hits


def _mentions_ndarray(node, np_names) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "ndarray" and isinstance(n.value, ast.Name)
               and n.value.id in np_names for n in ast.walk(node))


def _ndarray_checks(tree, np_names) -> list:
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance" \
                and len(node.args) == 2 and _mentions_ndarray(node.args[1], np_names):
            hits.append(node.lineno)
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops) \
                and any(_mentions_ndarray(c, np_names) for c in node.comparators):
            hits.append(node.lineno)
    return hits


def _numpy_array_calls(tree, np_names) -> list:
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in np_names \
                and node.attr not in NEUTRAL:
            hits.append((node.lineno, node.attr))
    return hits


_PARSED = {p: ast.parse(p.read_text(), str(p)) for p in _sources()}


@pytest.mark.parametrize("path", list(_PARSED), ids=_rel)
def test_only_the_backend_imports_the_native_module(path):
    assert not _imports_native(_PARSED[path], _rel(path)), \
        f"{_rel(path)} imports fastnn._C: ask backend_of(...) / get_backend(...) for the kernel instead"


def test_no_ndarray_type_checks_outside_the_backend():
    found = {}
    for path, tree in _PARSED.items():
        hits = _ndarray_checks(tree, _numpy_aliases(tree))
        if hits:
            found[_rel(path)] = len(hits)
    over = {f: n for f, n in found.items() if n > NDARRAY_CHECKS_ALLOWED.get(f, 0)}
    assert not over, f"isinstance/type checks on np.ndarray outside backend/ (ask the backend instead): {over}"


def test_upper_layers_use_numpy_only_for_dtypes_and_shapes():
    found = {}
    for path, tree in _PARSED.items():
        rel = _rel(path)
        if rel.split("/")[0] not in UPPER:
            continue
        hits = _numpy_array_calls(tree, _numpy_aliases(tree))
        if hits:
            found[rel] = hits
    over = {f: sorted({a for _, a in h}) for f, h in found.items() if len(h) > NUMPY_ARRAY_CALLS_ALLOWED.get(f, 0)}
    assert not over, f"NumPy array calls above the backend (use be.xp / a backend kernel): {over}"


def test_the_scan_sees_what_it_forbids(tmp_path):
    # The checks must be able to fail: run them on a module that breaks each rule.
    src = ("import numpy as np\nfrom .. import _C\nfrom fastnn import _C\nimport fastnn._C\n"
           "def f(x):\n    if isinstance(x, (np.ndarray, int)) or type(x) is np.ndarray:\n"
           "        return np.exp(x) + np.float32(1)\n")
    tree = ast.parse(src)
    assert len(_imports_native(tree, "ops/fake.py")) == 3
    assert len(_ndarray_checks(tree, {"np"})) == 2
    assert [a for _, a in _numpy_array_calls(tree, {"np"})] == ["exp"]
    assert not _imports_native(ast.parse("from . import _C\n"), "ops/fake.py")  # fastnn.ops._C is not it
