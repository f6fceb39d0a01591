"""Print options of tensors (``gg.set_printoptions``), read by ``Tensor.__repr__``."""

from __future__ import annotations

from typing import Any

DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 75,
            "sci_mode": None}
OPTIONS: dict = dict(DEFAULTS)
_PROFILES = {"default": DEFAULTS,
             "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
             "full": {"precision": 4, "threshold": 2 ** 63 - 1, "edgeitems": 3,
                      "linewidth": 80}}


def set_printoptions(precision: int | None = None, threshold: int | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """How tensors print, as ``torch.set_printoptions``: digits after the point,
    the element count above which the middle is summarized, the items kept at each edge,
    the line width, a ``profile`` (``'default'``, ``'short'``, ``'full'``) and
    ``sci_mode`` (True: always scientific, False: never, None: automatic)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of "
                             f"{', '.join(_PROFILES)}, got {profile!r}")
        OPTIONS.update(_PROFILES[profile])
    for k, v in (("precision", precision), ("threshold", threshold),
                 ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"set_printoptions: {k} must be a non-negative int, got {v!r}")
            OPTIONS[k] = v
    OPTIONS["sci_mode"] = sci_mode


def array2string_kwargs() -> dict[str, Any]:
    kw = {k: OPTIONS[k] for k in ("precision", "threshold", "edgeitems")}
    kw["max_line_width"] = OPTIONS["linewidth"]
    if OPTIONS["sci_mode"] is not None:
        kw["floatmode"] = "maxprec"
        p = OPTIONS["precision"]
        sci = OPTIONS["sci_mode"]
        kw["formatter"] = {"float_kind": (lambda v: f"{v:.{p}e}") if sci
                           else (lambda v: f"{v:.{p}f}")}
    return kw
