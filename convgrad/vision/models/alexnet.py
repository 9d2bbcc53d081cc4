"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012).

``alexnet()``: torchvision's single-tower variant (64/192/384/256/256 filters, no LRN), 61,100,840
parameters, state-dict keys as torchvision's.

``alexnet(paper=True)``: the network of the paper, 60,965,224 parameters: 96/256/384/384/256 filters,
the two-GPU split kept as ``groups=2`` in conv2, conv4 and conv5 (each half sees only its own half of the
previous layer's maps), local response normalization (size 5, alpha 1e-4, beta 0.75, k 2) after conv1
and conv2, overlapping 3x3 max pooling with stride 2. conv1 pads by 2 so that 224x224 inputs give the
paper's 55x55 maps (the paper's 224 only works out as 227 without padding; a 227x227 input gives 56x56
here, and the same 6x6 maps at the end).

Both end with an adaptive average pooling to 6x6 (the identity at native resolution), so inputs of
63x63 and more are accepted.
"""

from convgrad import nn

from ._utils import FeaturesClassifier, conv_relu, no_weights

__all__ = ["AlexNet", "alexnet"]


def _lrn():
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)


def _pool():
    return nn.MaxPool2d(kernel_size=3, stride=2)


class AlexNet(FeaturesClassifier):
    def __init__(self, num_classes=1000, dropout=0.5, paper=False, in_channels=3):
        super().__init__()
        self.paper = paper
        if paper:
            self.features = nn.Sequential(
                *conv_relu(in_channels, 96, 11, stride=4, padding=2), _lrn(), _pool(),
                *conv_relu(96, 256, 5, padding=2, groups=2), _lrn(), _pool(),
                *conv_relu(256, 384, 3, padding=1),
                *conv_relu(384, 384, 3, padding=1, groups=2),
                *conv_relu(384, 256, 3, padding=1, groups=2), _pool(),
            )
        else:
            self.features = nn.Sequential(
                *conv_relu(in_channels, 64, 11, stride=4, padding=2), _pool(),
                *conv_relu(64, 192, 5, padding=2), _pool(),
                *conv_relu(192, 384, 3, padding=1),
                *conv_relu(384, 256, 3, padding=1),
                *conv_relu(256, 256, 3, padding=1), _pool(),
            )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )


def alexnet(*, weights=None, progress=True, paper=False, **kwargs):
    """AlexNet: torchvision's variant (61,100,840 parameters) or ``paper=True`` (60,965,224)."""
    no_weights(weights, "alexnet")
    return AlexNet(paper=paper, **kwargs)
