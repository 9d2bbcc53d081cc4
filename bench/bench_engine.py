"""The engine's costs: per-op overhead on a 1-element tensor (forward, and forward+backward: the
graph-node cost), and a 784-256-10 MLP training step on batch 128."""

import numpy as np

import convgrad
from bench.common import HEADER, interleaved, peak_memory, row, setup_torch


def main():
    torch = setup_torch()
    print(HEADER)

    a_c = convgrad.tensor([1.5], requires_grad=True)
    b_c = convgrad.tensor([2.5], requires_grad=True)
    a_t = torch.tensor([1.5], requires_grad=True)
    b_t = torch.tensor([2.5], requires_grad=True)

    def fwd(a, b):
        return lambda: [a * b for _ in range(100)]

    tc, tt = interleaved(fwd(a_c, b_c), fwd(a_t, b_t), repeat=30)
    print(row("mul, 1 element, forward (per op)", tc / 100, tt / 100))

    with convgrad.no_grad():
        with torch.no_grad():
            tc, tt = interleaved(fwd(a_c, b_c), fwd(a_t, b_t), repeat=30)
    print(row("mul, 1 element, forward, no_grad (per op)", tc / 100, tt / 100))

    def fwd_bwd(a, b):
        def run():
            for _ in range(100):
                (a * b).sum().backward()
        return run

    tc, tt = interleaved(fwd_bwd(a_c, b_c), fwd_bwd(a_t, b_t), repeat=20)
    print(row("mul+sum+backward, 1 element (per step)", tc / 100, tt / 100))

    # the graph-node cost of issue 12: a two-node expression, and an op that saves its output
    c_c, c_t = convgrad.tensor([0.5], requires_grad=True), torch.tensor([0.5], requires_grad=True)

    def mul_add(a, b, c, backward):
        def run():
            for _ in range(100):
                y = a * b + c
                if backward:
                    y.backward()
        return run

    tc, tt = interleaved(mul_add(a_c, b_c, c_c, False), mul_add(a_t, b_t, c_t, False), repeat=30)
    print(row("a * b + c, 1 element, forward (per expression)", tc / 100, tt / 100))
    tc, tt = interleaved(mul_add(a_c, b_c, c_c, True), mul_add(a_t, b_t, c_t, True), repeat=20)
    print(row("a * b + c, 1 element, forward+backward", tc / 100, tt / 100))

    def relu_small(x):
        return lambda: [x.relu() for _ in range(100)]

    tc, tt = interleaved(relu_small(a_c), relu_small(a_t), repeat=30)
    print(row("relu, 1 element, forward (per op)", tc / 100, tt / 100))

    # ReLU forward+backward on a conv-sized activation (its backward selects by an unpredictable mask)
    xr = np.random.default_rng(1).standard_normal((128, 16, 32, 32)).astype(np.float32)
    gr = np.random.default_rng(2).standard_normal(xr.shape).astype(np.float32)

    def relu_step(lib):
        x = lib.tensor(xr, requires_grad=True)
        g = lib.tensor(gr)
        return lambda: x.relu().backward(g)

    tc, tt = interleaved(relu_step(convgrad), relu_step(torch), repeat=20)
    print(row("relu fwd+bwd 128x16x32x32", tc, tt))

    # MLP 784-256-10, batch 128, cross-entropy written with core ops, plain SGD
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    w1 = (rng.standard_normal((784, 256)) * 0.05).astype(np.float32)
    w2 = (rng.standard_normal((256, 10)) * 0.05).astype(np.float32)
    onehot = np.eye(10, dtype=np.float32)[y]

    def mlp_step(lib, make):
        W1, W2 = make(w1.copy()), make(w2.copy())
        B1 = make(np.zeros(256, np.float32))
        X, T = lib.tensor(x), lib.tensor(onehot)

        def step():
            h = (X @ W1 + B1).relu()
            logits = h @ W2
            loss = -((logits - logits.logsumexp(1, keepdim=True)) * T).sum() / 128
            loss.backward()
            with lib.no_grad():
                for p in (W1, W2, B1):
                    p -= 0.01 * p.grad
                    p.grad = None
        return step

    step_c = mlp_step(convgrad, lambda a: convgrad.tensor(a, requires_grad=True))
    step_t = mlp_step(torch, lambda a: torch.tensor(a, requires_grad=True))
    tc, tt = interleaved(step_c, step_t, repeat=40)
    print(row("MLP 784-256-10 training step, batch 128", tc, tt, peak_memory(step_c, step_t)))


if __name__ == "__main__":
    main()
