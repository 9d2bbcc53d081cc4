"""convgrad.summary against hand-computed tables: the lecture's VGG-16 rows, LeNet-5, ResNet-18."""

import argparse

import numpy as np
import pytest

import convgrad
from convgrad import cli, nn
from convgrad.summary import summary
from convgrad.vision import models

# The lecture's VGG-16 table: (layer, output C x H x W, "memory" (values), "weights" (without biases))
VGG16_LECTURE = [
    ("features.0", (64, 224, 224), 3_211_264, 1_728),
    ("features.2", (64, 224, 224), 3_211_264, 36_864),
    ("features.4", (64, 112, 112), 802_816, 0),
    ("features.5", (128, 112, 112), 1_605_632, 73_728),
    ("features.7", (128, 112, 112), 1_605_632, 147_456),
    ("features.9", (128, 56, 56), 401_408, 0),
    ("features.10", (256, 56, 56), 802_816, 294_912),
    ("features.12", (256, 56, 56), 802_816, 589_824),
    ("features.14", (256, 56, 56), 802_816, 589_824),
    ("features.16", (256, 28, 28), 200_704, 0),
    ("features.17", (512, 28, 28), 401_408, 1_179_648),
    ("features.19", (512, 28, 28), 401_408, 2_359_296),
    ("features.21", (512, 28, 28), 401_408, 2_359_296),
    ("features.23", (512, 14, 14), 100_352, 0),
    ("features.24", (512, 14, 14), 100_352, 2_359_296),
    ("features.26", (512, 14, 14), 100_352, 2_359_296),
    ("features.28", (512, 14, 14), 100_352, 2_359_296),
    ("features.30", (512, 7, 7), 25_088, 0),
    ("classifier.0", (4096,), 4_096, 102_760_448),
    ("classifier.3", (4096,), 4_096, 16_777_216),
    ("classifier.6", (1000,), 1_000, 4_096_000),
]


@pytest.fixture(scope="module")
def vgg16():
    return models.vgg16()


@pytest.fixture(scope="module")
def vgg16_summary(vgg16):
    return summary(vgg16, (1, 3, 224, 224), batch_size=32)


def test_vgg16_matches_the_lecture(vgg16_summary):
    s = vgg16_summary
    rows = {r.name: r for r in s.rows}
    assert s.input_values == 150_528  # "INPUT: [224x224x3] memory: 224*224*3=150K"
    for name, shape, memory, weights in VGG16_LECTURE:
        r = rows[name]
        assert r.output_shape == shape, name
        assert r.activations == memory, name
        assert r.activation_bytes == 4 * memory, name
        assert r.weight_params == weights, name
        assert r.bias_params == (shape[0] if weights else 0), name
    # ReLUs work in place: no memory of their own
    relus = [r for r in s.rows if r.type == "ReLU"]
    assert len(relus) == 15 and all(r.activations == 0 and r.in_place for r in relus)
    # totals: "138M parameters"
    assert s.total_params == s.trainable_params == 138_357_544
    assert s.weight_params == sum(w for *_, w in VGG16_LECTURE) == 138_344_128
    assert s.frozen_params == 0
    assert s.param_bytes == 4 * 138_357_544
    # the lecture's rows add up to 15,237,608 values; torchvision's adaptive pooling adds 25,088
    lecture_sum = 150_528 + sum(m for _, _, m, _ in VGG16_LECTURE)
    assert lecture_sum == 15_237_608
    extra = rows["avgpool"].activations
    assert extra in (0, 25_088)
    assert s.activations == lecture_sum + extra + sum(r.activations for r in s.rows if r.type == "Dropout")
    assert s.activation_bytes == 4 * s.activations
    assert 60e6 < s.activation_bytes < 62e6
    assert s.batch_activation_bytes == 32 * s.activation_bytes
    assert s.training_bytes == 3 * s.param_bytes + 2 * 32 * s.activation_bytes
    # every output kept separately would be 28.8M values (ReLU outputs counted again)
    assert s.all_outputs > 28_000_000
    # VGG-16 does ~15.5 G mult-adds per 224x224 image
    convs = sum(224 * 224 // 4 ** b * c * c_in * 9 for b, layers in enumerate(
        [[(64, 3), (64, 64)], [(128, 64), (128, 128)], [(256, 128), (256, 256), (256, 256)],
         [(512, 256), (512, 512), (512, 512)], [(512, 512)] * 3]) for c, c_in in layers)
    assert s.mult_adds == convs + 102_760_448 + 16_777_216 + 4_096_000
    assert 15.4e9 < s.mult_adds < 15.6e9


def test_vgg16_table_text(vgg16_summary):
    text = str(vgg16_summary)
    for needle in ["features.0 (Conv2d)", "[64, 224, 224]", "1,792", "3,211,264 (12.85 MB)", "3x3", "1/1",
                   "features.4 (MaxPool2d)", "2/0", "in place", "Total params:      138,357,544",
                   "weights 138,344,128, biases 13,416", "Forward activations per image",
                   "Training memory estimate", "212 (32)"]:
        assert needle in text, needle
    # one line per leaf layer call plus the input line
    assert len([line for line in text.splitlines() if "(" in line and ")" in line]) >= 38


def test_vgg16_receptive_field(vgg16_summary):
    rows = {r.name: r for r in vgg16_summary.rows}
    assert (rows["features.0"].rf_size, rows["features.0"].rf_jump) == ((3, 3), (1, 1))
    assert rows["features.2"].rf_size == (5, 5)
    assert (rows["features.4"].rf_size, rows["features.4"].rf_jump) == ((6, 6), (2, 2))
    assert rows["features.5"].rf_size == (10, 10)
    assert (rows["features.30"].rf_size, rows["features.30"].rf_jump) == ((212, 212), (32, 32))
    assert rows["classifier.0"].rf_size is None  # fully connected: the whole image


def test_lenet5_summary():
    m = models.lenet5()
    s = summary(m, (1, 1, 28, 28))
    rows = [r for r in s.rows]
    conv1, _, pool1, conv2, _, pool2 = rows[:6]
    assert conv1.output_shape == (6, 28, 28) and conv1.params == 156 and conv1.padding == (2, 2)
    assert conv1.mult_adds == 28 * 28 * 6 * 25
    assert conv2.mult_adds == 10 * 10 * 16 * 6 * 25
    assert [(r.rf_size[0], r.rf_jump[0]) for r in (conv1, pool1, conv2, pool2)] == [(5, 1), (6, 2), (14, 2),
                                                                                     (16, 4)]
    assert s.mult_adds == 117_600 + 240_000 + 48_000 + 10_080 + 840
    assert s.total_params == 61_706
    # ReLU modules without inplace allocate their output
    relu = rows[1]
    assert relu.type == "ReLU" and relu.activations == 6 * 28 * 28 and not relu.in_place
    assert s.batch_size == 1


def test_receptive_field_through_branches():
    """Parallel layers reading a derived tensor (a channel selection, a concatenation) start from the
    field of the tensors they join, not from a sibling branch."""
    s = summary(models.lenet5(classic=True), (1, 1, 28, 28))
    rows = {r.name: r for r in s.rows}
    assert [rows[f"c3.conv{j}"].rf_size for j in range(3)] == [(14, 14)] * 3
    assert rows["s4"].rf_size == (16, 16) and rows["c5"].rf_size == (32, 32)
    assert s.total_params == 60_000 and s.rows[-1].type == "RBFOutput"
    act = [r for r in s.rows if r.type == "ScaledTanh"]
    assert len(act) == 6 and all(not r.repeated for r in act)  # no parameters: nothing shared to flag
    s = summary(models.googlenet(), (1, 3, 224, 224))
    rows = {r.name: r for r in s.rows}
    assert rows["maxpool2"].rf_size == (27, 27) and rows["maxpool2"].rf_jump == (8, 8)
    assert rows["inception3a.branch1.conv"].rf_size == (27, 27)
    assert rows["inception3a.branch3.1.conv"].rf_size == (43, 43)
    assert rows["inception3a.branch4.0"].rf_size == (43, 43)
    assert rows["inception3b.branch1.conv"].rf_size == (43, 43)  # after the concatenation
    assert s.total_params == 6_624_904
    assert 1.45e9 < s.mult_adds < 1.55e9


def test_shared_module_counted_once():
    conv = nn.Conv2d(4, 4, 3, padding=1)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = conv

        def forward(self, x):
            return self.conv(self.conv(x))

    s = summary(Twice(), (1, 4, 8, 8))
    assert len(s.rows) == 2 and s.total_params == 148
    assert s.rows[0].params == 148 and s.rows[1].params == 0 and s.rows[1].repeated
    assert s.rows[1].rf_size == (5, 5)
    assert "(shared)" in str(s)


def test_resnet18_summary():
    m = models.resnet18()
    m.train()
    s = summary(m, (2, 3, 224, 224))
    assert m.training  # mode restored
    assert s.batch_size == 2
    assert s.total_params == 11_689_512
    assert 1.80e9 < s.mult_adds < 1.83e9  # "1.8 GFLOPs" in the paper's table
    rows = {r.name: r for r in s.rows}
    assert rows["conv1"].output_shape == (64, 112, 112) and rows["conv1"].kernel == (7, 7)
    assert rows["conv1"].stride == (2, 2) and rows["conv1"].padding == (3, 3)
    assert (rows["maxpool"].rf_size, rows["maxpool"].rf_jump) == ((11, 11), (4, 4))
    assert rows["layer1.0.conv1"].rf_size == (19, 19)
    # the shortcut's 1x1 convolution reads the block input, not the main path
    assert rows["layer2.0.downsample.0"].rf_size == rows["layer1.1.conv2"].rf_size
    assert rows["layer2.0.downsample.0"].rf_jump == (8, 8)
    # after the last block every output sees 435 pixels, 32 apart
    assert (rows["layer4.1.bn2"].rf_size, rows["layer4.1.bn2"].rf_jump) == ((435, 435), (32, 32))
    assert rows["avgpool"].rf_size is None


def test_frozen_and_dtypes():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                      nn.Linear(8 * 8 * 8, 4))
    m.double()
    m[0].requires_grad_(False)
    s = summary(m, (4, 3, 8, 8), dtypes=[convgrad.float64])
    assert s.frozen_params == 3 * 8 * 9 + 8
    assert s.trainable_params == 16 + 8 * 64 * 4 + 4
    assert s.rows[0].frozen == 224 and s.rows[0].params == 0
    assert s.rows[3].type == "Flatten" and s.rows[3].activations == 0  # a view
    assert s.rows[0].activation_bytes == 8 * 64 * 8  # float64
    assert s.input_bytes == 3 * 64 * 8
    assert s.param_bytes == 8 * (s.frozen_params + s.trainable_params)
    assert s.batch_size == 4 and s.batch_activation_bytes == 4 * s.activation_bytes
    assert s.buffer_bytes > 0  # BatchNorm running statistics
    text = str(s)
    assert "Frozen" in text and "224" in text


def test_bad_input_reports_layer(vgg16):
    msg = (r"input 28x28 is too small: the spatial size reaches zero at layer 'features\.30' \(MaxPool2d, "
           r"kernel 2, stride 2\), whose 1x1 input is smaller than its 2x2 window\. The smallest input it "
           r"takes is 32x32")
    with pytest.raises(ValueError, match=msg):
        summary(vgg16, (1, 3, 28, 28))
    with pytest.raises(ValueError, match=msg):
        vgg16(convgrad.zeros(1, 3, 28, 28))
    with pytest.raises(ValueError, match="input_size"):
        summary(models.lenet5(), (0, 1, 28, 28))


def test_mnist1d_summary_1d():
    s = summary(models.mnist1d_cnn(), (100, 40))
    convs = [r for r in s.rows if r.type == "Conv1d"]
    assert [r.output_shape for r in convs] == [(25, 19), (25, 10), (25, 5)]
    assert [r.rf_size for r in convs] == [(5,), (9,), (17,)]
    assert s.total_params == 5_210 and s.batch_size == 100


def test_cli(capsys):
    parser = argparse.ArgumentParser()
    cli.add_summary_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["summary", "lenet5"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "61,706" in out and "[6, 28, 28]" in out
    args = parser.parse_args(["summary", "resnet20", "--input", "3x32x32", "--batch-size", "128"])
    assert args.func(args) == 0
    assert "269,722" in capsys.readouterr().out
    args = parser.parse_args(["summary", "nosuchnet"])
    assert args.func(args) == 2
    assert "known models" in capsys.readouterr().out
    args = parser.parse_args(["summary", "alexnet", "--input", "3x32x32"])
    assert args.func(args) == 1
    assert "features.12" in capsys.readouterr().out


def test_summary_does_not_change_the_model():
    m = models.resnet20()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    summary(m, (1, 3, 32, 32))
    after = m.state_dict()
    for k, v in before.items():
        np.testing.assert_array_equal(v, after[k].numpy())
    assert m.training
    x = convgrad.zeros(1, 3, 32, 32)
    n_rows = len(summary(m, (1, 3, 32, 32)).rows)
    assert n_rows == len(summary(m, (1, 3, 32, 32)).rows)  # hooks removed: no duplicate rows
    m(x)
