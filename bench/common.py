"""Shared benchmark machinery: convgrad against PyTorch in one process, interleaved (A B A B ...),
reported as ratios (convgrad time / PyTorch time), because this machine's speed drifts."""

import gc
import os
import resource
import time
import tracemalloc

import numpy as np

THREADS = int(os.environ.get("BENCH_THREADS", "2"))


def setup_torch():
    import torch

    torch.set_num_threads(THREADS)
    return torch


def _once(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved(fn_a, fn_b, repeat=20, warmup=3, block=5):
    """Median seconds per call of ``fn_a`` and ``fn_b``, alternating in blocks (A x block, B x block, ...)
    until each has ``repeat`` timed calls.

    Blocks, not single calls: after PyTorch returns, its OpenMP threads spin for a while and OpenBLAS's
    do the same, so the first call after a switch runs against the other library's spinning threads.
    Each block's first call is that settling call and is not timed."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    while len(ta) < repeat:
        for fn, times in ((fn_a, ta), (fn_b, tb)):
            fn()
            for _ in range(block):
                times.append(_once(fn))
    return float(np.median(ta)), float(np.median(tb))


def peak_memory_numpy(fn):
    """Peak bytes NumPy allocates while ``fn`` runs (NumPy reports its buffers to tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def peak_memory_torch(fn):
    """Peak bytes PyTorch's CPU allocator holds while ``fn`` runs (its profiler's memory accounting)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    gc.collect()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    # running sum of allocations and frees, in event order
    events = sorted((e for e in prof.events() if e.cpu_memory_usage), key=lambda e: e.time_range.start)
    cur = peak = 0
    for e in events:
        cur += e.cpu_memory_usage
        peak = max(peak, cur)
    del torch
    return peak


def peak_memory(fn_convgrad, fn_torch):
    """"peak mem X MB vs Y MB": the peak bytes each library allocates during one call. convgrad's scratch
    pool is emptied first, so the buffers it would lend are counted as allocations."""
    from convgrad.functional.scratch import scratch

    scratch.clear()
    mc, mt = peak_memory_numpy(fn_convgrad), peak_memory_torch(fn_torch)
    return f"peak mem {mc / 2**20:.1f} MB vs {mt / 2**20:.1f} MB"


def max_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(name, t_cg, t_torch, extra=""):
    ratio = t_cg / t_torch if t_torch > 0 else float("nan")
    return f"{name:<46} {t_cg * 1e3:10.3f} ms {t_torch * 1e3:10.3f} ms {ratio:8.2f}x  {extra}"


HEADER = f"{'case':<46} {'convgrad':>13} {'pytorch':>13} {'ratio':>9}"


def gemm_gflops(n=1024, repeat=5):
    """The machine's float32 GEMM speed through NumPy, the yardstick for convolution GFLOP/s."""
    a = np.random.rand(n, n).astype(np.float32)
    b = np.random.rand(n, n).astype(np.float32)
    a @ b
    best = min(_once(lambda: a @ b) for _ in range(repeat))
    return 2 * n**3 / best / 1e9
