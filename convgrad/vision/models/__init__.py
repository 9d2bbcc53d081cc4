"""The model zoo: classic CNNs with torchvision's constructors and state-dict keys where torchvision has
the model, and exact parameter counts in each constructor's docstring.

    from convgrad.vision import models
    net = models.resnet18(num_classes=10)
    net = models.get_model("vgg16_bn", num_classes=100)
    models.list_models()

No pretrained weights are shipped: ``weights=`` other than None raises. Every constructor takes
``num_classes``; the models ending in global average pooling accept any input size large enough for
their pooling, and an input that is too small raises an error naming the layer where it runs out.
"""

from .alexnet import AlexNet, alexnet
from .densenet import (
    DenseNet,
    DenseNetCifar,
    densenet121,
    densenet161,
    densenet169,
    densenet201,
    densenet_bc_cifar,
)
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet, googlenet_loss
from .lenet import LeNet5, LeNet5Classic, lenet5
from .mnist1d import MNIST1DCNN, mnist1d_cnn
from .mobilenet import MobileNetV2, mobilenet_v2
from .nin import NiN, nin
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .resnet_cifar import (
    CifarResNet,
    plain20,
    plain32,
    plain44,
    plain56,
    plain110,
    resnet20,
    resnet32,
    resnet44,
    resnet56,
    resnet110,
)
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

_REGISTRY = {
    f.__name__: f
    for f in (
        lenet5, alexnet,
        vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
        googlenet,
        resnet18, resnet34, resnet50, resnet101, resnet152,
        resnet20, resnet32, resnet44, resnet56, resnet110,
        plain20, plain32, plain44, plain56, plain110,
        densenet121, densenet161, densenet169, densenet201, densenet_bc_cifar,
        mobilenet_v2, nin, mnist1d_cnn,
    )
}


_INPUT_SIZES = {"lenet5": (1, 28, 28), "mnist1d_cnn": (1, 40), "nin": (3, 32, 32),
                "densenet_bc_cifar": (3, 32, 32)}
_INPUT_SIZES.update({f"{kind}{d}": (3, 32, 32) for kind in ("resnet", "plain")
                     for d in (20, 32, 44, 56, 110)})


def default_input_size(name):
    """The native input shape (without the batch dimension) of a registered model: (3, 224, 224) for
    the ImageNet models, (3, 32, 32) for the CIFAR ones, (1, 28, 28) for LeNet-5, (1, 40) for MNIST-1D."""
    get_model_builder(name)
    return _INPUT_SIZES.get(str(name).lower(), (3, 224, 224))


def list_models():
    """Names ``get_model`` accepts, sorted."""
    return sorted(_REGISTRY)


def get_model_builder(name):
    """The constructor registered under ``name``."""
    key = str(name).lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _REGISTRY[key]


def get_model(name, **kwargs):
    """Build the model registered under ``name`` with ``kwargs`` (e.g. ``num_classes=10``)."""
    return get_model_builder(name)(**kwargs)


__all__ = [
    "get_model", "get_model_builder", "list_models", "default_input_size",
    "AlexNet", "DenseNet", "DenseNetCifar", "GoogLeNet", "GoogLeNetOutputs", "LeNet5", "LeNet5Classic",
    "MNIST1DCNN", "MobileNetV2", "NiN", "ResNet", "BasicBlock", "Bottleneck", "CifarResNet", "VGG",
    "googlenet_loss",
    *sorted(_REGISTRY),
]
