"""Tensor methods that select or place elements by index or mask (``scatter``, ``index_add``,
``masked_select``, ``take``, ``nonzero``), the matrix parts (``diag``, ``diagonal``, ``tril``, ``triu``),
rearrangements (``roll``, ``narrow``, ``movedim``, ``tile``, ``repeat_interleave``) and counting
(``unique``, ``bincount``, ``histc``)."""

import numbers

import numpy as np

from convgrad.autograd.grad_mode import _state
from convgrad.ops import scatter as scatter_ops
from convgrad.tensor_methods.base import TensorBase


def _index_array(op, index, name="index"):
    idx = index._data if isinstance(index, TensorBase) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected {name} to be an integer (int64) tensor, got dtype {idx.dtype}")
    return idx


def _dims_tuple(dims):
    return tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)


class IndexingMethods(TensorBase):
    __slots__ = ()

    # ------------------------------------------------------------------ masks and flat indices
    def masked_select(self, mask):
        """The elements where ``mask`` (broadcast with the input) holds, as a 1-D tensor."""
        m = mask._data if isinstance(mask, TensorBase) else np.asarray(mask)
        if m.dtype != np.bool_:
            raise RuntimeError(f"masked_select: expected mask to be a bool tensor, got dtype {m.dtype}")
        try:
            shape = np.broadcast_shapes(self.shape, m.shape)
        except ValueError:
            raise RuntimeError(f"masked_select: expected mask of a shape that broadcasts with "
                               f"{tuple(self.shape)}, got {tuple(m.shape)}") from None
        x = self if tuple(self.shape) == shape else self.expand(shape)
        return x[self._new(np.broadcast_to(m, shape))]

    def masked_fill_(self, mask, value):
        return self._inplace(lambda s: s.masked_fill(mask, value))

    def take(self, index):
        """input.flatten()[index], in index's shape."""
        idx = _index_array("take", index)
        n = self.numel()
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx.max() if idx.max() >= n else idx.min()
            raise IndexError(f"take: expected indices in [{-n}, {n - 1}], got {bad}")
        return self.reshape(-1)[self._new(idx)]

    def nonzero(self, *, as_tuple=False):
        if as_tuple:
            return tuple(self._new(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(self._data)))
        return self._new(np.argwhere(self._data).astype(np.int64))

    # ------------------------------------------------------------------ writing at indices
    def _scatter(self, op, dim, index, src, add):
        d = self._dim(dim)
        idx = _index_array(op, index)
        if idx.ndim != self.ndim:
            raise RuntimeError(f"{op}: expected index to have as many dimensions as input ({self.ndim}), "
                               f"got shape {tuple(idx.shape)}")
        n = self.shape[d]
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise RuntimeError(f"{op}: expected index values in [0, {n - 1}] (dimension {d}), "
                               f"got {idx.min() if idx.min() < 0 else idx.max()}")
        if isinstance(src, TensorBase):
            if src.dtype != self.dtype:
                raise RuntimeError(
                    f"{op}: expected src to have the input's dtype {self.dtype}, got {src.dtype}"
                )
            if any(i > s for i, s in zip(idx.shape, src.shape)) or src.ndim != idx.ndim:
                raise RuntimeError(f"{op}: expected index no larger than src in every dimension, got "
                                   f"index {tuple(idx.shape)} and src {tuple(src.shape)}")
        elif isinstance(src, numbers.Number):
            src = np.asarray(src, self.dtype)
        else:
            raise TypeError(f"{op}: expected src to be a Tensor or a number, got {type(src).__name__}")
        for a, (i, s) in enumerate(zip(idx.shape, self.shape)):
            if a != d and i > s:
                raise RuntimeError(f"{op}: expected index no larger than input in dimension {a}, got "
                                   f"index {tuple(idx.shape)} and input {tuple(self.shape)}")
        return scatter_ops.Scatter.apply(self, d, idx, src, add)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        """out = input, then out[.., index[p], ..] = src[p] along ``dim`` (``value`` for every p)."""
        if reduce not in (None, "add"):
            raise NotImplementedError(f"scatter: reduce='{reduce}' is not provided by convgrad (only 'add')")
        return self._scatter("scatter", dim, index, value if src is None else src, reduce == "add")

    def scatter_add(self, dim, index, src):
        """out = input, then out[.., index[p], ..] += src[p] along ``dim``."""
        return self._scatter("scatter_add", dim, index, src, True)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return self._inplace(lambda s: s.scatter(dim, index, src, value=value, reduce=reduce))

    def scatter_add_(self, dim, index, src):
        return self._inplace(lambda s: s.scatter_add(dim, index, src))

    def _index_slices(self, op, dim, index, source):
        d = self._dim(dim)
        idx = _index_array(op, index)
        if idx.ndim > 1:
            raise RuntimeError(f"{op}: expected index to be 1-D, got shape {tuple(idx.shape)}")
        n = self.shape[d] if self.ndim else 1
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"{op}: expected index values in [{-n}, {n - 1}] (dimension {d}), "
                             f"got {idx.min() if idx.min() < -n else idx.max()}")
        if source is not None:
            want = self.shape[:d] + (idx.size,) + self.shape[d + 1:]
            if tuple(source.shape) != want:
                raise RuntimeError(f"{op}: expected source of shape {want}, got {tuple(source.shape)}")
            if source.dtype != self.dtype:
                raise RuntimeError(f"{op}: expected source to have the input's dtype {self.dtype}, got "
                                   f"{source.dtype}")
        return d, idx

    def index_add(self, dim, index, source, *, alpha=1):
        """out = input, then out[.., index[i], ..] += alpha source[.., i, ..] along ``dim``."""
        d, idx = self._index_slices("index_add", dim, index, source)
        return scatter_ops.IndexAdd.apply(self, d, idx, source, alpha)

    def index_copy(self, dim, index, source):
        """out = input, then out[.., index[i], ..] = source[.., i, ..] along ``dim``."""
        d, idx = self._index_slices("index_copy", dim, index, source)
        return scatter_ops.IndexCopy.apply(self, d, idx, source)

    def index_fill(self, dim, index, value):
        """out = input with the slices index[i] along ``dim`` set to ``value``."""
        d, idx = self._index_slices("index_fill", dim, index, None)
        mask = np.zeros(self.shape[d] if self.ndim else 1, bool)
        mask[idx] = True
        mask = mask.reshape((-1,) + (1,) * (self.ndim - d - 1)) if self.ndim else mask.reshape(())
        return self.masked_fill(self._new(mask), value)

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace(lambda s, src: s.index_add(dim, index, src, alpha=alpha), source)

    def index_copy_(self, dim, index, source):
        return self._inplace(lambda s, src: s.index_copy(dim, index, src), source)

    def index_fill_(self, dim, index, value):
        return self._inplace(lambda s: s.index_fill(dim, index, value))

    # ------------------------------------------------------------------ rearranging
    def narrow(self, dim, start, length):
        """The ``length`` elements from ``start`` along ``dim`` (a view)."""
        d = self._dim(dim)
        n = self.shape[d]
        if not -n <= start <= n:
            raise IndexError(f"narrow: expected start in [{-n}, {n}] (dimension {d}), got {start}")
        start = start % n if start < 0 else start
        if length < 0 or start + length > n:
            raise RuntimeError(f"narrow: expected start + length <= {n} (dimension {d}), got start {start} "
                               f"and length {length}")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def roll(self, shifts, dims=None):
        """Elements shifted by ``shifts`` along ``dims``, wrapping around (flattened when dims is None)."""
        if dims is None:
            return self.reshape(-1).roll(shifts, 0).reshape(self.shape)
        shifts, dims = _dims_tuple(shifts), _dims_tuple(dims)
        if len(shifts) != len(dims):
            raise RuntimeError(f"roll: expected as many shifts as dims, got {len(shifts)} and {len(dims)}")
        x = self
        for s, d in zip(shifts, dims):
            d = self._dim(d)
            n = self.shape[d]
            if n and s % n:
                x = x.index_select(d, self._new((np.arange(n) - s) % n))
        return x

    def movedim(self, source, destination):
        src = [self._dim(s) for s in _dims_tuple(source)]
        dst = [self._dim(d) for d in _dims_tuple(destination)]
        if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
            raise RuntimeError(f"movedim: expected distinct source and destination dims of equal number, "
                               f"got {tuple(src)} and {tuple(dst)}")
        order = [a for a in range(self.ndim) if a not in src]
        for d, s in sorted(zip(dst, src)):
            order.insert(d, s)
        return self.permute(order)

    moveaxis = movedim

    def tile(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return self.repeat((1,) * (self.ndim - len(dims)) + tuple(dims))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each element (slice along ``dim``) repeated ``repeats`` times in place (flattened if no dim)."""
        x, d = (self.reshape(-1), 0) if dim is None else (self, self._dim(dim))
        n = x.shape[d]
        reps = repeats._data if isinstance(repeats, TensorBase) else np.asarray(repeats)
        if reps.ndim > 1 or (reps.ndim == 1 and reps.size not in (1, n)) or np.any(reps < 0):
            raise RuntimeError(f"repeat_interleave: expected non-negative repeats, one or {n} of them, got "
                               f"{reps.tolist()}")
        return x.index_select(d, self._new(np.repeat(np.arange(n), reps)))

    def broadcast_to(self, size):
        return self.expand(size)

    # ------------------------------------------------------------------ matrix parts
    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The diagonal of dims (dim1, dim2), ``offset`` above (> 0) or below it, as the last dim."""
        a, b = self._dim(dim1), self._dim(dim2)
        if a == b:
            raise RuntimeError(f"diagonal: expected two different dims, got {dim1} and {dim2}")
        x = self.movedim((a, b), (-2, -1))
        r0, c0 = max(-offset, 0), max(offset, 0)
        n = max(0, min(x.shape[-2] - r0, x.shape[-1] - c0))
        return x[..., self._new(np.arange(n) + r0), self._new(np.arange(n) + c0)]

    def diag(self, diagonal=0):
        """1-D -> the square matrix with it on diagonal ``diagonal``; 2-D -> that diagonal."""
        if self.ndim == 2:
            return self.diagonal(diagonal)
        if self.ndim != 1:
            raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got shape {tuple(self.shape)}")
        n = self.shape[0]
        m = n + abs(diagonal)
        out = self._new(np.zeros((m, m), self.dtype))
        r0, c0 = max(-diagonal, 0), max(diagonal, 0)
        out[self._new(np.arange(n) + r0), self._new(np.arange(n) + c0)] = self
        return out

    def trace(self):
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, got shape {tuple(self.shape)}")
        return self.diagonal().sum()

    def _triangle(self, op, keep):
        if self.ndim < 2:
            raise RuntimeError(
                f"{op}: expected a tensor with 2 or more dimensions, got shape {tuple(self.shape)}"
            )
        return self.masked_fill(self._new(~keep(*self.shape[-2:])), 0)

    def tril(self, diagonal=0):
        """Zero above diagonal ``diagonal`` of the last two dims."""
        return self._triangle("tril", lambda n, m: np.tri(n, m, diagonal, dtype=bool))

    def triu(self, diagonal=0):
        """Zero below diagonal ``diagonal`` of the last two dims."""
        return self._triangle("triu", lambda n, m: ~np.tri(n, m, diagonal - 1, dtype=bool))

    def tril_(self, diagonal=0):
        return self._inplace(lambda s: s.tril(diagonal))

    def triu_(self, diagonal=0):
        return self._inplace(lambda s: s.triu(diagonal))

    def fill_diagonal_(self, fill_value, wrap=False):
        if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
            raise RuntimeError(f"fill_diagonal_: expected a matrix or a tensor with all dims equal, got "
                               f"shape {tuple(self.shape)}")
        if _state.enabled and self.requires_grad:
            self._check_inplace()
            n = min(self.shape)
            self[(self._new(np.arange(n)),) * self.ndim] = fill_value
            return self
        self._check_inplace(False)
        np.fill_diagonal(self._data, fill_value, wrap=wrap)
        self._bump_version()
        return self

    # ------------------------------------------------------------------ shape in place
    def _reshape_inplace(self, fn):
        r = fn(self)
        self._data = r._data
        if self.grad_fn is not None:
            self.grad_fn, self._output_nr = r.grad_fn, r._output_nr
        return self

    def unsqueeze_(self, dim):
        return self._reshape_inplace(lambda s: s.unsqueeze(dim))

    def squeeze_(self, dim=None):
        return self._reshape_inplace(lambda s: s.squeeze(dim))

    def t_(self):
        return self._reshape_inplace(lambda s: s.t())

    def transpose_(self, dim0, dim1):
        return self._reshape_inplace(lambda s: s.transpose(dim0, dim1))

    def resize_(self, *sizes):
        """A new shape; the elements that fit are kept, new ones are uninitialised (out= tensors)."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if self.requires_grad:
            raise RuntimeError("resize_: expected a tensor that does not require grad, got one that does")
        n = int(np.prod(sizes))
        if n == self._data.size and self._data.flags.c_contiguous:
            self._data = self._data.reshape(sizes)
        else:
            new = np.empty(sizes, self._data.dtype)
            k = min(n, self._data.size)
            new.reshape(-1)[:k] = self._data.reshape(-1)[:k]
            self._data = new
        self._bump_version()
        return self

    def resize_as_(self, other):
        return self.resize_(other.shape)

    def __contains__(self, element):
        if not isinstance(element, (TensorBase, numbers.Number)):
            raise RuntimeError(
                f"Tensor.__contains__: expected a Tensor or a number, got {type(element).__name__}"
            )
        return bool((self == element).any())

    # ------------------------------------------------------------------ counting
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values in ascending order (of slices along ``dim`` if given), with optionally
        where each element went (``inverse``) and how many of each there are (``counts``)."""
        axis = None if dim is None else self._dim(dim)
        res = np.unique(self._data, return_inverse=return_inverse, return_counts=return_counts, axis=axis)
        if not (return_inverse or return_counts):
            return self._new(res)
        out = [self._new(res[0])]
        if return_inverse:
            inv = res[1].reshape(self.shape if axis is None else (-1,)).astype(np.int64)
            out.append(self._new(inv))
        if return_counts:
            out.append(self._new(res[-1].astype(np.int64)))
        return tuple(out)

    def bincount(self, weights=None, minlength=0):
        """How many times each value 0 .. max occurs (sums of ``weights`` instead when given)."""
        a = self._data
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise RuntimeError(f"bincount: expected a 1-D integer tensor, got shape {tuple(a.shape)} and "
                               f"dtype {a.dtype}")
        if a.size and a.min() < 0:
            raise RuntimeError(f"bincount: expected non-negative values, got {a.min()}")
        if weights is None:
            return self._new(np.bincount(a, minlength=minlength).astype(np.int64))
        w = weights._data if isinstance(weights, TensorBase) else np.asarray(weights)
        out = np.bincount(a, w, minlength=minlength)
        return self._new(out.astype(w.dtype if w.dtype.kind == "f" else np.float64))

    def histc(self, bins=100, min=0, max=0):
        """Counts in ``bins`` equal bins over [min, max] (the data's range when min = max); values
        outside are ignored."""
        a = self._data
        if a.dtype.kind != "f":
            raise RuntimeError(f"histc: expected a floating point tensor, got dtype {a.dtype}")
        lo, hi = float(min), float(max)
        if lo == hi and a.size:
            lo, hi = float(a.min()), float(a.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if lo > hi:
            raise RuntimeError(f"histc: expected max >= min, got min {lo} and max {hi}")
        counts, _ = np.histogram(a, bins=bins, range=(lo, hi))
        return self._new(counts.astype(a.dtype))
