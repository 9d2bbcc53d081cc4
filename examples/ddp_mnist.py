"""A PyTorch DistributedDataParallel MNIST script, as PyTorch users write it, running on convgrad.

Only the imports and the launcher differ from PyTorch: ``import convgrad as torch`` and friends, and
``mpiexec`` where PyTorch has ``torchrun`` (each process is one rank; the MPI backend needs no address or
port). The rest is PyTorch's API: ``init_process_group``, ``DistributedSampler`` with ``set_epoch``,
``DistributedDataParallel``, validation sums all-reduced over the ranks, and rank 0 saving the checkpoint
(``model.module.state_dict()``, so it loads into a plain model) while the others wait at a barrier.

    mpiexec -n 2 python examples/ddp_mnist.py --epochs 1
    mpiexec -n 2 python examples/ddp_mnist.py --fake 256 --epochs 2   # random images, a quick check
"""

import argparse

import convgrad as torch
import convgrad.distributed as dist
import convgrad.nn.functional as F
from convgrad import nn, optim
from convgrad.nn.parallel import DistributedDataParallel as DDP
from convgrad.utils.data import DataLoader, DistributedSampler
from convgrad.vision import datasets, transforms


class Net(nn.Module):
    """LeNet-5: two 5x5 convolutions with max pooling, three fully connected layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)   # 28x28 -> 28x28, pooled to 14x14
        self.conv2 = nn.Conv2d(6, 16, 5)             # 14x14 -> 10x10, pooled to 5x5
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def evaluate(model, loader):
    """Loss and accuracy over every rank's shard: each rank sums its own, all_reduce adds them up."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64)  # loss, correct, seen
    with torch.no_grad():
        for data, target in loader:
            output = model(data)
            sums[0] += F.cross_entropy(output, target, reduction="sum").item()
            sums[1] += (output.argmax(dim=1) == target).sum().item()
            sums[2] += len(data)
    dist.all_reduce(sums)
    return sums[0].item() / sums[2].item(), sums[1].item() / sums[2].item()


def main(argv=None):
    parser = argparse.ArgumentParser(description="MNIST with DistributedDataParallel, PyTorch style")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size per rank (default: 64)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", default="../data", help="where MNIST is stored")
    parser.add_argument("--fake", type=int, default=0, metavar="N",
                        help="train on N random 28x28 images (FakeData) instead of MNIST")
    parser.add_argument("--save-model", default="", metavar="PATH", help="rank 0 saves the state dict here")
    parser.add_argument("--log-interval", type=int, default=10)
    args = parser.parse_args(argv)

    dist.init_process_group(backend="mpi")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    if args.fake:
        train_data = datasets.FakeData(args.fake, (1, 28, 28), 10, transform=transform)
        test_data = datasets.FakeData(args.fake // 4, (1, 28, 28), 10, transform=transform, random_offset=1)
    else:
        train_data = datasets.MNIST(args.data, train=True, transform=transform)
        test_data = datasets.MNIST(args.data, train=False, transform=transform)
    train_sampler = DistributedSampler(train_data, shuffle=True, seed=args.seed)
    test_sampler = DistributedSampler(test_data, shuffle=False)
    train_loader = DataLoader(train_data, batch_size=args.batch_size, sampler=train_sampler)
    test_loader = DataLoader(test_data, batch_size=256, sampler=test_sampler)

    model = DDP(Net())
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    for epoch in range(1, args.epochs + 1):
        train_sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(data), target)
            loss.backward()
            optimizer.step()
            if rank == 0 and batch_idx % args.log_interval == 0:
                print(f"Train Epoch: {epoch} [{batch_idx * len(data) * world_size}/{len(train_data)}]"
                      f"\tLoss: {loss.item():.6f}", flush=True)
        test_loss, accuracy = evaluate(model, test_loader)
        if rank == 0:
            print(f"Test set ({world_size} ranks): Average loss: {test_loss:.4f}, "
                  f"Accuracy: {100 * accuracy:.2f}%", flush=True)

    if args.save_model:
        if rank == 0:
            torch.save(model.module.state_dict(), args.save_model)
        dist.barrier()  # the file is complete before any rank reads it
        state = torch.load(args.save_model)
        model.module.load_state_dict(state)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
