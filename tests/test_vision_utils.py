"""convgrad.vision.utils (make_grid, save_image) and datasets.FakeData against torchvision's documented
semantics. torchvision is not installed beside torch 2.13 here, so the reference is torchvision's
algorithm written out below in plain torch: clamp-and-rescale, RGB from grey, grid geometry, padding."""

import io
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import convgrad
from convgrad.utils.data import DataLoader
from convgrad.vision import datasets, transforms
from convgrad.vision.utils import make_grid, save_image
from tests.conftest import examples
from tests.strategies import arrays


def reference_grid(x, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """torchvision.utils.make_grid's documented algorithm, step by step, in torch."""
    x = torch.tensor(x)
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() == 3:
        if x.size(0) == 1:
            x = torch.cat((x, x, x), 0)
        x = x.unsqueeze(0)
    if x.dim() == 4 and x.size(1) == 1:
        x = torch.cat((x, x, x), 1)
    if normalize:
        x = x.clone()

        def norm(img):
            lo, hi = value_range if value_range is not None else (float(img.min()), float(img.max()))
            img.clamp_(min=lo, max=hi)
            img.sub_(lo).div_(max(hi - lo, 1e-5))

        if scale_each:
            for img in x:
                norm(img)
        else:
            norm(x)
    if x.size(0) == 1:
        return x.squeeze(0).numpy()
    n = x.size(0)
    cols = min(nrow, n)
    rows = int(math.ceil(float(n) / cols))
    hh, ww = x.size(2) + padding, x.size(3) + padding
    grid = x.new_full((x.size(1), hh * rows + padding, ww * cols + padding), pad_value)
    k = 0
    for yy in range(rows):
        for xx in range(cols):
            if k >= n:
                break
            cell = grid.narrow(1, yy * hh + padding, hh - padding)
            cell.narrow(2, xx * ww + padding, ww - padding).copy_(x[k])
            k += 1
    return grid.numpy()


@settings(max_examples=examples(40))
@given(st.data())
def test_make_grid_matches_the_documented_algorithm(data):
    b = data.draw(st.integers(1, 11))
    c = data.draw(st.sampled_from([1, 3]))
    h, w = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    kwargs = dict(nrow=data.draw(st.integers(1, 9)), padding=data.draw(st.integers(0, 3)),
                  normalize=data.draw(st.booleans()), scale_each=data.draw(st.booleans()),
                  pad_value=data.draw(st.sampled_from([0.0, 1.0, 0.5])),
                  value_range=data.draw(st.sampled_from([None, (-1.0, 1.0), (0.0, 0.5)])))
    x = arrays((b, c, h, w), seed=data.draw(st.integers(0, 2**16)))
    got = make_grid(convgrad.tensor(x), **kwargs)
    assert isinstance(got, convgrad.Tensor) and got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), reference_grid(x, **kwargs), rtol=1e-6, atol=1e-6)


def test_make_grid_geometry_by_hand():
    x = np.stack([np.full((1, 2, 3), i, np.float32) for i in range(5)])   # 5 grey 2x3 images, image i = i
    g = make_grid(convgrad.tensor(x), nrow=2, padding=1, pad_value=-1).numpy()
    assert g.shape == (3, 3 * (2 + 1) + 1, 2 * (3 + 1) + 1)               # 3 rows of 2, RGB
    assert (g[:, 0] == -1).all() and (g[:, :, 0] == -1).all()
    assert (g[:, 1:3, 1:4] == 0).all() and (g[:, 1:3, 5:8] == 1).all()   # row 0: images 0, 1
    assert (g[:, 7:9, 1:4] == 4).all() and (g[:, 7:9, 5:8] == -1).all()  # row 2: image 4, then padding
    # one image: returned as it is, (C, H, W), no padding; (H, W) becomes (3, H, W)
    assert make_grid(convgrad.tensor(x[:1, :, :, :]), padding=5).shape == (3, 2, 3)
    assert make_grid(convgrad.ones(4, 5)).shape == (3, 4, 5)
    # a list of images is stacked
    lst = [convgrad.tensor(x[i]) for i in range(5)]
    np.testing.assert_array_equal(make_grid(lst, nrow=2, padding=1).numpy(),
                                  make_grid(convgrad.tensor(x), nrow=2, padding=1).numpy())


def test_make_grid_normalize_does_not_change_its_input():
    x = convgrad.tensor(arrays((4, 3, 2, 2), low=-3, high=3))
    before = x.numpy().copy()
    g = make_grid(x, normalize=True).numpy()
    np.testing.assert_array_equal(x.numpy(), before)
    inner = g[:, 2:-2, 2:-2]
    assert inner.min() >= 0 and inner.max() <= 1 and np.isclose(g.max(), 1)


@pytest.mark.parametrize("call, err, match", [
    (lambda: make_grid(np.zeros((2, 3, 4, 4))), TypeError, r"make_grid: expected a Tensor .*, got ndarray"),
    (lambda: make_grid([convgrad.zeros(3, 2, 2), 1]), TypeError, r"got a list containing int"),
    (lambda: make_grid(convgrad.zeros(2, 3, 2, 2), value_range=[0, 1]), TypeError,
     r"value_range .* got \[0, 1\]"),
    (lambda: make_grid(convgrad.zeros(2, 2, 3, 2, 2)), ValueError, r"got shape \(2, 2, 3, 2, 2\)"),
    (lambda: make_grid(convgrad.zeros(2, 3, 2, 2), nrow=0), ValueError, r"nrow to be a positive int, got 0"),
    (lambda: make_grid([convgrad.zeros(3, 2, 2), convgrad.zeros(3, 2, 3)]), ValueError, r"one shape"),
])
def test_make_grid_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_save_image_writes_rounded_pixels(tmp_path):
    x = arrays((3, 3, 4, 5), seed=3, low=-0.2, high=1.2)                   # out-of-range values clamp
    path = tmp_path / "grid.png"
    save_image(convgrad.tensor(x), path, nrow=2, padding=1, pad_value=0.25)
    got = np.asarray(Image.open(path))
    ref = reference_grid(x, nrow=2, padding=1, pad_value=0.25)
    expected = np.clip(ref * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(got, expected)
    buf = io.BytesIO()                                                     # file object with a format
    save_image(convgrad.tensor(x), buf, format="PNG", normalize=True)
    assert Image.open(io.BytesIO(buf.getvalue())).size == (2 + 3 * (5 + 2), 2 + 1 * (4 + 2))
    with pytest.raises(TypeError, match=r"save_image: expected fp .*, got int"):
        save_image(convgrad.tensor(x), 3)


# --------------------------------------------------------------------------- FakeData
def test_fakedata_items_are_pil_images_deterministic_per_index():
    ds = datasets.FakeData(size=20, image_size=(3, 8, 6), num_classes=4)
    assert len(ds) == 20
    img, label = ds[3]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (6, 8)
    assert isinstance(label, int) and 0 <= label < 4
    again, label2 = ds[3]
    assert np.array_equal(np.asarray(img), np.asarray(again)) and label == label2
    assert not np.array_equal(np.asarray(ds[4][0]), np.asarray(img))
    shifted = datasets.FakeData(size=20, image_size=(3, 8, 6), num_classes=4, random_offset=1)
    assert np.array_equal(np.asarray(shifted[2][0]), np.asarray(ds[3][0]))   # index + offset
    labels = {ds[i][1] for i in range(20)}
    assert labels <= set(range(4)) and len(labels) > 1
    grey = datasets.FakeData(size=2, image_size=(1, 5, 5))
    assert grey[0][0].mode == "L"
    # the global generators are untouched
    state = np.random.get_state()[1].copy()
    convgrad.manual_seed(0)
    a = convgrad.rand(3).numpy()
    convgrad.manual_seed(0)
    ds[0]
    assert np.array_equal(convgrad.rand(3).numpy(), a) and np.array_equal(np.random.get_state()[1], state)


def test_fakedata_with_transforms_and_loader():
    ds = datasets.FakeData(size=10, image_size=(3, 6, 6), num_classes=3, transform=transforms.ToTensor(),
                           target_transform=lambda t: t + 100)
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(x.shape) == (4, 3, 6, 6) and x.dtype == np.float32
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    assert set(y.numpy().tolist()) <= {100, 101, 102}
    with pytest.raises(IndexError, match=r"FakeData: index out of range \(size 10\), got 10"):
        ds[10]
    with pytest.raises(ValueError, match=r"FakeData: expected image_size \(C, H, W\) .*, got \(3, 4\)"):
        datasets.FakeData(image_size=(3, 4))
    assert "Number of datapoints: 10" in repr(ds)
