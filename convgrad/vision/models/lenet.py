"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998), classic and modern.

``lenet5(classic=True)``: the paper's network, 60,000 trainable parameters:

    C1  6 maps 5x5                                   6 x 25 + 6                     =    156
    S2  2x2 subsampling: sum x coefficient + bias    6 + 6                          =     12
    C3  16 maps 5x5 reading a subset of S2's maps    (6x3 + 9x4 + 1x6) x 25 + 16    =  1,516
    S4  2x2 subsampling                              16 + 16                        =     32
    C5  120 maps 5x5 over all of S4 (a full layer)   120 x 400 + 120                = 48,120
    F6  84 units                                     84 x 120 + 84                  = 10,164
    output: Euclidean RBF units, one fixed +-1 code of 84 per class (not trained)

Every layer up to F6 is followed by the scaled tanh ``1.7159 tanh(2a/3)``. C3's connection table: maps
0-5 read 3 contiguous S2 maps, 6-11 four contiguous, 12-14 four non-contiguous, 15 all six -- which
breaks the symmetry between maps and keeps the connections down. The RBF output ``y_i = sum_j (x_j -
w_ij)^2`` is a distance: the model returns ``-y`` so the usual cross-entropy applies. The paper's codes
are drawings of the characters on a 7x12 bitmap; here they are fixed pseudo-random +-1 codes.

``lenet5()`` (modern): ReLU, 2x2 max pooling, a full C3, and Linear layers 400-120-84-10: 61,706
parameters.

Both take 28x28 MNIST digits (``input_size=28``, the default: C1 pads by 2, as the paper's 32x32 input
pads the 28x28 digit) or 32x32 images (``input_size=32``: no padding).
"""

import numpy as np

import convgrad
from convgrad import nn
from convgrad.nn import functional as F

from ._utils import check_input, no_weights

__all__ = ["LeNet5", "LeNet5Classic", "ScaledTanh", "Subsampling", "PartialConv2d", "RBFOutput", "lenet5",
           "C3_TABLE"]

# S2 maps read by each C3 map (Table I of the paper)
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class ScaledTanh(nn.Module):
    """``A tanh(S a)`` with A = 1.7159, S = 2/3: f(1) = 1, f(-1) = -1, maximal second derivative at 1."""

    def __init__(self, amplitude=1.7159, slope=2.0 / 3.0):
        super().__init__()
        self.amplitude, self.slope = amplitude, slope

    def forward(self, x):
        return (x * self.slope).tanh() * self.amplitude

    def extra_repr(self):
        return f"amplitude={self.amplitude}, slope={self.slope:.4f}"


class Subsampling(nn.Module):
    """Trainable subsampling: the sum of each ``k x k`` block times a per-map coefficient, plus a
    per-map bias (2 parameters per map)."""

    def __init__(self, channels, kernel_size=2):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size
        self.weight = nn.Parameter(convgrad.ones(channels))
        self.bias = nn.Parameter(convgrad.zeros(channels))

    def forward(self, x):
        k = self.kernel_size
        s = F.avg_pool2d(x, k, k) * float(k * k)  # block sums
        return s * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)


class PartialConv2d(nn.Module):
    """A convolution in which output map ``i`` reads only the input maps ``table[i]``. Consecutive output
    maps with the same number of inputs share one grouped convolution over the gathered input maps, so
    only the existing connections are parameters (``conv{j}.weight``)."""

    def __init__(self, table, kernel_size):
        super().__init__()
        self.table = tuple(tuple(t) for t in table)
        self.in_channels = max(max(t) for t in self.table) + 1
        self.out_channels = len(self.table)
        self.kernel_size = kernel_size
        runs = []  # (first output map, number of maps, inputs per map)
        for i, t in enumerate(self.table):
            if runs and runs[-1][2] == len(t):
                runs[-1][1] += 1
            else:
                runs.append([i, 1, len(t)])
        self._index = []
        for j, (start, count, width) in enumerate(runs):
            conv = nn.Conv2d(width * count, count, kernel_size, groups=count)
            self.add_module(f"conv{j}", conv)
            idx = [c for t in self.table[start:start + count] for c in t]
            self._index.append(convgrad.tensor(np.array(idx, dtype=np.int64)))

    def forward(self, x):
        outs = []
        for j, idx in enumerate(self._index):
            outs.append(getattr(self, f"conv{j}")(x.index_select(1, idx)))
        return convgrad.cat(outs, 1)

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, partial table"


class RBFOutput(nn.Module):
    """Euclidean radial basis function units with fixed codes (a buffer, not trained): returns
    ``-sum_j (x_j - w_ij)^2`` per class."""

    def __init__(self, in_features=84, num_classes=10, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        codes = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(num_classes, in_features))
        self.register_buffer("centers", convgrad.tensor(codes))

    def forward(self, x):
        # |x - w|^2 = |x|^2 - 2 x.w + |w|^2
        xx = (x * x).sum(1, keepdim=True)
        ww = (self.centers * self.centers).sum(1).reshape(1, -1)
        return -(xx - 2 * (x @ self.centers.t()) + ww)


class LeNet5Classic(nn.Module):
    def __init__(self, num_classes=10, input_size=28, in_channels=1):
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"LeNet-5 takes 28x28 (padded by 2) or 32x32 inputs, got {input_size=}")
        self.input_size = input_size
        self.c1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2 if input_size == 28 else 0)
        self.s2 = Subsampling(6)
        self.c3 = PartialConv2d(C3_TABLE, 5)
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)
        self.f6 = nn.Linear(120, 84)
        self.act = ScaledTanh()
        self.output = RBFOutput(84, num_classes)

    def forward(self, x):
        check_input(self, x, fixed_size=self.input_size)
        a = self.act
        x = a(self.s2(a(self.c1(x))))
        x = a(self.s4(a(self.c3(x))))
        x = a(self.c5(x))
        x = a(self.f6(convgrad.flatten(x, 1)))
        return self.output(x)


class LeNet5(nn.Module):
    """The modern LeNet-5: conv 6@5x5 - ReLU - maxpool 2 - conv 16@5x5 - ReLU - maxpool 2 - FC 120 - ReLU
    - FC 84 - ReLU - FC num_classes."""

    def __init__(self, num_classes=10, input_size=28, in_channels=1):
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"LeNet-5 takes 28x28 (padded by 2) or 32x32 inputs, got {input_size=}")
        self.input_size = input_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2 if input_size == 28 else 0),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        check_input(self, x, fixed_size=self.input_size)
        x = self.features(x)
        return self.classifier(convgrad.flatten(x, 1))


def lenet5(classic=False, *, weights=None, **kwargs):
    """LeNet-5: modern (61,706 parameters) or ``classic=True`` (the 1998 paper, 60,000)."""
    no_weights(weights, "lenet5")
    return LeNet5Classic(**kwargs) if classic else LeNet5(**kwargs)
