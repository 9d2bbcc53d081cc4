"""Super-resolution with a sub-pixel convolution network (ESPCN, Shi et al. 2016), in the style of
PyTorch's super-resolution example, running on convgrad with only the imports changed. The network
sees an MNIST digit shrunk to 14x14 (average pooling) and predicts the 28x28 original: convolutions
produce r^2 = 4 channels per output channel and ``nn.PixelShuffle(2)`` rearranges them into a 2x larger
image. Reports the PSNR against plain nearest-neighbour upscaling.

    python examples/super_resolution.py --epochs 2
    python examples/super_resolution.py --quick
"""

import argparse
import math

import convgrad as torch
import convgrad.nn.functional as F
from convgrad import nn, optim
from convgrad.utils.data import DataLoader, Subset
from convgrad.vision import datasets, transforms


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 32, 5, 1, 2)
        self.conv2 = nn.Conv2d(32, 32, 3, 1, 1)
        self.conv3 = nn.Conv2d(32, upscale_factor ** 2, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.pixel_shuffle(self.conv3(x))


def psnr(mse):
    return 10 * math.log10(1 / mse)


def main(argv=None):
    parser = argparse.ArgumentParser(description="ESPCN super-resolution on MNIST digits")
    parser.add_argument("--data", default="./data")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--quick", action="store_true", help="one epoch on 512 images")
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    train_set = datasets.MNIST(args.data, train=True, download=False, transform=transforms.ToTensor())
    test_set = datasets.MNIST(args.data, train=False, download=False, transform=transforms.ToTensor())
    n_train, n_test = (512, 128) if args.quick else (20000, 2000)
    train_loader = DataLoader(Subset(train_set, range(n_train)), batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(Subset(test_set, range(n_test)), batch_size=256)

    model = Net(upscale_factor=2).to(device)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for epoch in range(1, (1 if args.quick else args.epochs) + 1):
        model.train()
        for target, _ in train_loader:
            target = target.to(device)
            input = F.avg_pool2d(target, 2)
            optimizer.zero_grad()
            loss = criterion(model(input), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        mse_net = mse_nearest = 0.0
        with torch.no_grad():
            for target, _ in test_loader:
                input = F.avg_pool2d(target, 2)
                mse_net += criterion(model(input), target).item() * len(target)
                nearest = F.interpolate(input, scale_factor=2, mode="nearest")
                mse_nearest += criterion(nearest, target).item() * len(target)
        result = {"psnr": psnr(mse_net / n_test), "psnr_nearest": psnr(mse_nearest / n_test)}
        print(f"===> Epoch {epoch}: Avg. PSNR {result['psnr']:.2f} dB (nearest upscaling: "
              f"{result['psnr_nearest']:.2f} dB)", flush=True)
    return losses, result


if __name__ == "__main__":
    main()
