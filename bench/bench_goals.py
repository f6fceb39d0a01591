"""The speed goals in one table: runs the bench scripts (each in its own process, the
environment as it is, 2 threads each unless ``--threads``), prints every measured ratio
(best and median) next to its goal, with the machine, the versions and the date, and
writes the table into ``bench/README.md`` (the section between the ``bench_goals``
markers, replaced on each full run).

    GLASSGRAD_DATA=../shared/data/mnist python bench/bench_goals.py            # ~20 minutes
    GLASSGRAD_DATA=../shared/data/mnist python bench/bench_goals.py --quick    # smoke run
    python bench/bench_goals.py --only lenet,inference --no-write

Goals (glassgrad / PyTorch unless said): MLP 784-256-10 and 784-300-100-10 at batch 128
and 32 ≤ 0.9× (and ≤ 1.1× the hand-written NumPy loop at batch 128, ≤ 1.25× at batch 32,
where the per-step Python floor weighs more); LeNet-5 (batch 64, Adam) ≤ 1.0×;
LSTM and GRU 128 on row-wise MNIST (batch 128, Adam) ≤ 1.0×; LeNet-5 and the LSTM ≤ 1.15×
their hand-written NumPy loops (``_numpy_ref.py``); Transformer encoder training step ≤
1.2×; inference (eval, no_grad) of the MLP, LeNet-5 and the LSTM at batch 1 and 256 ≤ 1.0×;
training memory ≤ PyTorch's; ≥ 70 % of the GEMM peak at batch 1024 and width 4096.
"best" is the ratio of the fastest repetitions (``min``), "median" the ratio of the median
repetitions; where a script measures in alternating turns the median of the per-turn
ratios is given instead of "best" (marked ``t``). ``--quick`` runs a few batches of each
only to check that everything runs: its figures mean nothing and nothing is written.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "README.md")
START, END = "<!-- bench_goals:start -->", "<!-- bench_goals:end -->"
MLP_CONFIGS = [("784-256-10", 128), ("784-256-10", 32), ("784-300-100-10", 128),
               ("784-300-100-10", 32)]
PARTS = ("mlp", "lenet", "lstm", "gru", "transformer", "inference", "scaling")

Row = tuple  # (what, best, median, goal, ok)


def run(script: str, args: list[str]) -> str:
    """Run ``bench/<script>`` with ``args``; its stdout (stderr appended on failure)."""
    r = subprocess.run([sys.executable, os.path.join(HERE, script), *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def _f(x: str | None) -> float | None:
    return None if x is None else float(x)


def ratio_row(what: str, best: float | None, med: float | None, limit: float,
              turns: bool = False) -> Row:
    b = "?" if best is None else f"{best:.2f}x" + (" t" if turns else "")
    m = "?" if med is None else f"{med:.2f}x"
    return (what, b, m, f"≤ {limit}x", None if med is None else med <= limit)


def mlp_rows(out: str, name: str) -> list[Row]:
    rows = []
    epochs = {}
    m = re.search(r"^epoch seconds: (.*)$", out, re.M)
    if m:
        for part in m.group(1).split("; "):
            f = part.split()
            epochs[f[0]] = [float(v) for v in f[1:]]
    batch32 = " b32" in name
    for ref, limit in (("torch", 0.9), ("numpy", 1.25 if batch32 else 1.1)):
        r = re.search(rf"^glassgrad / {ref}\s+([\d.]+)x\s+([\d.]+)x", out, re.M)
        best = (min(epochs["glassgrad"]) / min(epochs[ref])
                if "glassgrad" in epochs and ref in epochs else None)
        label = "PyTorch" if ref == "torch" else "NumPy loop"
        rows.append(ratio_row(f"{name}: glassgrad / {label}", best, _f(r and r.group(1)), limit))
    mem = {}
    for fw in ("glassgrad", "torch"):
        r = re.search(rf"^{fw}\s+(?:[\d.]+\s+){{3}}[\d.]+%\s+([\d.]+)\s*$", out, re.M)
        if r:
            mem[fw] = float(r.group(1))
    if len(mem) == 2:
        rows.append((f"{name}: training memory (MiB)", f"{mem['glassgrad']}",
                     f"vs {mem['torch']}", "≤ PyTorch", mem["glassgrad"] <= mem["torch"]))
    return rows


def lenet_rows(out: str) -> list[Row]:
    rows = []
    for ref, label, limit in (("torch", "PyTorch", 1.0), ("numpy", "NumPy loop", 1.15)):
        m = re.search(rf"ratio glassgrad/{ref}: ([\d.]+)x \(best\), ([\d.]+)x \(median\)", out)
        if m or ref == "torch":
            rows.append(ratio_row(f"LeNet-5 b64 Adam: glassgrad / {label}",
                                  _f(m and m.group(1)), _f(m and m.group(2)), limit))
    adds = dict(re.findall(r"^\s+(glassgrad|torch)\s*: peak.*training adds\s+([\d.]+) MiB",
                           out, re.M))
    if len(adds) == 2:
        g, t = float(adds["glassgrad"]), float(adds["torch"])
        rows.append(("LeNet-5: training memory (MiB)", f"{g}", f"vs {t}", "≤ PyTorch", g <= t))
    return rows


def rnn_rows(out: str, cell: str) -> list[Row]:
    """Rows of ``bench_lstm.py``'s table: variant, wall median, min, max, ..., peak MiB."""
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] in ("glassgrad", "torch", "numpy") and len(f) >= 9:
            rows[f[0]] = f
    res = []
    g = rows.get("glassgrad")
    for ref, label, limit in (("torch", "PyTorch", 1.0), ("numpy", "NumPy loop", 1.15)):
        r = rows.get(ref)
        if g and r:
            res.append(ratio_row(f"{cell} 128 b128 Adam: glassgrad / {label}",
                                 float(g[2]) / float(r[2]), float(g[1]) / float(r[1]), limit))
    t = rows.get("torch")
    if g and t and g[-1] != "-" and t[-1] != "-":
        res.append((f"{cell}: peak memory (MiB)", g[-1], f"vs {t[-1]}", "≤ PyTorch",
                    float(g[-1]) <= float(t[-1])))
    return res


def transformer_rows(out: str) -> list[Row]:
    m = re.search(r"glassgrad / torch: ([\d.]+) \(best ([\d.]+), median of per-turn", out)
    return [ratio_row("Transformer encoder step: glassgrad / PyTorch", _f(m and m.group(2)),
                      _f(m and m.group(1)), 1.2)]


def inference_rows(out: str) -> list[Row]:
    """Rows of ``bench_inference.py``'s table; the NumPy forward's time over PyTorch's
    beside each median (above 1: PyTorch's kernels beat that NumPy formulation)."""
    rows = []
    for name, bs, t, med, turns, n in re.findall(
            r"^(\w+)\s+(\d+)\s+[\d.]+\s+([\d.]+)\s+([\d.]+)x\s+([\d.]+)x\s+([\d.]+)",
            out, re.M):
        what, b, m, goal, ok = ratio_row(f"inference {name} b{bs}: glassgrad / PyTorch",
                                         float(turns), float(med), 1.0, turns=True)
        rows.append((what, b, f"{m} (NumPy {float(n) / float(t):.2f}x)", goal, ok))
    return rows


def scaling_rows(out: str, quick: bool) -> list[Row]:
    res: dict[str, tuple[float, float]] = {}
    kind = None
    for line in out.splitlines():
        f = line.split()
        if f[:1] in (["batch"], ["width"]):
            kind = f[0]
        elif kind and len(f) == 6 and f[0].isdigit() and f[-1].endswith("%"):
            res[f"{kind} {f[0]}"] = (float(f[-2].rstrip("%")), float(f[-1].rstrip("%")))
    return [(f"GEMM peak reached, {k}", f"{g}%", f"(NumPy loop {n}%)", "≥ 70%", g >= 70)
            for k, (g, n) in res.items() if quick or k in ("batch 1024", "width 4096")]


def machine() -> str:
    """``lscpu``'s model name and CPU count, NumPy / PyTorch / Python versions, the date."""
    cpu, n = platform.processor() or "unknown CPU", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        cpu = info.get("Model name", cpu).strip()
        n = info.get("CPU(s)", str(n)).strip()
    except OSError:
        pass
    import numpy as np

    try:
        import torch

        tv = torch.__version__
    except ImportError:
        tv = "not installed"
    try:
        load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        load = "?"
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{cpu}, {n} CPUs (lscpu); NumPy {np.__version__}, PyTorch {tv}, Python "
            f"{platform.python_version()}; {day}; load average before the run {load}")


def table(rows: list[Row], quick: bool) -> str:
    mark = {None: "?", True: "✓", False: "✗"}
    lines = ["| goal | best | median | target | met |", "|---|---|---|---|---|"]
    for what, best, med, goal, ok in rows:
        lines.append(f"| {what} | {best} | {med} | {goal} | {'-' if quick else mark[ok]} |")
    return "\n".join(lines)


def write_readme(text: str, path: str = README) -> None:
    """Replace the marked section of ``path`` (bench/README.md; or add the section before
    its first ``##`` heading), atomically."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
    from glassgrad._atomic import atomic_open

    with open(path, encoding="utf-8") as fh:
        old = fh.read()
    block = f"{START}\n{text}\n{END}"
    if START in old and END in old:
        new = old[:old.index(START)] + block + old[old.index(END) + len(END):]
    else:
        at = old.index("\n## ") if "\n## " in old else len(old)
        new = old[:at] + "\n\n## Goals (`bench_goals.py`)\n\n" + block + "\n" + old[at:]
    with atomic_open(path, "w") as fh:
        fh.write(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few batches each (smoke run)")
    ap.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of "
                    f"{','.join(PARTS)}")
    ap.add_argument("--threads", type=int, default=2, help="BLAS / torch threads (default 2)")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/README.md")
    a = ap.parse_args(argv)
    parts = set(a.only.split(","))
    for p in parts - set(PARTS):
        ap.error(f"unknown part {p!r}; choose from {', '.join(PARTS)}")
    q = a.quick
    th = ["--threads", str(a.threads)]
    header = machine()
    rows: list[Row] = []
    cmds: list[str] = []

    def go(script: str, args: list[str]) -> str:
        cmds.append(f"`{script} {' '.join(args)}`")
        return run(script, args)

    if "mlp" in parts:
        for layers, bs in MLP_CONFIGS[:1] if q else MLP_CONFIGS:
            args = ["--layers", layers, "--batch-size", str(bs),
                    "--frameworks", "numpy,glassgrad,torch"]
            args += ["--reps", "1", "--max-batches", "20"] if q else ["--reps", "3"]
            if not (layers == "784-256-10" and bs == 128) or q:
                args.append("--no-memory")
            rows += mlp_rows(go("bench_mnist_mlp.py", args), f"MLP {layers} b{bs}")
    if "lenet" in parts:
        args = th + ["--numpy"] + (["--batches", "5", "--reps", "1", "--mem-batches", "2"] if q
                                   else ["--batches", "200", "--reps", "5"])
        rows += lenet_rows(go("bench_lenet.py", args))
    for cell in ("lstm", "gru"):
        if cell in parts:
            args = th + ["--cell", cell, "--variants",
                         "glassgrad,torch" + (",numpy" if cell == "lstm" else "")]
            args += ["--batches", "2", "--reps", "1", "--no-memory"] if q else \
                ["--batches", "30", "--reps", "5"] + (["--no-memory"] if cell == "gru" else [])
            rows += rnn_rows(go("bench_lstm.py", args), cell.upper())
    if "transformer" in parts:
        args = th + (["--steps", "2", "--reps", "1"] if q else ["--steps", "20", "--reps", "5"])
        rows += transformer_rows(go("bench_transformer.py", args))
    if "inference" in parts:
        args = th + (["--reps", "1", "--turn", "0.01"] if q else ["--reps", "7"])
        rows += inference_rows(go("bench_inference.py", args))
    if "scaling" in parts:
        args = (["--batches", "4", "--widths", "64", "--reps", "1"] if q
                else ["--batches", "64,1024", "--widths", "256,4096"])
        rows += scaling_rows(go("bench_scaling.py", args), q)
    text = (f"{header}\n\n{table(rows, q)}\n\nCommands (in `bench/`, each in its own process): "
            + ", ".join(cmds) + ".")
    if q:
        print("--quick: a smoke run of a few batches; these figures are not measurements\n")
    print(text)
    if not q and not a.no_write and parts == set(PARTS):
        write_readme(f"`python bench/bench_goals.py`, {text}")
        print(f"\nwritten into {README}")
    elif not q and not a.no_write:
        print("\n(a subset ran: bench/README.md is only written after a full run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
