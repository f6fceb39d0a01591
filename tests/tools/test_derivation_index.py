"""docs/derivations/INDEX.md is what tools/derivation_index.py writes now, and every op
declares its formulas text and a derivation link to an existing section."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("derivation_index", ROOT / "tools" / "derivation_index.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_op_declares_formulas_and_an_existing_derivation(tool):
    ops = tool.op_classes()
    assert len(ops) > 100
    assert tool.problems(ops) == []


def test_index_is_current(tool):
    committed = (ROOT / "docs" / "derivations" / "INDEX.md").read_text(encoding="utf-8")
    assert committed == tool.render(), "INDEX.md is stale: run python tools/derivation_index.py"


def test_problems_names_what_is_missing(tool):
    from glassgrad.autograd.function import Function

    class NoText(Function):
        derivation = "docs/derivations/conv.md#backward"

    class BadAnchor(Function):
        formulas = {"inputs": "X", "grads": ("dX = dZ",)}
        derivation = "docs/derivations/conv.md#no-such-section"

    class NoFile(Function):
        formulas = {"inputs": "X", "grads": ("dX = dZ",)}
        derivation = "docs/derivations/nowhere.md#backward"

    class NoLink(Function):
        formulas = {"inputs": "X", "grads": ("dX = dZ",)}

    class Fine(Function):
        formulas = {"inputs": "X", "grads": ("dX = dZ",)}
        derivation = "docs/derivations/conv.md#backward"

    out = tool.problems([NoText, BadAnchor, NoFile, NoLink, Fine])
    assert len(out) == 4
    assert "NoText: no formulas" in out[0]
    assert "BadAnchor" in out[1] and "#no-such-section" in out[1]
    assert "NoFile" in out[2] and "nowhere.md" in out[2]
    assert "NoLink: no derivation link" in out[3]


def test_index_lists_every_op_with_its_source_line(tool):
    import inspect

    from glassgrad.ops.conv import ConvNd

    text = (ROOT / "docs" / "derivations" / "INDEX.md").read_text(encoding="utf-8")
    line = inspect.getsourcelines(ConvNd)[1]
    assert f"| `ConvNd` | [src/glassgrad/ops/conv.py:{line}]" in text
    assert text.count("\n| `") == len(tool.op_classes())
