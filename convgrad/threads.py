"""Threads: how many the BLAS library under NumPy may use, and convgrad's own workers, as many again, which
the convolution engine splits its samples over (``parallel``).

BLAS threads are read and set through threadpoolctl, which finds the BLAS library NumPy loaded (OpenBLAS,
MKL, BLIS, Accelerate) whatever its build calls its setter. The user's count (``convgrad.set_num_threads``,
``OMP_NUM_THREADS`` and kin, or BLAS's own default) sets both."""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

# Variables by which a user sets BLAS/OpenMP threads before Python starts; convgrad's own defaults
# (``convgrad train``'s one thread for small models) give way to them.
THREAD_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS", "MKL_NUM_THREADS",
                   "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _check(n, op):
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{op}: expected a positive int number of threads, got {n!r}")


def set_blas_threads(n, op="set_blas_threads"):
    """Limit the BLAS library under NumPy to ``n`` threads from now on; returns whether a BLAS was found.
    During a parallel region ``n`` is also the count the region gives back at its end."""
    global _user_threads, _restore_pending
    _check(n, op)
    import numpy  # noqa: F401  (threadpoolctl acts on libraries already loaded)
    from threadpoolctl import threadpool_limits

    with _lock:  # not between a region's reading of the user's count and its giving it back
        limiter = threadpool_limits(n, user_api="blas")
        if _inside or _restore_pending:
            _user_threads = n
        if not _inside:
            _restore_pending = _restore_pending and not _blas_at(n)
        return limiter.get_original_num_threads().get("blas") is not None


def blas_threads():
    """Threads the BLAS library under NumPy uses (the largest, if several are loaded), or None: the
    user's count, also while a parallel region holds BLAS at one thread."""
    if _inside or _restore_pending:
        return _user_threads
    counts = [n for n in (c.get_num_threads() for c in _controllers()) if n]
    return max(counts) if counts else None


def usable_cores():
    """Cores this process may run on (its CPU affinity where the system has one), or None if unknown."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count()


def threads_set_by_user():
    """The thread-count environment variables the user set, as ``NAME=value`` strings."""
    return [f"{k}={os.environ[k]}" for k in THREAD_ENV_VARS if os.environ.get(k)]


# --------------------------------------------------------------------------- convgrad's own workers
# The convolution engine splits its block loops (im2col, GEMM, col2im) over as many Python threads as BLAS
# may use, each calling BLAS single-threaded on its own buffers. Why: with BLAS threading each GEMM, the
# columns one core has just written are read by the other core's BLAS thread and rewritten by the first
# core for the next block. In the phases when the two cores of a VM sit far apart that cache-line ping-pong
# made im2col alone (ResNet-20's 16-channel layer, alternating with a 2-thread GEMM) take 25-35 ms a batch
# against 4.7 ms (an ad-hoc measurement, docs/speed.md "Threads"). Split by samples, each core touches only
# its own columns; NumPy releases the GIL in its copies and in BLAS.
_lock = threading.Lock()
_blas = None  # threadpoolctl controllers of the loaded BLAS libraries, found once
_pool = None
_pool_size = 0
_inside = 0  # parallel regions running (BLAS is single-threaded while any runs)
_user_threads = 1  # the user's BLAS count, given back when the last region ends
# The last region ended on a thread whose setting BLAS ignored (OpenBLAS ignores other threads' once the main
# thread has set the count): BLAS is still at one thread, and the next region to end tries again.
_restore_pending = False
_local = threading.local()


def _controllers():
    global _blas
    if _blas is None:
        try:
            import numpy  # noqa: F401  (threadpoolctl finds libraries already loaded)
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _blas = []
        else:
            _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _blas


def worker_count():
    """Threads a parallel region uses: the BLAS thread count the user (or BLAS's default) set; 1 when no
    BLAS library reports one."""
    return blas_threads() or 1


def _blas_at(n):
    return all(c.get_num_threads() == n for c in _controllers())


def _set_blas(n):
    for c in _controllers():
        c.set_num_threads(n)


def _reset_after_fork():
    """A forked child has none of the pool's threads; if it was forked during a parallel region, its BLAS
    also gets its thread count back."""
    global _pool, _pool_size, _inside, _lock, _restore_pending
    if _inside or _restore_pending:
        _set_blas(_user_threads)
    _pool, _pool_size, _inside, _lock, _restore_pending = None, 0, 0, threading.Lock(), False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@contextlib.contextmanager
def single_threaded_blas():
    """BLAS on one thread inside the block (nested and concurrent blocks too); the user's count after.
    Yields whether BLAS really is on one thread: it is not when the library ignored the setting, as
    OpenBLAS does from any thread but the main one once the main thread has set the count."""
    global _inside, _user_threads, _restore_pending
    with _lock:
        if not _inside:
            _user_threads = worker_count()
            _set_blas(1)
        single = _blas_at(1)
        if single:
            _inside += 1
        elif not _inside:  # a library that did take gets its count back at once: nothing is left to restore
            _set_blas(_user_threads)
    try:
        yield single
    finally:
        if single:
            with _lock:
                _inside -= 1
                if not _inside:
                    _set_blas(_user_threads)
                    _restore_pending = not _blas_at(_user_threads)


def _pool_of(workers):
    """A pool of at least ``workers`` threads. A smaller pool is replaced, not shut down: another caller
    may be submitting to it; its threads end once it is collected."""
    global _pool, _pool_size
    with _lock:
        if _pool_size < workers:
            _pool_size = workers
            _pool = ThreadPoolExecutor(_pool_size, thread_name_prefix="convgrad")
        return _pool


def parallel(fn, parts):
    """``[fn(p) for p in parts]``, the parts run at once on ``len(parts)`` threads (the caller's among
    them) with BLAS single-threaded meanwhile. Called from inside a part, with one part, or where BLAS
    ignores the setting of its thread count (so that each worker would run BLAS's threads): runs in order
    on the calling thread. The first exception raised by a part is raised here."""
    if len(parts) <= 1 or getattr(_local, "busy", False):
        return [fn(p) for p in parts]
    with single_threaded_blas() as single:
        if not single:
            return [fn(p) for p in parts]
        pool = _pool_of(len(parts) - 1)
        futures = [pool.submit(_run_part, fn, p) for p in parts[1:]]
        try:
            first = _run_part(fn, parts[0])
        finally:  # every part has stopped before the caller goes on, even after an error
            wait(futures)
        return [first] + [f.result() for f in futures]


def _run_part(fn, part):
    _local.busy = True
    try:
        return fn(part)
    finally:
        _local.busy = False


class Claims:
    """Items handed out one at a time to whichever thread asks next: a thread that falls behind (another
    process took its core) takes fewer, instead of holding up the rest as a fixed split would."""

    def __init__(self, items):
        self._items = iter(items)
        self._lock = threading.Lock()

    def __iter__(self):
        return self

    def __next__(self):
        with self._lock:
            return next(self._items)


class OrderedSum:
    """``total + parts[0] + parts[1] + ...`` in index order, whichever thread hands a part in first, so the
    float sum is the same on any number of threads. Nothing waits: a part that comes before the earlier ones
    is kept until they arrive, so the caller must hand in an array it will not write again."""

    def __init__(self, total):
        self.total = total
        self._next = 0
        self._waiting = {}
        self._lock = threading.Lock()

    def add(self, index, part):
        with self._lock:
            self._waiting[index] = part
            while self._next in self._waiting:
                self.total += self._waiting.pop(self._next)
                self._next += 1
