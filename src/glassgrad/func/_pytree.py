"""Nested tuples / lists / dicts of Tensors ("pytrees"), flattened to a list of leaves and
rebuilt — what lets ``grad`` take the gradient with respect to a whole parameter dict."""

from __future__ import annotations

from typing import Any, Callable


def flatten(tree: Any) -> tuple[list, Callable]:
    """``(leaves, rebuild)``: ``rebuild(new_leaves)`` puts new leaves in the same structure."""
    leaves: list = []

    def walk(t: Any) -> Any:
        if isinstance(t, dict):
            keys = list(t.keys())
            subs = [walk(t[k]) for k in keys]
            return lambda it: type(t)((k, s(it)) for k, s in zip(keys, subs)) \
                if type(t) is not dict else {k: s(it) for k, s in zip(keys, subs)}
        if isinstance(t, (tuple, list)):
            subs = [walk(v) for v in t]
            return lambda it: type(t)(s(it) for s in subs)
        leaves.append(t)
        return lambda it: next(it)

    build = walk(tree)
    return leaves, lambda new: build(iter(new))


def tree_map(fn: Callable, tree: Any) -> Any:
    leaves, rebuild = flatten(tree)
    return rebuild([fn(x) for x in leaves])
