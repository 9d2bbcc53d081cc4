"""``convgrad lab``: the lectures' claims as experiments anyone can rerun. One module per experiment, each
with ``run(out, seed, quick)`` writing ``report.md`` and its plots into ``out``; :func:`run` and
:func:`run_all` are the runner the command line calls."""

import importlib
import os
import sys
import time

# in the order they are run by ``convgrad lab all``
EXPERIMENTS = ["mnist1d", "invariance", "activations", "init", "lenet5", "regularization", "transfer",
               "degradation"]


def _module(name):
    if name not in EXPERIMENTS:
        known = ", ".join(EXPERIMENTS + ["all"])
        raise ValueError(f"convgrad lab: expected one of {known}, got {name!r}")
    return importlib.import_module(f"convgrad.lab.{name}")


def run(name, out="lab", seed=0, quick=False):
    """Run experiment ``name``; its report and plots go to ``out/name/``. Returns its result dict."""
    return _module(name).run(os.path.join(out, name), seed=seed, quick=quick)


def run_all(out="lab", seed=0, quick=False, log=None):
    """Every experiment in turn, with progress and the time left estimated from each one's typical time."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    estimates = {n: _module(n).ESTIMATE / (20 if quick else 1) for n in EXPERIMENTS}
    results, start = {}, time.perf_counter()
    for i, name in enumerate(EXPERIMENTS):
        left = sum(estimates[n] for n in EXPERIMENTS[i:])
        bar = "#" * i + "." * (len(EXPERIMENTS) - i)
        log(f"[{bar}] {i + 1}/{len(EXPERIMENTS)} {name}: about {left / 60:.0f} min left "
            f"({time.perf_counter() - start:.0f} s so far)")
        results[name] = run(name, out, seed, quick)
    log(f"[{'#' * len(EXPERIMENTS)}] done in {time.perf_counter() - start:.0f} s; reports under {out}/")
    return results


def main(args):
    """The command line's entry: ``args`` has ``name``, ``quick``, ``seed``, ``out``."""
    if args.name == "all":
        results = run_all(args.out, args.seed, args.quick)
    else:
        results = {args.name: run(args.name, args.out, args.seed, args.quick)}
    for name, r in results.items():
        print(f"{name}: {r['path']} ({r['wall']:.0f} s)")
    return 0
