"""Whether operations record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""

import functools
import os
import threading


class _State(threading.local):
    enabled = True


_state = _State()
# How many threads have grad mode off now. While none has, every thread records, so an op need not read
# the thread-local (~500 of the ~18,000 instructions of a 1-element a * b): ``not _off[0] or _state.enabled``.
# A thread that ends with grad mode off stays counted; ops then read the thread-local again, as before.
_off = [0]
_off_lock = threading.Lock()


def _after_fork_in_child():
    """A forked child runs only the forking thread: count it alone, with a lock no vanished thread holds."""
    global _off_lock
    _off_lock = threading.Lock()
    _off[0] = 0 if _state.enabled else 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _set_enabled(mode):
    """Set this thread's grad mode; every write goes through here, to keep ``_off`` exact."""
    mode = bool(mode)
    if _state.enabled is not mode:
        with _off_lock:
            _off[0] += -1 if mode else 1
    _state.enabled = mode


def is_grad_enabled():
    return not _off[0] or _state.enabled


class _GradMode:
    """Context manager and decorator that sets grad mode to ``self.mode`` and restores it."""

    mode = True

    def __enter__(self):
        self._prev = _state.enabled
        _set_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        _set_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Operations inside run without recording a graph (evaluation, weight updates)."""

    mode = False


class enable_grad(_GradMode):
    """Turns recording back on inside a ``no_grad`` block."""

    mode = True


class inference_mode(no_grad):
    def __init__(self, mode=True):
        self.mode = not mode


class set_grad_enabled(_GradMode):
    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _state.enabled
        _set_enabled(self.mode)  # also works as a plain function call, as in PyTorch

    def __enter__(self):
        return self

    def __call__(self, fn):
        _set_enabled(self._prev)
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
