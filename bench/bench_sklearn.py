"""``glassgrad.sklearn.MLPClassifier`` vs scikit-learn's ``MLPClassifier`` on the digits.

Both get the same hyperparameters (scikit-learn's defaults unless given: one hidden layer
of 100 ReLU units, Adam, lr 1e-3, batch 200, alpha 1e-4, up to 200 epochs) and the same
``random_state``, on the same split of scikit-learn's 8x8 digits (pixels / 16, 25 % held
out). For each seed the two ``fit`` calls run one after the other in this process, the one
going first alternating, so a slow phase of a shared machine hits both alike. Reported:
test accuracy of each, epochs run (``n_iter_``), fit seconds, and the ratio
glassgrad / scikit-learn of the median fit times and the median of the per-seed ratios.

BLAS threads are limited to ``--threads`` (default 1) for both, through threadpoolctl
(a scikit-learn dependency): on a small shared machine more threads mostly add contention.

    python bench/bench_sklearn.py                      # seeds 0-4
    python bench/bench_sklearn.py --seeds 0-9 --solver sgd --learning-rate-init 0.1
    python bench/bench_sklearn.py --hidden 50,30 --activation tanh --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-4", help="random_state values, e.g. 0-4 or 0,3,7")
    ap.add_argument("--hidden", default="100", help="hidden_layer_sizes, comma-separated")
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--solver", default="adam")
    ap.add_argument("--learning-rate-init", type=float, default=1e-3)
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for both (threadpoolctl)")
    args = ap.parse_args(argv)

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP
    from threadpoolctl import threadpool_limits

    from glassgrad.sklearn import MLPClassifier as GgMLP

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    params = dict(hidden_layer_sizes=tuple(int(h) for h in args.hidden.split(",")),
                  activation=args.activation, solver=args.solver,
                  learning_rate_init=args.learning_rate_init, max_iter=args.max_iter)
    print(f"digits: {len(X_tr)} train / {len(X_te)} test; {params}; BLAS threads {args.threads}")
    rows = {"scikit-learn": [], "glassgrad": []}
    ratios = []
    with threadpool_limits(limits=args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i, seed in enumerate(_seeds(args.seeds)):
            order = [("scikit-learn", SkMLP), ("glassgrad", GgMLP)]
            if i % 2:
                order.reverse()
            times = {}
            for name, cls in order:
                est = cls(random_state=seed, **params)
                t0 = time.perf_counter()
                est.fit(X_tr, y_tr)
                times[name] = time.perf_counter() - t0
                rows[name].append((seed, est.score(X_te, y_te), est.n_iter_, times[name]))
            ratios.append(times["glassgrad"] / times["scikit-learn"])
    print(f"{'seed':>4}  {'sklearn acc':>11} {'epochs':>6} {'fit s':>6}   "
          f"{'glassgrad acc':>13} {'epochs':>6} {'fit s':>6}   ratio")
    for (seed, a1, n1, t1), (_, a2, n2, t2), r in zip(rows["scikit-learn"], rows["glassgrad"], ratios):
        print(f"{seed:>4}  {a1:>11.4f} {n1:>6} {t1:>6.3f}   {a2:>13.4f} {n2:>6} {t2:>6.3f}   {r:.3f}")
    mean = {k: statistics.mean(r[1] for r in v) for k, v in rows.items()}
    med = {k: statistics.median(r[3] for r in v) for k, v in rows.items()}
    print(f"mean accuracy: scikit-learn {mean['scikit-learn']:.4f}, glassgrad {mean['glassgrad']:.4f} "
          f"(difference {100 * (mean['glassgrad'] - mean['scikit-learn']):+.2f} points)")
    print(f"median fit: scikit-learn {med['scikit-learn']:.3f} s, glassgrad {med['glassgrad']:.3f} s; "
          f"ratio glassgrad/scikit-learn: of medians {med['glassgrad'] / med['scikit-learn']:.3f}, "
          f"median per seed {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
