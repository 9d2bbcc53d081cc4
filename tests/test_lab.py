"""`convgrad lab`: every experiment's quick form runs, writes its report and plots, and shows the direction
of the effect where it is robust even on small data and few steps."""

import os

import numpy as np
import pytest

from convgrad import cli, lab


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("lab")


def _written(result, *pngs):
    path = result["path"]
    text = open(path).read()
    assert "- seed: 0" in text and "- versions: convgrad" in text and "- wall time:" in text
    assert "published" in text.lower()
    for png in pngs:
        assert os.path.getsize(os.path.join(os.path.dirname(path), png)) > 1000
    return text


def test_mnist1d_cnn_beats_mlp_and_needs_the_order(out):
    r = lab.run("mnist1d", out, seed=0, quick=True)
    acc = r["accuracy"]
    assert acc["cnn"] > acc["mlp"] > acc["logistic"] > 0.15  # chance is 10%
    assert acc["cnn_shuffled"] < acc["cnn"] - 0.1
    text = _written(r, "curves.png")
    assert "94.0%" in text and "56.0%" in text  # the paper's numbers beside ours


def test_invariance_conv_equivariant_pooling_less_sensitive(out):
    r = lab.run("invariance", out, seed=0, quick=True)
    for kind, rows in r["results"].items():
        assert rows[0]["conv"] == 0 and rows[0]["pred_changed"] == 0
        for row in rows[1:]:
            assert row["conv_aligned"] < 1e-5, (kind, row)  # shifted back: the same maps
            assert row["conv"] > 0.2, (kind, row)  # unaligned: they moved
    for kind in ("max pool", "avg pool"):
        one = r["results"][kind][1]
        assert one["pool2"] < one["conv"], (kind, one)
    _written(r, "shift.png")


def test_activations_sigmoid_trains_slowest(out):
    r = lab.run("activations", out, seed=0, quick=True)
    assert r["steps_to_threshold"]["relu"] is not None
    assert r["final_error"]["sigmoid"] > r["final_error"]["relu"] + 0.2
    _written(r, "training_error.png")


def test_init_scales_through_depth_and_cli_is_repeatable(out, capsys):
    assert cli.main(["lab", "init", "--quick", "--seed", "0", "--out", str(out / "cli")]) == 0
    assert "report.md" in capsys.readouterr().out
    r = lab.run("init", out, seed=0, quick=True)
    std = {k: v[-1] for k, v in r["activation_std"].items()}
    assert std["He"] > std["Xavier"] > std["N(0, 0.01)"]
    assert std["N(0, 0.01)"] < 1e-4 < 0.1 < std["He"] < 10
    assert np.mean(r["grad_std"]["N(0, 0.01)"]) < np.mean(r["grad_std"]["He"])

    def body(path):  # the measured numbers, without the header (command, wall time)
        return open(path).read().split("## Claim")[1]

    assert body(out / "cli" / "init" / "report.md") == body(r["path"])
    _written(r, "init.png")


def test_unknown_experiment_is_named(capsys):
    assert cli.main(["lab", "lenet6", "--quick"]) == 1  # the CLI's code for a library error
    err = capsys.readouterr().err
    assert "convgrad lab: expected one of mnist1d" in err and "'lenet6'" in err


def test_transfer_fills_the_table_and_lower_features_transfer_better(out):
    r = lab.run("transfer", out, seed=0, quick=True)
    assert r["pretrain_accuracy"] > 0.8  # digits 0-4, five classes: chance is 20%
    acc = r["accuracy"]
    assert len(acc) == 2 * 2 * 5
    for size in ("little", "much"):
        for task in ("similar", "different"):
            # the 64 top features are specific to digits 0-4; the 512 conv features are more generic
            assert acc[size, task, "probe (conv stage)"] > acc[size, task, "probe (top)"], (size, task)
    assert acc["much", "similar", "probe (conv stage)"] > 0.6
    text = _written(r, "transfer.png", "tasks.png")
    assert "Use Linear Classifier on top layer" in text and "Finetune a larger number of layers" in text


def test_degradation_deeper_plain_trains_worse_residual_does_not(out):
    r = lab.run("degradation", out, seed=0, quick=True)
    err = r["final_error"]
    assert err["plain", 14] > err["plain", 8]
    assert err["resnet", 14] < err["plain", 14]
    assert set(r["test_accuracy"]) == {("plain", 8), ("plain", 14), ("resnet", 8), ("resnet", 14)}
    text = _written(r, "training_error.png")
    assert "27.94%" in text and "25.03%" in text  # the paper's ImageNet numbers beside ours


class _FixedDraws:
    """Stands in for a NumPy generator: ``uniform`` returns the given values in turn, broadcast to the
    requested size (angles, then the two scales, then the two shifts, as ``random_affine`` draws them)."""

    def __init__(self, *values):
        self.values = list(values)

    def uniform(self, low, high, size):
        return np.broadcast_to(np.asarray(self.values.pop(0), dtype=np.float64), size).copy()


def test_random_affine_moves_each_image_as_drawn():
    from convgrad.lab._common import random_affine

    x = np.arange(2 * 3 * 5 * 5, dtype=np.float32).reshape(2, 3, 5, 5)
    same = random_affine(x, _FixedDraws(0.0, 1.0, 0.0), fill=-1.0)
    assert same.dtype == np.float32 and same.shape == x.shape
    np.testing.assert_allclose(same, x, atol=1e-5)
    quarter = random_affine(x, _FixedDraws(90.0, 1.0, 0.0), fill=-1.0)  # clockwise on screen (y down)
    np.testing.assert_allclose(quarter, np.rot90(x, k=-1, axes=(2, 3)), atol=1e-4)
    right = random_affine(x, _FixedDraws(0.0, 1.0, [[1.0, -2.0], [0.0, 0.0]]), fill=-1.0)
    np.testing.assert_allclose(right[0, :, :, 1:], x[0, :, :, :-1], atol=1e-5)  # image 0: one pixel right
    np.testing.assert_allclose(right[1, :, :, :-2], x[1, :, :, 2:], atol=1e-5)  # image 1: two pixels left
    assert (right[0, :, :, 0] == -1).all() and (right[1, :, :, -2:] == -1).all()
    half = random_affine(x, _FixedDraws(0.0, 1.0, [[0.5, 0.5], [0.0, 0.0]]), fill=-1.0)
    np.testing.assert_allclose(half[..., 1:], (x[..., 1:] + x[..., :-1]) / 2, atol=1e-4)  # bilinear
    gone = random_affine(x, _FixedDraws(0.0, 1.0, [[40.0, -40.0], [7.0, -7.0]]), fill=-1.0)
    assert (gone == -1).all()  # far outside: only the fill, never a clipped border pixel
    rng = np.random.default_rng(0)
    y = random_affine(x, rng)  # random draws: every image moved differently, values stay in range
    assert not np.allclose(y[0] - x[0], y[1] - x[1]) and x.min() <= y.min() and y.max() <= x.max()


def test_loss_and_accuracy_match_cross_entropy():
    import convgrad
    from convgrad import nn
    from convgrad.lab._common import loss_and_accuracy
    from convgrad.nn import functional as F

    convgrad.manual_seed(0)
    model = nn.Linear(6, 4)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 6)).astype(np.float32), rng.integers(0, 4, 30)
    loss, acc = loss_and_accuracy(model, x, y, batch_size=7)
    logits = model(convgrad.from_numpy(x))
    assert loss == pytest.approx(F.cross_entropy(logits, convgrad.from_numpy(y)).item(), rel=1e-5)
    assert acc == pytest.approx((logits.detach().numpy().argmax(1) == y).mean())


def test_lab_all_shows_progress_and_time_left(monkeypatch, tmp_path):
    ran, lines = [], []
    monkeypatch.setattr(lab, "run", lambda name, out, seed, quick: ran.append(name) or {"path": name,
                                                                                        "wall": 0.0})
    lab.run_all(str(tmp_path), log=lines.append)
    assert ran == lab.EXPERIMENTS and len(lines) == len(lab.EXPERIMENTS) + 1
    total = sum(lab._module(n).ESTIMATE for n in lab.EXPERIMENTS)
    assert all(lab._module(n).ESTIMATE > 0 for n in lab.EXPERIMENTS)
    assert lines[0].startswith(f"[{'.' * len(ran)}] 1/{len(ran)} mnist1d: about {total / 60:.0f} min left")
    last = lab._module(ran[-1]).ESTIMATE
    assert f"{len(ran)}/{len(ran)} {ran[-1]}: about {last / 60:.0f} min left" in lines[-2]
    assert lines[-1].startswith(f"[{'#' * len(ran)}] done in")


def test_lenet5_classic_and_modern_learn(out):
    r = lab.run("lenet5", out, seed=0, quick=True)
    assert r["params"] == {"classic": 60000, "classic + distortions": 60000, "modern": 61706,
                           "modern + distortions": 61706}
    for name, err in r["test_error"].items():
        assert err < 0.2, (name, err)  # chance is 90%; two short epochs on 2,000 digits
        assert len(r["curves"][name]) == 2
    text = _written(r, "test_error.png")
    assert "0.95%" in text and "0.80%" in text


def test_regularization_dropout_and_augmentation_narrow_the_gap(out):
    r = lab.run("regularization", out, seed=0, quick=True)
    gap = r["gap"]
    assert r["train_accuracy"]["neither"] > 0.97  # overfits: (nearly) all training digits right
    assert gap["neither"] > gap["dropout + augmentation"] + 0.03
    assert r["train_loss"]["neither"] < r["train_loss"]["dropout + augmentation"]
    _written(r, "loss_curves.png")
