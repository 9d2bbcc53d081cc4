"""The model zoo: exact parameter counts, forward passes, training steps, state-dict keys and outputs
against PyTorch definitions of the same networks (torchvision's layouts, written out below), and the
too-small-input error."""

import numpy as np
import pytest
import torch

import convgrad
import convgrad.nn.functional as F
from convgrad.geometry import OutputSizeError
from convgrad.vision import models
from convgrad.vision.models.vgg import cfgs, make_layers
from tests.conftest import SLOW
from tests.torch_models import TorchDenseNet121, TorchResNet18, TorchVGG11

torch.set_num_threads(1)
# the big models are built and run at 224x224 only under CONVGRAD_SLOW=1; reduced forms run always
big = pytest.mark.skipif(not SLOW, reason="big model: CONVGRAD_SLOW=1 runs it")


def n_params(m, trainable=True):
    return sum(p.numel() for p in m.parameters() if p.requires_grad or not trainable)


# (registry name, kwargs, exact trainable parameter count); BIG ones are built only under CONVGRAD_SLOW=1
COUNTS = [
    ("lenet5", {"classic": True}, 60_000),
    ("lenet5", {}, 61_706),
    ("lenet5", {"input_size": 32}, 61_706),
    ("mnist1d_cnn", {}, 5_210),
    ("nin", {}, 966_986),
    ("resnet20", {}, 269_722),
    ("resnet32", {}, 464_154),
    ("resnet44", {}, 658_586),
    ("resnet56", {}, 853_018),
    ("resnet110", {}, 1_727_962),
    ("plain20", {}, 269_722),
    ("plain110", {}, 1_727_962),
    ("densenet_bc_cifar", {}, 769_162),
    ("mobilenet_v2", {}, 3_504_872),
    ("googlenet", {}, 6_624_904),
    ("googlenet", {"aux_logits": True}, 13_004_888),
    ("googlenet", {"paper": True}, 7_005_832),
    ("googlenet", {"paper": True, "aux_logits": True}, 13_385_816),
    ("densenet121", {}, 7_978_856),
    ("resnet18", {}, 11_689_512),
    ("resnet34", {}, 21_797_672),
    ("resnet50", {}, 25_557_032),
]
BIG = [
    ("alexnet", {}, 61_100_840),
    ("alexnet", {"paper": True}, 60_965_224),
    ("vgg11", {}, 132_863_336),
    ("vgg13", {}, 133_047_848),
    ("vgg16", {}, 138_357_544),
    ("vgg19", {}, 143_667_240),
    ("vgg11_bn", {}, 132_868_840),
    ("vgg13_bn", {}, 133_053_736),
    ("vgg16_bn", {}, 138_365_992),
    ("vgg19_bn", {}, 143_678_248),
    ("resnet101", {}, 44_549_160),
    ("resnet152", {}, 60_192_808),
    ("densenet161", {}, 28_681_000),
    ("densenet169", {}, 14_149_480),
    ("densenet201", {}, 20_013_928),
]


def _id(case):
    name, kw, _ = case
    return name + "".join(f"-{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", COUNTS, ids=_id)
def test_parameter_count(case):
    name, kw, count = case
    m = models.get_model(name, **kw)
    assert n_params(m) == count
    assert n_params(m, trainable=False) == count  # nothing frozen; the LeNet RBF codes are a buffer


@pytest.mark.slow
@big
@pytest.mark.parametrize("case", BIG, ids=_id)
def test_parameter_count_big(case):
    name, kw, count = case
    assert n_params(models.get_model(name, **kw)) == count


def test_parameter_count_big_reduced():
    """The big models' counts without building their 100M-weight classifiers: VGG's convolutions plus the
    classifier's arithmetic (the full VGG-16 is built in test_summary); AlexNet in full (cheap)."""
    classifier = (512 * 7 * 7 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    for cfg, bn, count in [("A", False, 132_863_336), ("B", False, 133_047_848), ("D", False, 138_357_544),
                           ("E", False, 143_667_240), ("A", True, 132_868_840), ("B", True, 133_053_736),
                           ("D", True, 138_365_992), ("E", True, 143_678_248)]:
        assert n_params(make_layers(cfgs[cfg], batch_norm=bn)) + classifier == count, (cfg, bn)
    assert n_params(models.alexnet()) == 61_100_840
    assert n_params(models.alexnet(paper=True)) == 60_965_224


def test_vgg_bn_features_forward():
    f = make_layers(cfgs["A"], batch_norm=True)
    f.eval()
    with convgrad.no_grad():
        out = f(convgrad.zeros(1, 3, 32, 32))
    assert tuple(out.shape) == (1, 512, 1, 1)


# --------------------------------------------------------------------------------------------------------
# registry


def test_registry():
    names = models.list_models()
    for n in ["lenet5", "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
              "vgg19_bn", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
              "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "plain20", "plain32", "plain44",
              "plain56", "plain110", "densenet121", "densenet161", "densenet169", "densenet201",
              "densenet_bc_cifar", "mobilenet_v2", "nin", "mnist1d_cnn"]:
        assert n in names
        assert callable(getattr(models, n))
    with pytest.raises(ValueError, match="unknown model 'resnet19'.*resnet18.*vgg16"):
        models.get_model("resnet19")
    assert isinstance(models.get_model("ResNet20"), models.CifarResNet)
    with pytest.raises(ValueError, match="pretrained"):
        models.resnet18(weights="IMAGENET1K_V1")
    assert models.default_input_size("lenet5") == (1, 28, 28)
    assert models.default_input_size("resnet18") == (3, 224, 224)


# --------------------------------------------------------------------------------------------------------
# forward passes


def _forward(m, shape, train=False):
    m.train(train)
    x = convgrad.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    if train:
        return m(x)
    with convgrad.no_grad():
        return m(x)


@pytest.mark.parametrize("name, kw, shape, classes", [
    ("lenet5", {"classic": True}, (1, 1, 28, 28), 10),
    ("lenet5", {"classic": True, "input_size": 32}, (1, 1, 32, 32), 10),
    ("lenet5", {}, (1, 1, 28, 28), 10),
    ("lenet5", {"input_size": 32, "num_classes": 7}, (1, 1, 32, 32), 7),
    ("mnist1d_cnn", {}, (1, 40), 10),
    ("mnist1d_cnn", {}, (1, 1, 40), 10),
    ("nin", {}, (1, 3, 32, 32), 10),
    ("nin", {"num_classes": 100}, (1, 3, 24, 24), 100),
    ("resnet20", {}, (1, 3, 32, 32), 10),
    ("resnet56", {"num_classes": 100}, (1, 3, 32, 32), 100),
    ("plain20", {}, (1, 3, 20, 20), 10),
    ("densenet_bc_cifar", {"depth": 40}, (1, 3, 32, 32), 10),
    ("mobilenet_v2", {"num_classes": 10}, (1, 3, 64, 64), 10),
    ("googlenet", {"num_classes": 10}, (1, 3, 64, 64), 10),
    ("resnet18", {"num_classes": 10}, (1, 3, 48, 48), 10),
    ("resnet50", {"num_classes": 10}, (1, 3, 32, 32), 10),
    ("alexnet", {"num_classes": 10}, (1, 3, 63, 63), 10),
    ("alexnet", {"paper": True, "num_classes": 10}, (1, 3, 67, 67), 10),
])
def test_forward_small(name, kw, shape, classes):
    m = models.get_model(name, **kw)
    out = _forward(m, shape)
    assert tuple(out.shape) == (shape[0], classes)
    assert out.dtype == convgrad.float32
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "mobilenet_v2"])
def test_forward_native_medium(name):
    out = _forward(models.get_model(name), (1, 3, 224, 224))
    assert tuple(out.shape) == (1, 1000) and np.isfinite(out.numpy()).all()


@pytest.mark.slow
@big
@pytest.mark.parametrize("name, kw", [("vgg16", {}), ("vgg19_bn", {}), ("alexnet", {}),
                                      ("alexnet", {"paper": True}), ("resnet50", {}), ("resnet152", {}),
                                      ("densenet121", {}), ("resnet34", {})])
def test_forward_native_big(name, kw):
    out = _forward(models.get_model(name, **kw), (1, 3, 224, 224))
    assert tuple(out.shape) == (1, 1000) and np.isfinite(out.numpy()).all()


def test_alexnet_paper_sizes():
    """conv1 (pad 2) maps 224x224 to the paper's 55x55; 224 and 227 both end at 6x6x256."""
    m = models.alexnet(paper=True, num_classes=10)
    m.eval()
    for size, first in ((224, 55), (227, 56)):
        x = convgrad.zeros(1, 3, size, size)
        with convgrad.no_grad():
            h = m.features[0](x)
            assert tuple(h.shape) == (1, 96, first, first)
            assert tuple(m.features(x).shape) == (1, 256, 6, 6)
    assert m.features[4].groups == 2 and m.features[8].groups == 1 and m.features[10].groups == 2
    assert type(m.features[2]).__name__ == "LocalResponseNorm"


def test_googlenet_aux_outputs_and_loss():
    m = models.googlenet(aux_logits=True, num_classes=5)
    out = _forward(m, (2, 3, 64, 64), train=True)
    assert isinstance(out, models.GoogLeNetOutputs)
    assert [tuple(o.shape) for o in out] == [(2, 5)] * 3
    target = convgrad.tensor(np.array([1, 3]))
    loss = models.googlenet_loss(out, target)
    want = (F.cross_entropy(out.logits, target) + 0.3 * F.cross_entropy(out.aux_logits1, target)
            + 0.3 * F.cross_entropy(out.aux_logits2, target))
    assert abs(loss.item() - want.item()) < 1e-5
    loss.backward()
    assert m.aux1.fc2.weight.grad is not None and m.aux2.fc2.weight.grad is not None
    # eval: logits only, aux heads unused
    out = _forward(m, (1, 3, 64, 64))
    assert isinstance(out, convgrad.Tensor) and tuple(out.shape) == (1, 5)
    assert models.googlenet_loss(out, target[:1]).item() > 0


def test_lenet5_classic_connection_table():
    """C3 map i responds only to the S2 maps of its row of the table."""
    m = models.lenet5(classic=True)
    c3 = m.c3
    for j in range(6):
        x = np.zeros((1, 6, 14, 14), np.float32)
        x[0, j] = np.random.default_rng(j).standard_normal((14, 14))
        with convgrad.no_grad():
            out = c3(convgrad.tensor(x)).numpy()[0]
            base = c3(convgrad.zeros(1, 6, 14, 14)).numpy()[0]
        for i, row in enumerate(models.lenet.C3_TABLE):
            moved = not np.allclose(out[i], base[i])
            assert moved == (j in row), (i, j)
    # the output layer is a distance to fixed codes: the logits are <= 0 and the codes are not trained
    assert "output.centers" in m.state_dict()
    assert all("centers" not in n for n, _ in m.named_parameters())
    out = _forward(m, (2, 1, 28, 28))
    assert (out.numpy() <= 0).all()
    # scaled tanh: f(1) = 1
    assert abs(models.lenet.ScaledTanh()(convgrad.tensor([1.0])).item() - 1.0) < 1e-3


def test_any_input_size_with_global_pooling():
    m = models.resnet20()
    for s in (8, 17, 40):
        assert tuple(_forward(m, (1, 3, s, s)).shape) == (1, 10)
    assert tuple(_forward(models.nin(), (1, 3, 40, 48)).shape) == (1, 10)


# --------------------------------------------------------------------------------------------------------
# training steps


@pytest.mark.parametrize("name, kw, shape, lr", [
    ("lenet5", {}, (8, 1, 28, 28), 0.02),
    ("lenet5", {"classic": True}, (8, 1, 28, 28), 0.002),  # RBF distances make large logits
    ("resnet20", {}, (4, 3, 32, 32), 0.02),
    ("mnist1d_cnn", {}, (16, 40), 0.02),
    ("nin", {}, (4, 3, 32, 32), 0.02),
])
def test_training_step(name, kw, shape, lr):
    convgrad.manual_seed(0)
    m = models.get_model(name, **kw)
    m.train()
    rng = np.random.default_rng(1)
    x = convgrad.tensor(rng.standard_normal(shape).astype(np.float32))
    y = convgrad.tensor(rng.integers(0, 10, shape[0]))
    opt = convgrad.optim.SGD(m.parameters(), lr=lr, momentum=0.9)
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        for pname, p in m.named_parameters():
            assert p.grad is not None and p.grad.shape == p.shape, pname
            assert np.isfinite(p.grad.numpy()).all(), pname
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0], losses  # fits a fixed batch
    after = m.state_dict()
    for pname, _ in m.named_parameters():
        assert not np.array_equal(before[pname], after[pname].numpy()), pname


# --------------------------------------------------------------------------------------------------------
# against PyTorch: torchvision's layouts written out in plain torch


def _randomise_norms(model, seed=0):
    """Non-trivial BatchNorm statistics and affine parameters, so eval-mode parity means something."""
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, convgrad.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean._data[...] = rng.normal(0, 0.1, c)
            m.running_var._data[...] = rng.uniform(0.5, 1.5, c)
            m.weight._data[...] = rng.uniform(0.5, 1.5, c)
            m.bias._data[...] = rng.normal(0, 0.1, c)


def _parity(ours, ref, shape, rtol=2e-4):
    _randomise_norms(ours)
    sd = {k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()}
    ref_keys = set(ref.state_dict())
    assert set(sd) == ref_keys, (set(sd) ^ ref_keys)
    ref.load_state_dict(sd, strict=True)
    ours.eval()
    ref.eval()
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    with convgrad.no_grad():
        a = ours(convgrad.tensor(x)).numpy()
    with torch.no_grad():
        b = ref(torch.from_numpy(x)).numpy()
    assert a.shape == b.shape
    scale = np.abs(b).max()
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


def test_resnet18_matches_torch():
    _parity(models.resnet18(num_classes=10), TorchResNet18(10), (2, 3, 64, 64))


def test_vgg11_matches_torch():
    _parity(models.vgg11(num_classes=10), TorchVGG11(10), (1, 3, 64, 64))


def test_densenet121_matches_torch():
    _parity(models.densenet121(num_classes=10), TorchDenseNet121(10), (1, 3, 64, 64))


def test_torchvision_key_names():
    """Spot checks of torchvision's state-dict keys for the models without a reference above."""
    checks = {
        models.googlenet(aux_logits=True, num_classes=10): {
            "conv1.conv.weight": (64, 3, 7, 7), "conv1.bn.running_var": (64,),
            "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),
            "inception4e.branch4.1.conv.weight": (128, 528, 1, 1), "aux1.fc1.weight": (1024, 2048),
            "aux2.conv.conv.weight": (128, 528, 1, 1), "fc.weight": (10, 1024)},
        models.mobilenet_v2(num_classes=10): {
            "features.0.0.weight": (32, 3, 3, 3), "features.1.conv.0.0.weight": (32, 1, 3, 3),
            "features.1.conv.1.weight": (16, 32, 1, 1), "features.2.conv.0.0.weight": (96, 16, 1, 1),
            "features.2.conv.1.0.weight": (96, 1, 3, 3), "features.18.0.weight": (1280, 320, 1, 1),
            "classifier.1.weight": (10, 1280)},
        models.resnet50(num_classes=10): {
            "layer1.0.downsample.0.weight": (256, 64, 1, 1), "layer2.0.conv2.weight": (128, 128, 3, 3),
            "layer4.2.bn3.num_batches_tracked": ()},
        models.alexnet(num_classes=10): {"features.0.weight": (64, 3, 11, 11),
                                         "classifier.1.weight": (4096, 9216)},
    }
    assert tuple(models.googlenet(paper=True).state_dict()["inception3a.branch3.1.conv.weight"].shape) \
        == (32, 16, 5, 5)
    for m, keys in checks.items():
        sd = m.state_dict()
        for k, shape in keys.items():
            assert tuple(sd[k].shape) == shape, k


# --------------------------------------------------------------------------------------------------------
# bad input


def test_too_small_input_names_the_layer():
    f = models.VGG(make_layers(cfgs["A"]), num_classes=10, init_weights=False)
    with pytest.raises(ValueError, match=r"input 28x28 is too small.*'features\.20' \(MaxPool2d.*1x1.*"
                                         r"smallest input it takes is 32x32"):
        f(convgrad.zeros(1, 3, 28, 28))
    # batch 2: at batch 1 a training-mode BatchNorm on a 1x1 map fails first, and that is the error
    with pytest.raises(ValueError, match=r"features\.transition2\.pool.*smallest input it takes is 29x29"):
        models.densenet121(num_classes=10)(convgrad.zeros(2, 3, 8, 8))
    # ceil-mode maxpool2 still makes a 1x1 output from 2x2 (as in PyTorch); maxpool3 is where it ends
    with pytest.raises(ValueError, match=r"'maxpool3'.*smallest input it takes is 15x15") as info:
        models.googlenet(num_classes=10)(convgrad.zeros(2, 3, 8, 8))
    assert isinstance(info.value.__cause__, OutputSizeError)  # the failing layer's own error, enriched
    with pytest.raises(ValueError, match=r"'features\.12'.*63x63"):
        models.alexnet(num_classes=10)(convgrad.zeros(1, 3, 32, 32))
    with convgrad.no_grad():  # the smallest input named is exact
        models.googlenet(num_classes=10)(convgrad.zeros(2, 3, 15, 15))
        with pytest.raises(ValueError, match="input 14x14 is too small"):
            models.googlenet(num_classes=10)(convgrad.zeros(2, 3, 14, 14))


def test_bad_input_shapes():
    m = models.resnet20()
    with pytest.raises(ValueError, match="expected 3 input channels, got 1"):
        m(convgrad.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"4-D input \(N, C, H, W\)"):
        m(convgrad.zeros(3, 32, 32))
    with pytest.raises(ValueError, match="sized for 28x28 inputs, got 32x32"):
        models.lenet5()(convgrad.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="sized for 40 inputs, got 41"):
        models.mnist1d_cnn()(convgrad.zeros(2, 41))
