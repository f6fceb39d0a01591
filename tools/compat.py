"""Measure how much of PyTorch's public API glassgrad has; write ``docs/compat.md``.

    python tools/compat.py                 # writes docs/compat.md
    python tools/compat.py --out report.md # elsewhere
    python tools/compat.py --check         # exit 1 when docs/compat.md is stale

Needs PyTorch (the test oracle) installed. For each namespace pair below it lists torch's
public names, looks each up on the glassgrad side and sorts it into one of three bins:

* **present** — glassgrad has an attribute of that name;
* **out of scope** — absent, and matched by one of the explicit rules in ``OUT_OF_SCOPE``
  (CUDA-only, quantization, sparse, ...): things glassgrad does not mean to have;
* **absent** — absent and in scope ("not yet implemented").

Coverage is ``present / (present + absent)``: out-of-scope names are left out of the
denominator. For present callables it also compares parameters: every parameter of torch's
signature (read with :func:`inspect.signature`, or from the first lines of the docstring for
functions written in C, which is how torch documents them) that glassgrad's signature lacks
is listed. The output is deterministic (sorted, no timestamps) so that a test can compare
the committed report with a fresh run.

Public names of a module: its ``__all__`` when it has one (sub-modules skipped), else the
functions and classes of ``dir()`` not starting with ``_`` that torch itself defines (not
``typing.Optional``, not constants such as doc-string tables). For ``torch.Tensor``: every
attribute of ``dir(torch.Tensor)`` not starting with ``_`` (operators such as ``__add__``
are not counted).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "compat.md"

# (torch namespace, glassgrad modules to try in order). The first glassgrad module that
# imports is the counterpart (``torch.utils.data`` is ``glassgrad.data`` until a
# ``glassgrad.utils.data`` exists).
NAMESPACES: list[tuple[str, tuple[str, ...]]] = [
    ("torch", ("glassgrad",)),
    ("torch.Tensor", ("glassgrad.Tensor",)),
    ("torch.nn", ("glassgrad.nn",)),
    ("torch.nn.functional", ("glassgrad.nn.functional",)),
    ("torch.nn.init", ("glassgrad.nn.init",)),
    ("torch.optim", ("glassgrad.optim",)),
    ("torch.optim.lr_scheduler", ("glassgrad.optim.lr_scheduler",)),
    ("torch.utils.data", ("glassgrad.utils.data", "glassgrad.data")),
    ("torch.autograd", ("glassgrad.autograd",)),
    ("torch.func", ("glassgrad.func",)),
]

# ---------------------------------------------------------------------------------------
# Out-of-scope rules. A name absent from glassgrad is out of scope when it matches the
# first rule below (checked in order). ``names`` are exact names (``"ns:name"`` restricts
# one to one namespace); ``tokens`` match any ``_``-separated word of the name (lower
# case); ``patterns`` are regular expressions matched against the whole name.


@dataclass(frozen=True)
class Rule:
    category: str
    why: str
    names: frozenset = frozenset()
    tokens: frozenset = frozenset()
    patterns: tuple = ()

    def matches(self, ns: str, name: str) -> bool:
        if name in self.names or f"{ns}:{name}" in self.names:
            return True
        if self.tokens and any(t in self.tokens for t in name.lower().split("_") if t):
            return True
        return any(re.search(p, name) for p in self.patterns)


def _set(s: str) -> frozenset:
    return frozenset(s.split())


OUT_OF_SCOPE: list[Rule] = [
    Rule("CUDA / accelerator-specific",
         "kernels, streams, errors and settings of one accelerator or vendor library; "
         "glassgrad's GPU path is CuPy behind the same ops",
         names=_set("Stream Event StreamContext stream current_stream default_stream "
                    "get_device_module set_stream record_stream is_pinned pin_memory "
                    "OutOfMemoryError AcceleratorError is_meta grouped_mm scaled_mm "
                    "scaled_grouped_mm"),
         tokens=_set("cuda cudnn mps xpu mtia hip hpu ipu xla vulkan mkldnn miopen fbgemm "
                     "nnpack cufft cublas cusparse cusolver rocm mkl triton accelerator maia"),
         patterns=(r"^to_mkldnn",)),
    Rule("quantization",
         "quantized dtypes and kernels, observers, fake quantization",
         names=_set("int_repr dequantize qscheme is_quantized"),
         tokens=_set("q quant quantize quantized qparams qscheme"),
         patterns=(r"quantize", r"^fused_moving_avg", r"^q?u?int\d+x\d+$", r"^q(u)?int\d+$",
                   r"fake_quant")),
    Rule("sparse",
         "sparse layouts (COO, CSR, CSC, BSR, BSC), their accessors and sparse-dense products",
         names=_set("indices values coalesce is_coalesced to_dense dense_dim sparse_dim "
                    "crow_indices col_indices ccol_indices row_indices smm sspaddmm hspmm "
                    "saddmm spmm dsmm hsmm sparse_mask is_sparse is_sparse_csr "
                    "SparseAdam"),
         tokens=_set("sparse coo csr csc bsr bsc nnz")),
    Rule("named tensors",
         "dimension names (an experimental PyTorch feature)",
         names=_set("names refine_names rename rename_ align_to align_as has_names "
                    "align_tensors")),
    Rule("complex numbers",
         "complex dtypes and their accessors",
         names=_set("real imag conj conj_physical conj_physical_ resolve_conj resolve_neg "
                    "is_conj is_neg angle view_as_real view_as_complex polar complex "
                    "is_complex cfloat cdouble chalf"),
         patterns=(r"^complex\d*$", r"^view_as_(real|complex)")),
    Rule("removed / deprecated",
         "names PyTorch keeps only to raise an error or a deprecation warning pointing to "
         "their replacement",
         names=_set("eig symeig lstsq solve matrix_rank torch.nn:Container "
                    "torch.nn:NLLLoss2d set_default_tensor_type "
                    "torch.nn.init:constant torch.nn.init:dirac torch.nn.init:eye "
                    "torch.nn.init:kaiming_normal torch.nn.init:kaiming_uniform "
                    "torch.nn.init:normal torch.nn.init:orthogonal torch.nn.init:uniform "
                    "torch.nn.init:xavier_normal torch.nn.init:xavier_uniform "
                    "torch.nn.init:sparse")),
    Rule("AMP / low-precision dtypes",
         "automatic mixed precision, and dtypes NumPy has no arithmetic for (bfloat16, "
         "float8, sub-byte integers, bits)",
         names=_set("GradScaler bfloat16"),
         tokens=_set("autocast"),
         patterns=(r"^(float8_\w+|float4_\w+|bits\w+|u?int[1-7])$",)),
    Rule("distributed / JIT / compiler / internal",
         "TorchScript and its IR types, torch.compile, FX, export, symbolic shapes, the "
         "dispatcher, multiprocessing storage sharing, legacy typed tensors and storages, "
         "`*_copy` variants of view ops (for functionalizing compilers), ATen helpers of "
         "fused kernels and their backward passes, nested tensors, distributed training",
         names=_set("compile cond while_loop export script jit trace_module fork wait "
                    "share_memory_ is_shared storage untyped_storage storage_type set_ "
                    "is_set_to module_load classproperty typename "
                    "DisableTorchFunction DisableTorchFunctionSubclass Tag "
                    "ScriptFunction ScriptObject ScriptModule AggregationType AVG SUM "
                    "enforce_grad_layout_policy NestedIOFunction Variable "
                    "set_multithreading_enabled DFIterDataPipe IterDataPipe MapDataPipe "
                    "DataChunk functional_datapipe argument_validation runtime_validation "
                    "runtime_validation_disabled guaranteed_datapipes_determinism "
                    "non_deterministic DistributedSampler DataParallel SyncBatchNorm "
                    "TypedStorage UntypedStorage is_storage has_lapack has_openmp "
                    "has_spectral is_distributed nested_tensor as_nested_tensor is_nested "
                    "layout strided memory_format contiguous_format channels_last "
                    "channels_last_3d preserve_format resize_ resize_as_ resize_as_sparse_ "
                    "register_post_accumulate_grad_hook "
                    "AliasDb Argument ArgumentSpec BenchmarkConfig BenchmarkExecutionStats "
                    "Block BufferDict CallStack Capsule Code CompilationUnit "
                    "CompleteArgumentSpec ConcreteModuleType ConcreteModuleTypeBuilder "
                    "DeepCopyMemoTable DeserializationStorageContext DispatchKey "
                    "DispatchKeySet ErrorReport ExcludeDispatchKeyGuard ExecutionPlan "
                    "FatalError FileCheck FunctionSchema Future Gradient Graph "
                    "GraphExecutorState IODescriptor InferredType JITException "
                    "LiteScriptModule LockingLogger torch:ModuleDict Node NoopLogger "
                    "OperatorInfo torch:ParameterDict ScriptClass ScriptClassFunction "
                    "ScriptDict ScriptDictIterator ScriptDictKeyIterator ScriptList "
                    "ScriptListIterator ScriptMethod ScriptModuleSerializer "
                    "ScriptObjectProperty SerializationStorageContext StaticModule "
                    "ThroughputBenchmark TracingState Use Value PyTorchFileReader "
                    "PyTorchFileWriter import_ir_module import_ir_module_from_buffer "
                    "merge_type_from_type_comment parse_ir parse_schema parse_type_comment "
                    "unify_type_list ScalingType SwizzleType assert_int_or_pair "
                    "factory_kwargs swap_in_optimizer_params_and_state torch:Type "
                    "torch.autograd:variable "
                    "multi_head_attention_forward affine_grid_generator "
                    "batch_norm_backward_elemt batch_norm_backward_reduce batch_norm_elemt "
                    "batch_norm_gather_stats batch_norm_gather_stats_with_counts "
                    "batch_norm_stats batch_norm_update_stats"),
         tokens=_set("jit fx dynamo compiler onnx rpc dispatch torch_function nested"),
         patterns=(r"^[Ss]ym(_|[A-Z])", r"Storage$", r"^(Byte|Char|Short|Int|Long|Half|Float|"
                   r"Double|Bool|BFloat16|ComplexFloat|ComplexDouble)Tensor$",
                   r"torch_function", r"^unsafe_", r"DataPipe", r"^\w+Type$",
                   r"^(alias|as_strided|detach|diagonal|expand|narrow|permute|select|slice|"
                   r"split|split_with_sizes|squeeze|t|transpose|unbind|unfold|unsqueeze|"
                   r"view|values|indices|crow_indices|col_indices|row_indices|ccol_indices)"
                   r"_copy$", r"^native_")),
]

# Namespace label -> predicate picking the "layers" sub-count (a target is stated for it).
LAYERS = "torch.nn (layers: nn.Module subclasses)"

TARGETS = {
    "torch.Tensor": 85.0,
    LAYERS: 90.0,
    "torch.nn.functional": 90.0,
}

# ---------------------------------------------------------------------------------------
# Name discovery


def _public_names(obj: Any, torch_mod: Any) -> list[str]:
    if isinstance(obj, type):
        return sorted(n for n in dir(obj) if not n.startswith("_"))
    names = getattr(obj, "__all__", None)
    if names is None:
        names = [n for n in dir(obj) if not n.startswith("_")]
    out = []
    for n in names:
        if n.startswith("_"):
            continue
        v = getattr(obj, n, None)
        if isinstance(v, types.ModuleType):
            continue
        if not hasattr(obj, "__all__"):
            # no __all__: keep torch's own functions and classes only (not typing.Optional,
            # imported helpers, or constants such as doc-string tables)
            mod = getattr(v, "__module__", None) or ""
            if not callable(v) or not mod.startswith("torch") or mod.startswith("torch._jit"):
                continue
        out.append(n)
    return sorted(set(out))


def _resolve(path: str) -> Any:
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise ImportError(path)


def _gg_counterpart(candidates: tuple[str, ...]) -> tuple[str, Any]:
    for c in candidates:
        try:
            return c, _resolve(c)
        except (ImportError, AttributeError):
            continue
    return candidates[-1], None


def _has(obj: Any, name: str) -> bool:
    if obj is None:
        return False
    try:
        return getattr(obj, name, None) is not None or name in dir(obj)
    except Exception:  # a lazy attribute that fails to import counts as absent
        return False


# ---------------------------------------------------------------------------------------
# Signatures

_DOC_SIG = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\((.*)\)\s*(->.*)?$")


def _split_params(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


@dataclass
class Sig:
    positional: list[str] = field(default_factory=list)  # names, in order
    keyword_only: list[str] = field(default_factory=list)
    var_positional: bool = False
    var_keyword: bool = False

    @property
    def names(self) -> list[str]:
        return self.positional + self.keyword_only


def _sig_from_inspect(fn: Any, drop_self: bool) -> Sig | None:
    try:
        s = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    out = Sig()
    params = list(s.parameters.values())
    if drop_self and params and params[0].name in ("self", "cls"):
        params = params[1:]
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            out.var_positional = True
        elif p.kind is p.VAR_KEYWORD:
            out.var_keyword = True
        elif p.kind is p.KEYWORD_ONLY:
            out.keyword_only.append(p.name)
        else:
            out.positional.append(p.name)
    return out


def _sigs_from_doc(fn: Any, name: str) -> list[Sig]:
    """Torch's C functions document their signature(s) as ``name(a, b, *, c=1) -> T``."""
    doc = inspect.getdoc(fn) or ""
    sigs = []
    for line in doc.splitlines()[:12]:
        m = _DOC_SIG.match(line)
        if not m or m.group(1) != name:
            continue
        sig, kw = Sig(), False
        for p in _split_params(m.group(2)):
            p = p.split("=")[0].split(":")[0].strip()
            if p == "*":
                kw = True
            elif p in ("/", "", "..."):
                continue
            elif p.startswith("**"):
                sig.var_keyword = True
            elif p.startswith("*"):
                sig.var_positional = True
                sig.positional.append(p[1:])
                kw = True
            elif re.fullmatch(r"[A-Za-z_]\w*", p):
                (sig.keyword_only if kw else sig.positional).append(p)
        sigs.append(sig)
    return sigs


def _torch_sigs(obj: Any, name: str, is_method: bool) -> list[Sig]:
    target = obj.__init__ if isinstance(obj, type) else obj
    if not isinstance(obj, type) or "__init__" in vars(obj) or any(
            "__init__" in vars(b) for b in obj.__mro__[1:] if b.__module__.startswith("torch")):
        s = _sig_from_inspect(target, drop_self=is_method or isinstance(obj, type))
        if s is not None and not (s.var_positional and s.var_keyword and not s.names):
            return [s]
    return _sigs_from_doc(obj, name)


# Parameters never counted as missing: memory layouts glassgrad does not have (it has one,
# strided and contiguous) and CUDA's pinned memory / asynchronous copies.
IGNORED_PARAMS = frozenset({"layout", "memory_format", "pin_memory", "non_blocking"})


def _missing_params(torch_sigs: list[Sig], gg: Sig) -> list[str]:
    """Parameters of torch's signature(s) that glassgrad's signature cannot take."""
    if gg.var_keyword:
        return []
    have = set(gg.names) | IGNORED_PARAMS
    missing: list[str] = []
    for ts in torch_sigs:
        for i, p in enumerate(ts.positional):
            if p in have:
                continue
            # the first argument (``input``/``self``/``tensor``) is matched by position
            if i == 0 and p in ("input", "self", "tensor", "x", "a", "A") and gg.positional:
                continue
            # a ``*shape``-style parameter is taken by glassgrad's own ``*args``
            if gg.var_positional and (ts.var_positional or i >= len(gg.positional)):
                continue
            if p not in missing:
                missing.append(p)
        for p in ts.keyword_only:
            if p not in have and p not in missing:
                missing.append(p)
    return missing


# ---------------------------------------------------------------------------------------
# The report


@dataclass
class NsReport:
    label: str
    gg_label: str
    present: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    out_of_scope: dict[str, list[str]] = field(default_factory=dict)
    sig_diffs: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.present) + len(self.absent) + sum(map(len, self.out_of_scope.values()))

    @property
    def coverage(self) -> float:
        d = len(self.present) + len(self.absent)
        return 100.0 * len(self.present) / d if d else 100.0

    @property
    def raw_coverage(self) -> float:
        return 100.0 * len(self.present) / self.total if self.total else 100.0


def classify(ns: str, name: str) -> str | None:
    for r in OUT_OF_SCOPE:
        if r.matches(ns, name):
            return r.category
    return None


def build(torch: Any) -> list[NsReport]:
    reports = []
    layers: NsReport | None = None
    for ns, gg_candidates in NAMESPACES:
        tobj = _resolve(ns)
        gg_label, gobj = _gg_counterpart(gg_candidates)
        rep = NsReport(ns, gg_label)
        is_cls = isinstance(tobj, type)
        if ns == "torch.nn":
            layers = NsReport(LAYERS, gg_label)
        for name in _public_names(tobj, torch):
            tv = getattr(tobj, name, None)
            is_layer = (ns == "torch.nn" and isinstance(tv, type)
                        and issubclass(tv, torch.nn.Module) and tv is not torch.nn.Module)
            bins = [rep] + ([layers] if is_layer and layers is not None else [])
            if _has(gobj, name):
                for b in bins:
                    b.present.append(name)
                gv = getattr(gobj, name, None)
                if callable(tv) and callable(gv):
                    tsigs = _torch_sigs(tv, name, is_cls)
                    gsig = _sig_from_inspect(
                        gv.__init__ if isinstance(gv, type) else gv,
                        drop_self=is_cls or isinstance(gv, type))
                    if tsigs and gsig is not None:
                        miss = _missing_params(tsigs, gsig)
                        if miss:
                            rep.sig_diffs.append((name, miss))
                continue
            cat = classify(ns, name)
            for b in bins:
                if cat is None:
                    b.absent.append(name)
                else:
                    b.out_of_scope.setdefault(cat, []).append(name)
        reports.append(rep)
        if layers is not None and ns == "torch.nn":
            reports.append(layers)
            layers = None
    return reports


def render(reports: list[NsReport], torch_version: str, gg_version: str) -> str:
    L: list[str] = []
    w = L.append
    w("# PyTorch API coverage")
    w("")
    w(f"Generated by `tools/compat.py` against **torch {torch_version}** "
      f"(glassgrad {gg_version}). Do not edit by hand: run `python tools/compat.py` "
      "(a test checks that this file is up to date).")
    w("")
    w("A torch name is *present* when glassgrad has an attribute of that name in the "
      "matching namespace, *out of scope* when it is absent and matched by one of the rules "
      "listed at the end, otherwise *absent* (not yet implemented). Coverage = present / "
      "(present + absent); raw = present / all.")
    w("")
    w("## Summary")
    w("")
    w("| torch namespace | glassgrad | present | absent | out of scope | coverage | raw | target |")
    w("|---|---|---:|---:|---:|---:|---:|---|")
    for r in reports:
        t = TARGETS.get(r.label)
        tgt = "" if t is None else (f"≥ {t:.0f}% " + ("met" if r.coverage >= t else "**not met**"))
        oos = sum(map(len, r.out_of_scope.values()))
        w(f"| `{r.label}` | `{r.gg_label}` | {len(r.present)} | {len(r.absent)} | {oos} | "
          f"{r.coverage:.1f}% | {r.raw_coverage:.1f}% | {tgt} |")
    w("")
    for r in reports:
        if r.label == LAYERS:
            continue
        w(f"## `{r.label}`")
        w("")
        w(f"Present {len(r.present)}, absent {len(r.absent)}, out of scope "
          f"{sum(map(len, r.out_of_scope.values()))}; coverage {r.coverage:.1f}%.")
        w("")
        w(f"### Absent: not yet implemented ({len(r.absent)})")
        w("")
        w(_names_block(r.absent))
        w("")
        for rule in OUT_OF_SCOPE:
            names = r.out_of_scope.get(rule.category)
            if names:
                w(f"### Out of scope: {rule.category} ({len(names)})")
                w("")
                w(_names_block(names))
                w("")
        w(f"### Present with fewer parameters than torch ({len(r.sig_diffs)})")
        w("")
        if r.sig_diffs:
            w("| name | torch parameters glassgrad lacks |")
            w("|---|---|")
            for name, miss in sorted(r.sig_diffs):
                w(f"| `{name}` | {', '.join(f'`{m}`' for m in miss)} |")
        else:
            w("(none)")
        w("")
    w("## Out-of-scope rules")
    w("")
    w("Applied in this order to names absent from glassgrad; the first that matches decides. "
      "The full lists of names, word tokens and patterns are in `OUT_OF_SCOPE` in "
      "`tools/compat.py`.")
    w("")
    for rule in OUT_OF_SCOPE:
        w(f"- **{rule.category}**: {rule.why}.")
    w("")
    w("Signatures: torch's parameters come from `inspect.signature` or, for functions "
      "written in C, from the signature lines at the top of their docstrings (all "
      "overloads); glassgrad's from `inspect.signature`. A glassgrad `**kwargs` accepts "
      "everything; the first positional argument (`input`/`self`) is matched by position; "
      + ", ".join(f"`{p}`" for p in sorted(IGNORED_PARAMS))
      + " (memory layouts and CUDA transfer options) are not counted.")
    return "\n".join(L) + "\n"


def _names_block(names: list[str]) -> str:
    if not names:
        return "(none)"
    return ", ".join(f"`{n}`" for n in sorted(names))


def generate() -> str:
    import torch  # noqa: F401  (the oracle; never a runtime dependency of glassgrad)
    import torch.nn.functional  # noqa: F401
    import torch.nn.init  # noqa: F401
    import torch.optim.lr_scheduler  # noqa: F401
    import torch.utils.data  # noqa: F401

    import glassgrad

    reports = build(torch)
    return render(reports, torch.__version__.split("+")[0], glassgrad.__version__)


def main(argv: list[str] | None = None, _gen: Callable[[], str] = generate) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the report")
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 when the file differs from a fresh run")
    args = ap.parse_args(argv)
    text = _gen()
    if args.check:
        old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if old != text:
            print(f"{args.out} is out of date: run python tools/compat.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
