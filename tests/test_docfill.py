"""``glassgrad._docfill.fill_doc``: shared docstring entries filled in place of their
placeholder lines, indented as the placeholder."""

from __future__ import annotations

import inspect

import pytest

from glassgrad._docfill import fill_doc


def test_fills_its_lines_indented_as_they_stand():
    entry = "x : int\n    The input.\n\n    More."

    @fill_doc({"params": entry})
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


def test_a_list_of_names_and_a_callable_source():
    @fill_doc(lambda name: f"{name} : float\n    The {name}.")
    class C:
        """C.

            {a, b}
        """

    assert inspect.cleandoc(C.__doc__) == "C.\n\na : float\n    The a.\nb : float\n    The b."


def test_unknown_names_and_missing_docstrings():
    with pytest.raises(KeyError, match="nope"):
        @fill_doc({"a": "A"})
        def f() -> None:
            """{nope}"""

    def g() -> None:
        pass

    assert fill_doc({"a": "A"})(g) is g and g.__doc__ is None
    assert fill_doc({})(lambda: None).__doc__ is None
