"""Where the convolution engine's threads go, on the workloads of issue 12: each block of columns on one
thread with BLAS threading each GEMM (``workers=1``, the engine before 2026-12-04) against the blocks of
output rows (several whole samples, or some rows of one sample: ``ConvGeometry.blocks``) claimed in turn by
worker threads that call BLAS single-threaded (the default), both as ratios to PyTorch in the same run.

Why it matters on some machines: when BLAS threads a GEMM, the columns the calling core has just written are
read by the other core, and rewritten by the first for the next block. On a VM whose two cores sit on
different parts of the host's chip, that ping-pong of cache lines makes im2col 4x slower for as long as the
placement lasts (seconds to minutes): the same process alternates between fast and slow phases. With a
block to each worker, each core only reads and writes its own block's columns."""

import numpy as np

import convgrad
from bench.bench_conv import _step
from bench.bench_models import resnet18_inference, resnet20_steps
from bench.common import HEADER, interleaved, row, setup_torch
from convgrad.functional import im2col
from convgrad.threads import worker_count

# name, batch, channels, size (3x3, padding 1, stride 1)
LAYERS = [("ResNet-20 16->16 3x3 32x32", 128, 16, 32), ("ResNet-20 32->32 3x3 16x16", 128, 32, 16),
          ("ResNet-20 64->64 3x3 8x8", 128, 64, 8), ("VGG 64->64 3x3 56x56 (batch 16)", 16, 64, 56)]


def _pinned(fn, workers):
    def run():
        with im2col.forced_paths(workers=workers):
            fn()
    return run


def _layer(torch, rng, n, c, size):
    arrays = [rng.standard_normal(s).astype(np.float32)
              for s in ((n, c, size, size), (c, c, 3, 3), (c,), (n, c, size, size))]
    xc, wc, bc = (convgrad.tensor(a, requires_grad=True) for a in arrays[:3])
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in arrays[:3])
    return (_step(convgrad, xc, wc, bc, convgrad.tensor(arrays[3]), 1),
            _step(torch, xt, wt, bt, torch.tensor(arrays[3]), 1))


def _lenet5(torch, rng):
    from bench.bench_training import models, step_fn

    cg, tm = models(torch)
    x = rng.standard_normal((128, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    opt_c = convgrad.optim.SGD(cg.parameters(), lr=0.01, momentum=0.9)
    opt_t = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    return (step_fn(convgrad, convgrad.nn.functional, cg, opt_c, convgrad.tensor(x), convgrad.tensor(y)),
            step_fn(torch, torch.nn.functional, tm, opt_t, torch.from_numpy(x), torch.from_numpy(y)))


def main(repeat=15):
    torch = setup_torch()
    print(f"worker threads: {worker_count()}; each row: blocks on one thread + threaded BLAS (old), then "
          "split over the workers (new)\n")
    print(HEADER)
    rng = np.random.default_rng(0)
    cases = [(f"{name} fwd+bwd", lambda n=n, c=c, s=s: _layer(torch, rng, n, c, s), repeat)
             for name, n, c, s in LAYERS]
    cases += [("LeNet-5 training step, batch 128", lambda: _lenet5(torch, rng), 20),
              ("ResNet-18 inference, batch 8, 224x224", lambda: resnet18_inference(torch, rng), 3),
              ("CIFAR ResNet-20 training step, batch 128", lambda: resnet20_steps(torch, rng), 5)]
    for name, make, n in cases:
        step_c, step_t = make()
        for workers, label in ((1, "old"), (None, "new")):
            tc, tt = interleaved(_pinned(step_c, workers), step_t, repeat=n, warmup=1)
            print(row(f"{name}, {label}", tc, tt), flush=True)


if __name__ == "__main__":
    main()
