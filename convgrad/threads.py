"""How many threads the BLAS library under NumPy may use (the only threaded part of convgrad's maths).

Read and set through threadpoolctl, which finds the BLAS library NumPy loaded (OpenBLAS, MKL, BLIS,
Accelerate) whatever its build calls its setter."""

import os

# Variables by which a user sets BLAS/OpenMP threads before Python starts; convgrad's own defaults
# (``convgrad train``'s one thread for small models) give way to them.
THREAD_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS", "MKL_NUM_THREADS",
                   "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _check(n, op):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{op}: expected a positive int number of threads, got {n!r}")


def set_blas_threads(n, op="set_blas_threads"):
    """Limit the BLAS library under NumPy to ``n`` threads from now on; returns whether a BLAS was found."""
    _check(n, op)
    import numpy  # noqa: F401  (threadpoolctl acts on libraries already loaded)
    from threadpoolctl import threadpool_limits

    limiter = threadpool_limits(n, user_api="blas")
    return limiter.get_original_num_threads().get("blas") is not None


def blas_threads():
    """Threads the BLAS library under NumPy uses now (the largest, if several are loaded), or None."""
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None


def threads_set_by_user():
    """The thread-count environment variables the user set, as ``NAME=value`` strings."""
    return [f"{k}={os.environ[k]}" for k in THREAD_ENV_VARS if os.environ.get(k)]
