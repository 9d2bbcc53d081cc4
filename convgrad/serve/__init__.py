"""``convgrad serve``: a page where a student draws a digit and watches a trained CNN see it, layer by layer,
over a small JSON API (docs/serve.md). The numbers come from :mod:`convgrad.serve.inspect` (plain functions,
no HTTP); :mod:`convgrad.serve.app` is the Starlette app around them (needs the ``serve`` extra:
``pip install convgrad[serve]``).

    from convgrad import serve
    served = serve.load("runs/demo-lenet5-mnist")
    serve.run(serve.create_app(served), port=0)
"""

import socket

import numpy as np

from convgrad.serve.inspect import InspectError, Served

__all__ = ["InspectError", "Served", "create_app", "load", "run", "bind", "MISSING"]

MISSING = "convgrad serve needs starlette and uvicorn, which are not installed: `pip install convgrad[serve]`"


def load(checkpoint, model_name=None, dataset=None, data_root=None):
    """A :class:`Served` model from a checkpoint or run folder (read as ``convgrad evaluate`` reads it),
    with its data set's test split. Only models of 28x28 grayscale data sets can be served."""
    from convgrad.cli.common import NORMALIZATION, CLIError
    from convgrad.cli.evaluate import load_trained

    model, model_name, dataset, test_set, classes = load_trained(checkpoint, model_name, dataset, data_root)
    if dataset not in NORMALIZATION:
        raise CLIError(f"serve: expected a model trained on 28x28 grayscale images "
                       f"({', '.join(sorted(NORMALIZATION))}), got one trained on {dataset}")
    mean, std = NORMALIZATION[dataset]
    x = test_set.tensors[0].numpy()[:, 0]
    # the split is stored normalised: back to the 0..255 pixels it was made from (exact after rounding)
    images = np.clip(np.rint((x * np.float32(std) + np.float32(mean)) * 255), 0, 255).astype(np.uint8)
    labels = test_set.tensors[1].numpy().astype(np.int64)
    names = [str(c).split(" - ")[0] for c in classes]  # MNIST's "3 - three" -> "3"
    return Served(model=model, name=model_name, checkpoint=str(checkpoint), classes=names, mean=mean, std=std,
                  test_images=images, test_labels=labels)


def create_app(served):
    """The Starlette app serving ``served`` (a :class:`Served`); ImportError naming the extra without it."""
    from convgrad.serve.app import build_app

    try:
        return build_app(served)
    except ImportError as e:
        if (getattr(e, "name", None) or "").split(".")[0] in ("starlette", "uvicorn"):
            raise ImportError(MISSING) from None
        raise


def bind(host="127.0.0.1", port=0):
    """A listening socket on ``host``:``port`` (0: a free port the system picks)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def url(sock):
    host, port = sock.getsockname()[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def run(app, host="127.0.0.1", port=8000, log=print):
    """Serve ``app`` with uvicorn until interrupted, printing its URL first (the real port when 0)."""
    try:
        import uvicorn
    except ImportError:
        raise ImportError(MISSING) from None
    sock = bind(host, port)
    log(f"convgrad serve: {url(sock)}  (Ctrl+C to stop)")
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
