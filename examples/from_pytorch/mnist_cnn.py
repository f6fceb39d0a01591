"""A convolutional digit classifier, written as a PyTorch program.

Trains a two-convolution network with dropout on 28x28 grey digits with Adadelta and
reports the test accuracy after every epoch, with the learning rate cut by ``--gamma``
each epoch (StepLR).

By default the digits are drawn here with NumPy (seven-segment figures at random sizes,
places and stroke widths, plus noise), so nothing has to be downloaded. ``--data DIR``
reads the MNIST IDX files (``train-images-idx3-ubyte[.gz]`` etc.) from DIR instead.

    python mnist_cnn.py                       # synthetic digits, 4 epochs
    python mnist_cnn.py --data ~/mnist --epochs 14 --save-model

The only lines that name the framework are the imports below; put ``torch`` in place of
``glassgrad`` there and the same file runs on PyTorch (see README.md).
"""

import argparse
import gzip
import os

import numpy as np

import glassgrad as torch
import glassgrad.nn as nn
import glassgrad.nn.functional as F
import glassgrad.optim as optim
from glassgrad.optim.lr_scheduler import StepLR
from glassgrad.utils.data import DataLoader, Dataset

# Which of the seven segments (top, top-right, bottom-right, bottom, bottom-left,
# top-left, middle) each digit lights.
SEGMENTS = ["abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg"]


def draw_digit(rng, digit, size=28):
    """One seven-segment ``digit`` at a random height, width, stroke and position."""
    img = np.zeros((size, size), dtype=np.float32)
    h = int(rng.integers(14, 21))
    w = int(rng.integers(8, 13))
    t = int(rng.integers(2, 4))
    top = int(rng.integers(2, size - h - 1))
    left = int(rng.integers(2, size - w - 1))
    mid = top + h // 2
    boxes = {
        "a": (top, top + t, left, left + w),
        "b": (top, mid + 1, left + w - t, left + w),
        "c": (mid, top + h, left + w - t, left + w),
        "d": (top + h - t, top + h, left, left + w),
        "e": (mid, top + h, left, left + t),
        "f": (top, mid + 1, left, left + t),
        "g": (mid - t // 2, mid - t // 2 + t, left, left + w),
    }
    for s in SEGMENTS[digit]:
        r0, r1, c0, c1 = boxes[s]
        img[r0:r1, c0:c1] = 1.0
    img += rng.normal(0.0, 0.15, img.shape).astype(np.float32)
    return np.clip(img, 0.0, 1.0)


class SyntheticDigits(Dataset):
    """``n`` seven-segment digits drawn from ``seed``; items are ``(1x28x28 image, label)``."""

    def __init__(self, n, seed, mean=0.1307, std=0.3081):
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 10, size=n)
        images = np.stack([draw_digit(rng, int(d)) for d in labels])[:, None]
        self.data = torch.from_numpy((images - mean) / std)
        self.targets = torch.from_numpy(labels.astype(np.int64))

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.data[index], self.targets[index]


def read_idx(path):
    """An IDX file (as MNIST ships them, optionally gzipped) as a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


class MNIST(Dataset):
    """MNIST read from the IDX files in ``root`` (no download)."""

    def __init__(self, root, train=True, mean=0.1307, std=0.3081):
        prefix = "train" if train else "t10k"

        def find(stem):
            for name in (stem, stem + ".gz"):
                if os.path.exists(os.path.join(root, name)):
                    return os.path.join(root, name)
            raise FileNotFoundError(f"{stem}[.gz] not found in {root}")

        images = read_idx(find(f"{prefix}-images-idx3-ubyte")).astype(np.float32) / 255.0
        labels = read_idx(find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
        self.data = torch.from_numpy((images[:, None] - mean) / std)
        self.targets = torch.from_numpy(labels)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.data[index], self.targets[index]


class Net(nn.Module):
    def __init__(self, dropout1=0.25, dropout2=0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1)
        self.conv2 = nn.Conv2d(16, 32, 3, 1)
        self.dropout1 = nn.Dropout(dropout1)
        self.dropout2 = nn.Dropout(dropout2)
        self.fc1 = nn.Linear(800, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def train(args, model, device, train_loader, optimizer, epoch):
    """One epoch over ``train_loader``; returns the loss of every batch."""
    model.train()
    losses = []
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if batch_idx % args.log_interval == 0:
            print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)}"
                  f" ({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item():.6f}")
        if args.dry_run:
            break
    return losses


def test(model, device, test_loader):
    """Mean loss and accuracy (in %) over ``test_loader``."""
    model.eval()
    test_loss = 0.0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    n = len(test_loader.dataset)
    test_loss /= n
    accuracy = 100.0 * correct / n
    print(f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{n} ({accuracy:.0f}%)\n")
    return test_loss, accuracy


def get_args(argv=None):
    parser = argparse.ArgumentParser(description="Digit classifier (a PyTorch program)")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N",
                        help="input batch size for training (default: 64)")
    parser.add_argument("--test-batch-size", type=int, default=500, metavar="N",
                        help="input batch size for testing (default: 500)")
    parser.add_argument("--epochs", type=int, default=4, metavar="N",
                        help="number of epochs to train (default: 4)")
    parser.add_argument("--lr", type=float, default=1.0, metavar="LR",
                        help="learning rate (default: 1.0)")
    parser.add_argument("--gamma", type=float, default=0.7, metavar="M",
                        help="learning rate step gamma (default: 0.7)")
    parser.add_argument("--no-accel", action="store_true", help="disables accelerator")
    parser.add_argument("--dry-run", action="store_true", help="quickly check a single pass")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default: 1)")
    parser.add_argument("--log-interval", type=int, default=20, metavar="N",
                        help="how many batches to wait before logging training status")
    parser.add_argument("--data", type=str, default="", metavar="DIR",
                        help="read MNIST from DIR instead of drawing synthetic digits")
    parser.add_argument("--train-size", type=int, default=6000, metavar="N",
                        help="number of synthetic training digits (default: 6000)")
    parser.add_argument("--test-size", type=int, default=1000, metavar="N",
                        help="number of synthetic test digits (default: 1000)")
    parser.add_argument("--save-model", action="store_true", help="save the trained model")
    parser.add_argument("--model-path", type=str, default="mnist_cnn.pt",
                        help="where --save-model writes the state_dict (default: mnist_cnn.pt)")
    return parser.parse_args(argv)


def main(argv=None):
    args = get_args(argv)

    use_accel = not args.no_accel and torch.accelerator.is_available()
    torch.manual_seed(args.seed)
    if use_accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")

    train_kwargs = {"batch_size": args.batch_size}
    test_kwargs = {"batch_size": args.test_batch_size}
    if use_accel:
        accel_kwargs = {"num_workers": 1, "persistent_workers": True, "pin_memory": True}
        train_kwargs.update(accel_kwargs)
        test_kwargs.update(accel_kwargs)

    if args.data:
        dataset1 = MNIST(args.data, train=True)
        dataset2 = MNIST(args.data, train=False)
    else:
        dataset1 = SyntheticDigits(args.train_size, seed=args.seed)
        dataset2 = SyntheticDigits(args.test_size, seed=args.seed + 1000)
    train_loader = DataLoader(dataset1, shuffle=True, **train_kwargs)
    test_loader = DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    history = []
    for epoch in range(1, args.epochs + 1):
        losses = train(args, model, device, train_loader, optimizer, epoch)
        test_loss, accuracy = test(model, device, test_loader)
        print(f"Epoch {epoch}: train loss {sum(losses) / len(losses):.6f}  "
              f"test loss {test_loss:.6f}  accuracy {accuracy:.2f}%  lr {scheduler.get_last_lr()[0]:.5f}")
        history.append((sum(losses) / len(losses), test_loss, accuracy))
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), args.model_path)
    return history


if __name__ == "__main__":
    main()
