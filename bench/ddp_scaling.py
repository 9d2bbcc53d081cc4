"""Data-parallel scaling on this machine: training images/s with 1 process x 2 threads, 1 process x 1 thread
and 2 processes x 1 thread (DistributedDataParallel over MPI), the same global batch, runs interleaved
(A B C A B C ...) so the machine's load drifts over all alike; and the share of a step a rank spends
waiting at the end of backward for the gradient all-reduce (what the overlap did not hide, plus waiting
for a slower rank).

    python -m bench.ddp_scaling [--rounds 2] [--steps 5] [--models lenet5 resnet20]

Not part of ``make bench`` (it starts MPI jobs and takes minutes); needs ``pip install 'convgrad[mpi]'``."""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHAPES = {"lenet5": (1, 28, 28), "resnet20": (3, 32, 32)}


def worker(model_name, batch, steps, threads):
    import convgrad
    import convgrad.distributed as dist
    from convgrad import nn
    from convgrad.vision import models

    dist.init_process_group("mpi")
    convgrad.set_num_threads(threads)
    rank, world = dist.get_rank(), dist.get_world_size()
    convgrad.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(getattr(models, model_name)())
    opt = convgrad.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(rank)
    x = convgrad.tensor(rng.standard_normal((batch,) + SHAPES[model_name]).astype(np.float32))
    y = convgrad.tensor(rng.integers(0, 10, batch))
    waited = [0.0]
    finish = model._finish_backward

    def timed_finish():
        start = time.perf_counter()
        finish()
        waited[0] += time.perf_counter() - start

    model._finish_backward = timed_finish  # what the hooks queue: the wait for the last all-reduces

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    step()  # warm-up: buffers, first-touch pages
    dist.barrier()
    waited[0] = 0.0
    start = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    elapsed = time.perf_counter() - start
    share = convgrad.tensor([waited[0] / elapsed], dtype=convgrad.float64)
    dist.all_reduce(share, op=dist.ReduceOp.MAX)
    grad_bytes = sum(p._data.nbytes for p in model.parameters())
    if rank == 0:
        print(json.dumps({"images_per_s": world * batch * steps / elapsed, "step_s": elapsed / steps,
                          "wait_share": share.item(), "grad_mb": grad_bytes / 2**20}), flush=True)
    dist.destroy_process_group()


def _run(model, nproc, threads, global_batch, steps):
    mpiexec = pathlib.Path(sys.executable).parent / "mpiexec"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [str(mpiexec), "-n", str(nproc), sys.executable, "-m", "bench.ddp_scaling", "--worker", model,
           str(global_batch // nproc), str(steps), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128, help="global batch (default: 128)")
    parser.add_argument("--models", nargs="+", default=["lenet5", "resnet20"])
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        name, batch, steps, threads = args.worker
        return worker(name, int(batch), int(steps), int(threads))
    print("(a shared, loaded machine: compare the columns of one run, not runs of different days)")
    for model in args.models:
        runs = {"1x2": [], "1x1": [], "2x1": []}
        for _ in range(args.rounds):
            for key in runs:
                nproc, threads = int(key[0]), int(key[2])
                runs[key].append(_run(model, nproc, threads, args.batch, args.steps))
        speed = {k: np.median([r["images_per_s"] for r in v]) for k, v in runs.items()}
        wait = np.median([r["wait_share"] for r in runs["2x1"]])
        print(f"{model}: batch {args.batch}, gradients {runs['2x1'][0]['grad_mb']:.2f} MB; images/s "
              + ", ".join(f"{k[0]} process(es) x {k[2]} thread(s) {v:.0f}" for k, v in speed.items())
              + f"; 2x1 / 1x2 = {speed['2x1'] / speed['1x2']:.2f}, "
              f"2x1 / 1x1 = {speed['2x1'] / speed['1x1']:.2f}; "
              f"2x1: all-reduce wait {100 * wait:.1f} % of a step; per round "
              + str({k: [round(r["images_per_s"]) for r in v] for k, v in runs.items()}), flush=True)

if __name__ == "__main__":
    main()
