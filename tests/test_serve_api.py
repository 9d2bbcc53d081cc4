"""The HTTP API of ``convgrad serve`` (docs/serve.md): every route's answer against the model called
directly, every bad input answered with its 4xx and a JSON message (never a 500), the real uvicorn server
under 200 concurrent requests from 8 threads with each answer checked and memory flat, and the command
itself on a free port."""

import base64
import gc
import io
import json
import socket
import threading
import time
import tracemalloc
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette", reason="convgrad serve needs starlette: pip install convgrad[serve]")
pytest.importorskip("uvicorn", reason="convgrad serve needs uvicorn: pip install convgrad[serve]")

from starlette.testclient import TestClient  # noqa: E402

import convgrad  # noqa: E402
from convgrad import serve  # noqa: E402
from convgrad.serve import inspect  # noqa: E402
from tests.serve_helpers import call, connect, served, start_server, stop_server, tiny_lenet  # noqa: E402,F401


@pytest.fixture(scope="module")
def client(served):  # noqa: F811
    with TestClient(serve.create_app(served), raise_server_exceptions=False) as c:
        yield c


def _image(served, i):  # noqa: F811
    return (served.test_images[i].astype(np.float32) / np.float32(255)).tolist()


def _direct(served, image):  # noqa: F811
    """Probabilities and every feature-map layer's output, from the model called directly."""
    x = inspect.to_input(served, image)
    outs = {}
    modules = dict(served.model.named_modules())

    def keep(name):
        def hook(m, i, o):  # returns None: a returned value would replace the output
            outs.setdefault(name, o.numpy()[0])
        return hook

    handles = [modules[layer["name"]].register_forward_hook(keep(layer["name"])) for layer in served.layers]
    try:
        with convgrad.no_grad():
            logits = served.model(x).numpy()[0]
    finally:
        for h in handles:
            h.remove()
    p = np.exp(logits - logits.max())
    return p / p.sum(), outs


def _png(array, mode="L"):
    from PIL import Image

    buf = io.BytesIO()
    img = Image.fromarray(np.asarray(array))
    (img.convert(mode) if mode != img.mode else img).save(buf, "PNG")
    return buf.getvalue()


# -- the routes --------------------------------------------------------------------------------------------
def test_model_describes_every_feature_map_layer(client, served):  # noqa: F811
    r = client.get("/api/model")
    assert r.status_code == 200
    doc = r.json()
    assert doc["name"] == "lenet5" and doc["input_size"] == [1, 28, 28]
    assert doc["classes"] == [str(d) for d in range(10)]
    names = [layer["name"] for layer in doc["layers"]]
    assert names == [f"features.{i}" for i in range(6)]
    first = doc["layers"][0]
    assert first == {"name": "features.0", "type": "Conv2d", "output_shape": [6, 28, 28],
                     "kernel_size": [5, 5], "stride": [1, 1], "padding": [2, 2], "receptive_field": 5,
                     "jump": 1, "start": 0.0}
    assert doc["layers"][1]["kernel_size"] is None and doc["layers"][-1]["output_shape"] == [16, 5, 5]


def test_predict_equals_a_direct_model_call(client, served):  # noqa: F811
    for i in (0, 1, 2):
        image = _image(served, i)
        r = client.post("/api/predict", json={"image": image, "saliency": i == 0})
        assert r.status_code == 200, r.text
        doc = r.json()
        probs, outs = _direct(served, image)
        np.testing.assert_allclose(doc["probabilities"], probs, rtol=1e-5, atol=1e-7)
        assert abs(sum(doc["probabilities"]) - 1) < 1e-6 and doc["predicted"] == int(probs.argmax())
        assert doc["elapsed_ms"] > 0
        for layer in doc["layers"]:
            maps = outs[layer["name"]]
            assert layer["shape"] == list(maps.shape)
            assert layer["min"] == pytest.approx(float(maps.min())) and layer["max"] == pytest.approx(
                float(maps.max()))
            c, h, w = maps.shape
            q = np.stack([np.frombuffer(base64.b64decode(m), np.uint8).reshape(h, w) for m in layer["maps"]])
            # dequantised maps are within half a step of the real ones
            step = (layer["max"] - layer["min"]) / 255
            np.testing.assert_allclose(layer["min"] + q * step, maps, atol=step / 2 + 1e-6)
        if i == 0:
            sal = np.array(doc["saliency"])
            s = inspect.saliency(served, image)
            np.testing.assert_allclose(sal, s / s.max(), rtol=1e-6, atol=1e-7)
            assert sal.shape == (28, 28) and sal.min() >= 0 and sal.max() == 1
        else:
            assert doc["saliency"] is None


def test_predict_takes_a_png_as_the_same_image(client, served):  # noqa: F811
    pixels = served.test_images[3]
    want = client.post("/api/predict", json={"image": _image(served, 3)}).json()["probabilities"]
    for mode in ("L", "RGB", "RGBA"):
        r = client.post("/api/predict", content=_png(pixels, mode), headers={"content-type": "image/png"})
        assert r.status_code == 200, (mode, r.text)
        np.testing.assert_allclose(r.json()["probabilities"], want, rtol=1e-5, atol=1e-7)
    r = client.post("/api/predict?saliency=true", content=_png(pixels), headers={"content-type": "image/png"})
    assert np.array(r.json()["saliency"]).shape == (28, 28)


def test_occlusion_route(client, served):  # noqa: F811
    image = _image(served, 0)
    r = client.post("/api/occlusion", json={"image": image, "target": 3, "window": 6, "stride": 3})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["target"] == 3 and doc["shape"] == [8, 8] and np.array(doc["map"]).shape == (8, 8)
    direct = inspect.occlusion(served, np.array(image, np.float32), 3, 6, 3)
    np.testing.assert_allclose(doc["map"], direct["map"])
    doc = client.post("/api/occlusion", json={"image": image}).json()
    assert doc["target"] == int(np.argmax(_direct(served, image)[0])) and doc["window"] == 4
    assert doc["stride"] == 2 and doc["shape"] == [13, 13]


def test_conv_explain_and_kernel_routes(client, served):  # noqa: F811
    image = _image(served, 1)
    r = client.post("/api/conv_explain", json={"image": image, "layer": "features.3", "channel": 5, "y": 9,
                                               "x": 0})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert np.array(doc["window"]).shape == (6, 5, 5) and doc["sum"] == pytest.approx(doc["output"], abs=1e-5)
    assert doc["input_region"] == {"top": 9, "left": 0, "height": 5, "width": 5}
    k = client.get("/api/kernel?layer=features.3&channel=5").json()
    assert k["weight"] == doc["kernel"] and k["bias"] == doc["bias"]
    w = served.model.features[3].weight.detach().numpy()[5]
    np.testing.assert_array_equal(np.array(k["weight"], np.float32), w)


def test_samples_are_the_test_split_in_order(client, served):  # noqa: F811
    from convgrad.vision import datasets

    ds = datasets.MNIST("data", train=False)
    doc = client.get("/api/samples?count=3&offset=10").json()
    assert [s["index"] for s in doc["samples"]] == [10, 11, 12]
    for s in doc["samples"]:
        assert s["label"] == int(ds.targets[s["index"]])
        np.testing.assert_array_equal(np.array(s["image"], np.float32) * 255,
                                      ds.data.numpy()[s["index"]].astype(np.float32))
    assert len(client.get("/api/samples").json()["samples"]) == 8
    last = client.get("/api/samples?count=5&offset=9998").json()["samples"]
    assert [s["index"] for s in last] == [9998, 9999]


def test_index_and_static(client):
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]


# -- bad input: each with its status and a JSON message saying expected vs got ------------------------------
GOOD = [[0.0] * 28 for _ in range(28)]
JSON = {"content-type": "application/json"}
BAD_PREDICT = [
    (400, dict(content=b'{"image": [', headers=JSON), "does not parse"),
    (400, dict(content=b"\xff\xfe", headers=JSON), "does not parse"),
    (400, dict(content=b"[" * 50000, headers=JSON), "does not parse"),
    (400, dict(content=b"[1, 2]", headers=JSON), "expected a JSON object, got a list"),
    (400, dict(json={"img": GOOD}), "expected a field 'image'"),
    (413, dict(content=b" " * (1 << 20) + b"{}", headers=JSON), "at most 1048576 bytes, got 1048578"),
    (413, dict(content=b" " * (17 << 20), headers=JSON), "at most 1048576 bytes, got 17825792"),
    (415, dict(content=b"image=1", headers={"content-type": "application/x-www-form-urlencoded"}),
     "expected Content-Type application/json or image/png"),
    (415, dict(content=b"{}"), "got 'none'"),
    (422, dict(json={"image": GOOD[:27]}), "got 27 rows"),
    (422, dict(json={"image": GOOD[:27] + [[0.0] * 29]}), "got 29 values in row 27"),
    (422, dict(json={"image": "a picture"}), "got a str"),
    (422, dict(json={"image": 1}), "got an int"),
    (422, dict(json={"image": [[0.0] * 27 + ["x"]] + GOOD[1:]}), "got 'x' at row 0, column 27"),
    (422, dict(json={"image": [[0.0] * 27 + [True]] + GOOD[1:]}), "got True at row 0, column 27"),
    (422, dict(json={"image": [[0.0] * 27 + [None]] + GOOD[1:]}), "got None"),
    (422, dict(json={"image": [[0.0] * 27 + [[0.5] * 10000]] + GOOD[1:]}), "got [0.5, 0.5, 0.5, 0.5, 0.5,"),
    (422, dict(content=json.dumps({"image": [[float("nan")] * 28] * 28}).encode(), headers=JSON), "got nan"),
    (422, dict(content=json.dumps({"image": [[float("inf")] * 28] * 28}).encode(), headers=JSON), "got inf"),
    (422, dict(json={"image": [[1.5] * 28] * 28}), "got 1.5 at row 0, column 0"),
    (422, dict(json={"image": [[-0.1] * 28] * 28}), "got -0.1"),
    (422, dict(json={"image": GOOD, "saliency": "yes"}), "expected 'saliency' as true or false"),
    (422, dict(content=b"\x89PNG\r\n\x1a\n garbage", headers={"content-type": "image/png"}), "PNG"),
    (422, dict(content=b"not an image at all", headers={"content-type": "image/png"}), "no image"),
]


@pytest.mark.parametrize("status, request_, message", BAD_PREDICT)
def test_bad_predict_requests_get_their_4xx(client, status, request_, message):
    r = client.post("/api/predict", **request_)
    assert r.status_code == status, r.text
    assert message in r.json()["error"] and r.json()["error"].startswith("predict: expected")
    assert len(r.json()["error"]) < 300  # what the client sent is quoted, not echoed whole


def test_bad_pngs(client):
    from PIL import Image

    r = client.post("/api/predict", content=_png(np.zeros((28, 27), np.uint8)), headers={"content-type":
                                                                                          "image/png"})
    assert r.status_code == 422 and "expected a 28x28 PNG, got 27x28" in r.json()["error"]
    buf = io.BytesIO()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(buf, "JPEG")
    r = client.post("/api/predict", content=buf.getvalue(), headers={"content-type": "image/png"})
    assert r.status_code == 422 and "got a JPEG image" in r.json()["error"]
    truncated = _png(np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8))[:-40]
    r = client.post("/api/predict", content=truncated, headers={"content-type": "image/png"})
    assert r.status_code == 422 and "PNG" in r.json()["error"]


def test_a_body_over_the_cap_without_content_length_is_refused_while_streaming(client):
    def chunks(n):
        for _ in range(n):
            yield b" " * 65536

    r = client.post("/api/predict", content=chunks(40), headers=JSON)
    assert r.status_code == 413 and "at most 1048576 bytes, got 2621440" in r.json()["error"]
    r = client.post("/api/predict", content=chunks(300), headers=JSON)  # past the drain limit: not read on
    assert r.status_code == 413 and "got more" in r.json()["error"]


OCC, CE = "/api/occlusion", "/api/conv_explain"


def _ce(layer="features.0", channel=0, y=0, x=0, **change):
    doc = {"image": GOOD, "layer": layer, "channel": channel, "y": y, "x": x, **change}
    return {"json": {k: v for k, v in doc.items() if v is not None}}


BAD_OTHER = [
    ("post", OCC, dict(json={"image": GOOD, "target": 10}), 422, "'target' null or a class in [0, 10)"),
    ("post", OCC, dict(json={"image": GOOD, "target": "3"}), 422, "'target' as an integer or null"),
    ("post", OCC, dict(json={"image": GOOD, "window": 0}), 422, "'window' in [1, 28], got 0"),
    ("post", OCC, dict(json={"image": GOOD, "window": 29}), 422, "got 29"),
    ("post", OCC, dict(json={"image": GOOD, "stride": 1.5}), 422, "'stride' as an integer"),
    ("post", OCC, dict(json={"image": GOOD[:3]}), 422, "got 3 rows"),
    ("post", OCC, dict(json={}), 400, "expected a field 'image'"),
    ("post", OCC, dict(content=b"x", headers={"content-type": "image/png"}), 415, "application/json"),
    ("post", CE, _ce("features.9"), 404, "a Conv2d layer (features.0, features.3), got 'features.9'"),
    ("post", CE, _ce("features.2"), 404, "got 'features.2'"),
    ("post", CE, _ce(channel=6), 404, "'channel' in [0, 6), got 6"),
    ("post", CE, _ce("features.3", y=10), 404, "'y' in [0, 10), got 10"),
    ("post", CE, _ce(x=-1), 404, "'x' in [0, 28), got -1"),
    ("post", CE, _ce(x=None), 400, "expected a field 'x'"),
    ("post", CE, _ce(layer=3), 422, "'layer' as a layer name"),
    ("post", CE, _ce(channel="a"), 422, "'channel' as an integer"),
]
BAD_GETS = {  # route: (query, status, message) ...
    "/api/kernel": [("layer=features.0&channel=6", 404, "'channel' in [0, 6), got 6"),
                    ("layer=classifier.0&channel=0", 404, "got 'classifier.0'"),
                    ("layer=features.0&channel=x", 422, "'channel' as an integer, got 'x'"),
                    ("channel=0", 400, "expected a field 'layer'"),
                    ("layer=features.0", 400, "expected a field 'channel'")],
    "/api/samples": [("count=0", 422, "'count' in [1, 100], got 0"), ("count=101", 422, "got 101"),
                     ("count=two", 422, "'count' as an integer"), ("offset=-1", 422, "got -1"),
                     ("offset=10000", 422, "'offset' in [0, 10000), got 10000")],
    "/api/nothing": [("", 404, "expected an existing route")],
    "/api/predict": [("", 405, "expected a method this route allows")],
}
BAD_OTHER += [("get", f"{route}?{query}", {}, status, message)
              for route, cases in BAD_GETS.items() for query, status, message in cases]
BAD_OTHER.append(("post", "/api/model", {}, 405, "expected a method this route allows"))


@pytest.mark.parametrize("method, path, request_, status, message", BAD_OTHER)
def test_bad_requests_of_the_other_routes_get_their_4xx(client, method, path, request_, status, message):
    r = getattr(client, method)(path, **request_)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json" and message in r.json()["error"], r.json()


# -- the real server ---------------------------------------------------------------------------------------
def _post(url, doc):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), headers=JSON, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def test_concurrent_requests_to_the_real_server_are_each_answered_right(served):  # noqa: F811
    import uvicorn

    n_requests, n_threads = 200, 8
    rng = np.random.default_rng(0)
    images = []
    for i in range(n_requests):  # test digits, each with its own noise and shift: 200 different inputs
        img = np.roll(served.test_images[i].astype(np.float32) / 255, rng.integers(-2, 3), axis=1)
        images.append(np.clip(img + rng.uniform(0, 0.2, img.shape).astype(np.float32), 0, 1).tolist())
    want = [_direct(served, img)[0] for img in images]
    with_saliency = [i % 4 == 0 for i in range(n_requests)]
    want_sal = {i: inspect.saliency(served, images[i]) for i in range(n_requests) if with_saliency[i]}

    sock = serve.bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(serve.create_app(served), log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    tracemalloc.start()
    thread.start()
    url = serve.url(sock)
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        answered, errors, memory = [], [], {}

        def check(i, doc):
            """Each answer against the direct call, kept only as a verdict (the memory measured is the
            server's, not this test's collection of answers)."""
            np.testing.assert_allclose(doc["probabilities"], want[i], rtol=1e-5, atol=1e-7)
            assert doc["predicted"] == int(want[i].argmax())
            if with_saliency[i]:
                np.testing.assert_allclose(doc["saliency"], want_sal[i] / want_sal[i].max(), rtol=1e-5,
                                           atol=1e-7)
            else:
                assert doc["saliency"] is None

        def work(indices):
            for i in indices:
                try:
                    check(i, _post(url + "api/predict", {"image": images[i], "saliency": with_saliency[i]}))
                    answered.append(i)
                except Exception as e:  # noqa: BLE001 - reported below with the request's index
                    errors.append((i, repr(e)[:300]))

        def batch(lo, hi):
            threads = [threading.Thread(target=work, args=(range(lo + k, hi, n_threads),))
                       for k in range(n_threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            gc.collect()
            return tracemalloc.get_traced_memory()[0]

        memory["after first 100"] = batch(0, 100)
        memory["after last 100"] = batch(100, 200)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        tracemalloc.stop()
    assert not errors, errors[:3]
    assert sorted(answered) == list(range(n_requests))
    growth = memory["after last 100"] - memory["after first 100"]
    print(f"traced memory: {memory}; growth over the last 100 requests {growth / 1e6:.2f} MB")
    assert growth < 1e6, memory  # a leak of 10 KB a request (less than one answer) would fail it
    assert not any(p.requires_grad is False for p in served.model.parameters())  # saliency restored them


def test_the_command_serves_on_a_free_port_and_times_predictions(tiny_lenet, served):  # noqa: F811
    proc, url = start_server(tiny_lenet)
    try:
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        with urllib.request.urlopen(url + "api/model", timeout=30) as r:
            assert json.loads(r.read())["name"] == "lenet5"
        image = _image(served, 0)
        rounds, server_ms, conn = [], [], connect(url)
        for _ in range(20):
            ms, doc, _ = call(conn, "POST", "/api/predict", {"image": image})
            rounds.append(ms)
            server_ms.append(doc["elapsed_ms"])
        conn.close()
        np.testing.assert_allclose(doc["probabilities"], _direct(served, image)[0], rtol=1e-5, atol=1e-7)
        print(f"LeNet-5 predict (no saliency), median of 20: server {np.median(server_ms):.2f} ms, "
              f"HTTP round trip {np.median(rounds):.2f} ms")
        with pytest.raises(urllib.error.HTTPError) as e:
            _post(url + "api/predict", {"image": [[2.0]]})
        assert e.value.code == 422 and "predict: expected" in json.loads(e.value.read())["error"]
        big = urllib.request.Request(url + "api/predict", data=b" " * (2 << 20), headers=JSON, method="POST")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(big, timeout=30)
        assert e.value.code == 413
        # a client that stops half-way through its body holds no worker: the others are still answered
        port = urllib.parse.urlparse(url).port
        with socket.create_connection(("127.0.0.1", port)) as stalled:
            stalled.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 1000\r\n\r\n{\"image\": [")
            for _ in range(3):
                assert _post(url + "api/predict", {"image": image})["predicted"] == doc["predicted"]
    finally:
        stop_server(proc)


def test_the_command_names_the_extra_when_starlette_is_missing(monkeypatch, capsys, tiny_lenet,  # noqa: F811
                                                               served):  # noqa: F811
    import builtins

    from convgrad import cli

    real = builtins.__import__

    def no_starlette(name, *args, **kwargs):
        if name.split(".")[0] == "starlette":
            raise ImportError(f"No module named {name!r}", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_starlette)
    assert cli.main(["serve", tiny_lenet, "--port", "0"]) == 2
    assert "pip install convgrad[serve]" in capsys.readouterr().err
    import importlib.util

    from convgrad.serve import app

    # the module imports without starlette (pkgutil.walk_packages imports it); a throwaway copy, since a
    # reload would give the real module a new ApiError that apps already built do not handle
    spec = importlib.util.spec_from_file_location("convgrad_serve_app_copy", app.__file__)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    with pytest.raises(ImportError, match=r"pip install convgrad\[serve\]"):
        serve.create_app(served)


def test_an_internal_error_is_still_answered_in_json(served, monkeypatch):  # noqa: F811
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(inspect, "kernel", broken)
    with TestClient(serve.create_app(served), raise_server_exceptions=False) as c:
        r = c.get("/api/kernel?layer=features.0&channel=0")
    assert r.status_code == 500 and r.json() == {
        "error": "GET /api/kernel: internal error RuntimeError: boom"}


def test_without_a_checkpoint_the_demo_run_is_reused_or_trained(tiny_lenet, tmp_path, monkeypatch,  # noqa: F811
                                                                 capsys):
    import shutil

    from convgrad import cli, demo
    from convgrad.cli import serve as serve_cli

    apps = []
    monkeypatch.setattr(serve, "run", lambda app, host, port, log: apps.append((app, host, port)))
    run = tmp_path / "runs" / "demo-lenet5-mnist"
    monkeypatch.setattr(serve_cli, "DEMO_RUN", str(run))
    trained = []

    def fake_demo(argv):  # what `make demo` leaves, without its minutes of training
        trained.append(argv)
        shutil.copytree(tiny_lenet, run)
        return 0

    monkeypatch.setattr(demo, "main", fake_demo)
    assert cli.main(["serve"]) == 0
    out = capsys.readouterr().out
    assert trained == [["--resume", "--no-progress"]] and "training the demo's LeNet-5" in out
    assert apps[-1][1:] == ("127.0.0.1", 8000) and f"serving lenet5 (6 feature-map layers) from {run}" in out
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert len(trained) == 1 and f"serving the demo's LeNet-5 from {run}" in out
    assert apps[-1][1:] == ("0.0.0.0", 0)
    with TestClient(apps[-1][0]) as c:
        assert c.get("/api/model").json()["checkpoint"] == str(run)


def test_a_model_of_another_data_set_is_refused_with_a_message(monkeypatch, capsys):
    from convgrad import cli
    from convgrad.cli import evaluate
    from convgrad.vision import models

    monkeypatch.setattr(evaluate, "load_trained",
                        lambda *a: (models.get_model("mnist1d_cnn"), "mnist1d_cnn", "mnist1d", None, ["0"]))
    assert cli.main(["serve", "some.pt"]) == 2
    assert "serve: expected a model trained on 28x28 grayscale images (fashion_mnist, mnist), got one " \
           "trained on mnist1d" in capsys.readouterr().err


def test_a_port_in_use_is_one_line_naming_it(tiny_lenet, capsys):  # noqa: F811
    from convgrad import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["serve", tiny_lenet, "--port", str(port)]) == 2
    assert f"convgrad serve: error: cannot listen on 127.0.0.1:{port}: " in capsys.readouterr().err
