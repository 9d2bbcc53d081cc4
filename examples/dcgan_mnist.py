"""A DCGAN on MNIST, written as PyTorch's DCGAN tutorial readers write it, running on convgrad.

Only the imports differ from a PyTorch script. It uses the classic ``weights_init`` that sets
``m.weight.data.normal_(0.0, 0.02)``, ``ConvTranspose2d`` generators, ``BCELoss`` with real/fake labels
made by ``torch.full``, two Adam optimisers with ``betas=(0.5, 0.999)``, ``.detach()`` for the
discriminator step, and ``vutils.make_grid`` / ``vutils.save_image`` for the sample grids.

    python examples/dcgan_mnist.py --epochs 1
    python examples/dcgan_mnist.py --quick          # a few batches, a quick check
"""

import argparse
import os

import convgrad as torch
from convgrad import nn, optim
from convgrad.utils.data import DataLoader, Subset
from convgrad.vision import datasets, transforms
from convgrad.vision import utils as vutils

NZ, NGF, NDF = 32, 32, 32  # latent size, generator and discriminator widths


def weights_init(m):
    """DCGAN's initialisation: conv weights N(0, 0.02), batch-norm scale N(1, 0.02), shift 0."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        m.weight.data.normal_(0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)


class Generator(nn.Module):
    """z (N, NZ, 1, 1) -> 7x7 -> 14x14 -> 28x28 image in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(NZ, NGF * 2, 7, 1, 0, bias=False),
            nn.BatchNorm2d(NGF * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF * 2, NGF, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NGF),
            nn.ReLU(True),
            nn.ConvTranspose2d(NGF, 1, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    """28x28 image -> 14x14 -> 7x7 -> probability of being real."""

    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, NDF, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF, NDF * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(NDF * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(NDF * 2, 1, 7, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description="DCGAN on MNIST")
    parser.add_argument("--data", default="./data")
    parser.add_argument("--out", default="./runs/dcgan")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--quick", action="store_true", help="a few batches on 512 images")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    os.makedirs(args.out, exist_ok=True)

    dataset = datasets.MNIST(args.data, train=True, download=False,
                             transform=transforms.Compose([transforms.ToTensor(),
                                                           transforms.Normalize((0.5,), (0.5,))]))
    if args.quick:
        dataset = Subset(dataset, range(512))
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)

    netG, netD = Generator().to(device), Discriminator().to(device)
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(64, NZ, 1, 1, device=device)
    real_label, fake_label = 1.0, 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=args.lr, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=args.lr, betas=(0.5, 0.999))

    history = []
    for epoch in range(1 if args.quick else args.epochs):
        for i, (data, _) in enumerate(loader):
            # (1) update D: maximise log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real = data.to(device)
            b_size = real.size(0)
            label = torch.full((b_size,), real_label, dtype=torch.float, device=device)
            output = netD(real)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b_size, NZ, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            errD = errD_real + errD_fake
            optimizerD.step()
            # (2) update G: maximise log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            optimizerG.step()
            history.append((errD.item(), errG.item(), D_x))
            if i % 50 == 0:
                print(f"[{epoch}/{args.epochs}][{i}/{len(loader)}] Loss_D: {errD.item():.4f} "
                      f"Loss_G: {errG.item():.4f} D(x): {D_x:.4f}", flush=True)
        with torch.no_grad():
            fake = netG(fixed_noise).detach().cpu()
        vutils.save_image(real[:64], os.path.join(args.out, "real_samples.png"), normalize=True)
        vutils.save_image(fake, os.path.join(args.out, f"fake_samples_epoch_{epoch:03d}.png"), normalize=True)
        grid = vutils.make_grid(fake, padding=2, normalize=True)
    torch.save(netG.state_dict(), os.path.join(args.out, "netG.pt"))
    return history, grid


if __name__ == "__main__":
    main()
