"""Network in Network (Lin, Chen & Yan, 2014), the paper's CIFAR-10 model: 966,986 parameters.

Each "mlpconv" layer is a spatial convolution followed by two 1x1 convolutions (a small MLP shared across
positions); there is no fully connected layer: the last 1x1 convolution makes one map per class and
global average pooling turns each map into a class score.

    conv 5x5 192 (pad 2) - 1x1 160 - 1x1 96     - max pool 3x3/2 - dropout 0.5      32 -> 16
    conv 5x5 192 (pad 2) - 1x1 192 - 1x1 192    - avg pool 3x3/2 - dropout 0.5      16 -> 8
    conv 3x3 192 (pad 1) - 1x1 192 - 1x1 classes - global average pooling           8 -> 1

every convolution followed by ReLU (the last one too, as in the reference model), pooling with
``ceil_mode`` so 32x32 inputs give 16x16 and 8x8 maps. Weights:
``14,592 + 30,880 + 15,456 + 460,992 + 37,056 + 37,056 + 331,968 + 37,056 + 1,930 = 966,986``.
Any input size of 3x3 or more works.
"""

import convgrad
from convgrad import nn

from ._utils import conv_relu, no_weights, zoo_forward

__all__ = ["NiN", "nin", "mlpconv"]


def mlpconv(in_channels, out_channels, kernel_size, padding, mlp=(192, 192)):
    """A spatial convolution then 1x1 convolutions, each followed by ReLU."""
    layers = conv_relu(in_channels, out_channels, kernel_size, padding=padding)
    c = out_channels
    for m in mlp:
        layers += conv_relu(c, m, 1)
        c = m
    return nn.Sequential(*layers)


class NiN(nn.Module):
    def __init__(self, num_classes=10, in_channels=3, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            mlpconv(in_channels, 192, 5, 2, (160, 96)),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            nn.Dropout(dropout),
            mlpconv(96, 192, 5, 2, (192, 192)),
            nn.AvgPool2d(kernel_size=3, stride=2, ceil_mode=True),
            nn.Dropout(dropout),
            mlpconv(192, 192, 3, 1, (192, num_classes)),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.05)
                nn.init.constant_(m.bias, 0.0)

    @zoo_forward()
    def forward(self, x):
        x = self.avgpool(self.features(x))
        return convgrad.flatten(x, 1)


def nin(*, weights=None, **kwargs):
    """Network in Network for CIFAR-10: 966,986 parameters; no fully connected layer."""
    no_weights(weights, "nin")
    return NiN(**kwargs)
