"""Every array-module function the composite kernels, the CUDA backend and the ops call exists in CuPy: an AST
scan of ``xp.<name>`` / ``be.xp.<name>`` / ``self.xp.<name>`` / ``backend_of(...).xp.<name>`` uses (and the
levels below: ``xp.linalg.<name>``, ``xp.add.at``, ``xp.lib.stride_tricks.as_strided``), each looked up in
CuPy when CuPy is importable (``pip install cupy-cuda13x``: it imports without a driver). That is how we
know the composite kernels, the day-one CUDA implementation of the whole kernel table, will run on a real
GPU. (Names chosen at run time, ``getattr(xp, name)`` over a table, are not seen.)"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "python" / "fastnn"
# The array module itself is no user of it.
SKIP = {"backend/cuda/emulated.py"}
# Names used where CuPy never sees them, and why.
NOT_CUPY = {
    "errstate": "CompositeBackend binds NumPy's errstate; CudaBackend overrides errstate with a no-op",
    "errstate.__self__": "(the same binding)",
}


def _files():
    files = list((ROOT / "backend" / "composite").glob("*.py")) + list((ROOT / "backend" / "cuda").glob("*.py"))
    files += list((ROOT / "ops").rglob("*.py"))
    return sorted(p for p in files if p.relative_to(ROOT).as_posix() not in SKIP)


def _is_xp(node) -> bool:
    """``xp``, ``<name>.xp`` (be.xp, self.xp, self._be.xp) or ``<call>(...).xp`` (backend_of(x).xp)."""
    if isinstance(node, ast.Name):
        return node.id == "xp"
    return isinstance(node, ast.Attribute) and node.attr == "xp" and isinstance(node.value,
                                                                                (ast.Name, ast.Attribute, ast.Call))


def xp_uses(tree) -> set:
    """Dotted names (relative to the array module) read off it in ``tree``, every prefix of a chain
    included (``xp.lib.stride_tricks.as_strided`` gives ``lib``, ``lib.stride_tricks`` and the whole)."""
    names = set()
    for node in ast.walk(tree):
        parts = []
        while isinstance(node, ast.Attribute) and not _is_xp(node.value):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Attribute) and _is_xp(node.value):
            names.add(".".join([node.attr] + parts[::-1]))
    return names


def _uses() -> dict:
    found: dict = {}
    for p in _files():
        for name in xp_uses(ast.parse(p.read_text(), str(p))):
            found.setdefault(name, set()).add(p.relative_to(ROOT).as_posix())
    return found


def test_the_scan_finds_the_forms_it_claims():
    src = ("xp.exp(a); be.xp.log(b); self.xp.empty(3); backend_of(x).xp.add.at(o, i, v); xp.linalg.norm(a);"
           "self._be.xp.random.default_rng(0); np.sum(a); other.xp_thing; xp.lib.stride_tricks.as_strided(a)")
    assert xp_uses(ast.parse(src)) == {"exp", "log", "empty", "add", "add.at", "linalg", "linalg.norm", "random",
                                       "random.default_rng", "lib", "lib.stride_tricks", "lib.stride_tricks.as_strided"}


def test_the_scan_sees_the_kernels():
    uses = _uses()
    assert len(uses) > 50 and {"matmul", "exp", "empty", "zeros"} <= set(uses)


def test_every_array_module_name_exists_in_cupy():
    cupy = pytest.importorskip("cupy")
    missing = {}
    for name, where in sorted(_uses().items()):
        if name in NOT_CUPY:
            continue
        obj = cupy
        for part in name.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                missing[name] = sorted(where)
                break
    assert not missing, f"CuPy lacks these array-module names (put them behind a backend method): {missing}"
