"""Print the shape of the source tree: files and lines per package, the import graph
between packages, and the files one training step touches.

    python tools/structure.py            # all three
    python tools/structure.py --sizes    # files and lines per package, largest files
    python tools/structure.py --imports  # package -> packages it imports (anywhere in a file)
    python tools/structure.py --path     # files a Linear -> cross_entropy -> backward() runs

The import graph is read with ``ast`` (nothing is imported); ``--path`` runs the step under
``sys.setprofile`` and lists, in first-call order, the functions of ``src/glassgrad`` that it
calls, grouped by file.
"""

from __future__ import annotations

import argparse
import ast
import pathlib
import sys
from collections import defaultdict

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "glassgrad"


def _package(path: pathlib.Path) -> str:
    """``ops``, ``nn``, ... for a file in a subpackage; ``(top)`` for a top-level module."""
    parts = path.relative_to(PKG).parts
    return parts[0] if len(parts) > 1 else "(top)"


def sizes() -> None:
    files = sorted(PKG.rglob("*.py"))
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    lines = {}
    for p in files:
        n = len(p.read_text(encoding="utf-8").splitlines())
        lines[p] = n
        per[_package(p)][0] += 1
        per[_package(p)][1] += n
    print(f"{'package':<16}{'files':>7}{'lines':>9}")
    for k in sorted(per):
        print(f"{k:<16}{per[k][0]:>7}{per[k][1]:>9}")
    print(f"{'total':<16}{len(files):>7}{sum(lines.values()):>9}")
    print("\nlargest files:")
    for p, n in sorted(lines.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {n:>5}  {p.relative_to(SRC)}")


def _module_name(p: pathlib.Path) -> str:
    """``glassgrad.ops.conv`` for ``src/glassgrad/ops/conv.py`` (packages keep ``.__init__``)."""
    return ".".join(p.relative_to(SRC).with_suffix("").parts)


MODULES = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _target(name: str) -> str:
    """The module file an import of ``name`` executes last: the module, or a package's
    ``__init__``."""
    if name in MODULES:
        return name
    if name + ".__init__" in MODULES:
        return name + ".__init__"
    return name


def module_imports(mod: str, path: pathlib.Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every glassgrad import in ``path``, at the top or
    inside a function (``from pkg import sub`` imports the module ``pkg.sub``). Also used
    by ``tests/test_import_layers.py``."""
    is_pkg = mod.endswith(".__init__")
    pkg = mod[: -len(".__init__")] if is_pkg else mod.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, _target(a.name)) for a in node.names
                    if a.name.split(".")[0] == "glassgrad"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                frm = ".".join(base + ([node.module] if node.module else []))
            else:
                frm = node.module or ""
            if frm.split(".")[0] != "glassgrad":
                continue
            for a in node.names:
                sub = f"{frm}.{a.name}"
                is_mod = sub in MODULES or sub + ".__init__" in MODULES
                out.append((node.lineno, _target(sub if is_mod else frm)))
    return out


def _node(mod: str) -> str:
    """A node of the import graph: the subpackage of a dotted module name, or the
    top-level module itself (``tensor``, ``backend``, ...); ``glassgrad`` for the package."""
    parts = mod.removesuffix(".__init__").split(".")
    return parts[1] if len(parts) > 1 else "glassgrad"


def imports() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, p in MODULES.items():
        here = _node(mod)
        for _, t in module_imports(mod, p):
            other = _node(t)
            if other != here:
                graph[here].add(other)
    width = max(map(len, graph)) if graph else 0
    for k in sorted(graph):
        print(f"{k:<{width}} -> {', '.join(sorted(graph[k]))}")


def path() -> None:
    sys.path.insert(0, str(SRC))
    import glassgrad as gg
    from glassgrad import nn
    from glassgrad.nn import functional as F

    gg.manual_seed(0)
    layer = nn.Linear(4, 3)
    x = gg.randn(2, 4)
    y = gg.tensor([0, 2])
    seen: dict[str, list[str]] = {}
    root = str(PKG)

    def prof(frame, event, arg):  # noqa: ANN001, ARG001
        if event == "call":
            f = frame.f_code.co_filename
            if f.startswith(root):
                names = seen.setdefault(f, [])
                if frame.f_code.co_name not in names:
                    names.append(frame.f_code.co_name)

    sys.setprofile(prof)
    try:
        loss = F.cross_entropy(layer(x), y)
        loss.backward()
    finally:
        sys.setprofile(None)
    print("nn.Linear(4, 3)(x) -> F.cross_entropy(., y) -> loss.backward():")
    for f, names in seen.items():
        print(f"  {pathlib.Path(f).relative_to(SRC)}: {', '.join(names)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", action="store_true")
    ap.add_argument("--imports", action="store_true")
    ap.add_argument("--path", action="store_true")
    a = ap.parse_args()
    every = not (a.sizes or a.imports or a.path)
    if every or a.sizes:
        sizes()
    if every or a.imports:
        print("\nimports between packages (anywhere in a file):")
        imports()
    if every or a.path:
        print()
        path()


if __name__ == "__main__":
    main()
