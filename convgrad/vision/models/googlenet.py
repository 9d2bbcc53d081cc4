"""GoogLeNet / Inception v1 (Szegedy et al., 2015), layout and state-dict keys as torchvision's: every
convolution is conv (no bias) - BatchNorm (eps 0.001) - ReLU (``BasicConv2d``). An Inception module runs
four branches on the same input and concatenates them along channels: 1x1; 1x1 then 3x3; 1x1 then "5x5";
3x3 max pooling then 1x1. The 1x1 reductions keep the expensive convolutions cheap.

torchvision's "5x5" branch is in fact a 3x3 convolution; ``paper=True`` builds the true 5x5:

    googlenet()                              6,624,904 parameters
    googlenet(aux_logits=True)              13,004,888   (two auxiliary classifiers, 4a and 4d)
    googlenet(paper=True)                    7,005,832
    googlenet(paper=True, aux_logits=True)  13,385,816

The auxiliary classifiers only matter in training: in train mode (with ``aux_logits=True``) the model
returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`` and the loss is
``CE(logits) + 0.3 * (CE(aux_logits1) + CE(aux_logits2))`` -- ``googlenet_loss(outputs, target)``
computes it for either form. In eval mode the model returns the logits alone. Any input of 32x32 or more
works (the auxiliary heads pool adaptively to 4x4; the main head pools globally).
"""

from collections import namedtuple

import convgrad
from convgrad import nn
from convgrad.nn import functional as F

from ._utils import no_weights, zoo_forward

__all__ = ["GoogLeNet", "GoogLeNetOutputs", "googlenet", "googlenet_loss", "Inception", "InceptionAux",
           "BasicConv2d"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


class BasicConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four parallel branches, concatenated: ``ch1x1 + ch3x3 + ch5x5 + pool_proj`` output channels."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, true_5x5=False):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        k = 5 if true_5x5 else 3
        self.branch3 = nn.Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=k, padding=k // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x):
        return convgrad.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: 4x4 average pooling, 1x1 conv (128), FC 1024, dropout 0.7, FC."""

    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, (4, 4))
        x = self.conv(x)
        x = convgrad.flatten(x, 1)
        x = F.relu(self.fc1(x), inplace=True)
        x = self.dropout(x)
        return self.fc2(x)


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=1000, aux_logits=False, transform_input=False, init_weights=True,
                 dropout=0.2, dropout_aux=0.7, paper=False, in_channels=3):
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        t5 = paper
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32, t5)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64, t5)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64, t5)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64, t5)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64, t5)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64, t5)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128, t5)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128, t5)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128, t5)

        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def _transform_input(self, x):
        if self.transform_input:
            # ImageNet-normalised input -> the (x - 0.5) / 0.5 scaling the original weights expect
            x_ch0 = x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
            x_ch1 = x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
            x_ch2 = x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
            x = convgrad.cat((x_ch0, x_ch1, x_ch2), 1)
        return x

    @zoo_forward(skip=("aux1", "aux2"))
    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = convgrad.flatten(self.avgpool(x), 1)
        x = self.fc(self.dropout(x))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(*, weights=None, progress=True, **kwargs):
    """GoogLeNet (torchvision layout): 6,624,904 parameters, 13,004,888 with ``aux_logits=True``;
    ``paper=True`` (true 5x5 convolutions): 7,005,832 / 13,385,816."""
    no_weights(weights, "googlenet")
    return GoogLeNet(**kwargs)


def googlenet_loss(outputs, target, aux_weight=0.3, **kwargs):
    """Cross-entropy of the main logits plus ``aux_weight`` times that of each auxiliary classifier
    (training mode); plain cross-entropy when ``outputs`` is a tensor (eval mode, or no aux heads)."""
    if isinstance(outputs, GoogLeNetOutputs):
        loss = F.cross_entropy(outputs.logits, target, **kwargs)
        for aux in (outputs.aux_logits1, outputs.aux_logits2):
            if aux is not None:
                loss = loss + aux_weight * F.cross_entropy(aux, target, **kwargs)
        return loss
    return F.cross_entropy(outputs, target, **kwargs)
