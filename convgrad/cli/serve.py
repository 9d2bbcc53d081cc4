"""``convgrad serve [CHECKPOINT]``: the interactive page of :mod:`convgrad.serve` for a trained model.
Without a checkpoint it serves the demo's LeNet-5 (``runs/demo-lenet5-mnist``), training it first with the
demo's recipe when that run has not finished."""

import os

from convgrad.cli.common import CLIError

DEMO_RUN = os.path.join("runs", "demo-lenet5-mnist")


def _demo_checkpoint(log):
    """The demo run folder, trained (or its interrupted run finished) first when needed."""
    if os.path.exists(os.path.join(DEMO_RUN, "results.json")):
        log(f"no checkpoint given: serving the demo's LeNet-5 from {DEMO_RUN}")
        return DEMO_RUN
    from convgrad import demo

    started = os.path.exists(os.path.join(DEMO_RUN, "last.pt"))
    log(f"no checkpoint given and no finished demo run in {DEMO_RUN}: "
        + ("finishing" if started else "training") + " the demo's LeNet-5 on MNIST there first "
        "(`make demo`'s recipe, a few minutes on a CPU)")
    code = demo.main(["--resume", "--no-progress"])
    if code:
        raise CLIError(f"training the demo model failed (exit code {code})")
    return DEMO_RUN


def run_serve(args, log=None):
    log = log or (lambda m: print(m, flush=True))
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        from convgrad.serve import MISSING

        raise CLIError(MISSING) from None
    from convgrad import serve

    checkpoint = args.checkpoint or _demo_checkpoint(log)
    served = serve.load(checkpoint, args.model, args.dataset, args.data_root)
    log(f"serving {served.name} ({len(served.layers)} feature-map layers) from {served.checkpoint}")
    try:
        serve.run(serve.create_app(served), args.host, args.port, log=log)
    except OSError as e:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    return 0


def add_serve_cli(subparsers):
    p = subparsers.add_parser(
        "serve", help="an interactive page: draw a digit, watch the trained CNN see it layer by layer",
        description="Serve a page and a JSON API (docs/serve.md) showing a trained model's predictions, "
                    "feature maps, kernels, saliency and occlusion for digits drawn in the browser.")
    p.add_argument("checkpoint", nargs="?",
                   help=f"a checkpoint or run folder (default: the demo's, {DEMO_RUN}, trained if missing)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this "
                                                       "machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: a free one, printed)")
    p.add_argument("--model", help="the model's name, for a bare state_dict")
    p.add_argument("--dataset", help="the data set it was trained on, for a bare state_dict")
    p.add_argument("--data-root", default=os.environ.get("CONVGRAD_DATA"))
    p.set_defaults(func=run_serve)
    return p
