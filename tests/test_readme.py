"""The README's quick example runs as written and shows the documented results."""

import os
import re

import glassgrad as gg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _first_python_block() -> str:
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


def test_readme_quick_example_runs(capsys):
    ns: dict = {}
    exec(compile(_first_python_block(), "README.md", "exec"), ns)
    out = capsys.readouterr().out
    assert "SumBackward" in out and "MatMulBackward" in out  # the explain table
    assert "dB = Aᵀ @ dZ" in out
    x, W = ns["x"], ns["W"]
    assert x.grad.shape == (2, 2) and W.grad.shape == (2, 4)
    z = x.detach() @ W.detach()
    assert gg.allclose(W.grad, x.detach().T @ (z > 0).float())
    assert "-> ok" in out


def test_readme_names_the_two_commands():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    assert "glassgrad train" in text
    assert "bash .ci/run" in text
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    assert "pytest" in ci
