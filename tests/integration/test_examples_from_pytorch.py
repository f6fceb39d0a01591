"""The PyTorch programs in examples/from_pytorch/ run on glassgrad and on PyTorch alike.

Each program imports ``glassgrad as torch`` (and ``glassgrad.nn as nn`` ...) in one import
block and names the framework nowhere else. ``load_program(name, "torch")`` puts ``torch``
in place of ``glassgrad`` in those import lines and executes the file as a fresh module;
``load_program(name, "glassgrad")`` executes it unchanged. The equivalence tests then build
each program's models in both frameworks, copy PyTorch's initial ``state_dict`` into
glassgrad's (through NumPy), feed the same batches (the datasets are drawn with NumPy from a
seed; the loaders do not shuffle) and run the program's own ``train``/``test`` functions,
asserting the same per-batch losses to float32 rounding. Dropout is switched off (p=0) in
those runs because the two frameworks draw different masks; the GAN's noise is drawn in
NumPy for both (the test gives the program a ``torch`` whose ``randn`` returns it).
"""

from __future__ import annotations

import io
import os
import re
import tokenize
import types
from contextlib import redirect_stdout

import numpy as np
import pytest

from examples_helper import MNIST_DIR

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # as tests/oracle.py: small problems, a shared machine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples", "from_pytorch")
PROGRAMS = ["mnist_cnn", "dcgan", "transformer_reverse"]
IMPORT_LINE = re.compile(r"^(import|from)\s+glassgrad\b", re.MULTILINE)
RTOL = 1e-4


def load_program(name: str, framework: str) -> types.ModuleType:
    """Execute ``examples/from_pytorch/<name>.py`` as a module, on ``framework``."""
    path = os.path.join(EXAMPLES, f"{name}.py")
    with open(path, encoding="utf-8") as fh:
        src = fh.read()
    if framework == "torch":
        src = IMPORT_LINE.sub(r"\1 torch", src)
    elif framework != "glassgrad":
        raise ValueError(f"framework must be 'torch' or 'glassgrad', got {framework!r}")
    mod = types.ModuleType(f"from_pytorch_{name}_{framework}")
    mod.__file__ = path
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod


def run_main(mod: types.ModuleType, argv: list[str]) -> tuple[list, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        history = mod.main(argv)
    return history, out.getvalue()


def copy_weights(tmodel, gmodel) -> None:
    """PyTorch's state_dict into the glassgrad model, through NumPy (keys must agree)."""
    gmodel.load_state_dict({k: v.detach().cpu().numpy().copy() for k, v in tmodel.state_dict().items()})


def assert_same_state(tmodel, gmodel, rtol=1e-3, atol=1e-5) -> None:
    tsd, gsd = tmodel.state_dict(), gmodel.state_dict()
    assert list(tsd) == list(gsd)
    for k in tsd:
        np.testing.assert_allclose(gsd[k].numpy(), tsd[k].numpy(), rtol=rtol, atol=atol, err_msg=k)


def loaders(mod, dataset, batch_size):
    return mod.DataLoader(dataset, batch_size=batch_size, shuffle=False)


# ---------------------------------------------------------------------------- the programs


@pytest.mark.parametrize("name", PROGRAMS)
def test_framework_named_only_in_the_import_block(name):
    """Apart from docstrings and comments, ``glassgrad`` appears only in the import lines,
    and those form one block: swapping them is all it takes to run on PyTorch."""
    path = os.path.join(EXAMPLES, f"{name}.py")
    with open(path, encoding="utf-8") as fh:
        src = fh.read()
    lines = src.splitlines()
    import_rows = [i for i, line in enumerate(lines) if IMPORT_LINE.match(line)]
    assert len(import_rows) >= 3 and import_rows == list(range(import_rows[0], import_rows[-1] + 1))
    assert "import glassgrad as torch" in src
    names = [tok for tok in tokenize.generate_tokens(io.StringIO(src).readline)
             if tok.type == tokenize.NAME and tok.string == "glassgrad"]
    assert {tok.start[0] - 1 for tok in names} == set(import_rows)
    swapped = IMPORT_LINE.sub(r"\1 torch", src)
    assert all(tok.string != "glassgrad" for tok in tokenize.generate_tokens(io.StringIO(swapped).readline)
               if tok.type == tokenize.NAME)


@pytest.mark.parametrize("framework", ["glassgrad", "torch"])
def test_mnist_cnn_runs(framework, tmp_path):
    mod = load_program("mnist_cnn", framework)
    path = tmp_path / "cnn.pt"
    history, out = run_main(mod, ["--epochs", "2", "--train-size", "32", "--test-size", "16",
                                  "--batch-size", "16", "--no-accel", "--save-model",
                                  "--model-path", str(path)])
    assert len(history) == 2 and "Epoch 2: train loss" in out and "Test set: Average loss" in out
    assert all(np.isfinite(h[0]) for h in history)
    reloaded = mod.Net()
    reloaded.load_state_dict(mod.torch.load(str(path)))


@pytest.mark.parametrize("framework", ["glassgrad", "torch"])
def test_dcgan_runs(framework, tmp_path):
    mod = load_program("dcgan", framework)
    history, out = run_main(mod, ["--epochs", "1", "--n-images", "32", "--batch-size", "16",
                                  "--outf", str(tmp_path), "--save-model"])
    assert len(history) == 1 and "Epoch 1: Loss_D" in out
    with open(tmp_path / "fake_samples_epoch_001.pgm", "rb") as fh:
        assert fh.read(2) == b"P5"
    netG = mod.Generator(16, 16, 1)
    netG.load_state_dict(mod.torch.load(str(tmp_path / "netG_epoch_1.pth")))


@pytest.mark.parametrize("framework", ["glassgrad", "torch"])
def test_transformer_reverse_runs(framework, tmp_path):
    mod = load_program("transformer_reverse", framework)
    history, out = run_main(mod, ["--epochs", "2", "--train-size", "32", "--val-size", "8",
                                  "--batch-size", "16", "--emsize", "16", "--nhid", "16", "--nlayers", "1",
                                  "--save-model", "--save", str(tmp_path / "tr.pt")])
    assert len(history) == 2 and "end of epoch   2" in out and "sampled at temperature 1.0:" in out
    assert os.path.exists(tmp_path / "tr.pt")


# ------------------------------------------------------------- same losses as on PyTorch


def test_mnist_cnn_same_losses_as_pytorch():
    """Two epochs of Adadelta and StepLR, dropout p=0: the same loss at every batch."""
    tm, gm = load_program("mnist_cnn", "torch"), load_program("mnist_cnn", "glassgrad")
    args = tm.get_args(["--log-interval", "1000"])
    torch.manual_seed(0)
    tnet, gnet = tm.Net(0.0, 0.0), gm.Net(0.0, 0.0)
    copy_weights(tnet, gnet)
    runs = {}
    for mod, net in ((tm, tnet), (gm, gnet)):
        train_loader = loaders(mod, mod.SyntheticDigits(96, seed=5), 32)
        test_loader = loaders(mod, mod.SyntheticDigits(40, seed=6), 20)
        device = mod.torch.device("cpu")
        optimizer = mod.optim.Adadelta(net.parameters(), lr=args.lr)
        scheduler = mod.StepLR(optimizer, step_size=1, gamma=args.gamma)
        losses, tests = [], []
        with redirect_stdout(io.StringIO()):
            for epoch in (1, 2):
                losses += mod.train(args, net, device, train_loader, optimizer, epoch)
                tests.append(mod.test(net, device, test_loader))
                scheduler.step()
        runs[mod] = (losses, tests, scheduler.get_last_lr())
    (tl, tt, tlr), (gl, gt, glr) = runs[tm], runs[gm]
    assert len(gl) == 6
    np.testing.assert_allclose(gl, tl, rtol=RTOL)
    np.testing.assert_allclose([t[0] for t in gt], [t[0] for t in tt], rtol=RTOL)
    assert [t[1] for t in gt] == [t[1] for t in tt]
    np.testing.assert_allclose(glr, tlr, rtol=1e-12)
    assert_same_state(tnet, gnet)


class _NumpyNoise:
    """A program's ``torch`` with ``randn`` drawn from a NumPy generator (same in both runs)."""

    def __init__(self, framework, seed):
        self._framework = framework
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._framework, name)

    def randn(self, *size, device=None):
        return self._framework.from_numpy(self._rng.standard_normal(size).astype(np.float32)).to(device)


def test_dcgan_same_losses_as_pytorch():
    """weights_init through .data, BatchNorm, ConvTranspose2d, BCELoss and Adam(betas): the same
    D and G losses at every batch (and the same weights and running statistics after)."""
    tm, gm = load_program("dcgan", "torch"), load_program("dcgan", "glassgrad")
    args = tm.get_args(["--nz", "8", "--ngf", "8", "--ndf", "8", "--epochs", "2", "--log-interval", "1000"])
    torch.manual_seed(0)
    nets = {}
    for mod in (tm, gm):
        netG, netD = mod.Generator(args.nz, args.ngf, 1), mod.Discriminator(args.ndf, 1)
        netG.apply(mod.weights_init)
        netD.apply(mod.weights_init)
        nets[mod] = (netG, netD)
    # weights_init drew N(0, 0.02) / N(1, 0.02) through .data in both frameworks
    gG, gD = nets[gm]
    assert abs(float(gG.main[0].weight.std()) - 0.02) < 0.004
    assert abs(float(gG.main[1].weight.mean()) - 1.0) < 0.02 and float(gG.main[1].bias.abs().sum()) == 0.0
    for tnet, gnet in zip(nets[tm], nets[gm]):
        copy_weights(tnet, gnet)
    runs = {}
    for mod in (tm, gm):
        netG, netD = nets[mod]
        loader = loaders(mod, mod.Shapes(48, seed=3), 16)
        optD = mod.optim.Adam(netD.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
        optG = mod.optim.Adam(netG.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
        real_torch, mod.torch = mod.torch, _NumpyNoise(mod.torch, seed=11)
        try:
            losses = []
            with redirect_stdout(io.StringIO()):
                for epoch in (1, 2):
                    losses += mod.train(args, netG, netD, mod.torch.device("cpu"), loader, optG, optD,
                                        mod.nn.BCELoss(), epoch)
        finally:
            mod.torch = real_torch
        runs[mod] = np.array(losses)
    assert runs[gm].shape == (6, 2)
    np.testing.assert_allclose(runs[gm], runs[tm], rtol=RTOL)
    for tnet, gnet in zip(nets[tm], nets[gm]):
        assert_same_state(tnet, gnet)
    # samples in eval mode (batch norm from its running statistics), as main() writes them
    z = np.random.default_rng(12).standard_normal((4, args.nz, 1, 1)).astype(np.float32)
    samples = {}
    for mod in (tm, gm):
        netG = nets[mod][0]
        netG.eval()
        with mod.torch.no_grad():
            samples[mod] = netG(mod.torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(samples[gm], samples[tm], rtol=1e-3, atol=1e-5)


def test_transformer_reverse_same_losses_as_pytorch():
    """nn.Transformer with a causal mask, clip_grad_norm_ and the hand-written SGD update
    ``p.data.add_(p.grad, alpha=-lr)``, dropout p=0: the same losses, validation loss and
    greedy decodes."""
    tm, gm = load_program("transformer_reverse", "torch"), load_program("transformer_reverse", "glassgrad")
    args = tm.get_args(["--log-interval", "1000", "--clip", "0.25"])
    torch.manual_seed(0)
    models = {}
    for mod in (tm, gm):
        d = mod.Dictionary()
        sos = d.add_word("<sos>")
        for w in mod.WORDS:
            d.add_word(w)
        model = mod.TransformerModel(len(d), 16, 2, 1, 32, dropout=0.0)
        models[mod] = (d, sos, model)
    copy_weights(models[tm][2], models[gm][2])
    runs = {}
    for mod in (tm, gm):
        d, sos, model = models[mod]
        train_loader = loaders(mod, mod.ReverseSentences(d, 48, 5, seed=2), 16)
        val_loader = loaders(mod, mod.ReverseSentences(d, 16, 5, seed=3), 16)
        criterion = mod.nn.NLLLoss()
        device = mod.torch.device("cpu")
        losses = []
        with redirect_stdout(io.StringIO()):
            for epoch, lr in ((1, 2.0), (2, 0.5)):
                losses += mod.train(args, model, device, train_loader, criterion, len(d), sos, lr, epoch)
        val = mod.evaluate(model, device, val_loader, criterion, len(d), sos)
        model.eval()
        with mod.torch.no_grad():
            src = val_loader.dataset.src
            decoded = model.decode(src, sos, 5).tolist()
        runs[mod] = (losses, val, decoded)
    (tl, tv, td), (gl, gv, gd) = runs[tm], runs[gm]
    assert len(gl) == 6
    np.testing.assert_allclose(gl, tl, rtol=RTOL)
    np.testing.assert_allclose(gv[0], tv[0], rtol=RTOL)
    assert gv[1] == tv[1] and gd == td
    assert_same_state(models[tm][2], models[gm][2])


# ------------------------------------------------------------------------ long runs


@pytest.mark.slow
def test_mnist_cnn_learns_synthetic_digits():
    history, _ = run_main(load_program("mnist_cnn", "glassgrad"), ["--epochs", "3", "--no-accel"])
    assert history[-1][2] >= 90.0


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz")),
                    reason=f"MNIST files not found in {MNIST_DIR}")
def test_mnist_cnn_reads_mnist():
    history, _ = run_main(load_program("mnist_cnn", "glassgrad"),
                          ["--epochs", "1", "--no-accel", "--data", MNIST_DIR])
    assert history[-1][2] >= 97.0


@pytest.mark.slow
def test_transformer_learns_to_reverse():
    history, _ = run_main(load_program("transformer_reverse", "glassgrad"), ["--epochs", "5"])
    assert history[-1][2] >= 0.8


@pytest.mark.slow
def test_dcgan_trains():
    history, _ = run_main(load_program("dcgan", "glassgrad"), ["--epochs", "3"])
    assert all(np.isfinite(h).all() for h in np.array(history))
