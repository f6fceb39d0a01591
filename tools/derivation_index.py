"""Write ``docs/derivations/INDEX.md``: every op, where its code is, where its backward is
derived, and which tests exercise it.

    python tools/derivation_index.py           # writes docs/derivations/INDEX.md
    python tools/derivation_index.py --check   # exit 1 when INDEX.md is stale or an op
                                               # lacks its formulas or derivation link

An op is a subclass of ``glassgrad.autograd.Function`` defined in glassgrad outside the
autograd machinery itself. Each one declares, beside its ``forward``/``backward``, the class
attributes ``formulas`` (the text ``gg.trace`` prints) and ``derivation``
(``docs/derivations/<chapter>.md#<anchor>``); :func:`problems` lists the ops where either is
missing, the chapter does not exist or the anchor is not one of its headings (GitHub-style
slugs).

Tests of an op: ``tests/`` mirrors ``src/glassgrad/`` (``tests/ops/test_conv.py`` tests
``src/glassgrad/ops/conv.py``; ``tests/ops/test_conv_*.py`` too), so the test files of the op's
own source file come first; then the other files under ``tests/`` that name its class, or call
a public function or method whose body applies it (directly or through private helpers of its
module) as ``.name(`` or as a quoted name (``"name"``: tests parametrized by name), found by
text search, most hits first; three are listed (``—`` when there are none; ops reached only
through an operator such as ``a - b`` or ``x[i]`` are not found this way). The output is
deterministic (sorted, no timestamps) so that a test can compare it with the committed file.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import pkgutil
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DOCS = ROOT / "docs" / "derivations"
OUT = DOCS / "INDEX.md"
TESTS = ROOT / "tests"
PREFIX = "docs/derivations/"
SHOWN_TESTS = 3


def _import_glassgrad():
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    import glassgrad

    return glassgrad


def op_classes() -> list[type]:
    """Every op class of glassgrad, sorted by module then source line."""
    gg = _import_glassgrad()
    from glassgrad.autograd.function import Function

    for m in pkgutil.walk_packages(gg.__path__, "glassgrad."):
        if m.name.endswith("__main__"):
            continue
        try:
            importlib.import_module(m.name)
        except ModuleNotFoundError as e:  # an optional dependency (sklearn, ...) is missing
            if (e.name or "").startswith("glassgrad"):
                raise
    seen: set = set()
    todo = list(Function.__subclasses__())
    while todo:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        todo.extend(c.__subclasses__())
    ops = [c for c in seen if c.__module__.startswith("glassgrad.")
           and not c.__module__.startswith("glassgrad.autograd")]
    return sorted(ops, key=lambda c: (c.__module__, _line(c), c.__qualname__))


def _line(cls: type) -> int:
    """The line of the class statement, or of the table row that made the class
    (``ops/_unary.py`` sets ``__firstlineno__``, as Python 3.13 does for a class statement)."""
    line = cls.__dict__.get("__firstlineno__")
    return line if line is not None else inspect.getsourcelines(cls)[1]


def _file(cls: type) -> str:
    return Path(inspect.getsourcefile(cls)).resolve().relative_to(ROOT).as_posix()


def anchors(path: Path) -> set[str]:
    """GitHub-style anchors of the Markdown headings of a file."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#+\s+(.*)", line)
        if m:
            t = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(t)
    return out


def problems(ops: list[type]) -> list[str]:
    """What is missing: formulas text, a derivation link, its file or its anchor."""
    out = []
    for c in ops:
        name = f"{c.__module__}.{c.__qualname__}"
        spec = c.__dict__.get("formulas")
        if not spec or not any(spec.get("grads", ())):
            out.append(f"{name}: no formulas text (class attribute `formulas`)")
        link = c.__dict__.get("derivation", "")
        if not link.startswith(PREFIX) or "#" not in link:
            out.append(f"{name}: no derivation link `{PREFIX}<chapter>.md#<anchor>` "
                       f"(class attribute `derivation`), got {link!r}")
            continue
        file, _, sec = link[len(PREFIX):].partition("#")
        path = DOCS / file
        if not path.is_file():
            out.append(f"{name}: derivation {link}: no file {path.relative_to(ROOT).as_posix()}")
        elif sec not in anchors(path):
            out.append(f"{name}: derivation {link}: no heading with anchor #{sec}")
    return out


_NOT_API = {"forward", "backward", "apply", "jvp", "vjp", "setup_context"}


def _appliers() -> dict[str, set[str]]:
    """class name -> public functions/methods in src whose body calls ``Class.apply``, directly
    or through private helpers (``_name``) of the same module."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / "glassgrad").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        applies: dict[str, set[str]] = {}  # function name -> op class names (this module)
        calls: dict[str, set[str]] = {}  # function name -> private helpers it calls
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fn.name in _NOT_API:
                continue
            for n in ast.walk(fn):
                if isinstance(n, ast.Attribute) and n.attr == "apply":
                    v = n.value  # Op.apply or module.Op.apply
                    name = v.id if isinstance(v, ast.Name) else getattr(v, "attr", None)
                    if name:
                        applies.setdefault(fn.name, set()).add(name)
                elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                      and n.func.id.startswith("_")):
                    calls.setdefault(fn.name, set()).add(n.func.id)
        for _ in range(3):  # helpers of helpers
            for fn, helpers in calls.items():
                for h in helpers:
                    applies.setdefault(fn, set()).update(applies.get(h, ()))
        for fn, ops in applies.items():
            if not fn.startswith("_"):
                for op in ops:
                    found.setdefault(op, set()).add(fn)
    return found


def _mirrors(cls: type) -> tuple[str, str]:
    """Where the tests of the op's source file live: ``src/glassgrad/ops/conv.py`` gives
    ``("ops/", "conv")`` (tests/ops/test_conv.py and tests/ops/test_conv_*.py)."""
    rel = Path(_file(cls)).relative_to("src/glassgrad")
    folder = "" if rel.parent == Path(".") else rel.parent.as_posix() + "/"
    return folder, rel.stem


def _tests_of(cls: type, appliers: dict[str, set[str]], counts: dict[str, tuple]) -> list[str]:
    """Test files (paths relative to tests/) of an op: its source file's own test files first
    (where they exercise it), then the others, most hits first."""
    folder, stem = _mirrors(cls)
    hits = []
    for name, (words, calls) in counts.items():
        n = words[cls.__name__] + sum(calls[f] for f in appliers.get(cls.__name__, ()))
        base = name[len(folder):] if name.startswith(folder) else ""
        own = "/" not in base and (base == f"test_{stem}.py" or base.startswith(f"test_{stem}_"))
        if n:
            hits.append((not own, -n, name))
    hits.sort()
    return [name for _, _, name in hits]


def render() -> str:
    ops = op_classes()
    appliers = _appliers()
    counts = {}
    for p in sorted(TESTS.rglob("test_*.py")):
        text = p.read_text(encoding="utf-8")
        calls = re.findall(r"\.(\w+)\(", text) + re.findall(r"[\"'](\w+)[\"']", text)
        counts[p.relative_to(TESTS).as_posix()] = (Counter(re.findall(r"\w+", text)), Counter(calls))
    lines = [
        "# Index of the derivations",
        "",
        "Every op of glassgrad: the class (its `forward`/`backward` and, beside them, the",
        "`formulas` text that `gg.trace` prints), the section of `docs/derivations/` that derives",
        "its backward, and the test files that exercise it: first those of its source file",
        "(`tests/` mirrors `src/glassgrad/`: `tests/ops/test_conv.py` tests `ops/conv.py`), then",
        "the other files naming the class or calling a function that applies it, most hits first",
        f"(at most {SHOWN_TESTS}; — where none).",
        "",
        "Generated by `python tools/derivation_index.py`; `tests/tools/test_derivation_index.py` fails",
        "when this file is stale or an op lacks its formulas or derivation link.",
        "",
        "| op | code | derivation | tests |",
        "|---|---|---|---|",
    ]
    for c in ops:
        file, line = _file(c), _line(c)
        link = c.__dict__.get("derivation", "")
        rel = link[len(PREFIX):] if link.startswith(PREFIX) else ""
        deriv = f"[{rel}]({rel})" if rel else "—"
        tests = _tests_of(c, appliers, counts)
        shown = ", ".join(f"[{t}](../../tests/{t})" for t in tests[:SHOWN_TESTS]) or "—"
        if len(tests) > SHOWN_TESTS:
            shown += f" (+{len(tests) - SHOWN_TESTS})"
        lines.append(f"| `{c.__qualname__}` | [{file}:{line}](../../{file}#L{line}) | {deriv} | {shown} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when INDEX.md is stale")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    bad = problems(op_classes())
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    text = render()
    if a.check:
        if not a.out.is_file() or a.out.read_text(encoding="utf-8") != text:
            print(f"{a.out} is stale: run python tools/derivation_index.py", file=sys.stderr)
            return 1
        return 0
    a.out.write_text(text, encoding="utf-8")
    print(f"wrote {a.out} ({len(op_classes())} ops)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
