"""VGG (Simonyan & Zisserman, 2015): stacks of 3x3 convolutions (stride 1, padding 1) and 2x2 max
pooling (stride 2), then three fully connected layers. Layout and state-dict keys as torchvision's.

Configurations (numbers: 3x3 convolutions with that many filters; "M": 2x2 max pooling):

    A (VGG-11)  64 M 128 M 256 256 M 512 512 M 512 512 M                   132,863,336 parameters
    B (VGG-13)  64 64 M 128 128 M 256 256 M 512 512 M 512 512 M            133,047,848
    D (VGG-16)  64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M  138,357,544
    E (VGG-19)  four convolutions in each of the last three stages         143,667,240

The ``_bn`` variants put a BatchNorm2d after every convolution (2 trainable values per channel):
132,868,840 / 133,053,736 / 138,365,992 / 143,678,248.
"""

from convgrad import nn

from ._utils import FeaturesClassifier, conv_relu, no_weights

__all__ = ["VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
           "make_layers", "cfgs"]

cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False, in_channels=3):
    """The convolutional part as one ``Sequential`` (indices as torchvision's: ``features.0`` ...)."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += conv_relu(in_channels, v, 3, batch_norm=batch_norm, padding=1)
            in_channels = v
    return nn.Sequential(*layers)


class VGG(FeaturesClassifier):
    """``features`` (convolutions) -> ``avgpool`` (adaptive, to 7x7, so inputs of 32x32 and more work)
    -> ``classifier`` (4096-4096-num_classes with dropout)."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)


def _vgg(cfg, batch_norm, name, weights=None, progress=True, **kwargs):
    no_weights(weights, name)
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)


def _constructor(name, cfg, batch_norm, doc):
    """torchvision's ``name(*, weights=None, progress=True, **kwargs)`` for one configuration."""
    def build(*, weights=None, progress=True, **kwargs):
        return _vgg(cfg, batch_norm, name, weights, progress, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = doc
    return build


vgg11 = _constructor("vgg11", "A", False, "VGG-11 (configuration A): 132,863,336 parameters.")
vgg11_bn = _constructor("vgg11_bn", "A", True, "VGG-11 with batch normalization: 132,868,840 parameters.")
vgg13 = _constructor("vgg13", "B", False, "VGG-13 (configuration B): 133,047,848 parameters.")
vgg13_bn = _constructor("vgg13_bn", "B", True, "VGG-13 with batch normalization: 133,053,736 parameters.")
vgg16 = _constructor("vgg16", "D", False, "VGG-16 (configuration D): 138,357,544 parameters; about 15.5 "
                                          "GFLOP-mult-adds per 224x224 image.")
vgg16_bn = _constructor("vgg16_bn", "D", True, "VGG-16 with batch normalization: 138,365,992 parameters.")
vgg19 = _constructor("vgg19", "E", False, "VGG-19 (configuration E): 143,667,240 parameters.")
vgg19_bn = _constructor("vgg19_bn", "E", True, "VGG-19 with batch normalization: 143,678,248 parameters.")
