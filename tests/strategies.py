"""Hypothesis strategies shared by the op tests."""

import numpy as np
from hypothesis import strategies as st


def shapes(min_dims=1, max_dims=4, min_side=1, max_side=5):
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcast_pair(draw, max_dims=4, max_side=4):
    """Two shapes that broadcast together (some axes 1, some missing)."""
    shape = draw(shapes(1, max_dims, 1, max_side))
    other = list(shape)
    for i in range(len(other)):
        if draw(st.booleans()):
            other[i] = 1
    drop = draw(st.integers(0, len(other) - 1))
    other = tuple(other[drop:])
    return (shape, other) if draw(st.booleans()) else (other, shape)


def arrays(shape, dtype=np.float32, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def distinct(shape, dtype=np.float32, seed=0):
    """Values with no ties (for max ops): a shuffled arithmetic sequence with random jitter."""
    n = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    vals = (np.arange(n) - n / 2) / max(n, 1) * 4 + rng.uniform(0, 0.5 / max(n, 1), n)
    return rng.permutation(vals).reshape(shape).astype(dtype)
