"""A character-level language model trained on text that ships with Python itself.

The corpus is the Python reference documentation bundled in the standard library
(``pydoc_data.topics``: the text ``help('assert')`` prints, ~465 kB of English prose and
code). The model reads ``--seq-len`` characters and predicts each next one, either with an
LSTM (default) or with a 2-layer causal Transformer encoder (``--arch transformer``:
token + learned position embeddings, ``nn.TransformerEncoder`` with a causal mask).
After training it generates samples; the training/validation loss curve is written as
CSV (and PNG with matplotlib).

    python examples/char_lm.py                           # LSTM, 400 steps
    python examples/char_lm.py --arch transformer --steps 600 --out runs/charlm
    python examples/char_lm.py --text my_book.txt        # any UTF-8 text instead

Loss is in nats per character (uniform over the ~100 symbols would be ln 100 ≈ 4.6).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

import glassgrad as gg  # noqa: E402
from glassgrad import nn, optim  # noqa: E402
from glassgrad.nn import functional as F  # noqa: E402
from glassgrad.train import progress, progress_write  # noqa: E402


def load_text(path: str | None) -> str:
    if path:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


class LSTMLM(nn.Module):
    def __init__(self, vocab: int, emb: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx: gg.Tensor, state: tuple | None = None) -> tuple:
        out, state = self.lstm(self.embed(idx), state)
        return self.head(out), state


class TransformerLM(nn.Module):
    def __init__(self, vocab: int, d_model: int, heads: int, layers: int, seq_len: int,
                 dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=4 * d_model, dropout=dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab)

    def forward(self, idx: gg.Tensor, state: None = None) -> tuple:
        T = idx.shape[1]
        x = self.embed(idx) + self.pos(gg.arange(T))
        causal = gg.tensor(np.triu(np.ones((T, T), bool), 1))      # True = may not attend
        return self.head(self.encoder(x, mask=causal)), None


def batch(data: np.ndarray, rng: np.random.Generator, n: int, T: int) -> tuple:
    starts = rng.integers(0, len(data) - T - 1, size=n)
    idx = starts[:, None] + np.arange(T + 1)[None, :]
    chunk = data[idx]
    return gg.from_numpy(chunk[:, :-1]), gg.from_numpy(chunk[:, 1:])


def generate(model: nn.Module, stoi: dict, itos: list, prompt: str, n: int, temperature: float,
             seq_len: int, rng: np.random.Generator, arch: str) -> str:
    model.eval()
    out = list(prompt)
    with gg.no_grad():
        if arch == "lstm":              # carry the recurrent state: one step per character
            logits, state = model(gg.tensor([[stoi[c] for c in prompt]]))
            for _ in range(n):
                p = F.softmax(logits[0, -1] / temperature, -1).numpy().astype(np.float64)
                c = int(rng.choice(len(p), p=p / p.sum()))
                out.append(itos[c])
                logits, state = model(gg.tensor([[c]]), state)
        else:                           # re-read the last seq_len characters
            for _ in range(n):
                ctx = [stoi[c] for c in out[-seq_len:]]
                logits, _ = model(gg.tensor([ctx]))
                p = F.softmax(logits[0, -1] / temperature, -1).numpy().astype(np.float64)
                out.append(itos[int(rng.choice(len(p), p=p / p.sum()))])
    model.train()
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", choices=["lstm", "transformer"], default="lstm")
    ap.add_argument("--text", default=None, help="UTF-8 file (default: Python's bundled docs)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=256, help="LSTM hidden size / Transformer d_model/2")
    ap.add_argument("--layers", type=int, default=None, help="default: 1 (LSTM), 2 (Transformer)")
    ap.add_argument("--lr", type=float, default=None, help="default: 3e-3 (LSTM), 1e-3 (Transformer)")
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--sample-chars", type=int, default=400)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join("runs", "examples", "char_lm"))
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)

    text = load_text(a.text)
    itos = sorted(set(text))
    stoi = {c: i for i, c in enumerate(itos)}
    data = np.array([stoi[c] for c in text], dtype=np.int64)
    split = int(0.95 * len(data))
    train_data, val_data = data[:split], data[split:]
    gg.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    if a.arch == "lstm":
        layers = a.layers or 1
        model: nn.Module = LSTMLM(len(itos), 64, a.hidden, layers)
        lr = a.lr or 3e-3
    else:
        layers = a.layers or 2
        model = TransformerLM(len(itos), a.hidden // 2, 4, layers, a.seq_len, 0.1)
        lr = a.lr or 1e-3
    n_params = sum(p.numel() for p in model.parameters())
    print(f"corpus: {len(text)} characters, vocabulary {len(itos)}; {a.arch}, {layers} layer(s), "
          f"{n_params} parameters; batch {a.batch_size} x {a.seq_len} chars, Adam lr {lr}")
    opt = optim.Adam(model.parameters(), lr=lr)
    vrng = np.random.default_rng(a.seed + 1)
    val_batch = batch(val_data, vrng, 64, a.seq_len)
    rows = []
    t0 = time.perf_counter()
    for step in progress(range(1, a.steps + 1), desc=a.arch, enabled=not a.no_progress):
        x, y = batch(train_data, rng, a.batch_size, a.seq_len)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, len(itos)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        val = ""
        if step % a.eval_every == 0 or step == a.steps:
            model.eval()
            with gg.no_grad():
                vl, _ = model(val_batch[0])
                val = F.cross_entropy(vl.reshape(-1, len(itos)), val_batch[1].reshape(-1)).item()
            model.train()
            progress_write(f"step {step:5d}  train {loss.item():.3f}  val {val:.3f} nats/char "
                           f"({val / math.log(2):.2f} bits)  {time.perf_counter() - t0:.0f} s")
        rows.append((step, loss.item(), val))
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, f"char_lm_{a.arch}_loss.csv")
    with open(path + ".tmp", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "train_loss", "val_loss"])
        w.writerows(rows)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")
    for prompt in ("The ", "def "):
        if any(c not in stoi for c in prompt):       # another corpus: start from its beginning
            prompt = text[:4]
        print(f"\n--- sample (temperature {a.temperature}) ---")
        print(generate(model, stoi, itos, prompt, a.sample_chars, a.temperature, a.seq_len, rng, a.arch))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (pip install glassgrad[plot]): no PNG")
        return 0
    fig, ax = plt.subplots(figsize=(7, 4))
    st = np.array([r[0] for r in rows])
    ax.plot(st, [r[1] for r in rows], alpha=0.6, label="train (batch)")
    vs = [(r[0], r[2]) for r in rows if r[2] != ""]
    ax.plot([v[0] for v in vs], [v[1] for v in vs], "o-", label="validation")
    ax.set(xlabel="step", ylabel="cross-entropy (nats/char)", title=f"char LM ({a.arch}) on Python docs")
    ax.legend()
    png = os.path.join(a.out, f"char_lm_{a.arch}_loss.png")
    fig.savefig(png + ".tmp.png", dpi=120, bbox_inches="tight")
    os.replace(png + ".tmp.png", png)
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
