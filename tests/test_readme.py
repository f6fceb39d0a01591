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
    section = re.search(r"^## Two commands\n(.*?)^## ", text, re.S | re.M).group(1)
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert len(blocks) == 2 and all(len(b.strip().splitlines()) == 1 for b in blocks), blocks
    main_job, tests = (b.strip() for b in blocks)
    assert tests == "bash .ci/run"
    # the main job activates the environment it makes, so the later bare `glassgrad ...`
    # commands of the README find the program in the same shell
    steps = [s.strip() for s in main_job.split("&&")]
    assert steps[0] == "python3 -m venv .venv" and ". .venv/bin/activate" in steps
    act = steps.index(". .venv/bin/activate")
    assert steps[-1] == "glassgrad train" and any(s.startswith("pip install") for s in steps[act:])
    assert ". .venv/bin/activate" in section.split("```")[-1]  # how to get it back in a new shell
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S))
    cmds = re.findall(r"^glassgrad (\S+)", shell, re.M)
    assert {"train", "evaluate", "plot"} <= set(cmds) <= {"train", "evaluate", "plot", "--version;"}, cmds
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    assert "pytest" in ci


def test_license_changelog_and_typed_marker():
    lic = open(os.path.join(ROOT, "LICENSE"), encoding="utf-8").read()
    assert lic.startswith("MIT License") and "glassgrad contributors" in lic
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in lic
    log = open(os.path.join(ROOT, "CHANGELOG.md"), encoding="utf-8").read()
    assert re.search(rf"^## \[?{re.escape(gg.__version__)}\]?", log, re.M), "no entry for this version"
    assert os.path.exists(os.path.join(ROOT, "src", "glassgrad", "py.typed"))
