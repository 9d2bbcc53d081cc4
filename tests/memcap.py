"""Run Python code in a subprocess whose address space is capped (``resource.setrlimit``), so that a
reader fooled into allocating gigabytes fails with MemoryError there instead of taking the machine."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMORY_CAP = 1 << 30  # bytes of address space: convgrad, NumPy, PIL and pytest need about 400 MB

_PRELUDE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
sys.setrecursionlimit(3000)
"""


def run_capped(code, *args, cap=MEMORY_CAP, timeout=600):
    """``python -c code *args`` under the cap, from the repository root; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", _PRELUDE.format(cap=cap) + code, *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
