"""Tests of ``glassgrad.ops._util`` helpers not covered through the ops that use them."""

from __future__ import annotations

import glassgrad.nn.functional as F
from glassgrad.ops._util import shared_doc


def test_shared_doc_fills_its_lines_indented_as_they_stand():
    entry = "x : int\n    The input.\n\n    More."

    @shared_doc(params=entry)
    def f(x: int) -> int:
        """Do it.

        Parameters
        ----------
        {params}
        y : int
            Not shared.
        """
        return x

    assert f.__doc__ == ("Do it.\n\n        Parameters\n        ----------\n"
                         "        x : int\n            The input.\n\n            More.\n"
                         "        y : int\n            Not shared.\n        ")


def test_the_adaptive_pools_document_their_shared_parameters():
    for fn in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        assert "{" not in fn.__doc__
        assert ("    input : Tensor\n        ``(N, C, H, W)`` or ``(C, H, W)``.\n"
                "    output_size : int or tuple\n        ``None`` in a tuple keeps that input size.\n"
                in fn.__doc__)
    assert "    return_indices : bool\n" in F.adaptive_max_pool2d.__doc__
