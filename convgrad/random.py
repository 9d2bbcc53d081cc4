"""Random numbers: one global ``Generator`` that ``manual_seed`` resets, so a run is reproducible."""

import threading

import numpy as np


class Generator:
    """A seeded source of random numbers (wraps ``numpy.random.Generator``)."""

    def __init__(self, device="cpu"):
        self._seed = 0
        self.numpy_rng = np.random.default_rng(0)

    def manual_seed(self, seed):
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"manual_seed: expected a non-negative seed, got {seed}")
        self._seed = seed
        self.numpy_rng = np.random.default_rng(seed)
        return self

    def seed(self):
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The generator's whole state as a dict (what checkpoints store to resume exactly)."""
        return {"seed": self._seed, "bit_generator": self.numpy_rng.bit_generator.state}

    def set_state(self, state):
        self._seed = state["seed"]
        self.numpy_rng.bit_generator.state = state["bit_generator"]


default_generator = Generator()


def manual_seed(seed):
    """Seed the global generator (every random factory, initialiser, dropout and shuffle uses it)."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


_thread = threading.local()  # a data-loader worker thread's own generator, so threads never race


def set_thread_rng(numpy_generator):
    """Give the calling thread its own ``numpy.random.Generator`` (None: back to the global one)."""
    _thread.rng = numpy_generator


def rng(generator=None):
    """The NumPy generator to draw from: ``generator``'s, else this thread's own, else the global one."""
    if generator is not None:
        return generator.numpy_rng
    own = getattr(_thread, "rng", None)
    return own if own is not None else default_generator.numpy_rng
