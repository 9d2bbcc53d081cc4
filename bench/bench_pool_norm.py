"""Pooling and batch normalisation, forward + backward, against PyTorch: max pooling 2x2/2 (LeNet, VGG)
and 3x3/2 (AlexNet, overlapping windows; the ResNet stem's padded form), average pooling, global average
pooling, and training-mode batch_norm on (N, C, H, W), alone and with its ReLU (convgrad's fused
batch_norm_relu against PyTorch's batch_norm then relu_, as a ResNet block runs them)."""

import numpy as np

import convgrad
import convgrad.nn.functional as F
from bench.common import HEADER, interleaved, peak_memory, row, setup_torch


def _step(lib, fn, x_np, extra=()):
    """forward + backward of ``fn(x, *extra)`` with a fixed output gradient; grads reset each call."""
    x = lib.tensor(x_np, requires_grad=True)
    ps = [lib.tensor(p, requires_grad=True) for p in extra]
    with lib.no_grad():
        y0 = fn(lib, x, *ps)
    g = lib.tensor(np.random.default_rng(1).standard_normal(tuple(y0.shape)).astype(np.float32))

    def run():
        x.grad = None
        for p in ps:
            p.grad = None
        fn(lib, x, *ps).backward(g)

    return run


def _forward(lib, fn, x_np):
    x = lib.tensor(x_np)

    def run():
        with lib.no_grad():
            fn(lib, x)

    return run


def _case(torch, name, fn, shape, extra_shapes=(), repeat=20, forward_only=False):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    extra = [rng.standard_normal(s).astype(np.float32) for s in extra_shapes]
    if forward_only:
        a, b = _forward(convgrad, fn, x), _forward(torch, fn, x)
    else:
        a, b = _step(convgrad, fn, x, extra), _step(torch, fn, x, extra)
    tc, tt = interleaved(a, b, repeat=repeat)
    print(row(name, tc, tt, peak_memory(a, b)), flush=True)
    return tc / tt


def main():
    torch = setup_torch()
    print(HEADER)

    def fn_of(lib, op, *args, **kw):
        f = getattr(F if lib is convgrad else torch.nn.functional, op)
        return f(*args, **kw)

    def pool(op, **kw):
        return lambda lib, x: fn_of(lib, op, x, **kw)

    def bn(lib, x, w, b):
        c = x.shape[1]
        rm, rv = lib.zeros(c), lib.ones(c)
        return fn_of(lib, "batch_norm", x, rm, rv, w, b, training=True)

    def bn_relu(lib, x, w, b):  # convgrad's fused op; PyTorch's pair as a ResNet block runs it
        c = x.shape[1]
        rm, rv = lib.zeros(c), lib.ones(c)
        if lib is convgrad:
            return F.batch_norm_relu(x, rm, rv, w, b, training=True)
        return torch.relu_(torch.nn.functional.batch_norm(x, rm, rv, w, b, training=True))

    ratios = {}
    for shape in [(128, 16, 28, 28), (16, 64, 56, 56)]:
        s = "x".join(map(str, shape))
        ratios[f"max 2x2/2 {s}"] = _case(torch, f"max_pool2d 2x2/2 fwd+bwd {s}",
                                         pool("max_pool2d", kernel_size=2), shape)
        ratios[f"max 3x3/2 {s}"] = _case(torch, f"max_pool2d 3x3/2 fwd+bwd {s}",
                                         pool("max_pool2d", kernel_size=3, stride=2), shape)
    ratios["max 3x3/2 p1"] = _case(torch, "max_pool2d 3x3/2 pad 1 fwd+bwd 16x64x56x56",
                                   pool("max_pool2d", kernel_size=3, stride=2, padding=1), (16, 64, 56, 56))
    _case(torch, "max_pool2d 2x2/2 forward, no_grad 128x16x28x28",
          pool("max_pool2d", kernel_size=2), (128, 16, 28, 28), forward_only=True)
    _case(torch, "avg_pool2d 2x2/2 fwd+bwd 128x16x28x28", pool("avg_pool2d", kernel_size=2),
          (128, 16, 28, 28))
    _case(torch, "global avg pool fwd+bwd 128x64x8x8", pool("adaptive_avg_pool2d", output_size=1),
          (128, 64, 8, 8))
    for shape in [(128, 16, 32, 32), (16, 64, 56, 56)]:
        s = "x".join(map(str, shape))
        c = shape[1]
        ratios[f"bn {s}"] = _case(torch, f"batch_norm2d train fwd+bwd {s}", bn, shape, [(c,), (c,)])
        _case(torch, f"batch_norm2d+relu train fwd+bwd {s}", bn_relu, shape, [(c,), (c,)])
    worst = max(ratios, key=ratios.get)
    print(f"worst ratio of the target cases: {ratios[worst]:.2f}x ({worst})")


if __name__ == "__main__":
    main()
