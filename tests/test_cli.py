"""The `convgrad` command: train leaves a complete run folder, evaluate reads it back, bad input gets a
one-line message (unknown names list the known ones; a wrong input size names the layer)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from convgrad import cli
from tests.conftest import SLOW

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short MNIST-1D training run through the CLI (with plots)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    code = cli.main(["train", "--model", "mnist1d_cnn", "--epochs", "3", "--subset", "1200", "--seed", "1",
                     "--out", str(out), "--no-progress", "--data-root", str(out.parent / "data")])
    assert code == 0
    return out


def test_train_leaves_a_complete_run_folder(run):
    names = set(os.listdir(run))
    assert {"config.json", "metrics.json", "metrics.csv", "last.pt", "best.pt", "results.json", "curves.png",
            "confusion.png", "filters.png", "feature_maps.png"} <= names
    config = json.load(open(run / "config.json"))
    # options not given came from the model's defaults
    defaults = cli.MODEL_DEFAULTS["mnist1d_cnn"]
    assert config["dataset"] == "mnist1d" and config["optimizer"] == defaults["optimizer"]
    history = json.load(open(run / "metrics.json"))
    assert len(history) == 3 and history[-1]["train_loss"] < history[0]["train_loss"]
    results = json.load(open(run / "results.json"))
    assert results["test_acc"] > 0.3 and results["epochs"] == 3
    for png in ("curves.png", "confusion.png"):
        assert open(run / png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reads_the_checkpoint(run, capsys):
    results = json.load(open(run / "results.json"))
    out = cli.run_evaluate(cli.build_parser().parse_args(["evaluate", str(run / "last.pt"), "--no-progress",
                                                          "--data-root", str(run.parent / "data")]))
    assert out["test_acc"] == pytest.approx(results["test_acc"])
    assert np.asarray(out["confusion_matrix"]).sum() == 1000
    assert "accuracy" in capsys.readouterr().out


def test_resume_flag_continues_the_run(run, tmp_path, capsys):
    import shutil

    out = tmp_path / "more"
    shutil.copytree(run, out)
    args = ["train", "--model", "mnist1d_cnn", "--subset", "1200", "--seed", "1", "--out", str(out),
            "--resume", "--no-progress", "--no-plots", "--data-root", str(run.parent / "data")]
    assert cli.main(args + ["--epochs", "3"]) == 0  # finished: nothing to train, same model
    acc = lambda folder: json.load(open(folder / "results.json"))["test_acc"]
    assert acc(out) == acc(run)
    # a one-cycle schedule cannot be stretched to more epochs by resuming
    assert cli.main(args + ["--epochs", "4"]) == 1
    assert "built for 57 steps" in capsys.readouterr().err
    assert len(json.load(open(out / "metrics.json"))) == 3


def test_unknown_names_list_the_known_ones(capsys, tmp_path):
    assert cli.main(["train", "--model", "lenet7", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'lenet7'" in err and "lenet5" in err and "mnist1d_cnn" in err
    assert cli.main(["train", "--model", "lenet5", "--dataset", "imagenet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown dataset 'imagenet'" in err and "mnist" in err and "cifar10" in err


def test_wrong_input_size_surfaces_the_layer_message(capsys, tmp_path):
    # MNIST-1D signals (1 x 40) into LeNet-5, which wants 28 x 28 images
    code = cli.main(["train", "--model", "lenet5", "--dataset", "mnist1d", "--epochs", "1", "--subset", "64",
                     "--out", str(tmp_path), "--no-progress", "--data-root", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "lenet" in err.lower() or "conv" in err.lower()


def test_evaluate_rejects_a_file_that_is_not_a_checkpoint(capsys, tmp_path):
    junk = tmp_path / "x.pt"
    junk.write_text("hello")
    assert cli.main(["evaluate", str(junk)]) == 2
    assert "not a convgrad checkpoint" in capsys.readouterr().err


def test_tool_subcommands_are_wired(capsys):
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"train", "evaluate", "models"} <= set(sub.choices)
    if "arith" in sub.choices:
        assert cli.main(["arith", "--input", "28", "--kernel", "5"]) == 0
        assert "24" in capsys.readouterr().out
    assert cli.main(["models"]) == 0
    assert "lenet5" in capsys.readouterr().out


def test_python_dash_m_convgrad_runs():
    r = subprocess.run([sys.executable, "-m", "convgrad", "--help"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert r.returncode == 0 and "train" in r.stdout and "evaluate" in r.stdout


def test_demo_runs_in_a_reduced_form(tmp_path, capsys):
    from convgrad import demo

    assert demo.main(["--epochs", "1", "--subset", "4096", "--batch-size", "64",
                      "--out", str(tmp_path / "demo"), "--no-progress", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "training time:" in out
    assert json.load(open(tmp_path / "demo" / "results.json"))["test_acc"] > 0.5


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="the full recipes run under CONVGRAD_SLOW=1 (reduced forms above)")
@pytest.mark.parametrize("model, target", [("mnist1d_cnn", 0.90), ("lenet5", 0.99)])
def test_default_recipes_reach_their_accuracy(model, target, tmp_path):
    assert cli.main(["train", "--model", model, "--out", str(tmp_path), "--no-progress", "--no-plots"]) == 0
    assert json.load(open(tmp_path / "results.json"))["test_acc"] >= target
