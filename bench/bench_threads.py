"""Where the convolution engine's threads go: each block of columns on one thread, BLAS threading each GEMM
(``workers=1``, the engine before 2026-12-04) against the samples split over worker threads that call BLAS
single-threaded (the default), on ResNet-20's layer shapes and its whole training step, both as ratios to
PyTorch in the same run.

Why it matters on some machines: when BLAS threads a GEMM, the columns the calling core has just written are
read by the other core, and rewritten by the first for the next block. On a VM whose two cores sit on
different parts of the host's chip, that ping-pong of cache lines makes im2col 4x slower for as long as the
placement lasts (seconds to minutes): the same process alternates between fast and slow phases. Split by
samples, each core only reads and writes its own columns."""

import numpy as np

import convgrad
from bench.bench_conv import _step
from bench.bench_models import resnet20_steps
from bench.common import HEADER, interleaved, row, setup_torch
from convgrad.functional import im2col
from convgrad.threads import worker_count

# name, batch, channels, size (3x3, padding 1, stride 1)
SHAPES = [("ResNet-20 16->16 3x3 32x32", 128, 16, 32), ("ResNet-20 32->32 3x3 16x16", 128, 32, 16),
          ("ResNet-20 64->64 3x3 8x8", 128, 64, 8)]


def _pinned(fn, workers):
    def run():
        with im2col.forced_paths(workers=workers):
            fn()
    return run


def main(repeat=15):
    torch = setup_torch()
    print(f"worker threads: {worker_count()}\n")
    print(HEADER)
    rng = np.random.default_rng(0)
    for name, n, c, size in SHAPES:
        arrays = [rng.standard_normal(s).astype(np.float32)
                  for s in ((n, c, size, size), (c, c, 3, 3), (c,), (n, c, size, size))]
        xc, wc, bc = (convgrad.tensor(a, requires_grad=True) for a in arrays[:3])
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in arrays[:3])
        step_t = _step(torch, xt, wt, bt, torch.tensor(arrays[3]), 1)
        for workers in (1, None):
            step_c = _pinned(_step(convgrad, xc, wc, bc, convgrad.tensor(arrays[3]), 1), workers)
            tc, tt = interleaved(step_c, step_t, repeat=repeat)
            label = "one thread + threaded BLAS" if workers == 1 else "split over workers"
            print(row(f"{name} fwd+bwd, {label}", tc, tt), flush=True)
    step_c, step_t = resnet20_steps(torch, rng)
    for workers in (1, None):
        tc, tt = interleaved(_pinned(step_c, workers), step_t, repeat=5, warmup=1)
        label = "one thread + threaded BLAS" if workers == 1 else "split over workers"
        print(row(f"CIFAR ResNet-20 training step, {label}", tc, tt), flush=True)


if __name__ == "__main__":
    main()
