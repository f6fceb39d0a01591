"""The ``glassgrad`` command: train, evaluate and plot small MLP classifiers.

::

    glassgrad train                                  # two moons, a few seconds
    glassgrad train --dataset spirals --hidden 64,64 --epochs 200 --out runs/spirals
    glassgrad train --dataset mnist --data /path/to/mnist --hidden 300,100 --epochs 10
    glassgrad train --dataset mnist --nproc 4 ...    # data-parallel on 4 processes (MPI)
    glassgrad evaluate runs/spirals/model.ckpt
    glassgrad plot runs/spirals
    glassgrad playground                             # train in the browser, every gradient shown

``train`` writes into its output folder: ``metrics.csv`` (one row per epoch),
``model.ckpt`` (a glassgrad checkpoint: model, optimizer, history, RNG state and the
run's configuration), ``config.json``, ``loss.png`` and, for 2-D datasets,
``decision_boundary.png`` (for digit datasets ``confusion_matrix.png`` and
``digits.png``). Without ``--out`` each run gets a new folder ``runs/<dataset>-<time>``
(with a ``-2``, ``-3``, ... suffix when two runs start in the same second); a run that
fails before its first checkpoint removes the folder it created. A progress bar shows each
epoch on a terminal (``--no-progress`` turns it off). Bad arguments give a one-line error
and exit status 2; other failures exit 1 (set ``GLASSGRAD_DEBUG=1`` to see the traceback).

``--nproc N`` trains data-parallel on ``N`` processes: the command starts itself again
under ``mpiexec -n N`` (needs ``pip install 'glassgrad[distributed]'``), each process trains
a :class:`~glassgrad.nn.parallel.DistributedDataParallel` replica on its share of every
batch (``--batch-size`` stays the global batch and must be divisible by ``N``), and rank 0
prints and writes the output folder. Started by a launcher directly (``mpiexec -n N
glassgrad train ...`` or ``srun``), the command joins the launcher's processes instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Sequence

import numpy as np

from ._atomic import atomic_write
from .train.recipes import (  # the recipes glassgrad train and the playground share
    _DEFAULTS,
    _default_lr,
    _split,
    build_loss,
    build_model,
    build_optimizer,
)

__all__ = ["main", "build_parser", "DATASETS"]

TOY = ("xor", "moons", "circles", "spirals", "blobs")
DATASETS = TOY + ("digits", "mnist")

class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``glassgrad`` command."""
    from . import __version__

    p = _Parser(prog="glassgrad", description="Train, evaluate and plot small glassgrad networks.")
    p.add_argument("--version", action="version", version=f"glassgrad {__version__}")
    sub = p.add_subparsers(dest="command", metavar="{train,evaluate,plot,export,playground}",
                           parser_class=_Parser)

    t = sub.add_parser("train", help="train an MLP classifier (default: two moons)",
                       description="Train an MLP classifier and write metrics, a checkpoint and plots.")
    t.add_argument("--dataset", default="moons", choices=DATASETS, help="default: moons")
    t.add_argument("--hidden", default=None,
                   help="hidden layer sizes, comma separated (e.g. 64,64; 'none' for a linear model "
                        "without hidden layers)")
    t.add_argument("--activation", default=None, choices=("relu", "sigmoid", "tanh"))
    t.add_argument("--loss", default="ce", choices=("ce", "mse"),
                   help="ce: softmax + cross-entropy; mse: squared error on one-hot targets")
    t.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "adam", "adamw"))
    t.add_argument("--lr", type=float, default=None, help="learning rate (default depends on the "
                   "dataset and optimizer)")
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--grad-clip", type=float, default=None, help="clip the gradient norm to this")
    t.add_argument("--n-samples", type=int, default=None, help="points for the 2-D datasets")
    t.add_argument("--noise", type=float, default=None, help="noise for the 2-D datasets")
    t.add_argument("--val-fraction", type=float, default=0.2,
                   help="held-out fraction (MNIST uses its test set)")
    t.add_argument("--checkpoint-every", type=int, default=0,
                   help="also save epochNNN.ckpt every N epochs (0: only the final model.ckpt)")
    t.add_argument("--patience", type=int, default=None, help="early stopping patience (epochs)")
    t.add_argument("--data", default=None, help="MNIST folder (default $GLASSGRAD_DATA, else the "
                   "user cache); recorded in the run so that evaluate/plot read the same files")
    t.add_argument("--no-download", action="store_true", help="never download MNIST")
    t.add_argument("--out", default=None, help="output folder (default: a new ./runs/<dataset>-<time>)")
    t.add_argument("--nproc", type=int, default=None,
                   help="data-parallel processes on this machine (via mpiexec; needs glassgrad[distributed])")
    t.add_argument("--no-plots", action="store_true")
    t.add_argument("--no-progress", action="store_true",
                   help="no progress bar (there is none anyway when stdout is not a terminal)")
    t.add_argument("-q", "--quiet", action="store_true", help="print only the final result")

    _add_playground(sub)
    e = sub.add_parser("evaluate", help="loss and accuracy of a checkpoint on its dataset",
                       description="Print loss and accuracy of a checkpoint written by glassgrad train, "
                                   "on the dataset recorded in it.")
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None, help="MNIST folder (default: as recorded, or $GLASSGRAD_DATA)")
    e.add_argument("--split", default="val", choices=("train", "val"),
                   help="which split (val = the held-out/test set)")

    pl = sub.add_parser("plot", help="re-draw the plots of a run folder",
                        description="Re-draw loss.png (from metrics.csv) and the model plots "
                                    "(from model.ckpt) of a run folder.")
    pl.add_argument("dir")
    pl.add_argument("--data", default=None)

    x = sub.add_parser("export", help="export a trained model to ONNX",
                       description="Export the model of a 'glassgrad train' run folder (or checkpoint) "
                                   "to an ONNX file with a dynamic batch axis (needs glassgrad[interop]).")
    x.add_argument("run", metavar="RUN_DIR", help="run folder (its model.ckpt) or a checkpoint file")
    x.add_argument("output", metavar="OUT.onnx")
    x.add_argument("--opset", type=int, default=None, help="ONNX opset version (default 17)")
    return p


# ---------------------------------------------------------------------------- helpers
def _add_playground(sub: Any) -> None:
    g = sub.add_parser("playground", help="watch a network and all its gradients learn, in the browser",
                       description="Start the playground's local web server on 127.0.0.1 and print its "
                                   "URL; Ctrl-C stops it.")
    g.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    g.add_argument("--max-sessions", type=int, default=8, help="open tabs at most (default 8)")
    g.add_argument("--max-width", type=int, default=64, help="neurons per layer at most (default 64)")
    g.add_argument("--max-layers", type=int, default=6, help="hidden layers at most (default 6)")


def _parse_hidden(s: str) -> list[int]:
    s = s.strip()
    if s.lower() in ("", "none"):
        return []
    out = []
    for part in s.split(","):
        part = part.strip()
        try:
            v = int(part)
        except ValueError:
            raise CLIError(f"--hidden must be comma-separated positive integers like 64,64; got {s!r}") \
                from None
        if v <= 0:
            raise CLIError(f"--hidden sizes must be positive, got {v} in {s!r} (use --hidden none for a "
                           "linear model without hidden layers)")
        out.append(v)
    return out


def _check_positive(name: str, v: float | None, integer: bool = False) -> None:
    if v is None:
        return
    if not math.isfinite(v) or v <= 0:
        raise CLIError(f"{name} must be a positive {'integer' if integer else 'number'}, got {v}")


def _missing_dirs(path: str) -> list[str]:
    """The folders ``os.makedirs(path)`` would create, deepest first."""
    missing = []
    d = os.path.abspath(path)
    while d and not os.path.exists(d):
        missing.append(d)
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return missing


def _prepare_out(out: str | None, dataset: str) -> tuple[str, list[str]]:
    """Create the output folder; returns it and the folders this call created (deepest first).

    Without ``out`` the folder is a new ``runs/<dataset>-<time>``, taken with ``os.mkdir`` (atomic:
    two runs started in the same second get ``...-<time>`` and ``...-<time>-2``)."""
    created: list[str] = []
    try:
        if out is None:
            created += _missing_dirs("runs")
            os.makedirs("runs", exist_ok=True)
            base = os.path.join("runs", f"{dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
            k = 1
            while True:
                cand = base if k == 1 else f"{base}-{k}"
                try:
                    os.mkdir(cand)
                except FileExistsError:
                    k += 1
                    continue
                out = cand
                created.insert(0, os.path.abspath(cand))
                break
        else:
            created = _missing_dirs(out)
            os.makedirs(out, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        _remove_created(created)
        raise CLIError(f"cannot write to output folder {out!r}: {e.strerror or e}") from None
    return out, created


def _remove_created(created: Sequence[str]) -> None:
    """Remove the run folder (``created[0]``) and the empty parents this run made; keep it if it
    holds a checkpoint (something worth keeping after a failure)."""
    if not created:
        return
    run = created[0]
    try:
        if any(f.endswith(".ckpt") for f in os.listdir(run)):
            return
    except OSError:
        return
    shutil.rmtree(run, ignore_errors=True)
    for d in created[1:]:
        try:
            os.rmdir(d)  # only when empty (another run may have put its folder there meanwhile)
        except OSError:
            break


def _resolve_data_root(dataset: str, data: str | None) -> str | None:
    """The folder a run reads its data from, as an absolute path (recorded in the run so that
    ``evaluate``/``plot`` later read the same files whatever the environment then says)."""
    if dataset == "mnist":
        from .data.mnist import mnist_dir

        return str(mnist_dir(data).absolute())
    return os.path.abspath(data) if data else None


def _mnist_error(e: BaseException, root: str | None, download: bool) -> CLIError:
    """A one-line message in command-line terms (``--data``, ``GLASSGRAD_DATA``) for a failed load."""
    from .data.mnist import _ALL_FILES, DownloadError, mnist_dir

    d = str(mnist_dir(root))
    names = ", ".join(f"{n}.gz" for n in _ALL_FILES)
    put = (f"put the four files {names} (gzipped or not) in {d}, or pass --data DIR (or set "
           "GLASSGRAD_DATA=DIR) naming a folder that has them")
    first = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), repr(e))
    if first.startswith("MNIST: "):
        first = first[len("MNIST: "):]
    if isinstance(e, FileNotFoundError) and not download:
        return CLIError(f"cannot load MNIST: the files are not in {d} and --no-download was given; "
                        f"{put}, or leave out --no-download to download them")
    if isinstance(e, DownloadError):
        return CLIError(f"cannot load MNIST: the download into {d} failed ({first}); {put}")
    return CLIError(f"cannot load MNIST from {d}: {first}; {put}")


# ---------------------------------------------------------------------------- data and model
def load_data(cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X_train, y_train, X_val, y_val)`` (float32, int64) for a run configuration."""
    from . import data as D

    name = cfg["dataset"]
    if name in TOY:
        maker = getattr(D, f"make_{name}")
        kw = dict(cfg["data_kwargs"])
        if name == "xor":
            kw["shuffle"] = True
        X, y = maker(**kw, seed=cfg["seed"])
        X, y = X.numpy(), y.numpy()
        return _split(X, y, cfg["val_fraction"], cfg["seed"])
    if name == "digits":
        try:
            X, y = D.load_digits().arrays()
        except ImportError:
            raise CLIError("--dataset digits needs scikit-learn, which is not installed: "
                           "pip install 'glassgrad[sklearn]'") from None
        return _split(X, y, cfg["val_fraction"], cfg["seed"])
    root = cfg.get("data_root")
    try:
        tr = D.MNIST(root, train=True, download=cfg.get("download", True))
        te = D.MNIST(root, train=False, download=cfg.get("download", True))
    except Exception as e:  # missing files, failed download, corrupt files
        raise _mnist_error(e, root, cfg.get("download", True)) from None
    return (*tr.arrays(), *te.arrays())


def _loaders(Xtr: np.ndarray, ytr: np.ndarray, Xva: np.ndarray, yva: np.ndarray, batch_size: int,
             seed: int, world: int = 1, rank: int = 0) -> tuple[Any, Any]:
    from . import Generator, tensor
    from .data import DataLoader, DistributedSampler, TensorDataset

    ds = TensorDataset(tensor(Xtr), tensor(ytr))
    if world > 1:     # each process takes its share of every global batch
        train = DataLoader(ds, batch_size=batch_size // world,
                           sampler=DistributedSampler(ds, world, rank, shuffle=True, seed=seed))
    else:
        train = DataLoader(ds, batch_size=batch_size, shuffle=True, generator=Generator(seed))
    val = DataLoader(TensorDataset(tensor(Xva), tensor(yva)), batch_size=max(batch_size, 1024))
    return train, val


def _model_from_checkpoint(path: str, data_root: str | None = None) -> tuple[Any, dict, dict]:
    from .serialization import CheckpointError
    from .train import CHECKPOINT_KIND
    from .train import load_checkpoint as _load

    if not os.path.exists(path):
        raise CLIError(f"no such checkpoint: {path!r}")
    if os.path.isdir(path):
        cand = os.path.join(path, "model.ckpt")
        if not os.path.exists(cand):
            raise CLIError(f"{path!r} is a folder without model.ckpt")
        path = cand
    try:
        from .serialization import load

        ckpt = load(path)
    except CheckpointError as e:
        raise CLIError(str(e)) from None
    cfg = (ckpt.get("extra") or {}).get("config") if isinstance(ckpt, dict) else None
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND or not cfg:
        raise CLIError(f"{path!r} is not a checkpoint written by 'glassgrad train' (no run configuration)")
    if data_root:
        cfg["data_root"] = data_root
    model = build_model(cfg["in_features"], cfg["hidden"], cfg["num_classes"], cfg["activation"])
    _load(path, model, restore_rng=False)
    model.eval()
    return model, cfg, ckpt


def _draw_plots(out: str, model: Any, cfg: dict, history: Any, Xva: np.ndarray, yva: np.ndarray,
                Xtr: np.ndarray, ytr: np.ndarray) -> list[str]:
    from . import viz
    from .viz.plots import predict_proba

    written = []
    name = cfg["dataset"]
    split = "test" if name == "mnist" else "val"
    if history is not None and len(history):
        fig = viz.plot_history(history, title=f"{name}: {_arch(cfg)}", val_name=split)
        written.append(viz.save_figure(fig, os.path.join(out, "loss.png")))
    if cfg["in_features"] == 2:
        X = np.concatenate([Xtr, Xva])
        y = np.concatenate([ytr, yva])
        written.append(viz.save_figure(viz.plot_decision_boundary(model, X, y), os.path.join(out,
                                                                                             "decision_boundary.png")))
    else:
        pred = predict_proba(model, Xva).argmax(1)
        written.append(viz.save_figure(viz.plot_confusion_matrix(yva, pred, num_classes=cfg["num_classes"]),
                                       os.path.join(out, "confusion_matrix.png")))
        wrong = np.flatnonzero(pred != yva)
        right = np.flatnonzero(pred == yva)
        n_wrong = min(20, len(wrong))
        pick = np.concatenate([wrong[:n_wrong], right[:40 - n_wrong]])
        title = (f"{split} error {len(wrong) / max(len(yva), 1):.1%} ({len(wrong)} of {len(yva)} wrong); "
                 f"shown: {n_wrong} picked mistakes (red) and {len(pick) - n_wrong} correct examples")
        written.append(viz.save_figure(viz.plot_digits(Xva[pick], yva[pick], pred[pick], title=title),
                                       os.path.join(out, "digits.png")))
    return written


def _arch(cfg: dict) -> str:
    sizes = [cfg["in_features"], *cfg["hidden"], cfg["num_classes"]]
    return "-".join(map(str, sizes)) + f" {cfg['activation']}"


# ---------------------------------------------------------------------------- commands
def cmd_train(a: argparse.Namespace) -> int:
    d = _DEFAULTS[a.dataset]
    hidden = _parse_hidden(a.hidden if a.hidden is not None else d["hidden"])
    _check_positive("--lr", a.lr)
    _check_positive("--epochs", a.epochs, True)
    _check_positive("--batch-size", a.batch_size, True)
    _check_positive("--grad-clip", a.grad_clip)
    _check_positive("--n-samples", a.n_samples, True)
    if a.noise is not None and (not math.isfinite(a.noise) or a.noise < 0):
        raise CLIError(f"--noise must be >= 0, got {a.noise}")
    if not (0 < a.val_fraction < 1):
        raise CLIError(f"--val-fraction must be between 0 and 1, got {a.val_fraction}")
    if a.weight_decay < 0 or not math.isfinite(a.weight_decay):
        raise CLIError(f"--weight-decay must be >= 0, got {a.weight_decay}")
    if a.checkpoint_every < 0:
        raise CLIError(f"--checkpoint-every must be >= 0, got {a.checkpoint_every}")
    if a.patience is not None and a.patience < 0:
        raise CLIError(f"--patience must be >= 0, got {a.patience}")
    if (a.n_samples is not None or a.noise is not None) and a.dataset not in TOY:
        raise CLIError(f"--n-samples/--noise apply to the 2-D datasets {', '.join(TOY)}, not {a.dataset}")
    if a.data is not None and not os.path.isdir(a.data):
        raise CLIError(f"--data {a.data!r} is not a folder")
    _check_positive("--nproc", a.nproc, True)
    activation = a.activation or d["activation"]
    epochs = a.epochs or d["epochs"]
    batch_size = a.batch_size or d["batch_size"]
    world = _launched_world()
    nproc = a.nproc or 1
    if world > 1 or nproc > 1:
        w = world if world > 1 else nproc
        if batch_size % w:
            raise CLIError(f"--batch-size {batch_size} must be divisible by the number of processes ({w})")
    if nproc > 1 and world == 1:
        return _relaunch(a, nproc)
    lr = a.lr if a.lr is not None else _default_lr(a.dataset, a.optimizer)
    data_kwargs = dict(d["data"])
    if a.n_samples is not None:
        data_kwargs["n_samples"] = a.n_samples
    if a.noise is not None:
        data_kwargs["noise"] = a.noise
    data_root = _resolve_data_root(a.dataset, a.data)
    out, created = _prepare_out(a.out, a.dataset)
    try:
        return _train(a, out, hidden, activation, epochs, batch_size, lr, data_kwargs, data_root)
    except BaseException:
        _remove_created(created)  # a failed run leaves no empty folder behind
        raise


def _launched_world() -> int:
    """The number of processes when started by an MPI launcher (1 otherwise)."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        v = os.environ.get(var)
        if v and v.isdigit():
            return int(v)
    return 1


def _relaunch(a: argparse.Namespace, nproc: int) -> int:
    """Run this command again under ``mpiexec -n nproc`` (one output folder, made here)."""
    import subprocess

    from . import distributed

    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if exe is None or not distributed.is_mpi_available():
        raise CLIError("--nproc needs MPI: pip install 'glassgrad[distributed]' (mpi4py and an MPI "
                       "library with mpiexec)")
    out, created = _prepare_out(a.out, a.dataset)
    argv = [*a.argv, "--out", out]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")      # one thread per process: the processes are the parallelism
    cmd = [exe, "-n", str(nproc)]
    out_v = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in out_v or "OpenRTE" in out_v:
        cmd.append("--oversubscribe")
    try:
        rc = subprocess.run([*cmd, sys.executable, "-m", "glassgrad", *argv], env=env).returncode
    except BaseException:
        _remove_created(created)
        raise
    if rc != 0 and not os.path.exists(os.path.join(out, "model.ckpt")):
        _remove_created(created)
    return rc


def _train(a: argparse.Namespace, out: str, hidden: list[int], activation: str, epochs: int,
           batch_size: int, lr: float, data_kwargs: dict, data_root: str | None) -> int:
    import glassgrad as gg

    from .train import EarlyStopping, ModelCheckpoint, Trainer

    world = _launched_world()
    ddp = None
    if world > 1:
        from . import distributed as dist

        dist.init_process_group("mpi")
        world = dist.get_world_size()
        rank = dist.get_rank()
    else:
        rank = 0

    cfg: dict[str, Any] = {
        "dataset": a.dataset, "data_kwargs": data_kwargs, "seed": a.seed, "val_fraction": a.val_fraction,
        "data_root": data_root, "download": not a.no_download,
        "hidden": hidden, "activation": activation,
        "loss": a.loss, "optimizer": a.optimizer, "lr": lr, "weight_decay": a.weight_decay,
        "epochs": epochs, "batch_size": batch_size, "grad_clip": a.grad_clip,
    }
    gg.manual_seed(a.seed)
    Xtr, ytr, Xva, yva = load_data(cfg)
    cfg["in_features"] = int(Xtr.shape[1])
    cfg["num_classes"] = int(max(ytr.max(), yva.max() if len(yva) else 0)) + 1
    model = build_model(cfg["in_features"], hidden, cfg["num_classes"], activation)
    loss_fn = build_loss(a.loss, cfg["num_classes"])
    train_loader, val_loader = _loaders(Xtr, ytr, Xva, yva, batch_size, a.seed, world, rank)
    if world > 1:
        from .nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model)
    opt = build_optimizer(a.optimizer, model.parameters(), lr, a.weight_decay)
    callbacks: list[Any] = []
    if a.checkpoint_every:
        callbacks.append(ModelCheckpoint(out, every_n_epochs=a.checkpoint_every, save_last=False))
    if a.patience is not None:
        callbacks.append(EarlyStopping("val_loss", patience=a.patience, restore_best_weights=True))
    verbose = 0 if a.quiet or rank else 1
    split = "test" if a.dataset == "mnist" else "val"
    if world > 1 and verbose:
        print(f"glassgrad train: data-parallel on {world} processes, {batch_size // world} samples per "
              f"process per step")
    if verbose:
        print(f"glassgrad train: {a.dataset} ({len(Xtr)} train / {len(Xva)} {split}), MLP {_arch(cfg)}, "
              f"loss {a.loss}, {a.optimizer} lr {lr:g}, batch {batch_size}, {epochs} epochs, seed {a.seed}")
        print(f"writing to {os.path.abspath(out)}")
    if rank == 0:
        atomic_write(os.path.join(out, "config.json"), json.dumps(cfg, indent=2) + "\n")
    trainer = Trainer(ddp if ddp is not None else model, loss_fn, opt, callbacks=callbacks,
                      grad_clip=a.grad_clip, verbose=verbose, extra={"config": cfg},
                      progress=not a.no_progress)
    t0 = time.perf_counter()
    history = trainer.fit(train_loader, val_loader, epochs=epochs)
    secs = time.perf_counter() - t0
    trainer.save_checkpoint(os.path.join(out, "model.ckpt"))
    if rank != 0:
        return 0
    history.to_csv(os.path.join(out, "metrics.csv"))
    written = ["metrics.csv", "model.ckpt", "config.json"]
    if not a.no_plots:
        try:
            paths = _draw_plots(out, model, cfg, history, Xva, yva, Xtr, ytr)
            written += [os.path.basename(p) for p in paths]
        except ImportError as e:
            print(f"glassgrad train: skipping plots: {e}", file=sys.stderr)
    res = trainer.evaluate(val_loader)
    print(f"final: {split} accuracy {100 * res['acc']:.2f}%  {split} loss {res['loss']:.4f}  "
          f"train accuracy {100 * history.last('train_acc'):.2f}%  ({trainer.epoch} epochs, {secs:.1f}s)")
    print(f"wrote {', '.join(written)} to {out}")
    hint = _did_not_learn(res["acc"], yva, cfg, a)
    if hint:
        print(hint)
    return 0


def _did_not_learn(acc: float, y: np.ndarray, cfg: dict, a: argparse.Namespace) -> str | None:
    """A hint when the accuracy is close to always answering the most frequent class."""
    if not len(y):
        return None
    base = float(np.bincount(y).max()) / len(y)
    if acc > base + 0.25 * (1.0 - base):
        return None
    tips = []
    if cfg["activation"] == "sigmoid":
        tips.append("--activation tanh or relu (sigmoid layers pass small gradients and learn slowly)")
    if cfg["optimizer"] in ("sgd", "momentum"):
        tips.append(f"a larger --lr (it was {cfg['lr']:g}; plain SGD is sensitive to it) or --optimizer adam")
    else:
        tips.append(f"another --lr (it was {cfg['lr']:g})")
    tips.append(f"more --epochs (it was {cfg['epochs']})")
    split = "test" if cfg["dataset"] == "mnist" else "val"
    return (f"hint: the model did not learn: {split} accuracy {100 * acc:.2f}% is close to the "
            f"{100 * base:.2f}% of always answering the most frequent class. Try " + "; ".join(tips) + ".")


def cmd_evaluate(a: argparse.Namespace) -> int:
    model, cfg, ckpt = _model_from_checkpoint(a.checkpoint, a.data)
    from .train import evaluate

    Xtr, ytr, Xva, yva = load_data(cfg)
    X, y = (Xva, yva) if a.split == "val" else (Xtr, ytr)
    train_loader, val_loader = _loaders(X, y, X, y, 1024, cfg["seed"])
    res = evaluate(model, val_loader, build_loss(cfg["loss"], cfg["num_classes"]))
    split = {"val": "test" if cfg["dataset"] == "mnist" else "val", "train": "train"}[a.split]
    print(f"{cfg['dataset']} ({split}, {res['n']} samples), MLP {_arch(cfg)}, epoch {ckpt['epoch']}: "
          f"loss {res['loss']:.4f}  accuracy {100 * res['acc']:.2f}%")
    return 0


def cmd_plot(a: argparse.Namespace) -> int:
    from .train import History

    if not os.path.isdir(a.dir):
        raise CLIError(f"no such run folder: {a.dir!r}")
    csv_path = os.path.join(a.dir, "metrics.csv")
    ckpt_path = os.path.join(a.dir, "model.ckpt")
    if not os.path.exists(csv_path) and not os.path.exists(ckpt_path):
        raise CLIError(f"{a.dir!r} has neither metrics.csv nor model.ckpt (not a 'glassgrad train' folder)")
    history = History.from_csv(csv_path) if os.path.exists(csv_path) else None
    written: list[str] = []
    if os.path.exists(ckpt_path):
        model, cfg, _ = _model_from_checkpoint(ckpt_path, a.data)
        Xtr, ytr, Xva, yva = load_data(cfg)
        written = _draw_plots(a.dir, model, cfg, history, Xva, yva, Xtr, ytr)
    elif history is not None:
        from . import viz

        fig = viz.plot_history(history, val_name="val")
        written = [viz.save_figure(fig, os.path.join(a.dir, "loss.png"))]
    print(f"wrote {', '.join(os.path.basename(p) for p in written)} to {a.dir}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    model, cfg, _ = _model_from_checkpoint(a.run)
    from . import onnx as gg_onnx
    from . import zeros

    try:
        gg_onnx.export(model, zeros(2, cfg["in_features"]), a.output, input_names=["input"],
                       output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                       opset_version=a.opset)
    except ImportError as e:
        raise CLIError(str(e)) from None
    print(f"wrote {a.output}: MLP {_arch(cfg)}, input 'input' (batch, {cfg['in_features']}) -> output "
          f"'logits' (batch, {cfg['num_classes']})")
    return 0


def cmd_playground(a: argparse.Namespace) -> int:
    for name in ("max_sessions", "max_width", "max_layers"):
        _check_positive("--" + name.replace("_", "-"), getattr(a, name), integer=True)
    if not 0 <= a.port <= 65535:
        raise CLIError(f"--port must be between 0 and 65535, got {a.port}")
    from .playground import Limits, serve

    try:
        serve("127.0.0.1", a.port, max_sessions=a.max_sessions,
              limits=Limits(max_width=a.max_width, max_layers=a.max_layers))
    except OSError as e:
        raise CLIError(f"cannot listen on 127.0.0.1:{a.port}: {e.strerror or e}") from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``glassgrad`` command (``python -m glassgrad`` too)."""
    parser = build_parser()
    args = list(sys.argv[1:] if argv is None else argv)
    a = parser.parse_args(args)
    a.argv = args
    if a.command is None:
        parser.print_help()
        return 2
    handler = {"train": cmd_train, "evaluate": cmd_evaluate, "plot": cmd_plot,
               "export": cmd_export, "playground": cmd_playground}[a.command]
    try:
        return handler(a)
    except CLIError as e:
        print(f"glassgrad {a.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"glassgrad {a.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("GLASSGRAD_DEBUG"):
            raise
        msg = " ".join(str(e).split()) or repr(e)
        print(f"glassgrad {a.command}: error: {type(e).__name__}: {msg} (GLASSGRAD_DEBUG=1 shows the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
