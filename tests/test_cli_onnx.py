"""`convgrad export` and `convgrad import`: a training checkpoint to ONNX (run by ONNX Runtime) and an
ONNX file's weights back into a convgrad checkpoint."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import convgrad  # noqa: E402
from convgrad import cli, training  # noqa: E402
from convgrad.vision import models  # noqa: E402


def _outputs(model, x):
    model.eval()
    with convgrad.no_grad():
        return model(convgrad.from_numpy(x)).numpy()


def test_export_a_training_checkpoint_then_import_it_back(tmp_path, capsys):
    convgrad.manual_seed(0)
    model = models.mnist1d_cnn(num_classes=7)
    training.save_checkpoint({"model": model.state_dict(), "config": {"model": "mnist1d_cnn"}},
                             tmp_path / "last.pt")
    assert cli.main(["export", str(tmp_path), "--onnx", str(tmp_path / "m.onnx"), "--dynamic-batch"]) == 0
    out = capsys.readouterr().out
    assert "exported mnist1d_cnn (7 classes, input (1, 1, 40))" in out and "onnx.checker passed" in out
    x = np.random.default_rng(0).standard_normal((3, 1, 40)).astype(np.float32)
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"input": x})
    want = _outputs(model, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())

    assert cli.main(["import", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "back.pt")]) == 0
    assert "saved to" in capsys.readouterr().out
    again = models.mnist1d_cnn(num_classes=7)
    again.load_state_dict(convgrad.load(tmp_path / "back.pt"))
    np.testing.assert_array_equal(_outputs(again, x), want)


def test_export_of_a_bare_state_dict_needs_the_model_name(tmp_path, capsys):
    convgrad.save(models.lenet5().state_dict(), tmp_path / "sd.pt")
    assert cli.main(["export", str(tmp_path / "sd.pt"), "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert "pass --model" in capsys.readouterr().err
    assert cli.main(["export", str(tmp_path / "sd.pt"), "--model", "lenet5", "--onnx",
                     str(tmp_path / "m.onnx")]) == 0
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")))


def test_import_of_a_file_that_is_not_onnx_fails_cleanly(tmp_path, capsys):
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    assert cli.main(["import", str(tmp_path / "bad.onnx"), "--out", str(tmp_path / "x.pt")]) != 0
    err = capsys.readouterr().err
    assert "convgrad import: error" in err and "Traceback" not in err
