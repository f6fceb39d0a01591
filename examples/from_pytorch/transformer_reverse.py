"""A sequence-to-sequence ``nn.Transformer`` that learns to reverse sentences, written as a
PyTorch program.

Each sentence is ``--seq-len`` words drawn from a small word-level vocabulary (the
spelling alphabet: alfa, bravo, charlie, ...); the target is the same words in reverse
order. The encoder reads the sentence, the decoder is fed the target shifted right behind
a ``<sos>`` token under a causal mask (``nn.Transformer.generate_square_subsequent_mask``)
and predicts the next word. Training is plain SGD written out by hand, with gradient norm
clipping, and the learning rate is divided by 4 whenever the validation loss stops
improving. After every epoch the program prints the losses and the share of validation
sentences that greedy decoding reverses exactly; at the end it shows one sentence decoded
greedily and one sampled word by word (``torch.multinomial``) at ``--temperature``.

    python transformer_reverse.py --epochs 6
    python transformer_reverse.py --epochs 2 --dropout 0 --save-model

The only lines that name the framework are the imports below; put ``torch`` in place of
``glassgrad`` there and the same file runs on PyTorch (see README.md).
"""

import argparse
import math
import time

import numpy as np

import glassgrad as torch
import glassgrad.nn as nn
import glassgrad.nn.functional as F
from glassgrad.utils.data import DataLoader, Dataset

WORDS = ("alfa bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


class Dictionary:
    """Words to ids and back."""

    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


class ReverseSentences(Dataset):
    """``n`` random sentences and their reversals, as ids; items are ``(source, target)``."""

    def __init__(self, dictionary, n, seq_len, seed):
        rng = np.random.default_rng(seed)
        ids = np.array([dictionary.word2idx[w] for w in WORDS], dtype=np.int64)
        src = ids[rng.integers(0, len(ids), size=(n, seq_len))]
        self.src = torch.from_numpy(src)
        self.tgt = torch.from_numpy(np.ascontiguousarray(src[:, ::-1]))

    def __len__(self):
        return len(self.src)

    def __getitem__(self, index):
        return self.src[index], self.tgt[index]


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal position code of "Attention Is All You Need" to (N, S, E) inputs."""

    def __init__(self, d_model, dropout=0.1, max_len=128):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x):
        x = x + self.pe[:, :x.size(1)]
        return self.dropout(x)


class TransformerModel(nn.Module):
    """Shared word embedding, positional encoding, ``nn.Transformer`` and a linear read-out."""

    def __init__(self, ntoken, d_model, nhead, nlayers, d_hid, dropout=0.1):
        super().__init__()
        self.model_type = "Transformer"
        self.d_model = d_model
        self.embedding = nn.Embedding(ntoken, d_model)
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        self.transformer = nn.Transformer(d_model, nhead, nlayers, nlayers, d_hid, dropout,
                                          batch_first=True)
        self.decoder = nn.Linear(d_model, ntoken)
        self.init_weights()

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.embedding.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def embed(self, tokens):
        return self.pos_encoder(self.embedding(tokens) * math.sqrt(self.d_model))

    def forward(self, src, tgt):
        tgt_mask = nn.Transformer.generate_square_subsequent_mask(tgt.size(1), device=tgt.device)
        output = self.transformer(self.embed(src), self.embed(tgt), tgt_mask=tgt_mask)
        return F.log_softmax(self.decoder(output), dim=-1)

    def decode(self, src, sos, length, temperature=0.0):
        """``length`` words after ``<sos>``, one at a time: the most likely word each time
        (``temperature`` 0), else a word drawn from the softmax at that temperature."""
        memory = self.transformer.encoder(self.embed(src))
        ys = torch.full((src.size(0), 1), sos, dtype=torch.long, device=src.device)
        for _ in range(length):
            mask = nn.Transformer.generate_square_subsequent_mask(ys.size(1), device=src.device)
            out = self.transformer.decoder(self.embed(ys), memory, tgt_mask=mask)
            logits = self.decoder(out[:, -1])
            if temperature > 0:
                next_word = torch.multinomial(F.softmax(logits / temperature, dim=-1), 1)
            else:
                next_word = logits.argmax(dim=-1, keepdim=True)
            ys = torch.cat([ys, next_word], dim=1)
        return ys[:, 1:]


def shift_right(tgt, sos):
    """Decoder input: ``<sos>`` followed by the target without its last word."""
    start = torch.full((tgt.size(0), 1), sos, dtype=tgt.dtype, device=tgt.device)
    return torch.cat([start, tgt[:, :-1]], dim=1)


def train(args, model, device, loader, criterion, ntokens, sos, lr, epoch):
    """One epoch of hand-written SGD with gradient clipping; returns every batch's loss."""
    model.train()
    losses = []
    total_loss = 0.0
    start_time = time.time()
    for batch, (src, tgt) in enumerate(loader):
        src, tgt = src.to(device), tgt.to(device)
        model.zero_grad()
        output = model(src, shift_right(tgt, sos))
        loss = criterion(output.view(-1, ntokens), tgt.reshape(-1))
        loss.backward()

        # `clip_grad_norm` helps prevent the exploding gradient problem in Transformers.
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)

        losses.append(loss.item())
        total_loss += loss.item()
        if batch % args.log_interval == 0 and batch > 0:
            cur_loss = total_loss / args.log_interval
            elapsed = time.time() - start_time
            print(f"| epoch {epoch:3d} | {batch:5d}/{len(loader):5d} batches | lr {lr:02.2f} | "
                  f"ms/batch {elapsed * 1000 / args.log_interval:5.2f} | loss {cur_loss:5.2f} | "
                  f"ppl {math.exp(cur_loss):8.2f}")
            total_loss = 0.0
            start_time = time.time()
        if args.dry_run:
            break
    return losses


def evaluate(model, device, loader, criterion, ntokens, sos):
    """Mean loss (teacher forcing) and the share of sentences greedy decoding gets right."""
    model.eval()
    total_loss = 0.0
    correct = 0
    n = 0
    with torch.no_grad():
        for src, tgt in loader:
            src, tgt = src.to(device), tgt.to(device)
            output = model(src, shift_right(tgt, sos))
            total_loss += len(src) * criterion(output.view(-1, ntokens), tgt.reshape(-1)).item()
            decoded = model.decode(src, sos, tgt.size(1))
            correct += (decoded == tgt).all(dim=1).sum().item()
            n += len(src)
    return total_loss / n, correct / n


def get_args(argv=None):
    parser = argparse.ArgumentParser(description="Transformer that reverses sentences (a PyTorch program)")
    parser.add_argument("--seq-len", type=int, default=6, help="words per sentence (default: 6)")
    parser.add_argument("--train-size", type=int, default=4096, help="training sentences (default: 4096)")
    parser.add_argument("--val-size", type=int, default=256, help="validation sentences (default: 256)")
    parser.add_argument("--emsize", type=int, default=32, help="size of word embeddings (default: 32)")
    parser.add_argument("--nhid", type=int, default=64,
                        help="feed-forward width in the transformer layers (default: 64)")
    parser.add_argument("--nlayers", type=int, default=2, help="encoder and decoder layers (default: 2)")
    parser.add_argument("--nhead", type=int, default=4, help="attention heads (default: 4)")
    parser.add_argument("--lr", type=float, default=1.0, help="initial learning rate (default: 1.0)")
    parser.add_argument("--clip", type=float, default=0.5, help="gradient clipping (default: 0.5)")
    parser.add_argument("--epochs", type=int, default=6, help="upper epoch limit (default: 6)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="batch size (default: 32)")
    parser.add_argument("--dropout", type=float, default=0.1,
                        help="dropout applied to layers (0 = no dropout, default: 0.1)")
    parser.add_argument("--seed", type=int, default=1111, help="random seed (default: 1111)")
    parser.add_argument("--cuda", action="store_true", default=False, help="use CUDA")
    parser.add_argument("--log-interval", type=int, default=40, metavar="N", help="report interval")
    parser.add_argument("--save-model", action="store_true", help="save the best model")
    parser.add_argument("--save", type=str, default="transformer_reverse.pt",
                        help="path to save the final model (default: transformer_reverse.pt)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="temperature of the sampled decode printed at the end (default: 1.0)")
    parser.add_argument("--dry-run", action="store_true", help="verify the code and the model")
    return parser.parse_args(argv)


def main(argv=None):
    args = get_args(argv)

    # Set the random seed manually for reproducibility.
    torch.manual_seed(args.seed)
    if torch.cuda.is_available() and not args.cuda:
        print("WARNING: You have a CUDA device, so you should probably run with --cuda.")
    device = torch.device("cuda" if args.cuda else "cpu")

    dictionary = Dictionary()
    sos = dictionary.add_word("<sos>")
    for word in WORDS:
        dictionary.add_word(word)
    ntokens = len(dictionary)

    train_data = ReverseSentences(dictionary, args.train_size, args.seq_len, seed=args.seed)
    val_data = ReverseSentences(dictionary, args.val_size, args.seq_len, seed=args.seed + 1)
    train_loader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(val_data, batch_size=args.batch_size)

    model = TransformerModel(ntokens, args.emsize, args.nhead, args.nlayers, args.nhid,
                             args.dropout).to(device)
    criterion = nn.NLLLoss()

    lr = args.lr
    best_val_loss = None
    history = []
    for epoch in range(1, args.epochs + 1):
        epoch_start_time = time.time()
        losses = train(args, model, device, train_loader, criterion, ntokens, sos, lr, epoch)
        val_loss, val_acc = evaluate(model, device, val_loader, criterion, ntokens, sos)
        train_loss = sum(losses) / len(losses)
        print("-" * 89)
        print(f"| end of epoch {epoch:3d} | time: {time.time() - epoch_start_time:5.2f}s | "
              f"train loss {train_loss:.6f} | valid loss {val_loss:.6f} | "
              f"valid ppl {math.exp(val_loss):8.2f} | reversed {100 * val_acc:5.1f}%")
        print("-" * 89)
        history.append((train_loss, val_loss, val_acc))
        # Keep the best model; anneal the learning rate when validation stops improving.
        if best_val_loss is None or val_loss < best_val_loss:
            if args.save_model:
                torch.save(model.state_dict(), args.save)
            best_val_loss = val_loss
        else:
            lr /= 4.0
        if args.dry_run:
            break

    src, tgt = val_data[0]
    model.eval()
    with torch.no_grad():
        greedy = model.decode(src.unsqueeze(0).to(device), sos, args.seq_len)[0]
        sampled = model.decode(src.unsqueeze(0).to(device), sos, args.seq_len, args.temperature)[0]
    print("source: ", " ".join(dictionary.idx2word[i] for i in src.tolist()))
    print("decoded:", " ".join(dictionary.idx2word[i] for i in greedy.tolist()))
    print(f"sampled at temperature {args.temperature}:",
          " ".join(dictionary.idx2word[i] for i in sampled.tolist()))
    return history


if __name__ == "__main__":
    main()
