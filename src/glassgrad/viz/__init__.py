"""Pictures: training curves, decision boundaries, digits, graphs of the computation.

matplotlib is an optional extra (``pip install glassgrad[plot]``); functions that need it
raise a clear error when it is missing. Graph drawing needs only Graphviz's ``dot``
program for SVG/PNG (DOT text always comes out).
"""

from .flow import compare_gradient_flow, plot_gradient_flow
from .graph import draw_graph
from .html import module_html, tensor_html, trace_html
from .plots import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_decision_boundary,
    plot_digits,
    plot_history,
    plot_projection,
    predict_proba,
    save_figure,
    svd_project,
)
