"""The PyTorch names added for issue 10 (small layers, *_with_indices, channel_shuffle) against PyTorch,
and the rule for the rest: every PyTorch name missing from a namespace convgrad owns raises a
NotImplementedError naming the feature, never a bare AttributeError; other names stay AttributeErrors."""

import importlib.util
import os

import numpy as np
import pytest
import torch

import convgrad
from convgrad import _unsupported
from tests.parity import compare, compare_raises
from tests.strategies import arrays, distinct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _compat_tool():
    spec = importlib.util.spec_from_file_location("compat_tool", os.path.join(ROOT, "tools", "compat.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_small_layers_match_torch():
    x = arrays((3, 4, 6))
    compare(lambda lib, x: lib.nn.GLU(dim=1)(x), arrays((3, 4, 5)))
    compare(lambda lib, x: lib.nn.RReLU(0.1, 0.3).eval()(x), x)
    compare(lambda lib, a, b: lib.nn.CosineSimilarity(dim=2)(a, b), x, arrays((3, 4, 6), seed=1))
    compare(lambda lib, a, b: lib.nn.PairwiseDistance(p=1.5, keepdim=True)(a, b), x,
            arrays((3, 4, 6), seed=2))
    compare(lambda lib, x: lib.nn.Unfold(2, padding=1, stride=(1, 2))(x), arrays((2, 3, 4, 5)), atol=1e-6)
    compare(lambda lib, c: lib.nn.Fold((4, 5), 2, padding=1)(c), arrays((2, 12, 30)))
    compare(lambda lib, x: lib.nn.ChannelShuffle(3)(x), arrays((2, 6, 3, 2)), noncontiguous=True)
    compare(lambda lib, x: lib.nn.functional.channel_shuffle(x, 2), arrays((2, 4, 3)))

    def bilinear(lib, a, b, w, bias):
        layer = lib.nn.Bilinear(4, 3, 2)
        with lib.no_grad():
            layer.weight.copy_(w)
            layer.bias.copy_(bias)
        return layer(a, b)

    compare(bilinear, arrays((5, 4)), arrays((5, 3), seed=1), arrays((2, 4, 3), seed=2), arrays((2,), seed=3),
            requires_grad=[True, True, False, False])
    layer = convgrad.nn.Bilinear(8, 3, 2)
    assert float(abs(layer.weight).max()) <= 1 / np.sqrt(8) and layer.weight.shape == (2, 8, 3)
    assert repr(convgrad.nn.ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3))


def test_with_indices_functions_match_torch():
    x = distinct((2, 3, 6, 6))
    compare(lambda lib, x: lib.nn.functional.max_pool2d_with_indices(x, 2), x)
    compare(lambda lib, x: lib.nn.functional.adaptive_max_pool2d_with_indices(x, 3), x)
    compare(lambda lib, x: lib.nn.functional.max_pool1d_with_indices(x, 3), distinct((2, 3, 9)))
    compare(lambda lib, x: lib.nn.functional.adaptive_max_pool1d_with_indices(x, 2), distinct((2, 3, 8)))


def test_channel_shuffle_errors():
    err = compare_raises(lambda lib, x: lib.nn.functional.channel_shuffle(x, 4), arrays((2, 6, 3, 3)))
    assert "channel_shuffle: expected the channels divisible by groups=4, got shape (2, 6, 3, 3)" in str(err)


def test_every_missing_pytorch_name_in_an_owned_namespace_raises_not_implemented():
    """The table in convgrad._unsupported covers every name tools/compat.py finds missing in the
    namespaces convgrad owns, so each raises NotImplementedError naming the PyTorch feature."""
    owned = {"torch.nn", "torch.nn.functional", "torch.nn.init", "torch.optim", "torch.optim.lr_scheduler",
             "torch.utils.data", "torchvision.transforms", "torchvision.transforms.v2", "torchvision.utils",
             "torchvision.datasets"}
    _, missing = _compat_tool().report()
    unlisted = {ns: [n for n in names if _unsupported.reason(ns, n) is None]
                for ns, names in missing.items() if ns in owned}
    assert not any(unlisted.values()), f"missing names without a reason in convgrad._unsupported: {unlisted}"
    checked = 0
    for title, ours, _, _ in _compat_tool().namespaces():
        if title not in owned or ours is None:
            continue
        for name in missing[title]:
            with pytest.raises(NotImplementedError, match=rf"{title}\.{name} is not available in convgrad"):
                getattr(ours, name)
            checked += 1
    assert checked > 100


def test_unknown_names_are_plain_attribute_errors():
    with pytest.raises(AttributeError) as e:
        convgrad.nn.Conv2D  # noqa: B018 (a typo, not a PyTorch name)
    assert not isinstance(e.value, NotImplementedError)
    with pytest.raises(NotImplementedError, match=r"torch\.nn\.LSTM .*recurrent"):
        convgrad.nn.LSTM(10, 20)
    with pytest.raises(NotImplementedError, match=r"torch\.optim\.LBFGS"):  # the reason survives from-import
        from convgrad.optim import LBFGS  # noqa: F401
    assert not hasattr(convgrad.nn, "Conv2D")
