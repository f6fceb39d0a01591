"""docs/glassbox.md: the README example runs and prints the table shown in the docs."""

from __future__ import annotations

import contextlib
import io
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "glassbox.md")


def _blocks(text: str, lang: str) -> list[str]:
    """Bodies of the ``` fenced blocks with info string ``lang`` (```` fences ignored)."""
    out, cur, cur_lang = [], None, None
    for line in text.splitlines():
        if line.startswith("````"):
            continue
        if line.startswith("```"):
            if cur is None:
                cur, cur_lang = [], line[3:].strip()
            else:
                if cur_lang == lang:
                    out.append("\n".join(cur) + "\n")
                cur = None
        elif cur is not None:
            cur.append(line)
    return out


def _tiny(tok: str) -> str:
    """Float-noise values (|x| < 1e-6, e.g. the mean of a gradient that is 0 in exact
    arithmetic) compare as "≈0"."""
    try:
        return "≈0" if abs(float(tok)) < 1e-6 else tok
    except ValueError:
        return tok


def _strip_times(table: str) -> list[list[str]]:
    """Table lines as tokens, without the time column and the timing summary."""
    out = []
    for line in table.strip().splitlines():
        line = re.sub(r"\s+\d+\.\d{3}$", "", line.rstrip())
        line = re.sub(r"[\d.]+ ms in backward", "… ms in backward", line)
        out.append([_tiny(t) for t in line.split()])
    return out


def test_readme_example_output_matches_docs():
    text = open(DOC, encoding="utf-8").read()
    section = text.split("## README section", 1)[1].split("\n## ", 1)[0]
    code = _blocks(section, "python")[0]
    shown = _blocks(section, "")[0]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README example", "exec"), {})
    assert _strip_times(buf.getvalue()) == _strip_times(shown)


def test_docs_images_exist_and_are_small():
    for name in ("trace.png", "vanishing.png"):
        path = os.path.join(ROOT, "docs", "img", name)
        assert os.path.getsize(path) < 200_000
        with open(path, "rb") as f:
            assert f.read(4) == b"\x89PNG"
