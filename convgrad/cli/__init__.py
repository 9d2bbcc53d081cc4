"""The ``convgrad`` command (also ``python -m convgrad``).

    convgrad train --model lenet5 --dataset mnist --epochs 4 --out runs/lenet5
    convgrad train --model mnist1d_cnn --dataset mnist1d
    convgrad evaluate runs/lenet5/best.pt
    convgrad serve runs/lenet5          (a page: draw a digit, see every layer)
    convgrad summary lenet5
    convgrad arith --input 28 --kernel 5 --padding 2
    convgrad models
    convgrad env        convgrad --version

``train`` fills every option it is not given from the model's defaults (``MODEL_DEFAULTS``: tuned so each
model reaches its data set's usual accuracy quickly on a CPU), trains with :class:`convgrad.training.Trainer`
and leaves a run folder: config.json, metrics.json and metrics.csv (one row per epoch), last.pt and best.pt
(checkpoints that ``--resume`` continues and ``evaluate`` reads), results.json (test metrics, training time)
and PNG plots: learning curves, confusion matrix, the first convolution's filters and its feature maps.
"""

import argparse
import os
import sys

from convgrad.cli.common import DATASETS, CLIError, build_model, known_models, load_dataset
from convgrad.cli.evaluate import add_evaluate_cli, load_trained, read_weights, run_evaluate
from convgrad.cli.info import add_arith_cli, add_lab_cli, add_summary_cli, env_main, models_main
from convgrad.cli.mpi import end_job
from convgrad.cli.onnx import add_export_cli, add_import_cli, run_export, run_import
from convgrad.cli.serve import add_serve_cli
from convgrad.cli.train import MODEL_DEFAULTS, _resolve, add_train_cli, run_train

__all__ = ["CLIError", "DATASETS", "MODEL_DEFAULTS", "build_model", "build_parser", "known_models",
           "load_dataset", "load_trained", "main", "read_weights", "run_evaluate", "run_export", "run_import",
           "run_train", "_resolve"]


class _Version(argparse.Action):
    """``--version``: versions, BLAS kernel type and threads, read only when asked (not at parser build)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from convgrad.env import summary_line

        print(summary_line())
        parser.exit()


def build_parser():
    parser = argparse.ArgumentParser(prog="convgrad", description="convgrad: CNNs from first principles.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="versions of convgrad, Python and NumPy, the BLAS kernel type and thread count")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_train_cli(sub)
    add_evaluate_cli(sub)
    add_export_cli(sub)
    add_import_cli(sub)
    from convgrad.cli.viz import add_viz_cli

    add_viz_cli(sub)
    add_serve_cli(sub)
    p = sub.add_parser("models", help="list the models and data sets `train` knows")
    p.set_defaults(func=models_main)
    p = sub.add_parser("env", help="what convgrad runs on (versions, BLAS, CPU, env vars): for bug reports")
    p.set_defaults(func=env_main)
    add_summary_cli(sub)
    add_arith_cli(sub)
    add_lab_cli(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = list(sys.argv[1:] if argv is None else argv)  # what --nproc hands to mpiexec
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    if os.environ.get("CONVGRAD_DEBUG"):
        return args.func(args) or 0
    from convgrad.training import CheckpointError, NonFiniteLossError
    from convgrad.viz import VizError

    try:
        return args.func(args) or 0
    except (CLIError, CheckpointError, NonFiniteLossError, VizError) as e:
        print(f"convgrad {args.command}: error: {e}", file=sys.stderr)
        end_job(2)
        return 2
    except (ValueError, RuntimeError, TypeError, KeyError, OSError) as e:
        # the library's own messages (a layer given an input of the wrong size, a missing file, ...)
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"convgrad {args.command}: error: {type(e).__name__}: {msg}\n"
              "(set CONVGRAD_DEBUG=1 for the traceback)", file=sys.stderr)
        end_job(1)
        return 1
    except KeyboardInterrupt:
        print(f"convgrad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
