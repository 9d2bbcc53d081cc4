"""The commands that describe rather than train: ``models``, ``env``, ``summary``, ``arith`` and ``lab``."""

from convgrad.cli.common import DATASETS, known_models, sizes


def models_main(args):
    print("models:  ", ", ".join(known_models()))
    print("datasets:", ", ".join(sorted(DATASETS)))
    return 0


def env_main(args):
    from convgrad.env import report

    print(report())
    return 0


def add_summary_cli(subparsers):
    """``convgrad summary MODEL [--input 3x224x224] [--batch-size N] [--num-classes K]``."""
    p = subparsers.add_parser("summary", help="layer-by-layer table of a model zoo network",
                              description="Output shapes, parameters, mult-adds, memory and receptive "
                                          "fields of a model from convgrad.vision.models.")
    p.add_argument("model", help="model name (see convgrad.vision.models.list_models())")
    p.add_argument("--input", "-i", type=sizes("3x224x224"), default=None,
                   help="input shape without the batch dimension, e.g. 3x224x224 (default: the model's)")
    p.add_argument("--batch-size", "-b", type=int, default=1, help="batch for the memory totals")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--optimizer-states", type=int, default=1,
                   help="parameter-sized optimiser buffers in the training estimate (SGD momentum 1, Adam 2)")
    p.set_defaults(func=_summary_main)
    return p


def _summary_main(args):
    """Build ``args.model`` and print its summary; returns the exit code."""
    from convgrad.summary import summary
    from convgrad.vision import models

    kwargs = {} if args.num_classes is None else {"num_classes": args.num_classes}
    try:
        model = models.get_model(args.model, **kwargs)
    except ValueError as e:
        print(e)
        return 2
    shape = args.input or models.default_input_size(args.model)
    try:
        s = summary(model, (1,) + tuple(shape), batch_size=args.batch_size,
                    optimizer_states=args.optimizer_states)
    except ValueError as e:
        print(e)
        return 1
    print(s)
    return 0


def add_arith_cli(subparsers):
    """``convgrad arith --input 7 --kernel 3 [--stride --padding --dilation --transposed --pool ...]``."""
    size = sizes("7 or 7x7")
    p = subparsers.add_parser(
        "arith", help="output size of a convolution / pooling / transposed convolution, and why",
        description="Convolution arithmetic: output size, whether it fits, 'same' padding.")
    p.add_argument("--input", "-i", type=size, required=True, help="input size: 7 or 7x9")
    p.add_argument("--kernel", "-k", type=size, required=True)
    p.add_argument("--stride", "-s", type=size, default=None, help="default 1 (pooling: the kernel)")
    p.add_argument("--padding", "-p", type=size, default=0)
    p.add_argument("--dilation", "-d", type=size, default=1)
    p.add_argument("--output-padding", type=size, default=0)
    p.add_argument("--transposed", action="store_true", help="transposed convolution")
    p.add_argument("--pool", action="store_true", help="pooling window (stride defaults to the kernel)")
    p.add_argument("--ceil-mode", action="store_true", help="pooling with ceil_mode=True")
    p.set_defaults(func=_arith_main)
    return p


def _arith_main(args):
    """Print ``arithmetic.explain`` for the arguments; returns the exit code (1 if impossible)."""
    from convgrad.arithmetic import explain

    # one size: an int, as explain reports it for every dimension
    one = {k: (v[0] if isinstance(v, tuple) and len(v) == 1 else v) for k, v in vars(args).items()}
    stride = one["stride"] if one["stride"] is not None else (None if args.pool else 1)
    ex = explain(one["input"], one["kernel"], stride, one["padding"], one["dilation"], one["output_padding"],
                 transposed=args.transposed, pool=args.pool, ceil_mode=args.ceil_mode)
    print(ex)
    return 0 if ex.ok else 1


def add_lab_cli(subparsers):
    p = subparsers.add_parser("lab", help="the lectures' claims as experiments, with reports")
    # the runner imports nothing heavy until a run starts
    from convgrad.lab import EXPERIMENTS
    from convgrad.lab import main as lab_main

    p.add_argument("name", help=", ".join(EXPERIMENTS) + ", or all")
    p.add_argument("--quick", action="store_true", help="seconds on small data (direction only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="lab", help="reports go to OUT/NAME/report.md (default: lab)")
    p.set_defaults(func=lab_main)
