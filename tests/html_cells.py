"""A test helper: the text of an HTML page's table cells, row by row (for the HTML views'
tests under tests/viz/ and tests/integration/)."""

from __future__ import annotations

from html.parser import HTMLParser


class Cells(HTMLParser):
    """Collects the text of every <td>/<th> by row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def cells(html: str) -> Cells:
    p = Cells()
    p.feed(html)
    return p
