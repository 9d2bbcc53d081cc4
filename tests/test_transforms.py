"""convgrad.vision.transforms: torchvision semantics checked against hand-computed values, PIL, and
torch's own resampling kernels (interpolate, grid_sample) where torchvision uses them."""

import colorsys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from PIL import Image

import convgrad
from convgrad.vision import transforms as T
from convgrad.vision.transforms import functional as F


def _np(x):
    return np.asarray(x._data) if isinstance(x, convgrad.Tensor) else np.asarray(x)


@pytest.fixture
def gray():
    return np.random.default_rng(0).integers(0, 256, (12, 10), dtype=np.uint8)


@pytest.fixture
def rgb():
    return np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)


# --------------------------------------------------------------------------------------------------
# ToTensor / Normalize


def test_to_tensor_pil_and_arrays(gray, rgb):
    for arr, pil in ((gray, Image.fromarray(gray, mode="L")), (rgb, Image.fromarray(rgb, mode="RGB"))):
        expected = (
            torch.from_numpy(arr if arr.ndim == 3 else arr[:, :, None]).permute(2, 0, 1).float().div(255)
        )
        for src in (arr, pil):
            out = T.ToTensor()(src)
            assert isinstance(out, convgrad.Tensor) and out.dtype == np.float32
            np.testing.assert_array_equal(_np(out), expected.numpy())
    assert _np(T.ToTensor()(gray)).min() >= 0 and _np(T.ToTensor()(gray)).max() <= 1


def test_to_tensor_other_dtypes_and_modes():
    f = np.random.default_rng(0).random((4, 5, 2))
    out = T.ToTensor()(f)
    assert out.dtype == np.float64 and out.shape == (2, 4, 5)
    np.testing.assert_array_equal(_np(out), f.transpose(2, 0, 1))  # no scaling for non-uint8
    bw = Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).convert("1")
    np.testing.assert_array_equal(_np(T.ToTensor()(bw))[0], [[0, 1], [1, 0]])
    with pytest.raises(TypeError, match="PIL Image or ndarray"):
        T.ToTensor()([1, 2])
    with pytest.raises(ValueError, match="2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))


def test_to_pil_image_round_trip(rgb):
    back = T.ToPILImage()(T.ToTensor()(rgb))
    assert back.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(back), rgb)


def test_normalize_matches_torch():
    x = np.random.default_rng(2).random((3, 4, 5)).astype(np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    out = T.Normalize(mean, std)(convgrad.tensor(x))
    ref = (torch.from_numpy(x) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    assert out.dtype == np.float32
    np.testing.assert_allclose(_np(out), ref.numpy(), rtol=1e-6, atol=1e-6)
    mnist = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])(np.full((2, 2), 255, np.uint8))
    np.testing.assert_allclose(_np(mnist), (1 - 0.1307) / 0.3081, rtol=1e-6)
    t = convgrad.tensor(x.copy())
    assert T.Normalize(mean, std, inplace=True)(t) is t
    np.testing.assert_allclose(_np(t), ref.numpy(), rtol=1e-6, atol=1e-6)


def test_normalize_errors():
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0,), (1,))(convgrad.tensor(np.zeros((1, 2, 2), np.int64)))
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize((0,), (0,))(convgrad.tensor(np.zeros((1, 2, 2), np.float32)))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        T.Normalize((0,), (1,))(convgrad.tensor(np.zeros((2, 2), np.float32)))


# --------------------------------------------------------------------------------------------------
# CenterCrop / Resize / Pad / RandomCrop


def _grid(h, w):
    return np.arange(h * w, dtype=np.uint8).reshape(h, w)


@pytest.mark.parametrize(
    "h,w,size,top,left",
    [
        (5, 5, 2, 2, 2),
        (5, 5, 4, 0, 0),
        (6, 4, (2, 2), 2, 1),
        (7, 8, (3, 5), 2, 2),
        (4, 4, 1, 2, 2),
        (3, 3, 2, 0, 0),
    ],
)
def test_center_crop_offsets_use_python_rounding(h, w, size, top, left):
    # torchvision: top = int(round((H - h) / 2)); round() rounds half to even
    img = _grid(h, w)
    ch, cw = (size, size) if isinstance(size, int) else size
    expected = img[top : top + ch, left : left + cw]
    np.testing.assert_array_equal(T.CenterCrop(size)(img), expected)
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(size)(Image.fromarray(img))), expected)
    np.testing.assert_array_equal(_np(T.CenterCrop(size)(convgrad.tensor(img[None])))[0], expected)


def test_center_crop_larger_than_image_pads_with_zeros():
    img = _grid(3, 3) + 1
    out = T.CenterCrop((6, 5))(img)
    expected = np.zeros((6, 5), np.uint8)
    expected[1:4, 1:4] = img  # pad left (5-3)//2 = 1, top (6-3)//2 = 1
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(np.asarray(T.CenterCrop((6, 5))(Image.fromarray(img))), expected)


@pytest.mark.parametrize(
    "h,w,size,out", [(20, 40, 10, (10, 20)), (30, 20, 10, (15, 10)), (7, 9, (3, 4), (3, 4))]
)
def test_resize_output_size(h, w, size, out):
    assert T.Resize(size)(convgrad.tensor(np.zeros((1, h, w), np.float32))).shape == (1,) + out
    assert T.Resize(size)(Image.new("L", (w, h))).size == (out[1], out[0])
    assert T.Resize(size)(np.zeros((h, w, 3), np.uint8)).shape == out + (3,)


def test_resize_max_size():
    assert T.Resize(10, max_size=15)(Image.new("L", (40, 20))).size == (15, 7)
    with pytest.raises(ValueError, match="max_size"):
        T.Resize(10, max_size=10)(Image.new("L", (40, 20)))


@pytest.mark.parametrize("size", [(10, 12), (41, 50), (7, 45)])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_tensor_matches_torch_interpolate(size, antialias):
    x = np.random.default_rng(3).random((2, 3, 20, 30)).astype(np.float32)
    ours = _np(T.Resize(size, antialias=antialias)(convgrad.tensor(x)))
    ref = TF.interpolate(
        torch.from_numpy(x), size=size, mode="bilinear", align_corners=False, antialias=antialias
    )
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-5)
    near = _np(T.Resize(size, interpolation=T.InterpolationMode.NEAREST)(convgrad.tensor(x)))
    np.testing.assert_array_equal(
        near, TF.interpolate(torch.from_numpy(x), size=size, mode="nearest").numpy()
    )


def test_resize_box_is_block_average_and_uint8_consistent():
    x = np.random.default_rng(4).random((1, 8, 6)).astype(np.float32)
    out = _np(T.Resize((4, 3), interpolation="box")(convgrad.tensor(x)))
    np.testing.assert_allclose(out[0], x[0].reshape(4, 2, 3, 2).mean(axis=(1, 3)), atol=1e-6)
    img = np.random.default_rng(5).integers(0, 256, (16, 16), dtype=np.uint8)
    a = T.Resize(7)(img)
    b = np.asarray(T.Resize(7)(Image.fromarray(img)))
    assert a.dtype == np.uint8 and np.abs(a.astype(int) - b).max() <= 1


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_modes_match_numpy(mode, gray):
    out = T.Pad((1, 2, 3, 4), fill=7, padding_mode=mode)(gray)
    kw = {"constant_values": 7} if mode == "constant" else {}
    np.testing.assert_array_equal(out, np.pad(gray, ((2, 4), (1, 3)), mode=mode, **kw))
    pil = np.asarray(T.Pad((1, 2, 3, 4), fill=7, padding_mode=mode)(Image.fromarray(gray)))
    np.testing.assert_array_equal(pil, out)


def test_pad_per_channel_fill_and_errors(rgb):
    out = T.Pad(2, fill=(1, 2, 3))(rgb)
    assert out.shape == (13, 15, 3) and out[0, 0].tolist() == [1, 2, 3]
    assert T.Pad([1, 2])(convgrad.tensor(np.ones((3, 4, 4), np.float32))).shape == (3, 8, 6)
    with pytest.raises(ValueError, match="1, 2, or 4 element"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="Padding mode"):
        T.Pad(1, padding_mode="wrap")


def test_random_crop_is_a_window_and_reproducible(gray):
    padded = np.pad(gray, 2)
    convgrad.manual_seed(0)
    crops = [T.RandomCrop(8, padding=2)(gray) for _ in range(20)]
    positions = set()
    for c in crops:
        assert c.shape == (8, 8)
        hits = [
            (i, j)
            for i in range(padded.shape[0] - 7)
            for j in range(padded.shape[1] - 7)
            if np.array_equal(padded[i : i + 8, j : j + 8], c)
        ]
        assert hits
        positions.add(hits[0])
    assert len(positions) > 5
    convgrad.manual_seed(0)
    assert all(np.array_equal(a, T.RandomCrop(8, padding=2)(gray)) for a in crops)


def test_random_crop_pad_if_needed_and_errors():
    img = np.ones((4, 6), np.uint8)
    out = T.RandomCrop((8, 8), pad_if_needed=True)(img)
    assert out.shape == (8, 8) and out.sum() <= img.sum()
    pil = T.RandomCrop((8, 8), pad_if_needed=True, fill=255)(Image.fromarray(img))
    assert pil.size == (8, 8)
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(8)(img)
    assert T.RandomCrop(3, padding=1, padding_mode="reflect")(convgrad.tensor(np.ones((2, 4, 4)))).shape == (
        2,
        3,
        3,
    )


# --------------------------------------------------------------------------------------------------
# flips, rotation, affine, elastic


def test_flips(gray):
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(gray), gray[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(gray), gray[::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(gray), gray)
    np.testing.assert_array_equal(
        np.asarray(T.RandomHorizontalFlip(1.0)(Image.fromarray(gray))), gray[:, ::-1]
    )
    t = convgrad.tensor(gray[None].astype(np.float32))
    np.testing.assert_array_equal(_np(T.RandomVerticalFlip(1.0)(t))[0], gray[::-1])
    convgrad.manual_seed(3)
    flipped = [np.array_equal(T.RandomHorizontalFlip()(gray), gray[:, ::-1]) for _ in range(200)]
    assert 60 < sum(flipped) < 140


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotate_by_right_angles_is_rot90(k):
    img = np.random.default_rng(6).integers(0, 256, (8, 8), dtype=np.uint8)
    np.testing.assert_array_equal(F.rotate(img, 90 * k), np.rot90(img, k))  # counter-clockwise
    np.testing.assert_array_equal(np.asarray(F.rotate(Image.fromarray(img), 90 * k)), np.rot90(img, k))
    t = convgrad.tensor(img[None].astype(np.float32))
    np.testing.assert_array_equal(_np(F.rotate(t, 90 * k))[0], np.rot90(img, k))


@pytest.mark.parametrize(
    "angle,translate,scale,shear",
    [(13, (2, -1), 1.2, (10, 5)), (-37, (0, 3), 0.8, (0, 0)), (120, (-1, 1), 1.0, (-20, 0))],
)
def test_affine_nearest_on_arrays_matches_pil(angle, translate, scale, shear):
    img = np.random.default_rng(7).integers(1, 256, (16, 14), dtype=np.uint8)
    ours = F.affine(img, angle, list(translate), scale, list(shear))
    pil = np.asarray(F.affine(Image.fromarray(img), angle, list(translate), scale, list(shear)))
    assert (ours == pil).mean() > 0.98


def _torch_affine(x, inv, mode):
    """torch's affine_grid + grid_sample (what torchvision uses for tensors) with our output->input matrix."""
    h, w = x.shape[-2:]
    n = np.array([[2 / w, 0, -1], [0, 2 / h, -1], [0, 0, 1]])
    theta = (n @ np.vstack([inv, [0, 0, 1]]) @ np.linalg.inv(n))[:2]
    grid = TF.affine_grid(torch.tensor(theta[None], dtype=torch.float32), (1, 1, h, w), align_corners=False)
    return TF.grid_sample(
        torch.from_numpy(x)[None], grid, mode=mode, padding_mode="zeros", align_corners=False
    )[0]


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_affine_sampler_matches_torch_grid_sample(mode):
    x = np.random.default_rng(8).random((2, 16, 16)).astype(np.float32)
    params = (23.0, [1.5, -2.0], 1.1, [7.0, 3.0])
    ours = _np(F.affine(convgrad.tensor(x), *params, interpolation=mode, fill=0))
    inv = F._inverse_affine((8.0, 8.0), params[0], params[1], params[2], params[3])
    ref = _torch_affine(x, inv, mode).numpy()
    if mode == "bilinear":
        np.testing.assert_allclose(ours, ref, atol=1e-5)
    else:
        assert (ours == ref).mean() > 0.99


def test_random_affine_translation_and_identity(gray):
    np.testing.assert_array_equal(T.RandomAffine(0)(gray), gray)
    convgrad.manual_seed(1)
    out = T.RandomAffine(0, translate=(0.3, 0.3))(gray)
    convgrad.manual_seed(1)
    _, (tx, ty), _, _ = T.RandomAffine.get_params([0, 0], (0.3, 0.3), None, None, (10, 12))
    assert abs(tx) <= 3 and abs(ty) <= 4
    expected = np.zeros_like(gray)
    src = gray[max(-ty, 0) : 12 - max(ty, 0), max(-tx, 0) : 10 - max(tx, 0)]
    expected[max(ty, 0) : max(ty, 0) + src.shape[0], max(tx, 0) : max(tx, 0) + src.shape[1]] = src
    np.testing.assert_array_equal(out, expected)


def test_random_affine_reproducible_and_validated(rgb):
    aff = T.RandomAffine(30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, fill=(255, 0, 0))
    convgrad.manual_seed(9)
    a = np.asarray(aff(Image.fromarray(rgb)))
    convgrad.manual_seed(9)
    b = np.asarray(aff(Image.fromarray(rgb)))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="between 0 and 1"):
        T.RandomAffine(0, translate=(1.5, 0))
    with pytest.raises(ValueError, match="positive"):
        T.RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="single number"):
        T.RandomAffine(-5)


def test_random_rotation_range_and_expand():
    convgrad.manual_seed(2)
    angles = [T.RandomRotation.get_params([-10.0, 10.0]) for _ in range(100)]
    assert all(-10 <= a <= 10 for a in angles) and np.std(angles) > 3
    img = np.ones((10, 20), np.float32)
    out = T.RandomRotation((90, 90), expand=True)(convgrad.tensor(img[None]))
    assert out.shape == (1, 20, 10)
    assert T.RandomRotation((45, 45), expand=True)(Image.fromarray(img)).size == (22, 22)
    assert T.RandomRotation((45, 45), expand=True)(convgrad.tensor(img[None])).shape == (1, 22, 22)


def test_elastic_transform():
    img = np.random.default_rng(10).random((1, 20, 20)).astype(np.float32)
    np.testing.assert_allclose(_np(T.ElasticTransform(alpha=0.0)(convgrad.tensor(img))), img, atol=1e-6)
    convgrad.manual_seed(4)
    a = _np(T.ElasticTransform(alpha=30.0, sigma=4.0)(convgrad.tensor(img)))
    convgrad.manual_seed(4)
    b = _np(T.ElasticTransform(alpha=30.0, sigma=4.0)(convgrad.tensor(img)))
    np.testing.assert_array_equal(a, b)
    assert a.shape == img.shape and not np.allclose(a, img)
    disp = T.ElasticTransform.get_params([30.0, 30.0], [4.0, 4.0], [20, 20])
    assert disp.shape == (20, 20, 2)
    # smooth: neighbouring displacements differ far less than the field's range
    assert np.abs(np.diff(disp[..., 0], axis=1)).mean() < 0.2 * np.ptp(disp[..., 0])
    pil = T.ElasticTransform(alpha=20.0)(Image.fromarray((img[0] * 255).astype(np.uint8)))
    assert isinstance(pil, Image.Image) and pil.size == (20, 20)
    assert abs(F._gaussian_kernel1d(9, 1.5).sum() - 1) < 1e-12


# --------------------------------------------------------------------------------------------------
# colour


def test_adjust_brightness_contrast_saturation_tensor():
    x = np.random.default_rng(11).random((3, 6, 7)).astype(np.float32)
    t = convgrad.tensor(x)
    np.testing.assert_allclose(_np(F.adjust_brightness(t, 0.5)), x * 0.5, atol=1e-6)
    np.testing.assert_allclose(_np(F.adjust_brightness(t, 3.0)), np.clip(x * 3, 0, 1), atol=1e-6)
    gray = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    np.testing.assert_allclose(_np(F.adjust_contrast(t, 0.0)), np.full_like(x, gray.mean()), atol=1e-6)
    np.testing.assert_allclose(_np(F.adjust_saturation(t, 0.0)), np.broadcast_to(gray, x.shape), atol=1e-6)
    np.testing.assert_allclose(_np(F.adjust_saturation(t, 1.0)), x, atol=1e-6)


def test_adjust_hue_matches_colorsys():
    x = np.random.default_rng(12).random((3, 4, 5))
    out = _np(F.adjust_hue(convgrad.tensor(x), 0.2))
    for i in range(4):
        for j in range(5):
            h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
            np.testing.assert_allclose(out[:, i, j], colorsys.hsv_to_rgb((h + 0.2) % 1.0, s, v), atol=1e-9)
    np.testing.assert_allclose(_np(F.adjust_hue(convgrad.tensor(x), 0.0)), x, atol=1e-12)
    with pytest.raises(ValueError, match="not in"):
        F.adjust_hue(convgrad.tensor(x), 0.7)


def test_color_ops_agree_between_pil_and_tensor(rgb):
    pil = Image.fromarray(rgb)
    t = T.ToTensor()(rgb)
    for fn, factor in ((F.adjust_brightness, 1.3), (F.adjust_saturation, 0.4), (F.adjust_contrast, 0.6)):
        a = _np(T.ToTensor()(fn(pil, factor)))
        b = _np(fn(t, factor))
        assert np.abs(a - b).max() <= 3 / 255 + 1e-6, fn.__name__
    a = _np(T.ToTensor()(F.adjust_hue(pil, 0.1)))
    b = _np(F.adjust_hue(t, 0.1))
    assert np.median(np.abs(a - b)) <= 3 / 255


def test_color_jitter(rgb):
    cj = T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    assert cj.brightness == [0.6, 1.4] and cj.hue == [-0.1, 0.1]
    assert T.ColorJitter().brightness is None
    convgrad.manual_seed(0)
    a = np.asarray(cj(Image.fromarray(rgb)))
    b = _np(cj(T.ToTensor()(rgb)))
    convgrad.manual_seed(0)
    np.testing.assert_array_equal(np.asarray(cj(Image.fromarray(rgb))), a)
    assert b.shape == (3, 9, 11) and b.min() >= 0 and b.max() <= 1
    order, *factors = T.ColorJitter.get_params([0.5, 1.5], None, [1, 1], [-0.1, 0.1])
    assert sorted(order) == [0, 1, 2, 3] and factors[1] is None
    with pytest.raises(ValueError, match="non negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.6)
    g = T.ColorJitter(saturation=0.5, hue=0.2)(Image.fromarray(rgb[:, :, 0]))
    np.testing.assert_array_equal(np.asarray(g), rgb[:, :, 0])  # grey images: no saturation / hue


def test_grayscale(rgb):
    g = T.Grayscale()(T.ToTensor()(rgb))
    x = rgb.astype(np.float64) / 255
    np.testing.assert_allclose(
        _np(g)[0], 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2], atol=1e-6
    )
    assert T.Grayscale(3)(Image.fromarray(rgb)).mode == "RGB"


def test_pca_color_augmentation():
    x = np.random.default_rng(13).random((3, 5, 5)).astype(np.float32)
    t = convgrad.tensor(x)
    np.testing.assert_array_equal(_np(T.PCAColorAugmentation(alphastd=0.0)(t)), x)
    aug = T.PCAColorAugmentation()
    convgrad.manual_seed(0)
    out = _np(aug(t))
    shift = out - x
    assert out.dtype == np.float32
    assert np.allclose(shift, shift[:, :1, :1], atol=1e-6)  # one RGB offset for every pixel
    # the offset is eigvec @ (alpha * eigval): recover alpha and check it is a plausible N(0, 0.1) draw
    alpha = np.linalg.solve(aug.eigvec, shift[:, 0, 0].astype(np.float64)) / aug.eigval
    assert np.all(np.abs(alpha) < 0.6)
    convgrad.manual_seed(0)
    np.testing.assert_array_equal(_np(aug(t)), out)
    u8 = np.full((4, 4, 3), 128, np.uint8)
    big = T.PCAColorAugmentation(alphastd=100.0)(u8)
    assert big.dtype == np.uint8 and big.min() >= 0 and big.max() <= 255
    with pytest.raises(ValueError, match="3 channels"):
        aug(convgrad.tensor(np.zeros((1, 2, 2), np.float32)))


def test_pca_from_images_recovers_the_principal_axis():
    rng = np.random.default_rng(14)
    axis = np.array([1.0, 2.0, 2.0]) / 3.0
    pixels = 0.5 + rng.normal(0, 0.2, (4000, 1)) * axis + rng.normal(0, 0.01, (4000, 3))
    images = pixels.reshape(10, 20, 20, 3).transpose(0, 3, 1, 2)
    aug = T.PCAColorAugmentation.from_images(convgrad.tensor(images))
    assert aug.eigval[0] > 10 * aug.eigval[1]
    assert abs(abs(aug.eigvec[:, 0] @ axis) - 1) < 1e-3


# --------------------------------------------------------------------------------------------------
# composition


def test_compose_lambda_random_apply(gray):
    pipeline = T.Compose([T.CenterCrop(8), T.ToTensor(), T.Lambda(lambda t: t * 2)])
    out = pipeline(Image.fromarray(gray))
    np.testing.assert_allclose(_np(out)[0], gray[2:10, 1:9] / 255 * 2, rtol=1e-6)
    assert "CenterCrop" in repr(pipeline)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)
    np.testing.assert_array_equal(T.RandomApply([T.RandomHorizontalFlip(1.0)], p=0.0)(gray), gray)
    np.testing.assert_array_equal(T.RandomApply([T.RandomHorizontalFlip(1.0)], p=1.0)(gray), gray[:, ::-1])


def test_mnist_style_augmentation_pipeline_through_a_loader():
    from convgrad.utils.data import DataLoader, Dataset

    images = np.random.default_rng(15).integers(0, 256, (16, 28, 28), dtype=np.uint8)

    class Digits(Dataset):
        def __init__(self, transform):
            self.transform = transform

        def __getitem__(self, i):
            return self.transform(Image.fromarray(images[i], mode="L")), i % 10

        def __len__(self):
            return len(images)

    tf = T.Compose(
        [
            T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1)),
            T.ToTensor(),
            T.Normalize((0.1307,), (0.3081,)),
        ]
    )

    def epoch():
        convgrad.manual_seed(21)
        return [
            (_np(x), _np(y)) for x, y in DataLoader(Digits(tf), batch_size=5, shuffle=True, num_workers=2)
        ]

    a, b = epoch(), epoch()
    assert [x.shape for x, _ in a] == [(5, 1, 28, 28)] * 3 + [(1, 1, 28, 28)]
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
