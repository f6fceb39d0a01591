"""The speed goals in one table: runs the bench scripts (each in its own process, the
environment as it is) and prints every measured figure next to its goal.

    GLASSGRAD_DATA=../shared/data/mnist python bench/bench_goals.py            # ~15 minutes
    GLASSGRAD_DATA=../shared/data/mnist python bench/bench_goals.py --quick    # smoke run

Goals: MLP 784-256-10 and 784-300-100-10 at batch 128 and 32 ≤ 0.9× PyTorch and
≤ 1.1× the hand-written NumPy loop; LeNet-5 (batch 64, Adam) ≤ 1.3× PyTorch; LSTM 128
≤ 1.5× PyTorch; training memory ≤ PyTorch's; ≥ 70 % of the GEMM peak at batch 1024 and
width 4096. Ratios are of epoch medians (the scripts print the median of per-turn ratios
too). ``--quick`` runs a few batches of each only to check that everything runs: its
figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MLP_CONFIGS = [("784-256-10", 128), ("784-256-10", 32), ("784-300-100-10", 128),
               ("784-300-100-10", 32)]


def run(script: str, args: list[str]) -> str:
    """Run ``bench/<script>`` with ``args``; its stdout (stderr appended on failure)."""
    r = subprocess.run([sys.executable, os.path.join(HERE, script), *args],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def ratio(out: str, name: str) -> float | None:
    """The epoch-median ratio of a ``name  1.09x  1.14x`` line."""
    m = re.search(rf"^{re.escape(name)}\s+([\d.]+)x", out, re.M)
    return float(m.group(1)) if m else None


def mlp_memory(out: str, framework: str) -> float | None:
    """The last column (MiB of training memory) of a framework's row in the MLP table."""
    m = re.search(rf"^{framework}\s+(?:[\d.]+\s+){{3}}[\d.]+%\s+([\d.]+)\s*$", out, re.M)
    return float(m.group(1)) if m else None


def lenet(out: str) -> tuple[float | None, float | None, float | None]:
    """(median ratio glassgrad/torch, glassgrad MiB added, torch MiB added)."""
    m = re.search(r"ratio glassgrad/torch: [\d.]+x \(best\), ([\d.]+)x \(median\)", out)
    adds = dict(re.findall(r"^\s+(glassgrad|torch)\s*: peak.*training adds\s+([\d.]+) MiB", out,
                           re.M))
    return (float(m.group(1)) if m else None,
            float(adds["glassgrad"]) if "glassgrad" in adds else None,
            float(adds["torch"]) if "torch" in adds else None)


def lstm(out: str) -> tuple[float | None, float | None, float | None]:
    """(wall-clock ratio vs torch, glassgrad peak MiB, torch peak MiB)."""
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0] in ("glassgrad", "torch") and len(f) >= 9:
            rows[f[0]] = f
    g, t = rows.get("glassgrad"), rows.get("torch")
    r = float(g[4].rstrip("x")) if g else None
    mem = (float(g[-1]) if g and g[-1] != "-" else None,
           float(t[-1]) if t and t[-1] != "-" else None)
    return r, mem[0], mem[1]


def scaling(out: str) -> dict[str, tuple[float, float]]:
    """``{'batch N': (glassgrad %peak, numpy %peak), 'width H': ...}`` of the last rows."""
    res: dict[str, tuple[float, float]] = {}
    kind = None
    for line in out.splitlines():
        f = line.split()
        if f[:1] in (["batch"], ["width"]):
            kind = f[0]
        elif kind and len(f) == 6 and f[0].isdigit() and f[-1].endswith("%"):
            res[f"{kind} {f[0]}"] = (float(f[-2].rstrip("%")), float(f[-1].rstrip("%")))
    return res


def mark(ok: bool | None) -> str:
    return "?" if ok is None else ("✓" if ok else "✗")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few batches each (smoke run)")
    ap.add_argument("--only", default="mlp,lenet,lstm,scaling",
                    help="comma-separated subset of mlp,lenet,lstm,scaling")
    a = ap.parse_args(argv)
    parts = set(a.only.split(","))
    rows: list[tuple[str, str, str, str]] = []  # (what, measured, goal, mark)
    if "mlp" in parts:
        for layers, bs in MLP_CONFIGS[:1] if a.quick else MLP_CONFIGS:
            args = ["--layers", layers, "--batch-size", str(bs),
                    "--frameworks", "numpy,glassgrad,torch"]
            args += ["--reps", "1", "--max-batches", "20"] if a.quick else ["--reps", "3"]
            if not (layers == "784-256-10" and bs == 128) or a.quick:
                args.append("--no-memory")
            out = run("bench_mnist_mlp.py", args)
            gt, gn = ratio(out, "glassgrad / torch"), ratio(out, "glassgrad / numpy")
            name = f"MLP {layers} b{bs}"
            rows.append((f"{name}: glassgrad / PyTorch", f"{gt}x", "≤ 0.9x",
                         mark(None if gt is None else gt <= 0.9)))
            rows.append((f"{name}: glassgrad / NumPy loop", f"{gn}x", "≤ 1.1x",
                         mark(None if gn is None else gn <= 1.1)))
            mg, mt = mlp_memory(out, "glassgrad"), mlp_memory(out, "torch")
            if mg is not None and mt is not None:
                rows.append((f"{name}: training memory", f"{mg} vs {mt} MiB", "≤ PyTorch",
                             mark(mg <= mt)))
    if "lenet" in parts:
        args = ["--threads", "2"] + (["--batches", "5", "--reps", "1", "--mem-batches", "2"]
                                     if a.quick else ["--batches", "200", "--reps", "3"])
        r, mg, mt = lenet(run("bench_lenet.py", args))
        rows.append(("LeNet-5 b64 Adam: glassgrad / PyTorch", f"{r}x", "≤ 1.3x",
                     mark(None if r is None else r <= 1.3)))
        if mg is not None and mt is not None:
            rows.append(("LeNet-5: training memory", f"{mg} vs {mt} MiB", "≤ PyTorch",
                         mark(mg <= mt)))
    if "lstm" in parts:
        args = ["--threads", "2"] + (["--batches", "2", "--reps", "1"] if a.quick
                                     else ["--batches", "30", "--reps", "3"])
        r, mg, mt = lstm(run("bench_lstm.py", args))
        rows.append(("LSTM 128: glassgrad / PyTorch", f"{r}x", "≤ 1.5x",
                     mark(None if r is None else r <= 1.5)))
        if mg is not None and mt is not None:
            rows.append(("LSTM: peak memory", f"{mg} vs {mt} MiB", "≤ PyTorch", mark(mg <= mt)))
    if "scaling" in parts:
        args = ["--batches", "64,1024", "--widths", "256,4096"]
        if a.quick:
            args = ["--batches", "4", "--widths", "64", "--reps", "1"]
        for key, (g, n) in scaling(run("bench_scaling.py", args)).items():
            if a.quick or key in ("batch 1024", "width 4096"):
                rows.append((f"GEMM peak reached, {key}", f"{g}% (NumPy loop {n}%)", "≥ 70%",
                             mark(g >= 70)))
    w = max(len(r[0]) for r in rows) if rows else 10
    if a.quick:
        print("--quick: a smoke run of a few batches; these figures are not measurements")
    print(f"{'goal':{w}}  {'measured':28}  {'target':10}")
    for what, got, goal, ok in rows:
        print(f"{what:{w}}  {got:28}  {goal:10}  {'-' if a.quick else ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
