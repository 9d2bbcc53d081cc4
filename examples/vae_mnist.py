"""A variational autoencoder on MNIST (Kingma and Welling), as in PyTorch's VAE example, running on
convgrad with only the imports changed: the reparameterisation trick with ``torch.randn_like``, the
binary cross-entropy plus KL divergence loss summed over the batch, ``view(-1, 784)``, samples decoded
from N(0, I) and saved with ``save_image``.

    python examples/vae_mnist.py --epochs 1
    python examples/vae_mnist.py --quick
"""

import argparse
import os

import convgrad as torch
import convgrad.nn.functional as F
from convgrad import nn, optim
from convgrad.utils.data import DataLoader, Subset
from convgrad.vision import datasets, transforms
from convgrad.vision.utils import save_image


class VAE(nn.Module):
    """784 -> 400 -> (mu, logvar) of a 20-D Gaussian; z -> 400 -> 784 Bernoulli means."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Reconstruction BCE + KL(q(z|x) || N(0, I)) = -0.5 sum(1 + log s^2 - mu^2 - s^2), summed."""
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def main(argv=None):
    parser = argparse.ArgumentParser(description="VAE on MNIST")
    parser.add_argument("--data", default="./data")
    parser.add_argument("--out", default="./runs/vae")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--quick", action="store_true", help="one epoch on 2048 images")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device("cpu")
    os.makedirs(args.out, exist_ok=True)
    train_set = datasets.MNIST(args.data, train=True, download=False, transform=transforms.ToTensor())
    if args.quick:
        train_set = Subset(train_set, range(2048))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for epoch in range(1, (1 if args.quick else args.epochs) + 1):
        model.train()
        train_loss = 0
        for data, _ in train_loader:
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            losses.append(loss.item() / len(data))
        print(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}", flush=True)
        model.eval()
        with torch.no_grad():
            sample = model.decode(torch.randn(64, 20).to(device)).cpu()
            save_image(sample.view(64, 1, 28, 28), os.path.join(args.out, f"sample_{epoch}.png"))
    return losses


if __name__ == "__main__":
    main()
