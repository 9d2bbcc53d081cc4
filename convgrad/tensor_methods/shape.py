"""Tensor shape methods: views and reshapes, permutations, squeezing, expanding, splitting, gathering."""

import numbers

import numpy as np

from convgrad.ops import elementwise
from convgrad.ops import shape as shape_ops
from convgrad.tensor_methods.base import TensorBase


class ShapeMethods(TensorBase):
    __slots__ = ()

    def _shape_arg(self, shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = tuple(int(s) for s in shape)
        if shape.count(-1) > 1:
            raise RuntimeError("only one dimension can be inferred (got more than one -1)")
        known = int(np.prod([s for s in shape if s != -1]))
        n = self._data.size
        if (-1 in shape and (known == 0 or n % known)) or (-1 not in shape and known != n):
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {n}")
        return shape

    def reshape(self, *shape):
        shape = self._shape_arg(shape)
        if shape == self._data.shape:
            return self
        return shape_ops.Reshape.apply(self, shape)

    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (tuple, list, numbers.Integral)):
            return self.to(shape[0])
        shape = self._shape_arg(shape)
        # a view needs a layout-compatible shape, as in PyTorch
        try:
            v = self._data.view()
            v.shape = shape
        except AttributeError:
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (shape "
                f"{tuple(self.shape)} -> {shape}): use .reshape(...) instead"
            ) from None
        return shape_ops.Reshape.apply(self, shape)

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self._data.ndim == 0:
            return self.reshape(1)
        s, e = self._dim(start_dim), self._dim(end_dim)
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shp = self._data.shape
        return self.reshape(shp[:s] + (-1 if 0 not in shp[s:e + 1] else 0,) + shp[e + 1:])

    def unflatten(self, dim, sizes):
        d = self._dim(dim)
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def permute(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if len(dims) != self._data.ndim:
            raise RuntimeError(
                f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                f"length of the desired ordering of dimensions i.e. input.dim() = {self._data.ndim} is not "
                f"equal to len(dims) = {len(dims)}"
            )
        dims = tuple(self._dim(d) for d in dims)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"permute(): duplicate dims are not allowed (got {dims})")
        return shape_ops.Permute.apply(self, dims)

    def transpose(self, dim0, dim1):
        dims = list(range(self._data.ndim))
        a, b = self._dim(dim0), self._dim(dim1)
        dims[a], dims[b] = dims[b], dims[a]
        return shape_ops.Permute.apply(self, tuple(dims))

    swapaxes = transpose

    def t(self):
        if self._data.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self._data.ndim}D")
        return self.transpose(0, 1) if self._data.ndim == 2 else self

    def squeeze(self, dim=None):
        if dim is None:
            shape = tuple(s for s in self._data.shape if s != 1)
        else:
            dims = self._dims(dim)
            dims = (dims,) if isinstance(dims, numbers.Integral) else dims
            shape = tuple(s for i, s in enumerate(self._data.shape) if not (i in dims and s == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim):
        d = self._dim(dim, self._data.ndim + 1)
        return self.reshape(self._data.shape[:d] + (1,) + self._data.shape[d:])

    def expand(self, *sizes):
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        if len(sizes) < self._data.ndim:
            raise RuntimeError(
                f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                f"number of dimensions in the tensor ({self._data.ndim})"
            )
        lead = len(sizes) - self._data.ndim
        shape = []
        for i, s in enumerate(sizes):
            cur = self._data.shape[i - lead] if i >= lead else 1
            if s == -1:
                if i < lead:
                    raise RuntimeError("expand: -1 is not allowed in a leading, non-existing dimension")
                s = cur
            if cur != s and cur != 1:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                    f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                    f"{list(self._data.shape)}"
                )
            shape.append(s)
        return shape_ops.Expand.apply(self, tuple(shape))

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *reps):
        if len(reps) == 1 and isinstance(reps[0], (tuple, list)):
            reps = tuple(reps[0])
        if len(reps) < self._data.ndim:
            raise RuntimeError(
                "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
            )
        return shape_ops.Repeat.apply(self, tuple(reps))

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return elementwise.Clone.apply(self)

    def clone(self):
        return elementwise.Clone.apply(self)

    def split(self, split_size_or_sections, dim=0):
        """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
        d = self._dim(dim)
        n = self.shape[d]
        if isinstance(split_size_or_sections, numbers.Integral):
            s = int(split_size_or_sections)
            if s <= 0 and n > 0:
                raise RuntimeError(f"split: split_size must be positive, got {s}")
            sizes = [s] * (n // s) + ([n % s] if n % s else []) if n else [0]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise RuntimeError(
                    f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                    f"dimension {d}), but got split_sizes={sizes}"
                )
        bounds = list(np.cumsum(sizes)[:-1])
        if len(sizes) == 1:
            return (shape_ops.Reshape.apply(self, self.shape),)
        return shape_ops.Split.apply(self, bounds, d)

    def chunk(self, chunks, dim=0):
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        n = self.shape[self._dim(dim)]
        size = -(-n // chunks) if n else 1
        return self.split(size, dim)

    def unbind(self, dim=0):
        d = self._dim(dim)
        return tuple(t.squeeze(d) for t in self.split(1, d))

    def flip(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return shape_ops.Flip.apply(self, tuple(self._dim(d) for d in dims))

    def gather(self, dim, index):
        d = self._dim(dim)
        idx = index._data if isinstance(index, TensorBase) else np.asarray(index)
        if idx.dtype.kind not in "iu":
            raise RuntimeError(f"gather(): Expected dtype int64 for index, got {idx.dtype}")
        return shape_ops.Gather.apply(self, d, idx)

    def index_select(self, dim, index):
        d = self._dim(dim)
        idx = index._data if isinstance(index, TensorBase) else np.asarray(index)
        return self[(slice(None),) * d + (idx,)]
