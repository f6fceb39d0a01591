"""HTML views for notebooks (``_repr_html_``) and self-contained trace pages: see
:mod:`glassgrad._html`, where they are written (below ``tensor``, which uses them)."""

from .._html import module_html, tensor_html, trace_html, trace_page

__all__ = ["tensor_html", "module_html", "trace_html", "trace_page"]
