"""Imports only go down: every module of ``src/glassgrad`` imports (at the top or inside a
function) only modules of its own layer or of a lower one. The layers are the table below
(also in ``docs/architecture.md``); the test parses the sources with ``ast`` (the parser
of ``tools/structure.py``) and imports nothing of glassgrad."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "glassgrad"

# Layer of each module, by the longest matching dotted prefix (relative to ``glassgrad``).
# A package's own ``__init__.py`` is the key ``<package>.__init__`` (it may be a façade at a
# higher layer than its modules: ``glassgrad.autograd`` re-exports the Tensor-level tools).
LAYERS: dict[int, tuple[str, ...]] = {
    # 0 — arrays, dtypes, files, printing: no autograd, no Tensor
    0: ("backend", "backends", "dtypes", "random", "allocator", "_atomic", "_sizes", "_printopts",
        "_checkpoint_io", "_compile", "_html", "_docfill"),
    # 1 — the autograd core: Function (ctx), the backward engine, grad mode, the recording hook
    1: ("autograd",),
    # 2 — ops: Functions on arrays (forward + backward)
    2: ("ops",),
    # 3 — the Tensor class, its methods, creation and the gg.* functions on Tensors
    3: ("tensor", "tensor_methods", "creation", "functional_api", "functional_extra",
        "functional_extra2", "linalg", "special", "sparse", "_lu", "tensortypes", "cuda",
        "accelerator"),
    # 4 — libraries on Tensors: nn, optim, data, func, per-sample gradients, checkpoints, and
    #     the autograd tools that take Tensors (gg.autograd.grad/jacobian, gradcheck, capture)
    4: ("autograd.__init__", "autograd.functional", "autograd.gradcheck", "autograd.capture",
        "nn", "optim", "data", "utils", "func", "per_sample", "_per_sample_rules", "distributions",
        "serialization", "_safetensors_io", "_torch_pickle", "distributed"),
    # 5 — drawing (graphs, plots, HTML)
    5: ("viz",),
    # 6 — glass-box inspection (traces, gradient checks, gradient flow), which draws with viz
    6: ("glassbox",),
    # 7 — applications: the training loop, scikit-learn estimators, ONNX export, the playground,
    #     differentially private training
    7: ("train", "sklearn", "onnx", "playground", "privacy"),
    # 8 — the command line and the package's own namespace (``import glassgrad``)
    8: ("cli", "__main__", "__init__"),
}

# Upward imports that are allowed, as (importing module, imported module), each with the
# reason it cannot go. Empty: every upward import has been removed.
ALLOWED: set[tuple[str, str]] = set()

TABLE = {f"glassgrad.{m}": layer for layer, mods in LAYERS.items() for m in mods}


# the sources' imports, as tools/structure.py reads them (one parser for both)
_spec = importlib.util.spec_from_file_location(
    "glassgrad_structure", SRC.parent / "tools" / "structure.py")
_structure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_structure)
MODULES: dict[str, pathlib.Path] = _structure.MODULES
imports = _structure.module_imports


def layer_of(name: str) -> tuple[int, str]:
    """``(layer, table key)`` of a module name (``glassgrad.x.y`` or ``glassgrad.x.__init__``)."""
    parts = name.split(".")
    while parts:
        key = ".".join(parts)
        if key in TABLE:
            return TABLE[key], key
        parts.pop()
    raise KeyError(f"{name} is in no layer of the table")


def test_every_module_has_a_layer():
    missing = []
    for mod in MODULES:
        try:
            layer_of(mod)
        except KeyError:
            missing.append(mod)
    assert not missing, f"add these modules to LAYERS: {missing}"


def test_imports_only_go_down():
    bad = []
    for mod, path in MODULES.items():
        lm, km = layer_of(mod)
        for line, tgt in imports(mod, path):
            lt, kt = layer_of(tgt)
            if lt > lm and (mod, tgt) not in ALLOWED:
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: {mod} (layer {lm}, {km}) "
                           f"imports {tgt} (layer {lt}, {kt})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


@pytest.mark.parametrize("src, expect, upward", [
    ("from ..tensor import Tensor\n", "glassgrad.tensor", True),
    ("def f():\n    from .. import tensor\n", "glassgrad.tensor", True),
    ("from ..autograd import no_grad\n", "glassgrad.autograd.__init__", True),
    ("from ..autograd import recording\n", "glassgrad.autograd.recording", False),
    ("import glassgrad.viz.html\n", "glassgrad.viz.html", True),
    ("from .. import no_grad\n", "glassgrad.__init__", True),
    ("from ._util import op_error\n", "glassgrad.ops._util", False),
])
def test_the_checker_sees_imports(tmp_path, src, expect, upward):
    """The parser resolves relative imports, imports inside functions, package names and
    names taken from a package's ``__init__`` (what the layer test relies on)."""
    p = tmp_path / "m.py"
    p.write_text(src)
    got = [t for _, t in imports("glassgrad.ops.m", p)]
    assert got == [expect]
    assert (layer_of(expect)[0] > layer_of("glassgrad.ops.m")[0]) == upward
