"""End-to-end LeNet-5 training on MNIST: convgrad against the same PyTorch loop.

- the training step (forward, cross-entropy, backward, SGD with momentum) at batch 64 and 128, interleaved,
  as the ratio convgrad time / PyTorch time, with peak memory;
- throughput in images/s of whole epochs-worth of steps (DataLoader over the in-memory MNIST tensors,
  shuffled, plus the step): the plain loop on both, and convgrad's ``fit`` (progress bar off) for its cost.
"""

import time

import numpy as np

import convgrad
from bench.common import (
    HEADER,
    THREADS,
    interleaved,
    max_rss_mb,
    peak_memory,
    row,
    setup_torch,
)
from convgrad.threads import set_blas_threads

STEPS = 50  # steps per end-to-end pass; 2 timed passes (+2 settling) per batch size and library


def torch_lenet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2)),
        nn.Flatten(),
        nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)),
    )


def models(torch):
    """convgrad's lenet5 and the PyTorch one, with the same initial weights."""
    from convgrad.vision.models import lenet5

    convgrad.manual_seed(0)
    cg = lenet5()
    tm = torch_lenet(torch)
    cg_params = [p.detach().numpy() for p in cg.parameters()]
    tm_params = list(tm.parameters())
    assert [p.shape for p in cg_params] == [tuple(p.shape) for p in tm_params]
    with torch.no_grad():
        for a, b in zip(cg_params, tm_params):
            b.copy_(torch.from_numpy(a.copy()))
    return cg, tm


def mnist(n):
    from convgrad.vision.datasets import MNIST

    ds = MNIST("data", train=True)
    x = (ds.data.numpy()[:n].astype(np.float32) / 255 - 0.1307) / 0.3081
    return x[:, None].copy(), ds.targets.numpy()[:n].copy()


def step_fn(lib, F, model, opt, x, y):
    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def main():
    torch = setup_torch()
    import convgrad.nn.functional as F_cg
    from convgrad import optim as optim_cg
    from convgrad.utils.data import DataLoader as DL_cg
    from convgrad.utils.data import TensorDataset as TD_cg

    x_all, y_all = mnist(STEPS * 128)
    print(HEADER)
    for batch in (64, 128):
        cg, tm = models(torch)
        opt_c = optim_cg.SGD(cg.parameters(), lr=0.01, momentum=0.9)
        opt_t = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
        xc, yc = convgrad.from_numpy(x_all[:batch]), convgrad.from_numpy(y_all[:batch])
        xt, yt = torch.from_numpy(x_all[:batch]), torch.from_numpy(y_all[:batch])
        sc = step_fn(convgrad, F_cg, cg, opt_c, xc, yc)
        st = step_fn(torch, torch.nn.functional, tm, opt_t, xt, yt)
        tc, tt = interleaved(sc, st, repeat=25, warmup=3)
        extra = ""
        if batch == 128:
            extra = peak_memory(sc, st)
        print(row(f"LeNet-5 training step, batch {batch}", tc, tt, extra), flush=True)
        # both on one thread: what `convgrad train --model lenet5` uses; the fairer match on a busy machine
        set_blas_threads(1)
        torch.set_num_threads(1)
        tc1, tt1 = interleaved(sc, st, repeat=25, warmup=2)
        set_blas_threads(THREADS)
        torch.set_num_threads(THREADS)
        print(row(f"LeNet-5 training step, batch {batch}, 1 thread", tc1, tt1), flush=True)

    # end to end: shuffled DataLoader + step, STEPS steps
    print(f"\n{'end to end, ' + str(STEPS) + ' steps':<46} {'convgrad':>13} {'pytorch':>13} {'ratio':>9}")
    for batch in (64, 128):
        n = STEPS * batch
        cg, tm = models(torch)
        opt_c = optim_cg.SGD(cg.parameters(), lr=0.01, momentum=0.9)
        opt_t = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
        dl_c = DL_cg(TD_cg(convgrad.from_numpy(x_all[:n]), convgrad.from_numpy(y_all[:n])), batch_size=batch,
                     shuffle=True)
        dl_t = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(torch.from_numpy(x_all[:n]), torch.from_numpy(y_all[:n])),
            batch_size=batch, shuffle=True)

        def loop(lib, F, model, opt, dl):
            def run():
                model.train()
                for x, y in dl:
                    opt.zero_grad()
                    F.cross_entropy(model(x), y).backward()
                    opt.step()
            return run

        run_c = loop(convgrad, F_cg, cg, opt_c, dl_c)
        run_t = loop(torch, torch.nn.functional, tm, opt_t, dl_t)
        tc, tt = interleaved(run_c, run_t, repeat=2, warmup=0, block=1)
        print(f"{'plain loop, batch ' + str(batch):<46} {n / tc:10.0f} im/s {n / tt:7.0f} im/s "
              f"{tc / tt:8.2f}x", flush=True)

    from convgrad.training import fit

    cg, _ = models(torch)
    n = STEPS * 128
    dl_c = DL_cg(TD_cg(convgrad.from_numpy(x_all[:n]), convgrad.from_numpy(y_all[:n])), batch_size=128,
                 shuffle=True)
    t0 = time.perf_counter()
    fit(cg, dl_c, epochs=1, optimizer=optim_cg.SGD(cg.parameters(), lr=0.01, momentum=0.9), progress=False,
        verbose=False)
    t = time.perf_counter() - t0
    print(f"{'convgrad fit(), batch 128 (with metrics)':<46} {n / t:10.0f} im/s")
    print(f"max RSS of this process: {max_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
