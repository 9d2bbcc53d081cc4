"""Small-batch inference (batch 2, eval mode, no_grad): PreAct ResNet-18 and EfficientNet-B0 on 32x32
CIFAR-sized inputs, LeNet-5 on 28x28. At this size per-op overhead and the small kernels (depthwise
convolution, swish, eval batch norm) dominate, not the GEMMs.

    python -m bench small_batch              # ratios
    python -m bench.bench_small_batch --profile efficientnet_b0   # cProfile of convgrad's forward
"""

import cProfile
import pstats
import sys
from unittest import mock

import numpy as np

import convgrad
from bench.common import HEADER, interleaved, row, setup_torch
from bench.small_nets import INPUTS, build, copy_weights
from convgrad.functional import depthwise

BATCH = 2


def _pair(torch, name):
    convgrad.manual_seed(0)
    ours = build(convgrad, name).eval()
    ref = build(torch, name).eval()
    # non-trivial running statistics, so eval-mode batch norm is not the identity
    for m in ours.modules():
        if isinstance(m, convgrad.nn.BatchNorm2d):
            m.running_mean._data[:] = np.random.default_rng(1).uniform(-0.1, 0.1, m.num_features)
            m.running_var._data[:] = np.random.default_rng(2).uniform(0.5, 1.5, m.num_features)
    copy_weights(torch, ours, ref)
    x = np.random.default_rng(0).standard_normal((BATCH,) + INPUTS[name]).astype(np.float32)
    return ours, ref, convgrad.tensor(x), torch.from_numpy(x)


def main(names=("preact_resnet18", "lenet5", "efficientnet_b0")):
    torch = setup_torch()
    print(HEADER)
    for name in names:
        ours, ref, xc, xt = _pair(torch, name)
        with convgrad.no_grad(), torch.no_grad():
            np.testing.assert_allclose(ours(xc).numpy(), ref(xt).numpy(), rtol=1e-3, atol=1e-3)

        def run_c(ours=ours, xc=xc):
            with convgrad.no_grad():
                ours(xc)

        def run_t(ref=ref, xt=xt):
            with torch.no_grad():
                ref(xt)

        tc, tt = interleaved(run_c, run_t, repeat=40, warmup=3)
        print(row(f"{name} eval, batch {BATCH}", tc, tt), flush=True)
        if name == "efficientnet_b0":  # the depthwise kernel against the GEMM path it replaces
            def run_gemm(ours=ours, xc=xc):
                with mock.patch.object(depthwise, "applies", lambda geo: False), convgrad.no_grad():
                    ours(xc)

            tn, to = interleaved(run_c, run_gemm, repeat=40, warmup=3)
            print(row("  depthwise kernel vs GEMM path (convgrad)", tn, to), flush=True)


def profile(name, calls=None):
    torch = setup_torch()
    ours, _, xc, _ = _pair(torch, name)
    with convgrad.no_grad():
        ours(xc)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(calls or (2000 if name == "lenet5" else 20)):
            ours(xc)
        prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--profile":
        profile(sys.argv[2])
    else:
        main(tuple(sys.argv[1:]) or ("preact_resnet18", "lenet5", "efficientnet_b0"))
