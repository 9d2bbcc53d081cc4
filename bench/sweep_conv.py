"""Re-measure the tuning constants of ``functional/im2col.py`` on this machine (not in ``make bench``).

For each constant, every candidate value runs the same convolutions (forward + backward, the input's
gradient included), candidates interleaved in blocks as in ``bench.common.interleaved`` so the machine's
drift hits all of them alike. Printed per workload: the median time of each candidate relative to the
fastest (1.00 = best). Only workloads whose code path a constant can change are listed under it.

    PYTHONPATH=. python -m bench.sweep_conv [constant ...] [--repeat N] [--values 2097152,4194304]
"""

import argparse
import time

import numpy as np

import convgrad
import convgrad.functional.im2col as conv
import convgrad.nn.functional as F

# name, batch, C, O, kernel, input size, stride, padding (2-D, square) -- the bench shapes, a stride-2 ResNet
# layer, ResNet-18's stem and two of its deep layers, and MNIST-1D's second Conv1d (height 1)
WORKLOADS = {
    "LeNet-5 conv1 1->6 5x5 28 p2 b128": (128, 1, 6, (5, 5), (28, 28), 1, 2),
    "LeNet-5 conv2 6->16 5x5 14 b128": (128, 6, 16, (5, 5), (14, 14), 1, 0),
    "ResNet-20 3->16 3x3 32 p1 b128": (128, 3, 16, (3, 3), (32, 32), 1, 1),
    "ResNet-20 16->16 3x3 32 p1 b128": (128, 16, 16, (3, 3), (32, 32), 1, 1),
    "ResNet-20 16->32 3x3 s2 32 p1 b128": (128, 16, 32, (3, 3), (32, 32), 2, 1),
    "ResNet-20 32->32 3x3 16 p1 b128": (128, 32, 32, (3, 3), (16, 16), 1, 1),
    "ResNet-20 64->64 3x3 8 p1 b128": (128, 64, 64, (3, 3), (8, 8), 1, 1),
    "ResNet-18 256->256 3x3 14 p1 b8": (8, 256, 256, (3, 3), (14, 14), 1, 1),
    "ResNet-18 512->512 3x3 7 p1 b8": (8, 512, 512, (3, 3), (7, 7), 1, 1),
    "VGG 64->64 3x3 56 p1 b16": (16, 64, 64, (3, 3), (56, 56), 1, 1),
    "ResNet-18 stem 3->64 7x7 s2 224 p3 b8": (8, 3, 64, (7, 7), (224, 224), 2, 3),
    "MNIST-1D conv2 25->25 k3 s2 19 p1 b100": (100, 25, 25, (1, 3), (1, 19), 2, (0, 1)),
}

# constant -> (candidates, workloads it can affect)
SWEEPS = {
    "_BLOCK_BYTES": ([1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20], list(WORKLOADS)),
    "_PER_SAMPLE_MK": ([256, 1024, 4096], ["LeNet-5 conv1 1->6 5x5 28 p2 b128",
                                           "LeNet-5 conv2 6->16 5x5 14 b128",
                                           "ResNet-20 3->16 3x3 32 p1 b128",
                                           "MNIST-1D conv2 25->25 k3 s2 19 p1 b100"]),
    "_CHANNELS_LAST_RUNS": ([0.5, 1.0, 1.5, 2.0, 4.0], ["LeNet-5 conv1 1->6 5x5 28 p2 b128",
                                                       "ResNet-20 16->16 3x3 32 p1 b128",
                                                       "ResNet-20 16->32 3x3 s2 32 p1 b128",
                                                       "VGG 64->64 3x3 56 p1 b16",
                                                       "MNIST-1D conv2 25->25 k3 s2 19 p1 b100"]),
    "_COL2IM_CHANNELS_LAST_RUNS": ([0.5, 1, 2], ["LeNet-5 conv2 6->16 5x5 14 b128",
                                                "ResNet-20 16->32 3x3 s2 32 p1 b128",
                                                "MNIST-1D conv2 25->25 k3 s2 19 p1 b100"]),
    "_BATCH_LAST_MAX_WO": ([8, 16, 32, 64], ["LeNet-5 conv2 6->16 5x5 14 b128",
                                            "MNIST-1D conv2 25->25 k3 s2 19 p1 b100"]),
    # 0: never shifted rows; 1e9: wherever they apply
    "_SHIFT_ROWS_PARTIALS": ([0, 0.5, 1, 3, 10**9], ["LeNet-5 conv2 6->16 5x5 14 b128",
                                                   "ResNet-20 16->16 3x3 32 p1 b128",
                                                   "ResNet-20 32->32 3x3 16 p1 b128",
                                                   "ResNet-20 64->64 3x3 8 p1 b128",
                                                   "VGG 64->64 3x3 56 p1 b16",
                                                   "ResNet-18 256->256 3x3 14 p1 b8",
                                                   "ResNet-18 512->512 3x3 7 p1 b8"]),
    # the worker threads (convgrad.threads): run with 2 or more
    "_PARALLEL_MIN_FLOP": ([10**6, 10**7, 10**8, 10**12], ["LeNet-5 conv1 1->6 5x5 28 p2 b128",
                                                          "LeNet-5 conv2 6->16 5x5 14 b128",
                                                          "ResNet-20 3->16 3x3 32 p1 b128",
                                                          "MNIST-1D conv2 25->25 k3 s2 19 p1 b100"]),
    "_PARALLEL_MIN_COPY_BYTES": ([1 << 20, 4 << 20, 16 << 20, 1 << 40], ["ResNet-20 16->16 3x3 32 p1 b128",
                                                                          "ResNet-20 64->64 3x3 8 p1 b128",
                                                                          "VGG 64->64 3x3 56 p1 b16"]),
}


def _step(spec, rng):
    n, c, o, (kh, kw), (h, w), stride, pad = spec
    x = convgrad.tensor(rng.standard_normal((n, c, h, w)).astype(np.float32), requires_grad=True)
    wt = convgrad.tensor((rng.standard_normal((o, c, kh, kw)) / np.sqrt(c * kh * kw)).astype(np.float32),
                         requires_grad=True)
    b = convgrad.tensor(np.zeros(o, np.float32), requires_grad=True)

    def run():
        for t in (x, wt, b):
            t.grad = None
        y = F.conv2d(x, wt, b, stride=stride, padding=pad)
        y.backward(convgrad.ones_like(y))
    return run


def sweep(name, repeat, rng, values=None):
    values = values or SWEEPS[name][0]
    names = SWEEPS[name][1]
    original = getattr(conv, name)
    print(f"\n{name} (now {original}): time / fastest candidate's, median of {repeat}", flush=True)
    print(f"{'workload':42s}" + "".join(f"{v:>10.4g}" for v in values))  # 10**9 as 1e+09, not 10 digits
    try:
        for wname in names:
            run = _step(WORKLOADS[wname], rng)
            times = {v: [] for v in values}
            for v in values:  # warm-up: buffers of every candidate's shapes
                setattr(conv, name, v)
                run()
            while len(times[values[0]]) < repeat:
                for v in values:
                    setattr(conv, name, v)
                    run()  # settling call after the switch, not timed
                    for _ in range(3):
                        t0 = time.perf_counter()
                        run()
                        times[v].append(time.perf_counter() - t0)
            med = {v: float(np.median(t)) for v, t in times.items()}
            best = min(med.values())
            print(f"{wname:42s}" + "".join(f"{med[v] / best:10.2f}" for v in values)
                  + f"   best {best * 1e3:.1f} ms", flush=True)
    finally:
        setattr(conv, name, original)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("constants", nargs="*", default=list(SWEEPS))
    p.add_argument("--repeat", type=int, default=9)
    p.add_argument("--values", help="comma-separated candidates instead of the default ones (one constant)")
    args = p.parse_args()
    from convgrad.env import report

    print(report(short=True))
    rng = np.random.default_rng(0)
    values = [float(v) if "." in v else int(v) for v in args.values.split(",")] if args.values else None
    for name in args.constants:
        sweep(name, args.repeat, rng, values)


if __name__ == "__main__":
    main()
