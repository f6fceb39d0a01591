"""Reading ``torch.save`` zip archives without unpickling: a pickle-opcode parser.

A ``torch.save`` file (PyTorch 1.6 and later) is a zip archive holding ``<prefix>/data.pkl``,
a pickle of the saved object in which every tensor is a call
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and every storage is
a *persistent id* ``('storage', torch.FloatStorage, key, location, numel)`` whose bytes are
the member ``<prefix>/data/<key>``.

Why not ``pickle.Unpickler`` with a restricted ``find_class``? Because that still runs the
pickle virtual machine with Python's own semantics: ``REDUCE`` calls whatever is on the
stack, ``BUILD`` calls ``__setstate__``, ``INST``/``OBJ``/``NEWOBJ`` instantiate classes, and
the safety of the whole rests on one hook never letting anything dangerous through. This
module does not use :mod:`pickle` at all. It walks the opcodes with
:func:`pickletools.genops` (which only decodes them) and interprets a small subset itself:

* data opcodes (ints, floats, strings, bytes, ``None``/``True``/``False``, tuples, lists,
  dicts, the memo, marks);
* ``GLOBAL``/``STACK_GLOBAL`` only for an explicit list of names, which become inert
  markers — nothing is imported: ``collections.OrderedDict``,
  ``torch._utils._rebuild_tensor_v2``, ``torch._utils._rebuild_parameter`` and the typed
  storage names ``torch.FloatStorage`` etc.;
* ``REDUCE`` only on those markers, with the argument shapes PyTorch writes;
* ``BUILD`` only on an ``OrderedDict`` (PyTorch's state-dict ``_metadata``, which is dropped);
* ``BINPERSID`` only for ``('storage', <storage marker>, key, location, numel)``.

Every other opcode or global is refused with a :class:`CheckpointError` naming it (for
example a whole pickled ``nn.Module``, or a crafted file that would call ``os.system``),
before anything further is read. Tensor views are checked against their storage's size
before a NumPy view is made, and every storage is read with the archive checks of
:mod:`glassgrad._checkpoint_io` (declared sizes, total size limit, CRC).
"""

from __future__ import annotations

import pickletools
import zipfile
from typing import Any

import numpy as np

from ._checkpoint_io import CheckpointError, read_member

__all__ = ["read_torch_archive", "MAX_PICKLE_BYTES"]

#: the largest ``data.pkl`` accepted (the pickle holds structure only, not tensor data)
MAX_PICKLE_BYTES = 64 * 2**20

_STORAGES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2", "LongStorage": "i8",
    "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "b1", "ComplexFloatStorage": "c8", "ComplexDoubleStorage": "c16",
    "UInt16Storage": "u2", "UInt32Storage": "u4", "UInt64Storage": "u8",
}
_NO_NUMPY = ("BFloat16Storage", "QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage",
             "QUInt2x4Storage", "ComplexHalfStorage")


class _Global:
    """An allowed global: an inert marker, never imported or called."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


class _Storage:
    __slots__ = ("arr", "key")

    def __init__(self, arr: np.ndarray, key: str) -> None:
        self.arr, self.key = arr, key


class _ODict(dict):
    """``OrderedDict()`` from the pickle (plain dicts keep insertion order)."""


_MARK = object()
_ALLOWED_GLOBALS = {("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
                    ("torch._utils", "_rebuild_parameter")}
_DATA_OPS = {"NONE", "NEWTRUE", "NEWFALSE", "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1",
             "LONG4", "FLOAT", "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE",
             "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES",
             "BINBYTES8"}


def _global(module: Any, name: Any, err: Any) -> _Global:
    if not isinstance(module, str) or not isinstance(name, str):
        raise err("a STACK_GLOBAL with non-string operands")
    if (module, name) in _ALLOWED_GLOBALS:
        return _Global(name)
    if module == "torch" and name in _STORAGES:
        return _Global(name)
    if module == "torch" and name in _NO_NUMPY:
        raise err(f"a tensor stored as torch.{name}, which has no NumPy dtype; convert it in PyTorch "
                  "first (e.g. t.float())")
    raise err(f"it refers to {module}.{name}; glassgrad reads only tensors and plain containers "
              "(dict/OrderedDict/list/tuple, numbers, strings) from a torch.save file and never "
              "imports or calls anything it names. A pickled nn.Module or other object cannot be "
              "read: save its state_dict() in PyTorch")


def _rebuild_tensor(args: tuple, err: Any, budget: list) -> Any:
    from .tensor import Tensor

    if len(args) not in (6, 7) or not isinstance(args[0], _Storage):
        raise err("a _rebuild_tensor_v2 call with unexpected arguments")
    storage, offset, size, stride, requires_grad = args[:5]
    ints = (offset,) + tuple(size if isinstance(size, tuple) else ()) + tuple(
        stride if isinstance(stride, tuple) else ())
    if (not isinstance(size, tuple) or not isinstance(stride, tuple) or len(size) != len(stride)
            or len(size) > 64 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                         for v in ints)
            or not isinstance(requires_grad, bool)):
        raise err("a tensor with an invalid offset, size or stride")
    base = storage.arr
    n = 1
    for s in size:
        n *= s
    budget[0] -= n * base.itemsize
    if budget[0] < 0:
        raise err(f"its tensors (one of size {size} with stride {stride}) add up to more than "
                  "max_bytes; nothing was loaded (pass a larger max_bytes= if the file is trusted)")
    if n:
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= base.size:
            raise err(f"a tensor of size {size} (stride {stride}, offset {offset}) that reaches past the "
                      f"end of its storage {storage.key!r} ({base.size} elements)")
        isz = base.itemsize
        view = np.lib.stride_tricks.as_strided(base[offset:], shape=size,
                                               strides=tuple(st * isz for st in stride), writeable=False)
        arr = np.array(view, order="C")
    else:
        arr = np.zeros(size, dtype=base.dtype)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    t = Tensor._make(arr, False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def read_torch_archive(zf: zipfile.ZipFile, members: dict, pkl: str, name: str, max_bytes: int) -> Any:
    """Read the object of a ``torch.save`` zip archive (see the module docstring)."""
    def err(why: str) -> CheckpointError:
        return CheckpointError(f"load: {name} is a PyTorch checkpoint that glassgrad will not read: {why}. "
                               "Nothing from the file was executed.")

    prefix = pkl[: -len("data.pkl")]
    zi = members[pkl]
    if zi.file_size > MAX_PICKLE_BYTES:
        raise err(f"its pickle declares {zi.file_size} bytes, more than MAX_PICKLE_BYTES={MAX_PICKLE_BYTES}")
    data = read_member(zf, zi, f"load: {name}: member {pkl!r}").tobytes()
    order = "<"
    if prefix + "byteorder" in members:
        bo = read_member(zf, members[prefix + "byteorder"], f"load: {name}: byteorder").tobytes().strip()
        if bo not in (b"little", b"big"):
            raise err(f"an unknown byte order {bo[:20]!r}")
        order = "<" if bo == b"little" else ">"
    storages: dict[str, _Storage] = {}
    budget = [max_bytes]  # bytes of tensor data still allowed (views with stride 0 can inflate)

    def storage(pid: Any) -> _Storage:
        if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
                or not isinstance(pid[1], _Global) or pid[1].name not in _STORAGES
                or not isinstance(pid[2], str) or not isinstance(pid[4], int) or pid[4] < 0):
            raise err(f"a persistent id {pid!r:.80} that is not a tensor storage")
        key = pid[2]
        if key in storages:
            return storages[key]
        member = prefix + "data/" + key
        if member not in members:
            raise err(f"storage {key!r} is missing from the archive")
        dt = np.dtype(order + _STORAGES[pid[1].name]) if pid[1].name != "BoolStorage" else np.dtype("?")
        zi = members[member]
        if zi.file_size != pid[4] * dt.itemsize:
            raise err(f"storage {key!r} declares {pid[4]} elements of {dt} but its member holds "
                      f"{zi.file_size} bytes")
        raw = read_member(zf, zi, f"load: {name}: storage {member!r}")
        st = _Storage(raw != 0 if dt.kind == "b" else raw.view(dt), key)
        storages[key] = st
        return st

    stack: list = []
    memo: dict = {}
    try:
        ops = pickletools.genops(data)
        for op, arg, pos in ops:
            nm = op.name
            if nm in _DATA_OPS:
                stack.append(True if nm == "NEWTRUE" else False if nm == "NEWFALSE" else arg)
            elif nm in ("PROTO", "FRAME"):
                pass
            elif nm == "STOP":
                break
            elif nm == "MARK":
                stack.append(_MARK)
            elif nm == "EMPTY_DICT":
                stack.append({})
            elif nm == "EMPTY_LIST":
                stack.append([])
            elif nm == "EMPTY_TUPLE":
                stack.append(())
            elif nm in ("TUPLE1", "TUPLE2", "TUPLE3"):
                k = int(nm[-1])
                items = tuple(stack[-k:])
                if len(items) != k or any(v is _MARK for v in items):
                    raise err(f"a malformed pickle ({nm} at byte {pos})")
                del stack[-k:]
                stack.append(items)
            elif nm in ("TUPLE", "LIST", "DICT", "APPENDS", "SETITEMS"):
                i = _last_mark(stack)
                if i < 0:
                    raise err(f"a malformed pickle ({nm} without MARK at byte {pos})")
                items = stack[i + 1:]
                del stack[i:]
                if nm == "TUPLE":
                    stack.append(tuple(items))
                elif nm == "LIST":
                    stack.append(list(items))
                elif nm == "APPENDS":
                    if not stack or not isinstance(stack[-1], list):
                        raise err(f"APPENDS on a non-list at byte {pos}")
                    stack[-1].extend(items)
                else:
                    if len(items) % 2:
                        raise err(f"a malformed pickle (odd {nm} at byte {pos})")
                    target = {} if nm == "DICT" else (stack[-1] if stack else None)
                    if not isinstance(target, dict):
                        raise err(f"SETITEMS on a non-dict at byte {pos}")
                    for a, b in zip(items[::2], items[1::2]):
                        target[_key(a, err)] = b
                    if nm == "DICT":
                        stack.append(target)
            elif nm == "APPEND":
                v = stack.pop()
                if not stack or not isinstance(stack[-1], list):
                    raise err(f"APPEND on a non-list at byte {pos}")
                stack[-1].append(v)
            elif nm == "SETITEM":
                v, k = stack.pop(), stack.pop()
                if not stack or not isinstance(stack[-1], dict):
                    raise err(f"SETITEM on a non-dict at byte {pos}")
                stack[-1][_key(k, err)] = v
            elif nm in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif nm == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif nm in ("GET", "BINGET", "LONG_BINGET"):
                if arg not in memo:
                    raise err(f"a malformed pickle (memo key {arg} unset at byte {pos})")
                stack.append(memo[arg])
            elif nm == "POP":
                stack.pop()
            elif nm == "GLOBAL":
                mod, _, attr = str(arg).partition(" ")
                stack.append(_global(mod, attr, err))
            elif nm == "STACK_GLOBAL":
                attr, mod = stack.pop(), stack.pop()
                stack.append(_global(mod, attr, err))
            elif nm == "BINPERSID":
                stack.append(storage(stack.pop()))
            elif nm == "REDUCE":
                args, fn = stack.pop(), stack.pop()
                stack.append(_reduce(fn, args, err, budget))
            elif nm == "BUILD":
                state = stack.pop()
                if not stack or type(stack[-1]) is not _ODict or not isinstance(state, dict):
                    raise err(f"a BUILD (object state) on {type(stack[-1]).__name__ if stack else 'nothing'}"
                              f" at byte {pos}; only OrderedDict metadata is accepted")
            else:
                raise err(f"the pickle opcode {nm} at byte {pos}, which a file of tensors and plain "
                          "containers does not need")
        else:
            raise err("the pickle has no STOP opcode (truncated)")
    except CheckpointError:
        raise
    except (IndexError, KeyError) as e:
        raise err(f"a malformed pickle (stack underflow or bad memo: {type(e).__name__})") from None
    except Exception as e:  # genops: ValueError on a truncated or unknown opcode
        raise err(f"a damaged pickle ({type(e).__name__}: {e})") from None
    if len(stack) != 1 or any(v is _MARK for v in stack):
        raise err("a malformed pickle (the stack does not end with one object)")
    return _plain(stack[0], err)


def _last_mark(stack: list) -> int:
    for i in range(len(stack) - 1, -1, -1):
        if stack[i] is _MARK:
            return i
    return -1


def _key(k: Any, err: Any) -> Any:
    if k is None or isinstance(k, (str, int, float, bool, tuple)):
        try:
            hash(k)
        except TypeError:
            raise err("a dict key that is not hashable") from None
        return k
    raise err(f"a dict key of type {type(k).__name__}")


def _reduce(fn: Any, args: Any, err: Any, budget: list) -> Any:
    if not isinstance(fn, _Global) or not isinstance(args, tuple):
        raise err(f"a call (REDUCE) of {fn!r:.60}; only tensor rebuilds and OrderedDict are accepted")
    if fn.name == "OrderedDict":
        if args not in ((), ([],)):
            raise err("an OrderedDict call with arguments")
        return _ODict()
    if fn.name == "_rebuild_tensor_v2":
        return _rebuild_tensor(args, err, budget)
    if fn.name == "_rebuild_parameter":
        from .tensor import Tensor

        if len(args) != 3 or not isinstance(args[0], Tensor) or not isinstance(args[1], bool):
            raise err("a _rebuild_parameter call with unexpected arguments")
        t = args[0]
        if args[1]:
            t.requires_grad_(True)
        return t
    raise err(f"a call of {fn.name} with REDUCE")  # a storage marker called


def _plain(obj: Any, err: Any) -> Any:
    """Replace the internal markers by plain values (refusing leftovers such as a bare storage)."""
    seen: dict[int, Any] = {}

    def walk(o: Any) -> Any:
        if isinstance(o, (_Global, _Storage)) or o is _MARK:
            raise err(f"a bare {o!r:.40} outside a tensor")
        if isinstance(o, dict):
            if id(o) in seen:
                return seen[id(o)]
            out: dict = {}
            seen[id(o)] = out
            for k, v in o.items():
                out[k] = walk(v)
            return out
        if isinstance(o, list):
            if id(o) in seen:
                return seen[id(o)]
            lst: list = []
            seen[id(o)] = lst
            lst.extend(walk(v) for v in o)
            return lst
        if isinstance(o, tuple):
            return tuple(walk(v) for v in o)
        return o

    try:
        return walk(obj)
    except RecursionError:
        raise err("an object nested too deeply") from None
