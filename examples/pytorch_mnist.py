"""A PyTorch MNIST training script, as PyTorch users write it, running on convgrad.

Only the imports differ from a PyTorch script: ``import convgrad as torch`` and friends below. Everything
else (the Module, the functional ops, Adadelta with StepLR, the DataLoader over torchvision-style MNIST,
the train/test loops, ``torch.save`` of the state dict) is PyTorch's API.

    python examples/pytorch_mnist.py --epochs 1
    python examples/pytorch_mnist.py --dry-run          # one batch per epoch, a quick check
"""

import argparse
import time

import convgrad as torch
import convgrad.nn.functional as F
from convgrad import nn, optim
from convgrad.optim.lr_scheduler import StepLR
from convgrad.vision import datasets, transforms


class Net(nn.Module):
    """Two 3x3 convolutions, max pooling, dropout, two fully connected layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)        # 28x28 -> 26x26
        self.conv2 = nn.Conv2d(32, 64, 3, 1)       # 26x26 -> 24x24, pooled to 12x12
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(64 * 12 * 12, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return F.log_softmax(self.fc2(x), dim=1)


def train(args, model, device, train_loader, optimizer, epoch):
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
            done = batch_idx * len(data)
            print(f"Train Epoch: {epoch} [{done}/{len(train_loader.dataset)} "
                  f"({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item():.6f}", flush=True)
        if args.dry_run or (args.max_batches and batch_idx + 1 >= args.max_batches):
            break
    return losses


def test(model, device, test_loader, max_batches=None):
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for i, (data, target) in enumerate(test_loader):
            data, target = data.to(device), target.to(device)
            output = model(data)
            total_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
            seen += len(data)
            if max_batches and i + 1 >= max_batches:
                break
    total_loss /= seen
    print(f"\nTest set: Average loss: {total_loss:.4f}, Accuracy: {correct}/{seen} "
          f"({100.0 * correct / seen:.2f}%)\n", flush=True)
    return total_loss, correct / seen


def main(argv=None):
    parser = argparse.ArgumentParser(description="MNIST training, PyTorch style")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N",
                        help="input batch size for training (default: 64)")
    parser.add_argument("--test-batch-size", type=int, default=1000, metavar="N",
                        help="input batch size for testing (default: 1000)")
    parser.add_argument("--epochs", type=int, default=14, metavar="N",
                        help="number of epochs to train (default: 14)")
    parser.add_argument("--lr", type=float, default=1.0, metavar="LR", help="learning rate (default: 1.0)")
    parser.add_argument("--gamma", type=float, default=0.7, metavar="M",
                        help="learning rate step gamma (default: 0.7)")
    parser.add_argument("--no-cuda", action="store_true", help="disables CUDA training")
    parser.add_argument("--dry-run", action="store_true", help="quickly check a single pass")
    parser.add_argument("--max-batches", type=int, default=0, metavar="N",
                        help="stop each training and test pass after N batches (0: the whole epoch)")
    parser.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default: 1)")
    parser.add_argument("--log-interval", type=int, default=10, metavar="N",
                        help="how many batches to wait before logging training status")
    parser.add_argument("--save-model", action="store_true", help="save the trained model")
    parser.add_argument("--data", default="../data", help="where MNIST is (or will be) stored")
    args = parser.parse_args(argv)

    use_cuda = not args.no_cuda and torch.cuda.is_available()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if use_cuda else "cpu")

    train_kwargs = {"batch_size": args.batch_size, "shuffle": True}
    test_kwargs = {"batch_size": args.test_batch_size}
    if use_cuda:
        train_kwargs.update({"num_workers": 1, "pin_memory": True})
        test_kwargs.update({"num_workers": 1, "pin_memory": True})

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_data = datasets.MNIST(args.data, train=True, download=False, transform=transform)
    test_data = datasets.MNIST(args.data, train=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(train_data, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(test_data, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)

    losses = []
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        losses += train(args, model, device, train_loader, optimizer, epoch)
        result = test(model, device, test_loader, 1 if args.dry_run else args.max_batches)
        scheduler.step()
    print(f"trained in {time.time() - start:.1f} s", flush=True)

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")
    return losses, result


if __name__ == "__main__":
    main()
