"""The training-recipe transforms (RandomResizedCrop, RandomErasing, RandomGrayscale, RandomChoice,
RandomOrder, ConvertImageDtype), transforms.v2's conversions and datasets.CIFAR100, against torchvision's
documented semantics (torchvision is not installed beside torch 2.13 here)."""

import math
import pickle
import warnings

import numpy as np
import pytest
from PIL import Image

import convgrad
from convgrad.vision import datasets
from convgrad.vision import transforms as T
from convgrad.vision.transforms import functional as TF
from convgrad.vision.transforms import v2


def _pil(h=40, w=60, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_random_resized_crop_params_follow_the_scale_and_ratio():
    img = _pil()
    convgrad.manual_seed(0)
    for _ in range(200):
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= i and 0 <= j and i + h <= 40 and j + w <= 60 and h > 0 and w > 0
        # rounding of sqrt(area * ratio) moves the ratio and area a little on a 40x60 image
        assert 3 / 4 * 0.8 <= w / h <= 4 / 3 * 1.25
        assert 0.08 * 0.7 <= h * w / 2400 <= 1.0
    out = T.RandomResizedCrop(24)(img)
    assert out.size == (24, 24)
    t = T.RandomResizedCrop((8, 12), scale=(0.5, 0.5), ratio=(1.0, 1.0))(TF.to_tensor(img))
    assert tuple(t.shape) == (3, 8, 12) and t.dtype == np.float32


def test_random_resized_crop_fallback_is_the_clamped_central_crop():
    img = _pil(10, 100)  # ratio 10: no crop of ratio <= 4/3 with area >= 0.9 fits, so all 10 draws fail
    assert T.RandomResizedCrop.get_params(img, (0.9, 1.0), (3 / 4, 4 / 3)) == (0, (100 - 13) // 2, 10, 13)
    tall = _pil(100, 10)
    assert T.RandomResizedCrop.get_params(tall, (0.9, 1.0), (3 / 4, 4 / 3)) == ((100 - 13) // 2, 0, 13, 10)


def test_random_erasing():
    x = convgrad.ones(3, 20, 30)
    convgrad.manual_seed(1)
    out = T.RandomErasing(p=1.0, scale=(0.1, 0.2), ratio=(0.5, 2.0), value=(0.0, 0.5, -1.0))(x)
    a = out.numpy()
    changed = (a != 1).any(axis=0)
    rows, cols = np.nonzero(changed)
    h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert changed.sum() == h * w and 0.1 * 600 * 0.7 <= h * w <= 0.2 * 600 * 1.3   # one rectangle
    region = a[:, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    assert (region[0] == 0).all() and (region[1] == 0.5).all() and (region[2] == -1).all()
    assert (x.numpy() == 1).all()                                   # not in place by default
    assert T.RandomErasing(p=0.0)(x) is x
    noisy = T.RandomErasing(p=1.0, value="random")(x).numpy()
    assert (noisy != 1).sum() > 0
    with pytest.raises(TypeError, match=r"RandomErasing: expected a Tensor image .*, got Image"):
        T.RandomErasing(p=1.0)(_pil())
    with pytest.raises(ValueError, match=r"expected value 'random' if a string, got 'noise'"):
        T.RandomErasing(value="noise")


def test_random_grayscale_choice_order_and_convert_dtype():
    img = _pil()
    convgrad.manual_seed(0)
    grey = T.RandomGrayscale(p=1.0)(img)
    assert grey.mode == "RGB" and np.array_equal(np.asarray(grey)[..., 0], np.asarray(grey)[..., 1])
    assert T.RandomGrayscale(p=0.0)(img) is img
    picks = {T.RandomChoice([lambda x: "a", lambda x: "b"], p=[3, 1])(0) for _ in range(50)}
    assert picks == {"a", "b"}
    assert all(T.RandomChoice([lambda x: "a", lambda x: "b"], p=[1, 0])(0) == "a" for _ in range(20))
    orders = {T.RandomOrder([lambda s: s + "x", lambda s: s + "y"])("") for _ in range(30)}
    assert orders == {"xy", "yx"}
    u8 = convgrad.tensor(np.array([[[0, 128, 255]]], dtype=np.uint8))
    f = T.ConvertImageDtype(convgrad.float32)(u8)
    assert f.dtype == np.float32 and np.allclose(f.numpy(), [[[0, 128 / 255, 1]]])
    back = TF.convert_image_dtype(f, np.uint8)
    assert back.dtype == np.uint8 and back.numpy().tolist() == [[[0, 128, 255]]]


def test_v2_pipeline_equals_v1():
    img = _pil()
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    a = v2.Compose([v2.ToImage(), v2.ToDtype(convgrad.float32, scale=True), v2.Normalize(mean, std)])(img)
    b = T.Compose([T.ToTensor(), T.Normalize(mean, std)])(img)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)
    u8 = v2.ToImage()(np.asarray(img))
    assert u8.dtype == np.uint8 and tuple(u8.shape) == (3, 40, 60)
    assert v2.ToDtype(convgrad.float32)(u8).numpy().max() > 1               # no scaling asked for
    assert v2.ToPureTensor()(u8) is u8 and T.v2 is v2
    assert tuple(v2.RandomResizedCrop(16)(u8).shape) == (3, 16, 16)
    with pytest.raises(NotImplementedError, match=r"torchvision\.transforms\.v2\.MixUp"):
        v2.MixUp  # noqa: B018


def test_cifar100_official_layout(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = [f"class_{i}" for i in range(100)]
    for split, n in (("train", 6), ("test", 4)):
        with open(folder / split, "wb") as f:
            pickle.dump({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         "fine_labels": rng.integers(0, 100, n).tolist(),
                         "coarse_labels": rng.integers(0, 20, n).tolist()}, f, protocol=2)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": names, "coarse_label_names": names[:20]}, f, protocol=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # our files are not the official ones: md5 warnings
        train = datasets.CIFAR100(tmp_path, train=True, transform=T.ToTensor())
        test = datasets.CIFAR100(tmp_path, train=False)
    assert len(train) == 6 and len(test) == 4 and train.classes == names
    x, y = train[0]
    assert tuple(x.shape) == (3, 32, 32) and 0 <= y < 100
    assert isinstance(test[0][0], Image.Image)
    assert math.isclose(float(x.max()), train.data[0].max() / 255, rel_tol=1e-6)
