"""The core tensor operations (arithmetic, reductions, shapes, indexing), each a ``NumpyFunction``
with its forward and backward side by side. The CNN operations live in ``convgrad.functional``."""
