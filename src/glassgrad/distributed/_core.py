"""The process group and the collectives (see the package docstring)."""

from __future__ import annotations

import atexit
import datetime
import enum
import os
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..tensor import Tensor

__all__ = ["DistBackendError", "ReduceOp", "Work", "init_process_group", "destroy_process_group",
           "is_available", "is_mpi_available", "is_initialized", "get_rank", "get_world_size",
           "get_backend", "barrier", "broadcast", "all_reduce", "all_gather", "reduce_scatter"]

DEFAULT_TIMEOUT_S = 1800.0   # PyTorch's default for its CPU backends: 30 minutes

_INSTALL = ("install MPI for Python and an MPI library with pip install 'glassgrad[distributed]' "
            "(mpi4py and the mpich wheel)")

# the environment variables MPI launchers (mpiexec of MPICH or Open MPI, Slurm's srun) set
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "HYDRA_CONTROL_FD")


class DistBackendError(RuntimeError):
    """A collective did not complete: another rank died, hangs, or stopped calling
    collectives (raised after the process group's ``timeout``)."""


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` and :func:`reduce_scatter` combine the ranks' tensors."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MAX = "max"
    MIN = "min"

    def __repr__(self) -> str:
        return f"ReduceOp.{self.name}"


# dtypes the collectives accept (MPI has a datatype for each); the index is sent in checks
_DTYPES = [np.dtype(t) for t in ("float32", "float64", "int8", "int16", "int32", "int64", "uint8")]


_SIG_LEN = 5   # numbers in the signature _agree compares (see _signature)


@dataclass(eq=False, slots=True)
class _Group:
    """The default process group: the communicator and what the collectives keep about it."""

    comm: Any
    rank: int
    size: int
    timeout: float
    backend: str
    check: bool = True
    broken: bool = field(default=False, init=False)
    # (shape, dtype, extra) -> the signature vector sent by _agree (see there)
    sigs: dict[tuple, tuple[np.ndarray, bytes]] = field(default_factory=dict, init=False)
    sig_out: np.ndarray = field(init=False)   # where _agree receives the MAX
    MPI: Any = field(init=False)
    MAX: Any = field(init=False)
    # keyed by the op's value: hashing an Enum member runs Python code (~0.3 us a call)
    ops: dict = field(init=False)

    def __post_init__(self) -> None:
        self.sig_out = np.empty(2 * _SIG_LEN, np.int64)
        self.MPI = _mpi() if self.size > 1 else None
        self.MAX = self.MPI.MAX if self.size > 1 else None
        self.ops = {op._value_: _mpi_op(op) for op in ReduceOp} if self.size > 1 else {}


_GROUP: _Group | None = None
# callables told about the communication DDP does (see glassgrad.glassbox.trace)
COMM_OBSERVERS: list[Callable[[dict], None]] = []
_EXIT_HOOKED = False


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"glassgrad.distributed: MPI is not available ({e}); {_INSTALL}") from None
    return MPI


def is_mpi_available() -> bool:
    """True when ``mpi4py`` (and so an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_available() -> bool:
    """True: the package is always importable (the MPI backend needs :func:`is_mpi_available`)."""
    return True


def is_initialized() -> bool:
    """Whether :func:`init_process_group` was called (and not destroyed since)."""
    return _GROUP is not None


def _group(name: str) -> _Group:
    if _GROUP is None:
        raise RuntimeError(f"{name}: the default process group has not been initialized; call "
                           f"glassgrad.distributed.init_process_group() first")
    return _GROUP


def _timeout_seconds(name: str, timeout: Any) -> float:
    if timeout is None:
        env = os.environ.get("GLASSGRAD_DIST_TIMEOUT")
        if env is None:
            return DEFAULT_TIMEOUT_S
        try:
            timeout = float(env)
        except ValueError:
            raise ValueError(f"{name}: GLASSGRAD_DIST_TIMEOUT must be a number of seconds, got "
                             f"{env!r}") from None
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"{name}: timeout must be a positive datetime.timedelta or number of "
                         f"seconds, got {timeout!r}")
    return float(timeout)


def init_process_group(backend: str | None = "mpi", init_method: str | None = None,
                       timeout: datetime.timedelta | float | None = None, world_size: int = -1,
                       rank: int = -1, store: Any = None, group_name: str = "") -> None:
    """Join the processes started by the MPI launcher into the default group.

    Parameters
    ----------
    backend : str
        ``"mpi"`` (or None): the only backend. Rank and world size come from the launcher;
        a process started without one is rank 0 of a world of 1.
    init_method, store, group_name
        Accepted for PyTorch's signature; MPI needs no rendezvous (must be None / empty).
    timeout : datetime.timedelta or float, optional
        How long a collective may wait for the other ranks before raising
        :class:`DistBackendError` (default 30 minutes, or ``GLASSGRAD_DIST_TIMEOUT`` seconds).
        ``GLASSGRAD_DIST_CHECK=0`` in the environment turns off the comparison of the ranks'
        arguments before every collective (see :func:`_agree`).
    world_size, rank : int
        ``-1`` (default), or the values the launcher gives (checked).
    """
    global _GROUP, _EXIT_HOOKED
    name = "init_process_group"
    if _GROUP is not None:
        raise RuntimeError(f"{name}: the default process group is already initialized (call "
                           f"destroy_process_group() first)")
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"{name}: backend must be 'mpi' (glassgrad communicates through MPI), "
                         f"got {backend!r}")
    if init_method not in (None, "", "env://") or store is not None:
        raise ValueError(f"{name}: init_method and store are not used with MPI (the launcher, "
                         f"mpiexec or srun, connects the processes); leave them out")
    secs = _timeout_seconds(name, timeout)
    check = os.environ.get("GLASSGRAD_DIST_CHECK", "1").strip()
    if check not in ("0", "1"):
        raise ValueError(f"{name}: GLASSGRAD_DIST_CHECK must be 1 (compare the ranks' arguments "
                         f"before every collective, the default) or 0 (do not), got {check!r}")
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()
    r, w = comm.Get_rank(), comm.Get_size()
    if world_size not in (-1, None) and world_size != w:
        raise ValueError(f"{name}: world_size={world_size} but the launcher started {w} processes")
    if rank not in (-1, None) and rank != r:
        raise ValueError(f"{name}: rank={rank} but the launcher made this process rank {r}")
    _GROUP = _Group(comm, r, w, secs, "mpi", check == "1")
    if not _EXIT_HOOKED:
        atexit.register(_exit_if_broken)
        if w > 1:
            _install_abort_on_error()
        _EXIT_HOOKED = True


def _install_abort_on_error() -> None:
    """An uncaught exception on one rank aborts the whole job (after printing it): otherwise
    its exit would wait for ranks that wait for it (as ``python -m mpi4py`` does)."""
    prev = sys.excepthook

    def hook(tp: Any, value: Any, tb: Any) -> None:
        prev(tp, value, tb)
        g = _GROUP
        if g is not None and g.size > 1 and not issubclass(tp, KeyboardInterrupt):
            for s in (sys.stdout, sys.stderr):
                try:
                    s.flush()
                except Exception:  # pragma: no cover - closed stream
                    pass
            if g.broken:
                os._exit(1)
            _mpi().COMM_WORLD.Abort(1)

    sys.excepthook = hook


def _exit_if_broken() -> None:
    """After a timed-out collective MPI cannot shut down cleanly (its finalize would wait for
    the missing rank): leave at once, with a failure status."""
    g = _GROUP
    if g is not None and g.broken:
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:  # pragma: no cover - closed stream
                pass
        os._exit(1)


def destroy_process_group(group: Any = None) -> None:
    """Leave the default group (``is_initialized()`` is False again)."""
    global _GROUP
    _check_group("destroy_process_group", group)
    g = _group("destroy_process_group")
    if g.broken:
        return   # keep it: the exit handler must not finalize MPI
    try:
        g.comm.Free()
    finally:
        _GROUP = None


def get_rank(group: Any = None) -> int:
    """This process's rank, 0 ... world size - 1."""
    _check_group("get_rank", group)
    return _group("get_rank").rank


def get_world_size(group: Any = None) -> int:
    """The number of processes."""
    _check_group("get_world_size", group)
    return _group("get_world_size").size


def get_backend(group: Any = None) -> str:
    """``"mpi"``."""
    _check_group("get_backend", group)
    return _group("get_backend").backend


def _check_group(name: str, group: Any) -> None:
    if group is not None:
        raise ValueError(f"{name}: only the default group (group=None) is supported, got {group!r}")


# ------------------------------------------------------------------------------ waiting
class Work:
    """A collective in flight (``async_op=True``): ``wait()`` blocks until it is done, up to
    the group's timeout; ``is_completed()`` asks without blocking."""

    def __init__(self, req: Any, what: str, done: Callable[[], None] | None = None) -> None:
        self._req = req
        self._what = what
        self._done = done
        self._completed = req is None
        self.t_start = time.perf_counter()
        self.t_end: float | None = self.t_start if req is None else None
        if req is None and done is not None:
            done()
            self._done = None

    def is_completed(self) -> bool:
        if not self._completed and self._req.Test():
            self._finish()
        return self._completed

    def _finish(self) -> None:
        self._completed = True
        self.t_end = time.perf_counter()
        if self._done is not None:
            done, self._done = self._done, None
            done()

    def wait(self, timeout: datetime.timedelta | float | None = None) -> bool:
        if self._completed:
            return True
        g = _group(self._what)
        secs = g.timeout if timeout is None else _timeout_seconds(self._what, timeout)
        _wait_request(g, self._req, self._what, secs)
        self._finish()
        return True


# How a rank waits (MPI moves a non-blocking request forward only inside its calls, so a
# rank that sleeps stalls the transfer): it polls; after SPIN_ALONE_S it gives the CPU away
# between polls (sched_yield every YIELD_EVERY polls), so that on a machine with fewer free
# cores than ranks the rank it is waiting for can run; after SPIN_S it sleeps between polls
# (up to 1 ms), leaving the CPU to others during a long wait for a slow rank.
SPIN_ALONE_S = 5e-5
YIELD_EVERY = 16
SPIN_S = 1.0
_yield = getattr(os, "sched_yield", None) or (lambda: time.sleep(0))


def _wait_request(g: _Group, req: Any, what: str, secs: float) -> None:
    """``req.Test()`` until it completes (see :data:`SPIN_S`); past ``secs`` it raises."""
    if req.Test():
        return
    t0 = time.monotonic()
    deadline = t0 + secs
    spin_until = t0 + SPIN_S
    alone_until = t0 + SPIN_ALONE_S
    polite = False
    spins = 0
    pause = 2e-5
    while not req.Test():
        spins += 1
        if spins % YIELD_EVERY:
            continue
        if polite:
            _yield()
        now = time.monotonic()
        if now < spin_until:
            polite = now > alone_until
            continue
        if now > deadline:
            g.broken = True
            raise DistBackendError(
                f"{what}: did not complete within {secs:g} s on rank {g.rank} of {g.size}; another "
                f"rank has probably died or stopped calling collectives (the wait limit is "
                f"init_process_group(timeout=...))")
        time.sleep(pause)
        pause = min(pause * 1.5, 1e-3)


# ----------------------------------------------------------------------------- checks
def _array(name: str, arg: str, t: Any) -> np.ndarray:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: {arg} must be a glassgrad Tensor, got {type(t).__name__}")
    a = t.array
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: {arg} is on {t.device}; the MPI backend works on CPU tensors")
    return a


def _begin(name: str, group: Any, arg: str, t: Any) -> tuple[_Group, np.ndarray]:
    """The default group and the array of ``t`` (the collective's argument ``arg``), checked."""
    if group is not None:
        _check_group(name, group)
    return _GROUP or _group(name), _array(name, arg, t)


def _describe(a: np.ndarray) -> str:
    return f"{a.dtype} {tuple(a.shape)}"


_META_LEN = 16


def _meta(a: np.ndarray | None, extra: int, local_error: str | None) -> np.ndarray:
    m = np.full(_META_LEN, -1, np.int64)
    m[0] = 1 if local_error else 0
    m[1] = extra
    if a is not None:
        m[2] = _DTYPES.index(a.dtype) if a.dtype in _DTYPES else 99
        m[3] = a.ndim
        dims = list(a.shape)
        if len(dims) > _META_LEN - 5:   # fold the trailing dimensions into one number
            head = dims[:_META_LEN - 6]
            dims = head + [int(np.prod(dims[len(head):]))]
        m[4:4 + len(dims)] = dims
        m[_META_LEN - 1] = a.size
    return m


def _signature(a: np.ndarray | None, extra: int, local_error: str | None) -> tuple[np.ndarray, bytes]:
    """``[v, -v]`` for v = (invalid arguments?, dtype, extra, size, checksum of the shape): the
    element-wise MAX over the ranks equals it on every rank exactly when all agree."""
    v = np.zeros(_SIG_LEN, np.int64)
    v[0] = 1 if local_error else 0
    v[2] = extra
    if a is not None:
        v[1] = _DTYPES.index(a.dtype) if a.dtype in _DTYPES else 99
        v[3] = a.size
        v[4] = zlib.crc32(np.asarray(a.shape, np.int64).tobytes()) + (a.ndim << 32)
    sig = np.concatenate([v, -v])
    return sig, sig.tobytes()


def _agree(g: _Group, name: str, a: np.ndarray | None, extra: int = 0, extra_name: str = "",
           local_error: str | None = None) -> None:
    """All ranks compare (dtype, shape, ``extra``, whether their arguments were valid) before
    any data moves; every rank raises the same error when they differ, so that none is left
    waiting. The comparison is one all-reduce (MAX) of a 10-number signature, cached per
    (shape, dtype, extra); only when the signatures differ do the ranks all-gather the full
    descriptions to say who passed what."""
    key = None if local_error or a is None else (a.shape, a.dtype, extra)
    hit = g.sigs.get(key) if key is not None else None
    if hit is None and local_error is None and a is not None:
        local_error = _check_dtype(name, a)
    if g.size == 1 or not g.check:
        if local_error:   # (not checking: the other ranks wait until their timeout)
            raise ValueError(f"{name}: {local_error}")
        return
    if hit is None:
        hit = _signature(a, extra, local_error)
        if key is not None and len(g.sigs) < 4096:
            g.sigs[key] = hit
    sig, want = hit
    got = g.sig_out
    req = g.comm.Iallreduce(sig, got, op=g.MAX)
    if not req.Test():
        _wait_request(g, req, f"{name} (argument check)", g.timeout)
    if local_error or got.tobytes() != want:
        _explain(g, name, a, extra, extra_name, local_error)


def _explain(g: _Group, name: str, a: np.ndarray | None, extra: int, extra_name: str,
             local_error: str | None) -> None:
    """The ranks disagreed: gather every rank's description and raise (on every rank)."""
    mine = _meta(a, extra, local_error)
    allm = np.empty((g.size, _META_LEN), np.int64)
    _wait_request(g, g.comm.Iallgather(mine, allm), f"{name} (argument check)", g.timeout)
    if local_error:
        raise ValueError(f"{name}: {local_error}")
    bad = [int(r) for r in np.flatnonzero(allm[:, 0])]
    if bad:
        raise ValueError(f"{name}: rank(s) {bad} passed invalid arguments (see the error there)")
    rows = []
    for r in range(g.size):
        m = allm[r]
        dt = _DTYPES[m[2]] if 0 <= m[2] < len(_DTYPES) else "unsupported dtype"
        shape = tuple(int(d) for d in m[4:4 + min(int(m[3]), _META_LEN - 5)])
        s = f"rank {r}: {dt} {shape}"
        if extra_name:
            s += f", {extra_name}={int(m[1])}"
        rows.append(s)
    raise ValueError(f"{name}: the tensors must have the same dtype and shape on every rank"
                     f"{' (and the same ' + extra_name + ')' if extra_name else ''}; got "
                     + "; ".join(rows))


def _check_dtype(name: str, a: np.ndarray) -> str | None:
    if a.dtype not in _DTYPES:
        return (f"dtype {a.dtype} is not supported (use one of "
                f"{', '.join(str(d) for d in _DTYPES)})")
    return None


def _check_op(name: str, op: Any, a: np.ndarray) -> ReduceOp:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a ReduceOp (SUM, AVG, PRODUCT, MAX, MIN), got {op!r}")
    if op is _AVG and a.dtype.kind != "f":
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {a.dtype}")
    return op


def _mpi_op(op: ReduceOp) -> Any:
    MPI = _mpi()
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}[op]


# -------------------------------------------------------------------------- collectives
def _complete(g: _Group, req: Any, name: str, done: Callable[[], None] | None,
              async_op: bool) -> Work | None:
    """A :class:`Work` for ``async_op``; otherwise wait here (no Work: it costs microseconds
    that show on small tensors) and run ``done``."""
    if async_op:
        return Work(req, name, done)
    if req is not None and not req.Test():
        _wait_request(g, req, name, g.timeout)
    if done is not None:
        done()
    return None


def barrier(group: Any = None, async_op: bool = False) -> Work | None:
    """Wait until every rank has called ``barrier``."""
    _check_group("barrier", group)
    g = _group("barrier")
    return _complete(g, g.comm.Ibarrier() if g.size > 1 else None, "barrier", None, async_op)


def broadcast(tensor: Tensor, src: int = 0, group: Any = None, async_op: bool = False) -> Work | None:
    """Copy ``tensor`` of rank ``src`` into ``tensor`` on every other rank (in place)."""
    name = "broadcast"
    g, a = _begin(name, group, "tensor", tensor)
    err = None
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < g.size:
        err = f"src must be a rank in 0 ... {g.size - 1}, got {src!r}"
    _agree(g, name, a, int(src) if isinstance(src, (int, np.integer)) else -1, "src", err)
    return _start_broadcast(g, a, int(src), name, async_op)


def _start_broadcast(g: _Group, a: np.ndarray, src: int, name: str, async_op: bool) -> Work | None:
    if g.size == 1:
        return _complete(g, None, name, None, async_op)
    if a.flags.c_contiguous:
        return _complete(g, g.comm.Ibcast(a, root=src), name, None, async_op)
    buf = np.ascontiguousarray(a)
    return _complete(g, g.comm.Ibcast(buf, root=src), name, lambda: np.copyto(a, buf), async_op)


_OP_INDEX = {op._value_: i for i, op in enumerate(ReduceOp)}   # (by value: see _Group.ops)
_AVG = ReduceOp.AVG      # (a module global: ReduceOp.AVG is a slow attribute look-up)


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Combine ``tensor`` over all ranks with ``op``; every rank gets the result in place."""
    name = "all_reduce"
    g, a = _begin(name, group, "tensor", tensor)
    if op.__class__ is not ReduceOp or op is _AVG:
        op = _check_op(name, op, a)
    _agree(g, name, a, _OP_INDEX[op._value_], "op")
    return _start_all_reduce(g, a, op, name, async_op)


def _start_all_reduce(g: _Group, a: np.ndarray, op: ReduceOp, name: str, async_op: bool) -> Work | None:
    copied = not a.flags.c_contiguous
    buf = np.ascontiguousarray(a) if copied else a
    n = g.size
    done = None
    if op is _AVG or copied:
        def done() -> None:
            if op is _AVG:
                np.divide(buf, n, out=buf)
            if copied:
                np.copyto(a, buf)
    req = None if n == 1 else g.comm.Iallreduce(g.MPI.IN_PLACE, buf, op=g.ops[op._value_])
    return _complete(g, req, name, done, async_op)


def _per_rank_arrays(name: str, arg: str, tensors: Any, ref_name: str, ref: np.ndarray,
                     size: int, err: str | None) -> tuple[list[np.ndarray], str | None]:
    """The arrays of a list of one tensor per rank, each like ``ref``; ``err`` gets the first
    problem (reported on every rank by :func:`_agree`, so that none is left waiting)."""
    arrays: list[np.ndarray] = []
    if not isinstance(tensors, (list, tuple)) or len(tensors) != size:
        got = len(tensors) if isinstance(tensors, (list, tuple)) else repr(tensors)
        return arrays, err or f"{arg} must be a list of world size ({size}) tensors, got {got}"
    shape, dtype = ref.shape, ref.dtype
    for i, t in enumerate(tensors):
        x = _array(name, f"{arg}[{i}]", t)
        if x.shape != shape or (x.dtype is not dtype and x.dtype != dtype):
            err = err or (f"{arg}[{i}] is {_describe(x)}, {ref_name} is {_describe(ref)}; they "
                          f"must match")
        arrays.append(x)
    return arrays, err


def _rows_of_one_block(g: _Group, arrays: list[np.ndarray]) -> np.ndarray | None:
    """The arrays as the rows of the one C-contiguous array they are views of, when they are
    exactly its rows in order (``list(flat.unbind(0))``, ``flat.chunk(n)``): MPI then reads
    or writes them in place instead of through a copy. None otherwise."""
    a0 = arrays[0]
    base = a0.base
    n = len(arrays)
    if g.size == 1 or type(base) is not np.ndarray or base.size != n * a0.size or not a0.size:
        return None
    for x in arrays:
        if x.base is not base:
            return None
    if base.dtype != a0.dtype or not base.flags.c_contiguous or not a0.flags.c_contiguous:
        return None
    addr = g.MPI.Get_address
    start, step, strides = addr(base), a0.nbytes, a0.strides
    for i, x in enumerate(arrays):
        if x.strides != strides or addr(x) != start + i * step:
            return None
    return base.reshape((n,) + a0.shape)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Every rank's ``tensor`` into ``tensor_list[rank]`` on every rank."""
    name = "all_gather"
    g, a = _begin(name, group, "tensor", tensor)
    outs, err = _per_rank_arrays(name, "tensor_list", tensor_list, "tensor", a, g.size, None)
    _agree(g, name, a, 0, "", err)
    src = np.ascontiguousarray(a)
    block = _rows_of_one_block(g, outs) if outs else None
    done = None
    if block is None:
        block = np.empty((g.size,) + a.shape, a.dtype)

        def done() -> None:
            for o, part in zip(outs, block):
                np.copyto(o, part)

    if g.size == 1:
        block[0] = src
        req = None
    else:
        if done is None and np.may_share_memory(src, block):
            # the tensor is this rank's row (MPI's "in place"), or overlaps the rows: copy it
            addr = g.MPI.Get_address
            if src.strides == block.strides[1:] and addr(src) == addr(block[g.rank]):
                src = g.MPI.IN_PLACE
            else:
                src = src.copy()
        req = g.comm.Iallgather(src, block)
    return _complete(g, req, name, done, async_op)


def reduce_scatter(output: Tensor, input_list: Sequence[Tensor], op: ReduceOp = ReduceOp.SUM,
                   group: Any = None, async_op: bool = False) -> Work | None:
    """``output`` on rank ``r`` becomes ``input_list[r]`` combined over all ranks with ``op``."""
    name = "reduce_scatter"
    g, a = _begin(name, group, "output", output)
    if op.__class__ is not ReduceOp or op is _AVG:
        op = _check_op(name, op, a)
    ins, err = _per_rank_arrays(name, "input_list", input_list, "output", a, g.size, None)
    _agree(g, name, a, _OP_INDEX[op._value_], "op", err)
    send = _rows_of_one_block(g, ins) if ins else None
    if send is None:
        send = np.stack(ins)
    n = g.size
    direct = a.flags.c_contiguous and not np.may_share_memory(a, send)
    recv = a if direct else np.empty(a.shape, a.dtype)
    done = None
    if op is _AVG or recv is not a:
        def done() -> None:
            if op is _AVG:
                np.divide(recv, n, out=recv)
            if recv is not a:
                np.copyto(a, recv)
    if n == 1:
        np.copyto(recv, send[0])
        req = None
    else:
        req = g.comm.Ireduce_scatter_block(send, recv, op=g.ops[op._value_])
    return _complete(g, req, name, done, async_op)
