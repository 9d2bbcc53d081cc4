"""Winograd F(2x2, 3x3) against im2col and PyTorch, interleaved in one process (im2col, Winograd, PyTorch,
in blocks): the VGG 64ch 56x56 3x3 layer (batch 16, forward + backward) and the CIFAR ResNet-20 training
step (batch 128). Ratios are convgrad time / PyTorch time; "auto" is what the per-shape measurement chose.

    python -m bench.bench_winograd [repeat]
"""

import sys
import time

import numpy as np

import convgrad
import convgrad.nn.functional as F
from bench.bench_models import resnet20_steps
from bench.common import setup_torch
from convgrad.backends import convolution as conv_backend
from convgrad.functional import winograd

ALGORITHMS = ("im2col", "winograd")


def interleaved_n(fns, repeat, warmup=1, block=3):
    """Median seconds per call of each function, alternating in blocks (the first call of each block, run
    against the previous library's spinning threads, is not timed)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    while len(times[0]) < repeat:
        for fn, ts in zip(fns, times):
            fn()
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t0)
    return [float(np.median(ts)) for ts in times]


def _with(algorithm, fn):
    def run():
        with conv_backend.flags(algorithm=algorithm):
            fn()
    return run


def _report(name, times):
    *ours, torch_t = times
    cells = "  ".join(f"{a} {t * 1e3:8.1f} ms ({t / torch_t:4.2f}x)" for a, t in zip(ALGORITHMS, ours))
    print(f"{name:42s} {cells}  torch {torch_t * 1e3:8.1f} ms", flush=True)


def vgg_layer(torch, repeat):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 64, 56, 56)).astype(np.float32)
    w = (rng.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    g = rng.standard_normal((16, 64, 56, 56)).astype(np.float32)

    def step(lib, F_):
        ts = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        gt = lib.tensor(g)

        def run():
            for t in ts:
                t.grad = None
            F_.conv2d(*ts, padding=1).backward(gt)
        return run

    ours = step(convgrad, F)
    _report("VGG 64->64 3x3 56x56 p1, batch 16, fwd+bwd",
            interleaved_n([_with(a, ours) for a in ALGORITHMS] + [step(torch, torch.nn.functional)], repeat))


def resnet20_step(torch, repeat):
    step_c, step_t = resnet20_steps(torch, np.random.default_rng(0))
    _report("CIFAR ResNet-20 training step, batch 128",
            interleaved_n([_with(a, step_c) for a in ALGORITHMS] + [step_t], repeat))


def main(repeat=6):
    torch = setup_torch()
    vgg_layer(torch, repeat)
    resnet20_step(torch, repeat)
    # what "auto" measured and chose for each shape it met (the benches ran forced: measure now)
    with conv_backend.flags(algorithm="auto"):
        x = convgrad.zeros(16, 64, 56, 56)
        F.conv2d(x, convgrad.zeros(64, 64, 3, 3), padding=1)
        for c, s in ((16, 32), (32, 16), (64, 8)):
            F.conv2d(convgrad.zeros(128, c, s, s), convgrad.zeros(c, c, 3, 3), padding=1)
    for (x4, w4, _, _), wins in winograd._CHOICES.items():
        print(f"auto: input {x4} weight {w4}: {'winograd' if wins else 'im2col'}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
