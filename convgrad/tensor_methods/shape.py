"""Tensor shape methods: views and reshapes, permutations, squeezing, expanding, splitting, gathering."""

import numbers

import numpy as np

from convgrad import _checks as checks
from convgrad.ops import elementwise
from convgrad.ops import shape as shape_ops
from convgrad.tensor_methods.base import TensorBase


class ShapeMethods(TensorBase):
    __slots__ = ()

    def _shape_arg(self, shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if not all(checks.is_int(s) for s in shape):
            raise checks.error("view", "a shape of ints", f"shape={checks.show(shape)}", TypeError)
        shape = tuple(int(s) for s in shape)
        if shape.count(-1) > 1:
            raise checks.error("view", "at most one -1 (one inferred dim)", f"shape={shape}")
        known = int(np.prod([s for s in shape if s != -1]))
        n = self._data.size
        if (-1 in shape and (known == 0 or n % known)) or (-1 not in shape and known != n):
            raise checks.error("view", f"a shape of {n} elements (the input's size)", f"shape={shape}")
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
        s, e = self._dim(start_dim, op="flatten"), self._dim(end_dim, op="flatten")
        if s > e:
            raise checks.error("flatten", "start_dim <= end_dim", f"start_dim={start_dim}, end_dim={end_dim}")
        shp = self._data.shape
        return self.reshape(shp[:s] + (int(np.prod(shp[s:e + 1])),) + shp[e + 1:])

    def unflatten(self, dim, sizes):
        d = self._dim(dim, op="unflatten")
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
        dims = tuple(self._dim(d, op="permute") for d in dims)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"permute(): duplicate dims are not allowed (got {dims})")
        return shape_ops.Permute.apply(self, dims)

    def transpose(self, dim0, dim1):
        dims = list(range(self._data.ndim))
        a, b = self._dim(dim0, op="transpose"), self._dim(dim1, op="transpose")
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
            dims = self._dims(dim, op="squeeze")
            dims = (dims,) if isinstance(dims, numbers.Integral) else dims or ()
            shape = tuple(s for i, s in enumerate(self._data.shape) if not (i in dims and s == 1))
        return self.reshape(shape)

    def unsqueeze(self, dim):
        d = self._dim(dim, self._data.ndim + 1, op="unsqueeze")
        return self.reshape(self._data.shape[:d] + (1,) + self._data.shape[d:])

    def expand(self, *sizes):
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        if not all(checks.is_int(s) for s in sizes):
            raise checks.error("expand", "sizes of ints", f"sizes={checks.show(sizes)}", TypeError)
        if len(sizes) < self._data.ndim:
            raise checks.error("expand", f"at least {self._data.ndim} sizes (the tensor's dims)",
                               f"sizes={sizes}")
        lead = len(sizes) - self._data.ndim
        shape = []
        for i, s in enumerate(sizes):
            cur = self._data.shape[i - lead] if i >= lead else 1
            if s == -1:
                if i < lead:
                    raise checks.error("expand", "no -1 in a new leading dim", f"sizes={sizes}")
                s = cur
            if cur != s and cur != 1:
                raise checks.error("expand", f"size {cur} or -1 at dim {i} (tensor of shape "
                                   f"{tuple(self._data.shape)})", f"sizes={sizes}")
            shape.append(s)
        return shape_ops.Expand.apply(self, tuple(shape))

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *reps):
        if len(reps) == 1 and isinstance(reps[0], (tuple, list)):
            reps = tuple(reps[0])
        if not all(checks.is_int(r) and r >= 0 for r in reps):
            raise checks.error("repeat", "repeats of ints >= 0", f"repeats={checks.show(reps)}", TypeError)
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
        d = self._dim(dim, op="split")
        n = self.shape[d]
        sizes = split_size_or_sections
        many = isinstance(sizes, (tuple, list)) and all(map(checks.is_int, sizes))
        if not checks.is_int(sizes) and not many:
            raise checks.error("split", "split_size_or_sections to be an int or a sequence of ints",
                               f"{checks.show(sizes)}", TypeError)
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
        return shape_ops.Split.apply(self, list(np.cumsum(sizes)[:-1]), d)  # one piece is split's view too

    def chunk(self, chunks, dim=0):
        chunks = checks.integer("chunk", "chunks", chunks, low=1, exc=RuntimeError)
        n = self.shape[self._dim(dim, op="chunk")]
        size = -(-n // chunks) if n else 1
        return self.split(size, dim)

    def unbind(self, dim=0):
        d = self._dim(dim, op="unbind")
        return tuple(t.squeeze(d) for t in self.split(1, d))

    def flip(self, *dims):
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        dims = self._dims(dims, op="flip") or ()  # distinct, in range
        return shape_ops.Flip.apply(self, (dims,) if checks.is_int(dims) else dims)

    def gather(self, dim, index):
        """out[i][j] = self[i][index[i][j]] along ``dim``; out has index's shape, which may be smaller than
        self's in every dim."""
        d = self._dim(dim, op="gather")
        checks.tensor("gather", "index", index)
        idx = index._data
        if idx.dtype.kind not in "iu":
            raise checks.error("gather", "an index of an integer dtype", f"index of dtype {idx.dtype}")
        shape = self._data.shape
        if idx.ndim != len(shape) and not (idx.ndim <= 1 and len(shape) <= 1):
            raise checks.error("gather", f"an index of the input's {len(shape)} dims",
                               f"index of shape {idx.shape}")
        if any(k != d and a > b for k, (a, b) in enumerate(zip(idx.shape, shape))):
            raise checks.error("gather", f"index.shape[k] <= input.shape[k] = {shape} except at dim {d}",
                               f"index of shape {idx.shape}")
        n = shape[d] if shape else 1
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            bad = idx.min() if idx.min() < 0 else idx.max()
            raise checks.error("gather", f"indices in [0, {n - 1}] (dim {d} of size {n})", f"index {bad}")
        src = self
        if idx.shape != shape[:idx.ndim] and idx.ndim == len(shape):
            # PyTorch reads only the leading part of the other dims
            src = self[tuple(slice(None) if k == d else slice(0, a) for k, a in enumerate(idx.shape))]
        return shape_ops.Gather.apply(src, d, idx)

    def index_select(self, dim, index):
        d = self._dim(dim, op="index_select")
        idx = index._data if isinstance(index, TensorBase) else np.asarray(index)
        return self[(slice(None),) * d + (idx,)]
