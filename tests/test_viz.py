"""convgrad.viz: the numbers behind every picture. Attribution maps against the same method written in
PyTorch (backward hooks on ReLU modules, as the papers' reference code does) and against autograd itself;
feature maps against the layers' outputs; animation frames against conv2d / conv_transpose2d / pooling;
the kernels against a direct cross-correlation; and the CLI end to end on a short training run."""

import os

import numpy as np
import pytest
import torch

import convgrad
from convgrad import cli, nn, viz
from convgrad.vision import models


def _pair():
    """A small conv net (conv-ReLU-maxpool-conv-ReLU-GAP-linear) in convgrad and the same in torch."""
    convgrad.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                        nn.Linear(6, 3))
    ref = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d((1, 1)), torch.nn.Flatten(), torch.nn.Linear(6, 3))
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 2, 8, 8)).astype(np.float32)
    return net, ref, x


def _torch_rule(ref, rule):
    def hook(module, grad_in, grad_out):
        return (grad_in[0].clamp(min=0),) if rule == "guided" else (grad_out[0].clamp(min=0),)
    return [m.register_full_backward_hook(hook) for m in ref if isinstance(m, torch.nn.ReLU)]


def test_saliency_is_the_input_gradient_and_leaves_parameter_grads_alone():
    net, ref, x = _pair()
    s = viz.saliency(net, convgrad.tensor(x))
    xt = torch.tensor(x, requires_grad=True)
    out = ref(xt)
    out.gather(1, out.argmax(1, keepdim=True)).sum().backward()
    np.testing.assert_allclose(s.numpy(), xt.grad.abs().amax(1).numpy(), rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in net.parameters()) and net.training
    g = viz.input_gradient(net, convgrad.tensor(x), target=2)
    xt.grad = None
    ref(xt)[:, 2].sum().backward()
    np.testing.assert_allclose(g.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_guided_backprop_and_deconvnet_match_pytorch_with_relu_hooks():
    net, ref, x = _pair()
    gb = viz.guided_backprop(net, convgrad.tensor(x), target=[0, 1, 2])
    handles = _torch_rule(ref, "guided")
    xt = torch.tensor(x, requires_grad=True)
    ref(xt).gather(1, torch.tensor([[0], [1], [2]])).sum().backward()
    for h in handles:
        h.remove()
    np.testing.assert_allclose(gb.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
    assert (gb.numpy() != viz.input_gradient(net, convgrad.tensor(x), [0, 1, 2]).numpy()).any()

    d = viz.deconvnet(net, convgrad.tensor(x), "3", unit=4)
    handles = _torch_rule(ref, "deconv")
    xt = torch.tensor(x, requires_grad=True)
    a = ref[:4](xt)
    seed = torch.zeros_like(a)
    flat = a[:, 4].detach().reshape(3, -1)
    for n, j in enumerate(flat.argmax(1)):
        seed[n, 4].view(-1)[j] = flat[n, j]
    a.backward(seed)
    for h in handles:
        h.remove()
    np.testing.assert_allclose(d.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_grad_cam_matches_pytorch_and_is_cam_for_a_gap_linear_net():
    net, ref, x = _pair()
    g = viz.grad_cam(net, convgrad.tensor(x), "4", target=1)
    acts = []

    def keep(module, inputs, output):
        output.retain_grad()
        acts.append(output)

    ref[4].register_forward_hook(keep)
    ref(torch.tensor(x))[:, 1].sum().backward()
    a = acts[0]
    cam_t = torch.relu((a.grad.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
    cam_t = torch.nn.functional.interpolate(cam_t, size=(8, 8), mode="bilinear", align_corners=False)[:, 0]
    np.testing.assert_allclose(g.numpy(), cam_t.detach().numpy(), rtol=1e-4, atol=1e-6)
    # with global average pooling + linear, Grad-CAM's weights are w_tk / (h w): CAM up to that factor
    c = viz.cam(net, convgrad.tensor(x), target=1)
    np.testing.assert_allclose(c.numpy(), 16 * g.numpy(), rtol=1e-4, atol=1e-5)
    assert c.shape == (3, 8, 8) and float(c.min()) >= 0


def test_cam_of_a_zoo_resnet_and_of_nin_class_maps():
    convgrad.manual_seed(0)
    r = models.get_model("resnet20", num_classes=10)
    x = convgrad.randn(2, 3, 32, 32)
    feats = viz.feature_maps(r, "layer3", x)  # (2, 64, 8, 8), the input of the global pooling
    t = viz.cam(r, x, target=3)
    manual = np.maximum(np.einsum("k,nkhw->nhw", r.fc.weight.numpy(force=True)[3], feats), 0)
    up = torch.nn.functional.interpolate(torch.from_numpy(manual)[:, None], size=(32, 32), mode="bilinear",
                                         align_corners=False)[:, 0].numpy()
    np.testing.assert_allclose(t.numpy(), up, rtol=1e-4, atol=1e-5)
    with pytest.raises(viz.VizError, match="no global average pooling"):
        viz.cam(models.lenet5(), convgrad.randn(1, 1, 28, 28))


def test_occlusion_is_the_score_drop_and_hurts_where_the_evidence_is():
    # a linear scorer on positive images: covering a window removes exactly sum(w * x) over it
    convgrad.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(36, 2))
    w = np.zeros((2, 36), np.float32)
    w[0].reshape(6, 6)[1:3, 3:5] = 1.0  # class 0 looks at one 2x2 patch
    with convgrad.no_grad():
        net[1].weight.copy_(convgrad.tensor(w))
        net[1].bias.zero_()
    x = np.random.default_rng(0).uniform(0.5, 1, (1, 1, 6, 6)).astype(np.float32)
    occ = viz.occlusion(net, convgrad.tensor(x), target=0, window=2, stride=1).numpy()[0]
    assert occ.shape == (5, 5)
    for i in range(5):
        for j in range(5):
            assert occ[i, j] == pytest.approx(float((w[0].reshape(6, 6) * x[0, 0])[i:i + 2, j:j + 2].sum()),
                                              abs=1e-5)
    sal = viz.saliency(net, convgrad.tensor(x), target=0).numpy()[0]
    r, c = np.unravel_index(sal.argmax(), sal.shape)
    assert occ[min(r, 4), min(c, 4)] > 0  # covering the most salient pixel lowers the class score
    assert occ.argmax() == np.ravel_multi_index((1, 3), (5, 5))


def test_feature_maps_are_the_layer_outputs_even_before_an_inplace_relu():
    convgrad.manual_seed(0)
    r = models.get_model("resnet20", num_classes=10).eval()
    x = convgrad.randn(1, 3, 32, 32)
    with convgrad.no_grad():
        conv = r.conv1(x).numpy()
    np.testing.assert_allclose(viz.feature_maps(r, "conv1", x), conv, rtol=1e-5, atol=1e-6)
    maps = viz.all_feature_maps(r, x)
    assert (maps["conv1"] < 0).any()  # the map before layer1's in-place ReLU rewrote that buffer
    assert list(maps)[0] == "conv1" and "fc" in maps


@pytest.mark.parametrize("case", list(viz.CONV_ARITHMETIC_CASES))
@pytest.mark.parametrize("transposed", [False, True])
def test_every_animation_frame_is_the_convolution_value_there(case, transposed):
    i, k, s, p, d = viz.CONV_ARITHMETIC_CASES[case]
    if transposed and p > d * (k - 1):
        pytest.skip("drawn only when padding <= dilation (k - 1)")
    steps = viz.conv_steps(i, k, s, p, d, transposed=transposed, seed=3)
    assert len(steps.frames) == steps.output.size
    assert {pos for pos, _, _ in steps.frames} == set(np.ndindex(steps.output.shape))
    for pos, cells, value in steps.frames:
        assert value == pytest.approx(float(steps.output[pos]))
        assert len(cells) == k * k
    x = steps.grid[steps.kind == viz.animate.INPUT]
    assert x.size == i * i


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_frames_and_the_gif(mode, tmp_path):
    steps = viz.animate_pool(5, 2, 2, 1, mode=mode, path=tmp_path / "p.gif")
    for pos, _, value in steps.frames:
        assert value == pytest.approx(float(steps.output[pos]))
    from PIL import Image

    with Image.open(tmp_path / "p.gif") as im:
        assert im.n_frames == len(steps.frames) == 9


def test_hand_made_kernels_are_cross_correlations():
    img = np.random.default_rng(0).random((9, 11)).astype(np.float32)
    out = viz.filter_bank(img)
    np.testing.assert_allclose(out["identity"].numpy(), img, atol=1e-6)
    padded = np.pad(img, 1)
    gx = sum(viz.KERNELS["Sobel Gx"][a, b] * padded[a:a + 9, b:b + 11] for a in range(3) for b in range(3))
    np.testing.assert_allclose(out["Sobel Gx"].numpy(), gx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["shift right"].numpy()[:, 1:], img[:, :-1], atol=1e-6)
    np.testing.assert_allclose(out["gradient magnitude"].numpy(),
                               np.hypot(out["Sobel Gx"].numpy(), out["Sobel Gy"].numpy()), rtol=1e-5)
    assert viz.sample_image(size=32).shape == (32, 32)


def test_nearest_neighbour_of_a_stored_image_is_itself():
    convgrad.manual_seed(0)
    net = models.lenet5()
    db = convgrad.randn(12, 1, 28, 28)
    idx, dist = viz.nearest_neighbors(net, db[[4, 7]], db, k=3)
    assert idx[:, 0].tolist() == [4, 7] and np.allclose(dist[:, 0], 0, atol=1e-3)
    assert (np.diff(dist, axis=1) >= 0).all()


def test_bad_requests_say_what_exists(tmp_path):
    net = models.lenet5()
    x = convgrad.randn(1, 1, 28, 28)
    with pytest.raises(KeyError, match="no layer named 'nope'.*features.0"):
        viz.feature_maps(net, "nope", x)
    with pytest.raises(viz.VizError, match="has no convolution filters"):
        viz.plot_filters(nn.ReLU())
    with pytest.raises(viz.VizError, match=r"expected target classes in \[0, 10\), got \[12\]"):
        viz.saliency(net, x, target=12)
    with pytest.raises(viz.VizError, match="expected a batch of inputs"):
        viz.saliency(net, convgrad.randn(28, 28))
    with pytest.raises(viz.VizError, match="expected a unit in"):
        viz.deconvnet(net, x, "features.0", unit=6)


def test_plots_return_figures_and_write_pngs(tmp_path):
    cm = np.array([[5, 1], [2, 7]])
    fig = viz.plot_confusion_matrix(cm, tmp_path / "c.png")
    assert hasattr(fig, "savefig") and open(tmp_path / "c.png", "rb").read(4) == b"\x89PNG"
    np.testing.assert_allclose(viz.per_class_accuracy(cm), [5 / 6, 7 / 9])
    logits = np.array([[2.0, 0.0], [0.0, 3.0], [5.0, 0.0], [0.1, 0.0]])
    idx, pred = viz.misclassified(logits, np.array([1, 1, 1, 0]))
    assert idx.tolist() == [2, 0] and pred.tolist() == [0, 0]  # most confident mistake first
    viz.plot_misclassified(np.zeros((2, 1, 4, 4)), [1, 1], pred, tmp_path / "m.png")
    rows = [{"epoch": 1, "train_loss": 1.0, "lr": 0.1}, {"epoch": 2, "train_loss": 0.5, "lr": 0.05}]
    viz.plot_history(rows, tmp_path / "h.png")
    assert all(os.path.getsize(tmp_path / n) > 1000 for n in ("m.png", "h.png"))


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    """LeNet-5 trained for one short epoch on MNIST through the CLI."""
    out = tmp_path_factory.mktemp("viz") / "run"
    code = cli.main(["train", "--model", "lenet5", "--epochs", "1", "--subset", "2000", "--seed", "0",
                     "--out", str(out), "--no-progress", "--no-plots", "--threads", "1"])
    assert code == 0
    return out


def test_cli_pictures_of_a_trained_lenet(lenet_run, tmp_path, capsys):
    out = tmp_path / "pics"
    for picture in ("filters", "features", "saliency", "deconv", "occlusion", "cam", "errors"):
        assert cli.main(["viz", picture, str(lenet_run), "--out", str(out), "--count", "3"]) == 0
    printed = capsys.readouterr().out.split()
    assert all(os.path.exists(p) for p in printed) and len(printed) >= 9
    assert {"errors.png", "confusion.png", "per_class_accuracy.png", "saliency.png"} <= set(os.listdir(out))
    assert cli.main(["viz", "features", str(lenet_run), "--layer", "nope", "--out", str(out)]) != 0
    assert "no layer named 'nope'" in capsys.readouterr().err


def test_cli_conv_animation_and_filtering(tmp_path, capsys):
    assert cli.main(["viz", "conv", "--input", "5", "--kernel", "3", "--stride", "2", "--padding", "1",
                     "--out", str(tmp_path / "conv.gif")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "conv.gif")
    assert cli.main(["viz", "filtering", "--size", "64", "--out", str(tmp_path)]) == 0
    assert os.path.getsize(tmp_path / "filtering.png") > 1000
