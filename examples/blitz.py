"""The "Deep Learning with PyTorch: a 60 minute blitz" idioms, on convgrad with only the imports changed:
tensors and their creation (``torch.ones``, ``x.new_ones``, ``torch.randn_like``, ``new_tensor``,
``new_zeros``, ``new_full``), in-place ops, ``.data``, NumPy bridges, autograd (``requires_grad``,
``grad_fn``, walking ``grad_fn.next_functions``, ``name()``, ``backward`` with a vector), a small CNN on
CIFAR-sized fake data with ``torch.max(outputs.data, 1)`` accuracy, SGD with momentum, ``state_dict``.

    python examples/blitz.py
    python examples/blitz.py --quick
"""

import argparse

import numpy as np

import convgrad as torch
import convgrad.nn.functional as F
from convgrad import nn, optim
from convgrad.utils.data import DataLoader
from convgrad.vision import datasets, transforms


def tensors():
    x = torch.ones(5, 3, dtype=torch.float64)
    y = x.new_ones(2, 2)                       # same dtype as x
    z = torch.randn_like(x, dtype=torch.float)
    assert y.dtype == torch.float64 and z.shape == (5, 3)
    zeros = z.new_zeros((2, 3))
    full = z.new_full((2,), 7.0)
    t = z.new_tensor([[1, 2], [3, 4]])
    assert zeros.sum().item() == 0 and full.tolist() == [7.0, 7.0] and t.dtype == torch.float32
    y.add_(1)                                  # in place
    a = torch.ones(5)
    b = a.numpy()                              # shares memory
    a.add_(1)
    assert b[0] == 2
    c = torch.from_numpy(np.ones(3))
    assert c.dtype == torch.float64
    print("size:", x.size(), "view:", x.view(15).size(), "first row:", x[0].tolist())
    return x.size()


def autograd():
    x = torch.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    print("grad_fn:", y.grad_fn, out.grad_fn)
    names = []                                 # walk the graph from the loss back to the leaves
    stack = [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None:
            continue
        names.append(fn.name())
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    out.backward()
    assert np.allclose(x.grad.numpy(), 4.5)
    v = torch.randn(3, requires_grad=True)
    w = v * 2
    while w.data.norm() < 1000:
        w = w * 2
    w.backward(torch.tensor([0.1, 1.0, 0.0001], dtype=torch.float))
    with torch.no_grad():
        assert not (v ** 2).requires_grad
    assert not v.detach().requires_grad
    return names


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def cnn(args):
    transform = transforms.Compose([transforms.ToTensor(),
                                    transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    n = 64 if args.quick else 2000
    trainset = datasets.FakeData(size=n, image_size=(3, 32, 32), num_classes=10, transform=transform)
    trainloader = DataLoader(trainset, batch_size=4, shuffle=True)
    net = Net()
    params = list(net.parameters())
    print("parameters:", len(params), params[0].size())
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    losses = []
    for epoch in range(1 if args.quick else 2):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            losses.append(loss.item())
            if i % 100 == 99:
                print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 100:.3f}")
                running_loss = 0.0
    correct = total = 0
    with torch.no_grad():
        for images, labels in DataLoader(trainset, batch_size=16):
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f"Accuracy of the network on the {total} training images: {100 * correct // total} %")
    state = net.state_dict()
    return losses, correct / total, sorted(state)


def main(argv=None):
    parser = argparse.ArgumentParser(description="the 60-minute blitz idioms")
    parser.add_argument("--quick", action="store_true", help="64 images, one epoch")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    size = tensors()
    names = autograd()
    losses, accuracy, keys = cnn(args)
    return {"size": size, "grad_fn_names": names, "losses": losses, "accuracy": accuracy, "keys": keys}


if __name__ == "__main__":
    main()
