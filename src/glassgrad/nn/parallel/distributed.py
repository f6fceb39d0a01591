"""``DistributedDataParallel``: one model replica per process, gradients averaged over MPI.

How it works (the names are PyTorch's; read top to bottom):

1. **Wrap.** Every rank checks that the replicas have the same parameter shapes and dtypes,
   then rank 0's parameters and buffers are broadcast to the others, so that all replicas
   start equal.
2. **Buckets.** The parameters, in reverse order of ``parameters()`` (roughly the order in
   which the backward produces their gradients), are grouped into buckets of at most
   ``bucket_cap_mb`` megabytes, one flat buffer each.
3. **Backward.** Each parameter has a post-accumulate-grad hook: as soon as the backward has
   its complete gradient, the gradient is copied into its bucket; a full bucket starts a
   non-blocking ``MPI_Iallreduce`` at once, while the backward goes on computing the
   gradients of the layers below. Buckets start in index order on every rank (MPI needs
   the same order of collectives everywhere).
4. **Finish.** When the last bucket has started, the ranks wait for all of them (with the
   process group's deadline), divide by the world size and copy the averages back into
   ``.grad``. The optimizer step that follows is then the same on every rank.

``no_sync()`` skips 3-4 so that gradients accumulate locally; the first backward outside
it averages the accumulated gradients. With ``find_unused_parameters=True`` the forward
walks the graph from the outputs, the parameters it does not reach count as ready with
zero gradients, and a parameter no rank used keeps its ``.grad`` untouched.

Buffers (BatchNorm's running statistics) are broadcast from rank 0 before every forward in
training (``broadcast_buffers=True``, as PyTorch); batch statistics are each rank's own.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from typing import Any, Iterator, Sequence

import numpy as np

from ...autograd.engine import leaf_edges
from ...autograd.grad_mode import STATE
from ...distributed import _core as D
from ...tensor import Tensor
from ..module import Module
from .data_parallel import _check_devices

__all__ = ["DistributedDataParallel"]


def _broadcast_coalesced(g: Any, arrays: Sequence[np.ndarray], what: str) -> None:
    """Rank 0's ``arrays`` into everyone's, one flat message per dtype."""
    if g.size == 1 or not arrays:
        return
    by_dtype: dict[Any, list[np.ndarray]] = {}
    for a in arrays:
        by_dtype.setdefault(a.dtype, []).append(a)
    for dt, group in by_dtype.items():
        flat = np.concatenate([a.reshape(-1) for a in group]) if group else np.empty(0, dt)
        D.Work(g.comm.Ibcast(flat, root=0), what).wait()
        off = 0
        for a in group:
            a[...] = flat[off:off + a.size].reshape(a.shape)
            off += a.size


class _Bucket:
    __slots__ = ("index", "params", "offsets", "buf", "peer_buf", "ready", "work", "t_launch", "nbytes")

    def __init__(self, index: int, params: list[int], sizes: list[int], dtype: Any) -> None:
        self.index = index
        self.params = params
        self.offsets = list(np.cumsum([0] + sizes[:-1]))
        self.buf = np.zeros(sum(sizes), dtype)
        self.peer_buf: np.ndarray | None = None    # two ranks: the other rank's gradients
        self.nbytes = int(self.buf.nbytes)
        self.ready = 0
        self.work: D.Work | None = None
        self.t_launch = 0.0


class DistributedDataParallel(Module):
    """Data-parallel training over the processes of the default process group.

    Parameters
    ----------
    module : Module
        The replica on this rank (``.module``; ``state_dict`` keys get the prefix ``module.``).
    device_ids, output_device, dim
        As :class:`DataParallel` (CPU only).
    broadcast_buffers : bool
        Broadcast rank 0's buffers before every forward in training (default True).
    process_group
        None (the default group).
    bucket_cap_mb : float
        Largest bucket in megabytes (default 25, as PyTorch).
    find_unused_parameters : bool
        Walk the graph after each forward so that parameters it does not reach do not
        hold up the reduction.
    gradient_as_bucket_view, static_graph, init_sync
        PyTorch's options: the first two are accepted and have no effect here;
        ``init_sync=False`` skips the broadcast of rank 0's state at wrap time.
    """

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None,
                 output_device: Any = None, dim: int = 0, broadcast_buffers: bool = True,
                 process_group: Any = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 init_sync: bool = True) -> None:
        super().__init__()
        name = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise TypeError(f"{name}: module must be a glassgrad nn.Module, got {type(module).__name__}")
        _check_devices(name, device_ids, output_device, dim)
        D._check_group(name, process_group)
        g = D._group(name)
        if bucket_cap_mb is None:
            bucket_cap_mb = 25.0
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ValueError(f"{name}: bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        self.module = module
        self.device_ids: list = []
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.static_graph = bool(static_graph)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        seen: set[int] = set()
        params: list[Tensor] = []
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        object.__setattr__(self, "_params", params)
        self._verify_across_ranks(g, params)
        if init_sync:
            _broadcast_coalesced(g, [p.array for p in params]
                                 + [b.array for b in module.buffers()], f"{name} (initial broadcast)")
        self._build_buckets(params)
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._make_hook(i))
                              for i, p in enumerate(params)]
        self._expect_hooks = False
        self._marked = [False] * len(params)
        self._used: np.ndarray | None = None
        self._used_work: D.Work | None = None
        self._next_bucket = 0
        self._in_progress = False
        self._bwd_started = 0.0
        self.last_reduction: list[dict] = []   # per bucket, from the last synchronised backward
        self.last_wait_seconds = 0.0           # how long its end waited for the all-reduces

    # ------------------------------------------------------------------ setup
    def _verify_across_ranks(self, g: Any, params: list[Tensor]) -> None:
        desc = [(tuple(p.shape), str(p.array.dtype)) for p in params]
        h = np.array([len(params), zlib.crc32(repr(desc).encode())], np.int64)
        if g.size == 1:
            return
        allh = np.empty((g.size, 2), np.int64)
        D.Work(g.comm.Iallgather(h, allh), "DistributedDataParallel (parameter check)").wait()
        if (allh != allh[0]).any():
            bad = [int(r) for r in np.flatnonzero((allh != allh[0]).any(axis=1))]
            raise ValueError(f"DistributedDataParallel: the replicas differ: rank(s) {bad} have other "
                             f"parameter shapes or dtypes than rank 0 (this rank has {len(params)} "
                             f"parameters: {desc[:4]}{' ...' if len(desc) > 4 else ''}); every rank must "
                             f"build the same model")

    def _build_buckets(self, params: list[Tensor]) -> None:
        cap = int(self.bucket_cap_mb * 1024 * 1024)
        buckets: list[_Bucket] = []
        open_: dict[Any, tuple[list[int], list[int], int]] = {}
        order: list[tuple[Any, list[int], list[int]]] = []
        for i in reversed(range(len(params))):
            a = params[i].array
            dt = a.dtype
            cur = open_.get(dt)
            if cur is not None and cur[2] + a.nbytes > cap and cur[0]:
                order.append((dt, cur[0], cur[1]))
                cur = None
            if cur is None:
                cur = ([], [], 0)
            cur[0].append(i)
            cur[1].append(a.size)
            open_[dt] = (cur[0], cur[1], cur[2] + a.nbytes)
        for dt, (idx, sizes, _) in open_.items():
            if idx:
                order.append((dt, idx, sizes))
        # a bucket's place is that of its first parameter in the backward order
        order.sort(key=lambda b: -b[1][0])
        for k, (dt, idx, sizes) in enumerate(order):
            buckets.append(_Bucket(k, idx, sizes, dt))
        self._buckets = buckets
        self._where = {}
        for b in buckets:
            for pi, off in zip(b.params, b.offsets):
                self._where[pi] = (b, int(off))

    @property
    def bucket_sizes(self) -> list[int]:
        """Bytes of each bucket, in the order they are reduced."""
        return [b.nbytes for b in self._buckets]

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        self._expect_hooks = False
        if self._in_progress:
            self._in_progress = False
            raise RuntimeError(
                "DistributedDataParallel: expected to have finished reduction in the prior iteration "
                "before starting a new one: some parameters did not receive a gradient in the last "
                "backward. Pass find_unused_parameters=True, or make sure that every parameter takes "
                "part in computing the loss")
        g = D._group("DistributedDataParallel")
        if self.training and self.broadcast_buffers and self.require_forward_param_sync:
            bufs = [b.array for b in self.module.buffers()]
            if bufs:
                _broadcast_coalesced(g, bufs, "DistributedDataParallel (buffer broadcast)")
        out = self.module(*inputs, **kwargs)
        self._expect_hooks = bool(STATE.grad_enabled and self.require_backward_grad_sync)
        if self._expect_hooks:
            self._prepare_for_backward(out)
        return out

    def _prepare_for_backward(self, out: Any) -> None:
        for b in self._buckets:
            b.ready = 0
            b.work = None
        self._marked = [False] * len(self._params)
        self._next_bucket = 0
        self._used = None
        self._used_work = None
        self._bwd_started = 0.0
        outs = [t for t in _tensors(out) if t.requires_grad]
        if self.find_unused_parameters:
            reached = _reachable_leaves(outs)
            self._used = np.array([id(p) in reached for p in self._params], np.int32)
        # the first gradient reaching an output marks the start of the backward
        self._start_handles = [t.register_hook(self._on_backward_start) for t in outs
                               if t.grad_fn is not None]

    def _on_backward_start(self, grad: Any) -> None:
        if self._bwd_started:
            return
        self._bwd_started = time.perf_counter()
        self._in_progress = True
        if self._used is not None:
            g = D._group("DistributedDataParallel")
            self._global_used = self._used.copy()
            self._used_work = D.Work(g.comm.Iallreduce(D._mpi().IN_PLACE, self._global_used,
                                                       op=D._mpi().MAX) if g.size > 1 else None,
                                     "DistributedDataParallel (unused-parameter map)")
            for i in np.flatnonzero(self._used == 0):
                self._mark_ready(int(i), None)

    # ------------------------------------------------------------------ backward
    def _make_hook(self, i: int) -> Any:
        def hook(p: Tensor) -> None:
            if not self._expect_hooks:
                return
            if not self._bwd_started:
                self._on_backward_start(None)
            self._mark_ready(i, p)
        return hook

    def _mark_ready(self, i: int, p: Tensor | None) -> None:
        if self._marked[i]:
            raise RuntimeError(
                "DistributedDataParallel: a parameter was marked ready twice in one backward (a "
                "second backward through the same forward, or a parameter used in two forwards "
                "before one backward); call the wrapped model once per backward")
        self._marked[i] = True
        b, off = self._where[i]
        n = self._params[i].array.size
        if p is None or p.grad is None:
            b.buf[off:off + n] = 0
        else:
            b.buf[off:off + n] = p.grad.array.reshape(-1)
        b.ready += 1
        g = D._group("DistributedDataParallel")
        # start the full buckets, in order
        while self._next_bucket < len(self._buckets):
            nb = self._buckets[self._next_bucket]
            if nb.ready < len(nb.params):
                break
            nb.t_launch = time.perf_counter()
            req = _start_sum(g, nb) if g.size > 1 else None
            nb.work = D.Work(req, f"DistributedDataParallel (all_reduce of bucket {nb.index})")
            self._next_bucket += 1
        # let MPI progress the started ones while the backward goes on
        for bb in self._buckets[:self._next_bucket]:
            bb.work.is_completed()
        if self._next_bucket == len(self._buckets):
            self._finish(g)

    def _finish(self, g: Any) -> None:
        t_end = time.perf_counter()
        for b in self._buckets:
            b.work.wait()
        used = None
        if self._used_work is not None:
            self._used_work.wait()
            used = self._global_used
        self.last_wait_seconds = time.perf_counter() - t_end
        w = g.size
        report = []
        for b in self._buckets:
            if b.peer_buf is not None:
                np.add(b.buf, b.peer_buf, out=b.buf)    # (the other rank adds the same two)
            if w > 1:
                np.divide(b.buf, w, out=b.buf)
            for pi, off in zip(b.params, b.offsets):
                if used is not None and not used[pi]:
                    continue     # no rank used it: its .grad stays as it was
                p = self._params[pi]
                n = p.array.size
                avg = b.buf[off:off + n].reshape(p.array.shape)
                if p.grad is None:
                    p.grad = Tensor._make(avg.copy(), False)
                else:
                    p.grad.array[...] = avg
            done = b.work.t_end or t_end
            report.append({"bucket": b.index, "bytes": b.nbytes, "params": len(b.params),
                           "start": b.t_launch - self._bwd_started, "end": done - self._bwd_started,
                           "seconds": done - b.t_launch,
                           "overlap": max(0.0, min(done, t_end) - b.t_launch),
                           "backward_seconds": t_end - self._bwd_started})
        self.last_reduction = report
        self._in_progress = False
        self._expect_hooks = False
        for h in getattr(self, "_start_handles", ()):
            h()
        self._start_handles = []
        for ob in list(D.COMM_OBSERVERS):
            for ev in report:
                ob(dict(ev, kind="all_reduce", world_size=w))

    # ------------------------------------------------------------------ no_sync
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward passes accumulate gradients locally without communicating; the
        first synchronised backward after it averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old


_PAIR_TAG = 7301


def _start_sum(g: Any, b: _Bucket) -> Any:
    """Start summing bucket ``b`` over the ranks. On two ranks the ranks swap their buckets
    (one non-blocking send-receive) and each adds the other's after the wait: one exchange,
    where MPI's all-reduce of a large buffer takes two (a reduce-scatter, then an
    all-gather) and so makes the ranks meet twice. The same bytes travel; a + b == b + a in
    floating point, so both ranks get identical sums. Otherwise MPI's all-reduce."""
    if g.size == 2 and hasattr(g.comm, "Isendrecv"):
        if b.peer_buf is None:
            b.peer_buf = np.empty_like(b.buf)
        peer = 1 - g.rank
        return g.comm.Isendrecv(b.buf, peer, _PAIR_TAG, b.peer_buf, peer, _PAIR_TAG)
    b.peer_buf = None
    return g.comm.Iallreduce(g.MPI.IN_PLACE, b.buf, op=g.MPI.SUM)


def _tensors(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in _tensors(v)]
    if isinstance(out, (list, tuple)):
        return [t for v in out for t in _tensors(v)]
    return []


def _reachable_leaves(outs: list[Tensor]) -> set[int]:
    """ids of the leaf tensors the graph of ``outs`` reaches."""
    leaves = {id(t) for t in outs if t.grad_fn is None}
    leaves.update(id(u) for u in leaf_edges(t.grad_fn for t in outs if t.grad_fn is not None))
    return leaves
