"""``make bench``: the bench_* modules of bench/ (those named in argv, or all), each printing
convgrad/PyTorch ratios."""

import importlib
import pkgutil
import sys

import bench


def main(argv):
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    wanted = argv[1:]
    for name in names:
        if wanted and not any(w in name for w in wanted):
            continue
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv)
