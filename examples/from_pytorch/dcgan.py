"""A small DCGAN, written as a PyTorch program.

A generator of transposed convolutions and a convolutional discriminator, both with batch
normalization, play the usual adversarial game on 16x16 grey pictures of rings and
squares drawn here with NumPy (no download). Weights start from N(0, 0.02) as in the DCGAN
paper (``weights_init`` writes them through ``.data``); both networks use Adam with
``betas=(0.5, 0.999)``.

    python dcgan.py --epochs 5 --outf out        # losses per epoch, samples as PGM files

The only lines that name the framework are the imports below; put ``torch`` in place of
``glassgrad`` there and the same file runs on PyTorch (see README.md).
"""

import argparse
import os

import numpy as np

import glassgrad as torch
import glassgrad.backends.cudnn as cudnn
import glassgrad.nn as nn
import glassgrad.optim as optim
from glassgrad.utils.data import DataLoader, Dataset


def draw_shape(rng, size=16):
    """A ring or a hollow square of random centre and radius, in [-1, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = rng.uniform(3.0, 6.0)
    cy, cx = rng.uniform(r + 0.5, size - r - 1.5, size=2)
    if rng.random() < 0.5:
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
    else:
        d = np.maximum(np.abs(yy - cy), np.abs(xx - cx))
    img = np.clip(1.5 - np.abs(d - r), 0.0, 1.0)
    return (img * 2.0 - 1.0).astype(np.float32)


class Shapes(Dataset):
    """``n`` pictures (1x16x16, values in [-1, 1]) drawn from ``seed``; items are (image, 0)."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.images = torch.from_numpy(np.stack([draw_shape(rng) for _ in range(n)])[:, None])

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], 0


def weights_init(m):
    """DCGAN's initialization: N(0, 0.02) for convolutions, N(1, 0.02) and 0 for batch norms."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


class Generator(nn.Module):
    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            # nz x 1 x 1 -> (ngf*4) x 4 x 4
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # -> (ngf*2) x 8 x 8
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # -> nc x 16 x 16
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ndf, nc):
        super().__init__()
        self.main = nn.Sequential(
            # nc x 16 x 16 -> ndf x 8 x 8
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # -> (ndf*2) x 4 x 4
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # -> 1 x 1 x 1
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def train(args, netG, netD, device, dataloader, optimizerG, optimizerD, criterion, epoch):
    """One epoch of alternating updates; returns the (loss_D, loss_G) of every batch."""
    real_label = 1.0
    fake_label = 0.0
    netG.train()
    netD.train()
    losses = []
    for i, (data, _) in enumerate(dataloader):
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        real = data.to(device)
        batch_size = real.size(0)
        label = torch.full((batch_size,), real_label, dtype=real.dtype, device=device)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()

        noise = torch.randn(batch_size, args.nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()

        # (2) Update G: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)  # fake labels are real for generator cost
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()

        losses.append((errD.item(), errG.item()))
        if i % args.log_interval == 0:
            print(f"[{epoch}/{args.epochs}][{i}/{len(dataloader)}] Loss_D: {errD.item():.4f} "
                  f"Loss_G: {errG.item():.4f} D(x): {D_x:.4f} D(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}")
        if args.dry_run:
            break
    return losses


def save_pgm(images, path, nrow=8):
    """A grid of images in [-1, 1] as a binary PGM file (viewable without extra packages)."""
    arr = ((images.detach().cpu().numpy()[:, 0] + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    n, h, w = arr.shape
    rows = -(-n // nrow)
    grid = np.zeros((rows * (h + 2), nrow * (w + 2)), dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, nrow)
        grid[r * (h + 2) + 1:r * (h + 2) + 1 + h, c * (w + 2) + 1:c * (w + 2) + 1 + w] = arr[k]
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (grid.shape[1], grid.shape[0]))
        f.write(grid.tobytes())


def get_args(argv=None):
    parser = argparse.ArgumentParser(description="Small DCGAN (a PyTorch program)")
    parser.add_argument("--batch-size", type=int, default=64, help="input batch size (default: 64)")
    parser.add_argument("--n-images", type=int, default=2048,
                        help="training pictures to draw (default: 2048)")
    parser.add_argument("--nz", type=int, default=16, help="size of the latent z vector (default: 16)")
    parser.add_argument("--ngf", type=int, default=16, help="generator width (default: 16)")
    parser.add_argument("--ndf", type=int, default=16, help="discriminator width (default: 16)")
    parser.add_argument("--epochs", type=int, default=5, help="number of epochs to train for (default: 5)")
    parser.add_argument("--lr", type=float, default=0.0002, help="learning rate (default: 0.0002)")
    parser.add_argument("--beta1", type=float, default=0.5, help="beta1 for adam (default: 0.5)")
    parser.add_argument("--cuda", action="store_true", help="enables cuda")
    parser.add_argument("--dry-run", action="store_true", help="check a single training cycle works")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--log-interval", type=int, default=10, help="batches between log lines")
    parser.add_argument("--outf", default="", help="folder for sample images and checkpoints")
    parser.add_argument("--save-model", action="store_true", help="save netG and netD to --outf")
    return parser.parse_args(argv)


def main(argv=None):
    args = get_args(argv)
    print(args)
    if args.outf:
        os.makedirs(args.outf, exist_ok=True)

    torch.manual_seed(args.seed)
    cudnn.benchmark = True
    if torch.cuda.is_available() and not args.cuda:
        print("WARNING: You have a CUDA device, so you should probably run with --cuda")
    device = torch.device("cuda:0" if args.cuda else "cpu")

    dataset = Shapes(args.n_images, seed=args.seed)
    dataloader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, drop_last=True)
    nc = 1

    netG = Generator(args.nz, args.ngf, nc).to(device)
    netG.apply(weights_init)
    print(netG)
    netD = Discriminator(args.ndf, nc).to(device)
    netD.apply(weights_init)
    print(netD)

    criterion = nn.BCELoss()
    fixed_noise = torch.randn(args.batch_size, args.nz, 1, 1, device=device)
    optimizerD = optim.Adam(netD.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=args.lr, betas=(args.beta1, 0.999))

    history = []
    for epoch in range(1, args.epochs + 1):
        losses = train(args, netG, netD, device, dataloader, optimizerG, optimizerD, criterion, epoch)
        loss_d = sum(d for d, _ in losses) / len(losses)
        loss_g = sum(g for _, g in losses) / len(losses)
        print(f"Epoch {epoch}: Loss_D {loss_d:.6f}  Loss_G {loss_g:.6f}")
        history.append((loss_d, loss_g))
        if args.outf:
            netG.eval()
            with torch.no_grad():
                fake = netG(fixed_noise)
            save_pgm(fake, os.path.join(args.outf, f"fake_samples_epoch_{epoch:03d}.pgm"))
            if args.save_model:
                torch.save(netG.state_dict(), os.path.join(args.outf, f"netG_epoch_{epoch}.pth"))
                torch.save(netD.state_dict(), os.path.join(args.outf, f"netD_epoch_{epoch}.pth"))
        if args.dry_run:
            break
    return history


if __name__ == "__main__":
    main()
