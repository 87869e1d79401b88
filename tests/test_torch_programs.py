"""PyTorch programs run unchanged but for their imports (issue 11's promise), checked side by side with
torch itself: every file in tests/torch_programs/ is written for torch; it runs as it is under torch and
with its import lines rewritten to fastnn, and both runs must learn (each program's own metric, with the
same bar for both libraries)."""
import re
import sys
import types
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

PROGRAMS = Path(__file__).parent / "torch_programs"
_IMPORT = re.compile(r"^(\s*)(import|from)\s+torch(\.[\w.]+)?(\s|$)", re.M)


def to_fastnn(source: str) -> str:
    """Rewrites only the import statements: `import torch` -> `import fastnn as torch`, `import torch.x as y`
    -> `import fastnn.x as y`, `from torch.x import y` -> `from fastnn.x import y`."""
    def swap(m):
        indent, kind, sub, tail = m.group(1), m.group(2), m.group(3) or "", m.group(4)
        if kind == "import" and not sub:
            return f"{indent}import fastnn as torch{tail}"
        return f"{indent}{kind} fastnn{sub}{tail}"

    out = _IMPORT.sub(swap, source)
    assert "import torch" not in out.replace("import fastnn as torch", ""), "an import was not rewritten"
    return out


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # torch's thread pool would fight fastnn's (and other tests') for the same cores; one thread keeps the
    # reference runs short and their timing irrelevant
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(name: str, lib: str) -> dict:
    source = (PROGRAMS / f"{name}.py").read_text()
    if lib == "fastnn":
        source = to_fastnn(source)
    mod = types.ModuleType(f"torch_program_{name}_{lib}")
    mod.__file__ = str(PROGRAMS / f"{name}.py")
    sys.modules[mod.__name__] = mod  # worker processes and pickling find the program's classes
    try:
        exec(compile(source, mod.__file__, "exec"), mod.__dict__)
        return mod.main()
    finally:
        sys.modules.pop(mod.__name__, None)


# program -> check on its metrics (the same for torch and fastnn)
CHECKS = {
    "mnist_cnn": lambda r: r["accuracy"] > 0.9,
    "vae": lambda r: r["last_loss"] < 0.8 * r["first_loss"] and r["sample_shape"] == (16, 64),
    "word_lm": lambda r: all(last < first - 0.1 for first, last in r.values()),
    "dcgan": lambda r: r["fake_shape"] == (16, 1, 16, 16) and r["finite"],
    "super_resolution": lambda r: r["last_psnr"] > r["first_psnr"] + 3,
    "gcn": lambda r: r["test_acc"] > 0.8,
    "reinforce": lambda r: r["last"] > r["first"] + 0.1,
    "resnet": lambda r: r["last_loss"] < 0.5 * r["first_loss"] and r["reloaded_equal"],
    "char_rnn": lambda r: r["accuracy"] > 0.8,
    "gpt_mini": lambda r: r["last_loss"] < 0.5 * r["first_loss"] and r["cycle_followed"] > 0.5,
    "data_workers": lambda r: r["seen"] == 4 * 128 and r["last_loss"] < r["first_loss"],
}


def test_every_program_has_a_check():
    assert sorted(p.stem for p in PROGRAMS.glob("*.py")) == sorted(CHECKS)


@pytest.mark.parametrize("lib", ["torch", "fastnn"])
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_program(name, lib):
    result = run(name, lib)
    assert CHECKS[name](result), f"{name} under {lib} did not learn: {result}"


def test_rewrite_touches_only_imports():
    src = "import torch\nimport torch.nn as nn\nfrom torch.utils.data import DataLoader\nx = torch.ones(2)\n"
    assert to_fastnn(src) == ("import fastnn as torch\nimport fastnn.nn as nn\nfrom fastnn.utils.data import "
                              "DataLoader\nx = torch.ones(2)\n")
