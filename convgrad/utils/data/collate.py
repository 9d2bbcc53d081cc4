"""Turning a list of samples into a batch: :func:`default_collate` (with batching) and
:func:`default_convert` (without), with PyTorch's type rules.

=====================================  ==========================================================
each sample is                          the batch is
=====================================  ==========================================================
``Tensor`` of shape S                  ``Tensor`` of shape (B, *S) (``convgrad.stack``)
NumPy array of shape S                 ``Tensor`` of shape (B, *S), the array's dtype
NumPy scalar                           1-d ``Tensor`` of its dtype
Python ``float``                       1-d ``float64`` Tensor (as PyTorch)
Python ``int`` (``bool``)              1-d ``int64`` (``bool``) Tensor
``str`` / ``bytes``                    the list unchanged
mapping                                the same mapping type, each value collated
namedtuple                             the same namedtuple, each field collated
tuple / other sequence                 a list (tuple) or the same sequence type, position-wise
=====================================  ==========================================================
"""

import collections.abc
import copy

import numpy as np

import convgrad

__all__ = ["default_collate", "default_convert"]

_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_numpy_string_dtype(dtype):
    return dtype.kind in "SaUO"


def _map_like(elem, make_value):
    """Rebuild mapping ``elem`` with ``make_value(key)`` values, keeping its type where possible."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update({key: make_value(key) for key in elem})
            return clone
        return type(elem)({key: make_value(key) for key in elem})
    except TypeError:
        return {key: make_value(key) for key in elem}


def _sequence_like(elem, values):
    """Rebuild non-tuple sequence ``elem`` from ``values``, keeping its type where possible."""
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:
        return list(values)


def default_collate(batch):
    """Collate a list of samples into a batch (see the module docstring for the rules)."""
    if not isinstance(batch, collections.abc.Sequence):
        batch = list(batch)
    if len(batch) == 0:
        raise ValueError("default_collate: expected a non-empty batch, got an empty one")
    elem = batch[0]
    if isinstance(elem, convgrad.Tensor):
        return convgrad.stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if _is_numpy_string_dtype(elem.dtype):
            raise TypeError(_ERR.format(elem.dtype))
        shapes = {b.shape for b in batch}
        if len(shapes) != 1:
            raise RuntimeError(f"stack expects each array to be equal size, but got shapes {sorted(shapes)}")
        return convgrad.from_numpy(np.stack(batch, 0))
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return convgrad.from_numpy(np.array(batch))
    if isinstance(elem, float):
        return convgrad.from_numpy(np.array(batch, dtype=np.float64))
    if isinstance(elem, bool):
        return convgrad.from_numpy(np.array(batch))
    if isinstance(elem, int):
        return convgrad.from_numpy(np.array(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _map_like(elem, lambda key: default_collate([d[key] for d in batch]))
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return transposed  # PyTorch returns a list for tuples
        return _sequence_like(elem, transposed)
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data):
    """Convert NumPy arrays and scalars inside one sample to Tensors, leaving everything else as it is
    (the ``collate_fn`` of a loader with ``batch_size=None``)."""
    if isinstance(data, convgrad.Tensor):
        return data
    if isinstance(data, np.ndarray):
        if _is_numpy_string_dtype(data.dtype):
            return data
        return convgrad.from_numpy(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return convgrad.from_numpy(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _map_like(data, lambda key: default_convert(data[key]))
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _sequence_like(data, [default_convert(d) for d in data])
    return data
