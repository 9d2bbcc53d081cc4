"""All parameters as one flat vector, and back."""

import numpy as np

from convgrad.tensor import Tensor
from convgrad.tensor_functions import cat


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated (differentiable, like any ``cat``)."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters (in place)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a convgrad Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"expected a 1-D vector, got shape {tuple(vec.shape)}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if total != vec.numel():
        raise ValueError(f"vector has {vec.numel()} elements but the parameters have {total}")
    pointer = 0
    for p in parameters:
        n = p.numel()
        np.copyto(p._data, vec._data[pointer:pointer + n].reshape(p.shape), casting="unsafe")
        p._bump_version()
        pointer += n
