"""conv2d against PyTorch on the layer shapes of LeNet-5, CIFAR ResNet-20 and VGG: forward (no_grad) and
forward+backward, as time ratios (convgrad / PyTorch), achieved GFLOP/s against the machine's GEMM speed,
and peak memory of one forward+backward."""

import sys

import numpy as np

import convgrad
from bench.common import (
    HEADER,
    gemm_gflops,
    interleaved,
    peak_memory,
    row,
    setup_torch,
)

# name, batch, in channels, out channels, kernel, input size, padding, input needs a gradient
SHAPES = [
    ("LeNet-5 conv1 1->6 5x5 28x28 p2", 128, 1, 6, 5, 28, 2, False),
    ("LeNet-5 conv1 1->6 5x5 32x32", 128, 1, 6, 5, 32, 0, False),
    ("LeNet-5 conv2 6->16 5x5 14x14", 128, 6, 16, 5, 14, 0, True),
    ("ResNet-20 16->16 3x3 32x32 p1", 128, 16, 16, 3, 32, 1, True),
    ("ResNet-20 64->64 3x3 8x8 p1", 128, 64, 64, 3, 8, 1, True),
    ("VGG 64->64 3x3 56x56 p1 (batch 16)", 16, 64, 64, 3, 56, 1, True),
]


def _tensors(lib, arrays, grads):
    return [lib.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]


def _step(lib, x, w, b, g, pad):
    """forward + backward with a fixed output gradient; gradients reset as an optimiser's zero_grad does."""
    F = lib.nn.functional

    def run():
        for t in (x, w, b):
            t.grad = None
        F.conv2d(x, w, b, padding=pad).backward(g)
    return run


def _forward(lib, x, w, b, pad):
    F = lib.nn.functional

    def run():
        with lib.no_grad():
            F.conv2d(x, w, b, padding=pad)
    return run


def main(repeat=15):
    torch = setup_torch()
    peak = gemm_gflops()
    print(f"NumPy float32 GEMM: {peak:.0f} GFLOP/s (1024^3); ratios are convgrad time / PyTorch time\n")
    print(HEADER)
    rng = np.random.default_rng(0)
    for name, n, cin, cout, k, size, pad, x_grad in SHAPES:
        x = rng.standard_normal((n, cin, size, size)).astype(np.float32)
        w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        out = size + 2 * pad - k + 1
        g = rng.standard_normal((n, cout, out, out)).astype(np.float32)
        flops = 2 * n * cout * cin * k * k * out * out
        grads = (x_grad, True, True)
        xc, wc, bc = _tensors(convgrad, (x, w, b), grads)
        xt, wt, bt = _tensors(torch, (x, w, b), grads)

        tc, tt = interleaved(_forward(convgrad, xc, wc, bc, pad), _forward(torch, xt, wt, bt, pad),
                             repeat=repeat)
        rate = flops / tc / 1e9
        print(row(f"{name} fwd", tc, tt, f"{rate:5.0f} GFLOP/s ({rate / peak:.0%} of GEMM)"), flush=True)

        step_c = _step(convgrad, xc, wc, bc, convgrad.tensor(g), pad)
        step_t = _step(torch, xt, wt, bt, torch.tensor(g), pad)
        tc, tt = interleaved(step_c, step_t, repeat=repeat)
        total = flops * (3 if x_grad else 2)
        print(row(f"{name} fwd+bwd", tc, tt,
                  f"{total / tc / 1e9:5.0f} GFLOP/s ({total / tc / 1e9 / peak:.0%}); "
                  f"{peak_memory(step_c, step_t)}"), flush=True)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
