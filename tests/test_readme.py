"""The README's Python snippets run as printed (in a scratch directory: they write files)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_tour_snippets():
    blocks = _python_blocks()
    assert len(blocks) >= 3
    assert any("fastnn.keras" in b for b in blocks) and any("from fastnn import nn" in b for b in blocks)


@pytest.mark.parametrize("index", range(4))
def test_readme_snippet_runs(index, tmp_path, monkeypatch, capsys):
    block = _python_blocks()[index]
    if "load_digits" in block:
        pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, f"README.md block {index}", "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    if "test accuracy" in block:
        accuracy = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
        assert accuracy > 0.9
    if "model.fit" in block and "model.keras" in block:
        assert "Epoch 3/3" in out and (tmp_path / "model.keras").exists()
    if "class Scale" in block:  # the custom-layer snippet trains and predicts
        assert "(2, 3)" in out
