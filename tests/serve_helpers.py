"""What the tests of ``convgrad serve`` share (tests/test_serve_*.py): a LeNet-5 trained in seconds, and
the real ``convgrad serve`` command started on a free port of 127.0.0.1. Use the fixtures with
``from tests.serve_helpers import tiny_lenet, served  # noqa: F401``."""

import http.client
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def tiny_lenet(tmp_path_factory):
    """The run folder of a LeNet-5 trained for 1 epoch on 4096 MNIST digits (about 90% test accuracy)."""
    from convgrad import cli

    out = tmp_path_factory.mktemp("serve") / "lenet5"
    code = cli.main(["train", "--model", "lenet5", "--epochs", "1", "--subset", "4096", "--batch-size", "64",
                     "--seed", "0", "--out", str(out), "--no-plots", "--no-progress"])
    assert code == 0
    return str(out)


@pytest.fixture(scope="session")
def served(tiny_lenet):
    from convgrad import serve

    return serve.load(tiny_lenet)


def start_server(checkpoint, timeout=120):
    """``python -m convgrad serve CHECKPOINT --port 0`` in a subprocess: (process, base URL). The caller
    stops it with ``stop_server``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "convgrad", "serve", str(checkpoint), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("convgrad serve: http://"):
            url = line.split()[2]
            wait_until_up(url, deadline)
            return proc, url
    proc.kill()
    raise RuntimeError("convgrad serve did not print its URL:\n" + "".join(lines))


def wait_until_up(url, deadline):
    while True:
        try:
            with urllib.request.urlopen(url + "api/model", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def connect(url, nodelay=True):
    """A kept-alive connection to the server at ``url`` with Nagle's algorithm off, as browsers open them
    (with it on, the request body, which http.client sends after its headers, can wait for a delayed ACK:
    milliseconds that are not the server's). ``nodelay=False`` leaves it on."""
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
    return conn


def call(conn, method, path, doc=None):
    """(milliseconds, parsed JSON answer, answer bytes) of one request; the answer must be a 200."""
    body = None if doc is None else json.dumps(doc)
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = conn.getresponse()
    data = r.read()
    answer = json.loads(data)
    ms = (time.perf_counter() - t0) * 1e3
    assert r.status == 200, answer
    return ms, answer, len(data)
