"""Fast neural style transfer (Johnson et al. 2016; instance normalisation from Ulyanov et al. 2016)
in the style of PyTorch's fast-neural-style example, running on convgrad with only the imports changed.

A transformer network (reflection-padded convolutions, ``nn.InstanceNorm2d(affine=True)``, residual
blocks, nearest upsampling) learns to restyle images. The loss network is a small fixed convolutional
feature extractor (no pretrained VGG weights are available offline): content loss on its deep features,
style loss on the Gram matrices ``F F^T / (C H W)`` of each level against those of one style image.

    python examples/style_transfer.py --epochs 1
    python examples/style_transfer.py --quick
"""

import argparse

import convgrad as torch
from convgrad import nn, optim
from convgrad.utils.data import DataLoader
from convgrad.vision import datasets, transforms


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, kernel_size, stride):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x):
        return self.conv(self.pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x):
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class TransformerNet(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.down = nn.Sequential(
            ConvLayer(3, width, 9, 1), nn.InstanceNorm2d(width, affine=True), nn.ReLU(),
            ConvLayer(width, 2 * width, 3, 2), nn.InstanceNorm2d(2 * width, affine=True), nn.ReLU(),
        )
        self.res = nn.Sequential(ResidualBlock(2 * width), ResidualBlock(2 * width))
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), ConvLayer(2 * width, width, 3, 1),
            nn.InstanceNorm2d(width, affine=True), nn.ReLU(), ConvLayer(width, 3, 9, 1),
        )

    def forward(self, x):
        return self.up(self.res(self.down(x)))


class LossNet(nn.Module):
    """Fixed random features at three depths (the role VGG's relu1_2 ... relu3_3 play)."""

    def __init__(self):
        super().__init__()
        self.slice1 = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.slice2 = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
        self.slice3 = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU())
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x):
        h1 = self.slice1(x)
        h2 = self.slice2(h1)
        return [h1, h2, self.slice3(h2)]


def gram_matrix(y):
    (b, ch, h, w) = y.size()
    features = y.view(b, ch, w * h)
    features_t = features.transpose(1, 2)
    return features.bmm(features_t) / (ch * h * w)


def style_image(size):
    """A striped, colourful style target (no image files needed)."""
    i = torch.arange(size, dtype=torch.float32)
    stripes = torch.sin(i.view(1, -1) * 0.8 + i.view(-1, 1) * 0.4)
    img = torch.stack([stripes, -stripes, stripes * 0.5], 0)
    return (img * 0.5 + 0.5).unsqueeze(0)


def main(argv=None):
    parser = argparse.ArgumentParser(description="fast neural style transfer")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--content-weight", type=float, default=1.0)
    parser.add_argument("--style-weight", type=float, default=1e5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--quick", action="store_true", help="one epoch of 16 images")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    size = args.image_size
    train_dataset = datasets.FakeData(size=16 if args.quick else 256, image_size=(3, size, size),
                                      transform=transforms.ToTensor())
    train_loader = DataLoader(train_dataset, batch_size=args.batch_size)

    transformer = TransformerNet().to(device)
    loss_net = LossNet().to(device).eval()
    optimizer = optim.Adam(transformer.parameters(), args.lr)
    mse_loss = nn.MSELoss()
    gram_style = [gram_matrix(y) for y in loss_net(style_image(size).to(device))]
    history = []
    for epoch in range(1 if args.quick else args.epochs):
        transformer.train()
        for batch_id, (x, _) in enumerate(train_loader):
            n_batch = len(x)
            optimizer.zero_grad()
            y = transformer(x.to(device))
            features_y, features_x = loss_net(y), loss_net(x)
            content_loss = args.content_weight * mse_loss(features_y[2], features_x[2])
            style_loss = 0.0
            for ft_y, gm_s in zip(features_y, gram_style):
                gm_y = gram_matrix(ft_y)
                style_loss += mse_loss(gm_y, gm_s.expand(n_batch, -1, -1))
            style_loss *= args.style_weight
            total_loss = content_loss + style_loss
            total_loss.backward()
            optimizer.step()
            history.append((content_loss.item(), style_loss.item()))
            print(f"Epoch {epoch + 1}: [{batch_id}]\tcontent: {content_loss.item():.4f}\t"
                  f"style: {style_loss.item():.4f}", flush=True)
    return history


if __name__ == "__main__":
    main()
