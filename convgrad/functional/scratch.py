"""Reusable large temporaries for the convolution engine (``im2col.py``, ``winograd.py``): a fresh large
array costs a page fault on every page at first touch, often more than the copy that fills it, so the
columns, padded copies and partial products of one call are handed back and lent to the next."""

import math
import threading
import weakref

import numpy as np


class _Scratch:
    """Reusable large temporaries, by (shape, dtype). Only arrays handed out by ``take`` are taken back."""

    MIN_BYTES = 1 << 18  # smaller arrays come cheaply from malloc
    MAX_BYTES = 256 << 20  # most memory held between calls

    def __init__(self):
        self._free = {}
        self._held = 0
        self._lent = weakref.WeakValueDictionary()  # id -> array, while the caller holds it
        self._lock = threading.Lock()

    def take(self, shape, dtype):
        """An uninitialised array."""
        dtype = np.dtype(dtype)
        shape = tuple(shape)
        if math.prod(shape) * dtype.itemsize < self.MIN_BYTES:
            return np.empty(shape, dtype)
        key = (shape, dtype.str)
        with self._lock:  # the convolution's worker threads take and give at once
            free = self._free.get(key)
            a = free.pop() if free else None
            if a is not None:
                self._held -= a.nbytes
                self._lent[id(a)] = a
                return a
        a = np.empty(shape, dtype)  # outside the lock: a large allocation need not hold up the others
        with self._lock:
            self._lent[id(a)] = a
        return a

    def give(self, *arrays):
        """Return arrays from ``take`` for reuse; anything else is ignored."""
        for a in arrays:
            with self._lock:
                if a is None or self._lent.get(id(a)) is not a:
                    continue
                del self._lent[id(a)]
                if self._held + a.nbytes <= self.MAX_BYTES:
                    self._free.setdefault((a.shape, a.dtype.str), []).append(a)
                    self._held += a.nbytes

    def owns(self, a):
        return self._lent.get(id(a)) is a

    def clear(self):
        with self._lock:
            self._free.clear()
            self._held = 0


scratch = _Scratch()
