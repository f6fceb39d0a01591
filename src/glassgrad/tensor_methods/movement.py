"""The shape and movement methods of :class:`~glassgrad.tensor.Tensor` (a mixin): ``flatten``,
``unflatten``, ``permute``/``transpose``/``t``, ``expand``, ``squeeze``/``unsqueeze``,
``repeat``/``tile``/``repeat_interleave``, ``flip``, ``roll``, ``split``/``chunk``/``unbind``,
``pad_nd``, ``unfold_windows`` and ``contiguous``/``is_contiguous``. The view ops mark their
outputs ``_strided`` (see ``Tensor.__slots__``); ``view``/``reshape`` themselves stay in
``tensor.py``."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Sequence

from .. import dtypes as _dt
from ..backend import np
from ..ops import movement as M
from ..ops._util import dim_int, norm_axis, norm_dim, op_error, pick, shape_tuple
from ._common import _T, _PyInt

if TYPE_CHECKING:
    from ..tensor import Tensor


def cat(tensors: Sequence[Tensor], dim: int = 0, *, axis: Any = None) -> Tensor:
    """``glassgrad.cat`` (imported when called: ``tensor.py`` imports this module)."""
    from ..tensor import cat as _cat

    return _cat(tensors, dim, axis=axis)


class MovementMethods:
    """The movement methods of ``Tensor`` (a mixin; see the module docstring)."""

    __slots__ = ()

    def contiguous(self, memory_format: Any = None) -> Tensor:
        """``self`` when its elements are in row-major order, else a row-major copy in the
        graph. ``memory_format`` is checked and accepted (see :class:`glassgrad.memory_format`):
        the copy is row-major whatever the tag."""
        _dt.check_memory_format("contiguous", memory_format)
        if self.is_contiguous():
            return self
        return M.Clone.apply(self)

    def is_contiguous(self, memory_format: Any = None) -> bool:
        """False for a view (a transpose, an expand, a slice) whose elements are not in
        row-major order, as in PyTorch; with ``memory_format=gg.channels_last`` (4-D) or
        ``channels_last_3d`` (5-D), whether the elements are in (N, spatial…, C) order."""
        _dt.check_memory_format("is_contiguous", memory_format)
        if memory_format is _dt.channels_last or memory_format is _dt.channels_last_3d:
            nd = 4 if memory_format is _dt.channels_last else 5
            a = self.array
            return a.ndim == nd and bool(
                a.transpose(0, *range(2, nd), 1).flags["C_CONTIGUOUS"])
        return not getattr(self, "_strided", False) or bool(
            self.array.flags["C_CONTIGUOUS"])

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        s = norm_dim(start_dim, self.ndim, "flatten", "start_dim")
        e = norm_dim(end_dim, self.ndim, "flatten", "end_dim")
        if self.ndim == 0:
            return self.reshape(1)
        if s > e:
            raise op_error("flatten", f"start_dim {start_dim} comes after end_dim {end_dim} "
                           f"(shape {tuple(self.shape)})")
        shp = self.shape[:s] + (-1,) + self.shape[e + 1 :]
        if self.array.size == 0:
            n = 1
            for k in self.shape[s : e + 1]:
                n *= k
            shp = self.shape[:s] + (n,) + self.shape[e + 1 :]
        return self.reshape(shp)

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        d = norm_dim(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1 :])

    def permute(self, *dims: Any) -> Tensor:
        if not dims:
            raise op_error("permute", "missing the argument 'dims'", TypeError)
        dims = shape_tuple(dims, "permute", "dims")
        if len(dims) != self.ndim:
            raise op_error("permute", f"dims {dims} are not a permutation of 0..{self.ndim - 1} "
                           f"for a tensor of shape {tuple(self.shape)}")
        perm = tuple(norm_dim(d, self.ndim, "permute", "dims") for d in dims)
        if perm == tuple(range(self.ndim)):
            return self
        out = M.Permute.apply(self, perm)
        out._strided = True
        return out

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        nd = self.ndim
        a = norm_dim(dim0, nd, "transpose")
        b = norm_dim(dim1, nd, "transpose")
        if nd == 0:
            return self
        perm = list(range(nd))
        perm[a], perm[b] = perm[b], perm[a]
        return self.permute(tuple(perm))

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise op_error("t", f"expects a tensor with <= 2 dimensions, got {tuple(self.shape)}")
        return self.T

    def expand(self, *shape: Any) -> Tensor:
        if not shape:
            raise op_error("expand", "missing the argument 'size'", TypeError)
        shp = shape_tuple(shape, "expand")
        nd = len(shp)
        if nd < self.ndim:
            raise op_error("expand", f"cannot expand shape {tuple(self.shape)} to {shp}: the "
                           "target has fewer dimensions")
        if builtins.any(s == -1 for s in shp[: nd - self.ndim]):
            raise op_error("expand", f"cannot expand shape {tuple(self.shape)} to {shp}: -1 is "
                           "not allowed in a new leading dimension")
        full = tuple(
            self.shape[i - (nd - self.ndim)] if s == -1 else s for i, s in enumerate(shp)
        )
        if full == self.shape:
            return self
        out = M.Expand.apply(self, full)
        out._strided = True
        return out

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    broadcast_to = expand

    def squeeze(self, dim: Any = None, *, axis: Any = None) -> Tensor:
        d = pick(dim, axis)
        if d is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dims = norm_axis(d, self.ndim, "squeeze") or ()
        return self.reshape(tuple(s for i, s in enumerate(self.shape)
                                  if not (i in dims and s == 1)))

    def unsqueeze(self, dim: int) -> Tensor:
        d = norm_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile the tensor (PyTorch's ``repeat``; NumPy calls it ``tile``)."""
        reps = shape_tuple(sizes, "repeat", "repeats")
        if len(reps) < self.ndim:
            raise op_error("repeat", f"number of repeat dims ({len(reps)}) can not be smaller "
                           f"than the number of tensor dims ({self.ndim})")
        x = self.reshape((1,) * (len(reps) - self.ndim) + self.shape)
        return M.Tile.apply(x, reps)

    def tile(self, *reps: Any) -> Tensor:
        r = shape_tuple(reps, "tile", "dims")
        r = (1,) * (self.ndim - len(r)) + r
        return self.repeat(*r)

    def repeat_interleave(self, repeats: int, dim: Any = None) -> Tensor:
        """Repeat each element ``repeats`` times along ``dim`` (flattened when ``dim`` is None)."""
        if isinstance(repeats, _T()):
            if repeats.array.size != 1:
                raise op_error("repeat_interleave", "a different repeat count per element "
                               f"(repeats of shape {tuple(repeats.shape)}) is not supported; "
                               "pass one int", NotImplementedError)
            repeats = int(repeats.item())
        elif not isinstance(repeats, (_PyInt, np.integer)):
            raise op_error("repeat_interleave", f"repeats must be one int, got {repeats!r}",
                           NotImplementedError if isinstance(repeats, (list, tuple)) else TypeError)
        if repeats < 0:
            raise op_error("repeat_interleave", f"repeats must be non-negative, got {repeats}")
        if dim is None:
            return M.RepeatInterleave.apply(self.flatten(), int(repeats), 0)
        return M.RepeatInterleave.apply(self, int(repeats), norm_dim(dim, self.ndim,
                                                                     "repeat_interleave"))

    def flip(self, *dims: Any) -> Tensor:
        ax = norm_axis(shape_tuple(dims, "flip", "dims"), self.ndim, "flip", "dims")
        return M.Flip.apply(self, ax)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple:
        if self.ndim == 0:
            raise op_error("split", "expects at least a 1-dimensional tensor", RuntimeError)
        d = norm_dim(dim, self.ndim, "split")
        n = self.shape[d]
        if not isinstance(split_size_or_sections, (list, tuple)):
            s = dim_int(split_size_or_sections, "split", "split_size_or_sections")
            if s < 0 or (s == 0 and n):
                raise op_error("split", f"split_size must be positive, got {s}")
            sizes = [s] * (n // s) + ([n % s] if n % s else []) if s else [0]
        else:
            sizes = [dim_int(v, "split", "split_size_or_sections") for v in split_size_or_sections]
            if builtins.any(v < 0 for v in sizes):
                raise op_error("split", f"sizes {sizes} must not be negative")
            if not sizes and n == 0:
                return ()  # no sections of an empty dim: no pieces (as PyTorch)
            if builtins.sum(sizes) != n:
                raise op_error("split", f"sizes {sizes} do not add up to {n} (dim {d} of shape "
                               f"{tuple(self.shape)})")
        if not sizes:
            sizes = [0]
        out = M.Split.apply(self, tuple(sizes), d)
        out = out if isinstance(out, tuple) else (out,)
        for o in out:
            o._version = self._version  # the pieces are views of self's memory
            o._strided = True
        return out

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        if self.ndim == 0:
            raise op_error("chunk", "expects at least a 1-dimensional tensor", RuntimeError)
        d = norm_dim(dim, self.ndim, "chunk")
        chunks = dim_int(chunks, "chunk", "chunks")
        if chunks <= 0:
            raise op_error("chunk", f"number of chunks must be positive, got {chunks}")
        n = self.shape[d]
        if n == 0:  # an empty dim: `chunks` empty pieces (as PyTorch)
            return self.split([0] * chunks, d)
        s = max(-(-n // chunks), 1)
        return self.split(s, d)

    def unbind(self, dim: int = 0) -> tuple:
        if self.ndim == 0:
            raise op_error("unbind", "dimension specified as 0 but tensor has no dimensions",
                           IndexError)
        d = norm_dim(dim, self.ndim, "unbind")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def pad_nd(self, pad_width: Sequence[tuple], value: float = 0.0) -> Tensor:
        """NumPy-style constant padding: ``((before, after), ...)`` per axis."""
        pw = tuple((int(a), int(b)) for a, b in pad_width)
        if builtins.all(a == 0 and b == 0 for a, b in pw):
            return self
        if builtins.any(a < 0 or b < 0 for a, b in pw):
            raise op_error("pad", f"negative padding {pw} is not supported")
        return M.Pad.apply(self, pw, value)

    def unfold_windows(self, window: Sequence[int], stride: Sequence[int] | None = None,
                       dilation: Sequence[int] | None = None) -> Tensor:
        """Sliding windows over the last ``len(window)`` axes, as a view:
        ``(..., H, W) -> (..., OH, OW, kh, kw)``."""
        k = len(window)
        if self.ndim < k:
            raise op_error("sliding_window", f"window {tuple(window)} needs at least {k} "
                           f"dimensions, got shape {tuple(self.shape)}")
        stride = tuple(stride) if stride is not None else (1,) * k
        dilation = tuple(dilation) if dilation is not None else (1,) * k
        if len(stride) != k or len(dilation) != k or builtins.any(
                int(v) <= 0 for v in tuple(window) + stride + dilation):
            raise op_error("sliding_window", f"window {tuple(window)}, stride {stride} and "
                           f"dilation {dilation} must be {k} positive integers each")
        return M.SlidingWindow.apply(self, tuple(window), stride, dilation)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        """Shift elements along ``dims`` by ``shifts``, wrapping around (``np.roll``);
        without ``dims`` the flattened tensor is rolled and reshaped back."""
        if dims is None:
            if not isinstance(shifts, _PyInt):
                raise op_error("roll", "without dims, shifts must be one int", TypeError)
            return self.reshape(-1).roll(shifts, 0).reshape(self.shape)
        sh = (shifts,) if isinstance(shifts, _PyInt) else tuple(shifts)
        ds = (dims,) if isinstance(dims, _PyInt) else tuple(dims)
        if len(sh) != len(ds):
            raise op_error("roll", f"shifts {sh} and dims {ds} must have the same length")
        out = self
        for k, d in zip(sh, ds):
            d = norm_dim(d, self.ndim, "roll")
            n = self.shape[d]
            k = k % n if n else 0
            if k:
                pre = (slice(None),) * d
                out = cat([out[pre + (slice(n - k, n),)], out[pre + (slice(0, n - k),)]], d)
        return out
