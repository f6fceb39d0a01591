"""Top-level math functions (``gg.exp(x)``, ``gg.matmul(a, b)``, ...), PyTorch style."""

from __future__ import annotations

from typing import Any

from .backend import np, xp_of
from .ops._util import op_error
from .tensor import Tensor, cat, stack
from .tensor_methods._common import where

__all__ = [
    "exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "erf",
    "clamp", "clip", "maximum", "minimum", "where", "sum", "mean", "var", "std", "amax", "amin",
    "max", "min", "argmax", "argmin", "logsumexp", "softmax", "log_softmax", "reshape",
    "flatten", "permute", "transpose", "swapaxes", "squeeze", "unsqueeze", "expand",
    "broadcast_to", "matmul", "mm", "bmm", "dot", "outer", "cat", "concatenate", "stack",
    "split", "chunk", "gather", "take_along_dim", "one_hot", "pow", "neg", "sign", "square",
    "flip", "tile", "repeat_interleave", "pad", "isnan", "isinf", "isfinite", "numel",
    "is_tensor", "allclose", "equal", "unbind", "norm", "cumsum", "cumprod", "prod", "sort",
    "argsort", "topk", "tril", "triu", "expm1", "exp2", "log2", "log10", "tan", "sinh", "cosh",
    "asin", "acos", "atan", "arcsin", "arccos", "arctan", "atan2", "arctan2", "hypot",
    "logaddexp", "fmod", "remainder", "floor", "ceil", "trunc", "round", "frac", "einsum",
    "narrow", "index_select", "roll", "diagonal", "diag", "scatter_add", "index_add",
    "meshgrid", "cdist", "inverse", "det", "slogdet",
]


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, e.g. ``einsum('ij,jk->ik', a, b)`` (a matrix product),
    ``einsum('bhqd,bhkd->bhqk', q, k)`` (attention scores), ``einsum('ii->i', a)`` (a
    diagonal); ``...`` broadcasts leading axes. Operands may also come as one list. One
    graph node; its backward is again an einsum per operand
    (``docs/derivations/linalg.md``). All operands need one dtype."""
    from .ops._util import op_error
    from .ops.linalg import Einsum

    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise op_error("einsum", "needs at least one operand")
    ts = [_t(o) for o in operands]
    dts = {t.dtype for t in ts}
    if len(dts) > 1:
        raise op_error("einsum", "all operands must have the same dtype, got "
                       + ", ".join(str(t.dtype) for t in ts) + " (cast with .to(dtype))",
                       TypeError)
    return Einsum.apply(str(equation), *ts)


def inverse(x): return _t(x).inverse()
def det(x): return _t(x).det()
def slogdet(x): return _t(x).slogdet()
def narrow(x, dim, start, length): return _t(x).narrow(dim, start, length)
def index_select(x, dim, index): return _t(x).index_select(dim, index)
def roll(x, shifts, dims=None): return _t(x).roll(shifts, dims)
def diagonal(x, offset=0, dim1=0, dim2=1): return _t(x).diagonal(offset, dim1, dim2)
# (no top-level trace: gg.trace is the glass-box backward tracer; use x.trace())
def diag(x, diagonal=0): return _t(x).diag(diagonal)
def scatter_add(x, dim, index, src): return _t(x).scatter_add(dim, index, src)
def index_add(x, dim, index, source, *, alpha=1): return _t(x).index_add(dim, index, source, alpha=alpha)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors (``indexing='ij'``: matrix, ``'xy'``: Cartesian,
    the first two axes swapped), as broadcast views; gradients sum back."""
    from .ops._util import op_error

    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [_t(t) for t in tensors]
    if indexing not in ("ij", "xy"):
        raise op_error("meshgrid", f"indexing must be 'ij' or 'xy', got {indexing!r}")
    if any(t.ndim > 1 for t in ts):
        raise op_error("meshgrid", "expects 0-d or 1-D tensors, got shapes "
                       + ", ".join(str(tuple(t.shape)) for t in ts))
    ts = [t.reshape(-1) for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    grids = [t.reshape(tuple(-1 if i == k else 1 for i in range(n))).expand(shape)
             for k, t in enumerate(ts)]
    if indexing == "xy" and n >= 2:  # built for (y, x, ...): hand them back as (x, y, ...)
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cdist(x1: Any, x2: Any, p: float = 2.0) -> Tensor:
    """Pairwise p-norm distances between the rows of ``x1 (…, P, M)`` and ``x2 (…, R, M)``:
    ``(…, P, R)``. Gradient 0 where a distance is 0 (as PyTorch)."""
    a, b = _t(x1), _t(x2)
    return (a.unsqueeze(-2) - b.unsqueeze(-3)).norm(p, dim=-1)


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x): return _t(x).exp()
def log(x): return _t(x).log()
def log1p(x): return _t(x).log1p()
def sqrt(x): return _t(x).sqrt()
def abs(x): return _t(x).abs()  # noqa: A001
def sin(x): return _t(x).sin()
def cos(x): return _t(x).cos()
def tanh(x): return _t(x).tanh()
def sigmoid(x): return _t(x).sigmoid()
def relu(x): return _t(x).relu()
def erf(x): return _t(x).erf()
def sign(x): return _t(x).sign()
def expm1(x): return _t(x).expm1()
def exp2(x): return _t(x).exp2()
def log2(x): return _t(x).log2()
def log10(x): return _t(x).log10()
def tan(x): return _t(x).tan()
def sinh(x): return _t(x).sinh()
def cosh(x): return _t(x).cosh()
def asin(x): return _t(x).asin()
def acos(x): return _t(x).acos()
def atan(x): return _t(x).atan()
arcsin, arccos, arctan = asin, acos, atan
def atan2(a, b): return _t(a).atan2(b)
arctan2 = atan2
def hypot(a, b): return _t(a).hypot(b)
def logaddexp(a, b): return _t(a).logaddexp(b)
def fmod(a, b): return _t(a).fmod(b)
def remainder(a, b): return _t(a).remainder(b)
def floor(x): return _t(x).floor()
def ceil(x): return _t(x).ceil()
def trunc(x): return _t(x).trunc()
def round(x, decimals=0): return _t(x).round(decimals)  # noqa: A001
def frac(x): return _t(x).frac()
def square(x): return _t(x).square()
def neg(x): return -_t(x)
def pow(x, e): return _t(x) ** e  # noqa: A001
def clamp(x, min=None, max=None): return _t(x).clamp(min, max)  # noqa: A002
clip = clamp
def maximum(a, b): return _t(a).maximum(b)
def minimum(a, b): return _t(a).minimum(b)
def sum(x, dim=None, keepdim=False, **kw): return _t(x).sum(dim, keepdim, **kw)  # noqa: A001
def mean(x, dim=None, keepdim=False, **kw): return _t(x).mean(dim, keepdim, **kw)
def var(x, dim=None, **kw): return _t(x).var(dim, **kw)
def std(x, dim=None, **kw): return _t(x).std(dim, **kw)
def amax(x, dim=None, keepdim=False, **kw): return _t(x).amax(dim, keepdim, **kw)
def amin(x, dim=None, keepdim=False, **kw): return _t(x).amin(dim, keepdim, **kw)
def max(x, dim=None, keepdim=False, **kw): return _t(x).max(dim, keepdim, **kw)  # noqa: A001
def min(x, dim=None, keepdim=False, **kw): return _t(x).min(dim, keepdim, **kw)  # noqa: A001
def cumsum(x, dim=None, **kw): return _t(x).cumsum(dim, **kw)
def cumprod(x, dim=None, **kw): return _t(x).cumprod(dim, **kw)
def prod(x, dim=None, keepdim=False, **kw): return _t(x).prod(dim, keepdim, **kw)
def sort(x, dim=-1, descending=False, stable=False): return _t(x).sort(dim, descending, stable)
def argsort(x, dim=-1, descending=False, stable=False):
    return _t(x).argsort(dim, descending, stable)
def topk(x, k, dim=-1, largest=True, sorted=True): return _t(x).topk(k, dim, largest, sorted)  # noqa: A002
def tril(x, diagonal=0): return _t(x).tril(diagonal)
def triu(x, diagonal=0): return _t(x).triu(diagonal)
def argmax(x, dim=None, keepdim=False, **kw): return _t(x).argmax(dim, keepdim, **kw)
def argmin(x, dim=None, keepdim=False, **kw): return _t(x).argmin(dim, keepdim, **kw)
def logsumexp(x, dim=None, keepdim=False, **kw): return _t(x).logsumexp(dim, keepdim, **kw)
def softmax(x, dim=None, **kw): return _t(x).softmax(dim, **kw)
def log_softmax(x, dim=None, **kw): return _t(x).log_softmax(dim, **kw)
def reshape(x, *shape): return _t(x).reshape(*shape)
def flatten(x, start_dim=0, end_dim=-1): return _t(x).flatten(start_dim, end_dim)
def permute(x, *dims): return _t(x).permute(*dims)
def transpose(x, dim0=-2, dim1=-1): return _t(x).transpose(dim0, dim1)
swapaxes = transpose
def squeeze(x, dim=None): return _t(x).squeeze(dim)
def unsqueeze(x, dim): return _t(x).unsqueeze(dim)
def expand(x, *shape): return _t(x).expand(*shape)
def broadcast_to(x, shape): return _t(x).expand(shape)
def matmul(a, b): return _t(a) @ b
def mm(a, b): return _t(a).mm(b)
def bmm(a, b): return _t(a).bmm(b)
def dot(a, b): return _t(a).dot(b)
def outer(a, b): return _t(a).outer(_t(b))
concatenate = cat
def split(x, split_size_or_sections, dim=0): return _t(x).split(split_size_or_sections, dim)
def chunk(x, chunks, dim=0): return _t(x).chunk(chunks, dim)
def unbind(x, dim=0): return _t(x).unbind(dim)
def gather(x, dim, index): return _t(x).gather(dim, index)
def take_along_dim(x, indices, dim): return _t(x).gather(dim, indices)
def flip(x, dims): return _t(x).flip(dims)
def tile(x, reps): return _t(x).tile(reps)
def repeat_interleave(x, repeats, dim=None): return _t(x).repeat_interleave(repeats, dim)
def isnan(x): return _t(x).isnan()
def isinf(x): return _t(x).isinf()
def isfinite(x): return _t(x).isfinite()
def numel(x): return _t(x).numel()
def is_tensor(x): return isinstance(x, Tensor)
def allclose(a, b, rtol=1e-5, atol=1e-8): return _t(a).allclose(b, rtol, atol)
def equal(a, b): return _t(a).equal(_t(b))
def norm(x, p=2, dim=None, keepdim=False): return _t(x).norm(p, dim, keepdim)


def pad(x: Tensor, pad: tuple, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch-style padding: ``pad = (left, right, top, bottom, ...)`` from the last axis
    backwards (``mode='constant'`` only)."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} (only 'constant' is implemented)")
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be even, got {len(pad)}")
    x = _t(x)
    n = len(pad) // 2
    if n > x.ndim:
        raise ValueError(f"pad: {n} dims of padding for a tensor of {x.ndim} dims")
    widths = [(0, 0)] * x.ndim
    for i in range(n):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return x.pad_nd(widths, value)


def one_hot(indices: Any, num_classes: int = -1) -> Any:
    """``one_hot(y, C)[..., c] = 1 if y == c`` as int64 (like ``F.one_hot``); no grad."""
    y = indices.array if isinstance(indices, Tensor) else np.asarray(indices)
    if y.dtype.kind not in "iu":
        raise op_error("one_hot", f"expected an integer tensor of class indices, got {y.dtype}",
                       TypeError)
    xp = xp_of(y)
    if num_classes < 0:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise op_error("one_hot", f"class indices must be in [0, {num_classes}), got values in "
                       f"[{int(y.min())}, {int(y.max())}]")
    out = (y[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor(out)
