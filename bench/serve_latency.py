"""Latency of ``convgrad serve`` for LeNet-5: the real command in a subprocess on a free port, each API call
timed by the client (HTTP round trip: JSON encoding, the request, the server's work, parsing the answer)
next to the server's own ``elapsed_ms`` (the model work alone). Absolute milliseconds, not ratios: there
is no PyTorch counterpart; on a loaded machine they are upper bounds.

    python -m bench.serve_latency [CHECKPOINT] [--repeat 50]

Without a checkpoint a LeNet-5 is trained for a few seconds into a temporary folder (latency does not
depend on how well the weights are trained)."""

import argparse
import sys
import tempfile

import numpy as np


def _row(name, times, server=None, size=None):
    t = np.array(times)
    line = f"{name:<34} HTTP median {np.median(t):7.2f} ms  p90 {np.percentile(t, 90):7.2f} ms"
    if server:
        line += f"   server {np.median(server):7.2f} ms"
    if size:
        line += f"   response {size / 1024:6.1f} KiB"
    print(line, flush=True)


def main(argv=None):
    from tests.serve_helpers import call, connect, start_server, stop_server

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint", nargs="?")
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args(argv)
    checkpoint = args.checkpoint
    if checkpoint is None:
        from convgrad import cli

        checkpoint = tempfile.mkdtemp(prefix="serve-bench-")
        cli.main(["train", "--model", "lenet5", "--epochs", "1", "--subset", "2048", "--out", checkpoint,
                  "--no-plots", "--no-progress"])
    proc, url = start_server(checkpoint)
    try:
        conn = connect(url)
        samples = call(conn, "GET", "/api/samples?count=16")[1]["samples"]
        images = [s["image"] for s in samples]
        for name, method, path, make in [
            ("GET /api/model", "GET", "/api/model", None),
            ("POST /api/predict", "POST", "/api/predict", lambda im: {"image": im}),
            ("POST /api/predict (saliency)", "POST", "/api/predict",
             lambda im: {"image": im, "saliency": True}),
            ("POST /api/occlusion (4, stride 2)", "POST", "/api/occlusion", lambda im: {"image": im}),
            ("POST /api/conv_explain", "POST", "/api/conv_explain",
             lambda im: {"image": im, "layer": "features.3", "channel": 0, "y": 4, "x": 4}),
        ]:
            times, server, size = [], [], 0
            for i in range(args.repeat + 3):
                ms, answer, size = call(conn, method, path, make(images[i % len(images)]) if make else None)
                if i >= 3:  # the first calls warm up caches and the thread pool
                    times.append(ms)
                    if "elapsed_ms" in answer:
                        server.append(answer["elapsed_ms"])
            _row(name, times, server, size)
        fresh, nagle, slow = [], [], connect(url, nodelay=False)
        for i in range(args.repeat):
            c = connect(url)
            fresh.append(call(c, "POST", "/api/predict", {"image": images[i % len(images)]})[0])
            c.close()
            nagle.append(call(slow, "POST", "/api/predict", {"image": images[i % len(images)]})[0])
        _row("POST /api/predict (new connection)", fresh)
        _row("POST /api/predict (Nagle on)", nagle)
    finally:
        stop_server(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
