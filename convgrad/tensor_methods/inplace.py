"""In-place Tensor methods (``add_``, ``copy_``, ``fill_``, ``normal_``, ...) and the rules that keep them
safe for autograd: a leaf that requires grad is not changed in place while grad mode is on, and a tensor in
the graph takes the result's node as its own. An in-place op on a view rewrites its base: the base takes
a node that puts the new values at the view's places (PyTorch's CopySlices), and each view of the base a
node that reads its places from there (AsStridedBackward0)."""

import operator

import numpy as np

from convgrad.autograd.function import SavedOutput
from convgrad.autograd.grad_mode import _state, no_grad
from convgrad.ops import elementwise
from convgrad.ops import shape as shape_ops
from convgrad.tensor_methods.base import TensorBase


def _in_place(name):
    """The method ``x.name_()``: ``x.name()`` written into x."""
    def method(self):
        return self._inplace(operator.methodcaller(name))

    method.__name__ = name + "_"
    return method


class InPlaceMethods(TensorBase):
    __slots__ = ()

    def _check_inplace(self, recording=True):
        """PyTorch's rules, checked before every in-place write. ``recording``: the write goes into the
        graph (grad mode is on and the tensor or an operand requires grad)."""
        if recording and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation: wrap the "
                "update in `with convgrad.no_grad():` (as optimisers do) or use an out-of-place op"
            )
        base = self._base
        if base is None:
            return
        if not self._data.flags.writeable:  # a broadcast view (expand): NumPy marks it read-only
            raise RuntimeError(
                f"unsupported operation: more than one element of the written-to tensor (shape "
                f"{tuple(self.shape)}, an expanded view) refers to a single memory location. Please clone() "
                "the tensor before performing the operation.")
        if not _state.enabled:
            return
        if recording and base.requires_grad and base.grad_fn is None:
            raise RuntimeError(
                "a view of a leaf Variable that requires grad is being used in an in-place operation: "
                f"the view (shape {tuple(self.shape)}) shares the leaf's memory; write to a clone, or update "
                "the leaf under `with convgrad.no_grad():`")
        if recording and self._view_kind == "multi-output":
            raise RuntimeError(
                f"Output {self._output_nr} of split/chunk/unbind is a view and is being modified in place. "
                "Such functions do not allow their output views to be modified in place in a graph: use an "
                "out-of-place op, or clone() the output first")
        if self._view_kind == "no_grad view's view" and (recording or base.requires_grad):
            raise RuntimeError(
                f"Output {self._output_nr} of a view is a view of a view which was created in no_grad mode "
                "and is being modified in place with grad mode enabled: make both the view and the in-place "
                "op inside the no_grad block, or both outside it")
        if self._view_kind == "no_grad" and (recording or base.requires_grad):
            raise RuntimeError(
                "A view was created in no_grad mode and is being modified in place with grad mode enabled: "
                "make both the view and the in-place op inside the no_grad block, or both outside it")

    def _rebase(self, result, written=None):
        """In-place on a tensor in the graph: take result's values into our buffer and its node as ours.
        ``written``: the byte extent the write changed (``ops.shape.byte_extent``), None for all of it;
        the views it overlaps take new nodes."""
        if self._base is not None:
            return self._rebase_view(result)
        if result.grad_fn is not None:
            _keep_saved_input(result.grad_fn, self)
        self._data[...] = result._data
        self._bump_version()
        self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
        self.requires_grad = result.requires_grad
        if self.grad_fn is not None:
            _redirect_saved(self.grad_fn, result, self)
        if self._views:
            _renew_view_nodes(self, written)

    def _rebase_view(self, result):
        """In-place on a view in the graph: the base takes ``result`` at the view's places (one node for the
        whole base, as a write through the view changed the base's values) and the view a node reading those
        places back."""
        base = self._base
        positions = shape_ops.flat_positions(base._data, self._data)  # distinct: _check_inplace saw to it
        if result.grad_fn is not None:
            _keep_saved_input(result.grad_fn, self)
        shape_ops.register_view(base, self)  # a view made outside a graph is renewed too
        index = np.unravel_index(positions, base._data.shape)
        base._rebase(shape_ops.SetItem.apply(base, index, result), shape_ops.byte_extent(self._data))

    def _inplace(self, fn, *args):
        """Apply ``fn`` (an out-of-place method) in place."""
        if _state.enabled and (self.requires_grad or any(isinstance(a, TensorBase) and a.requires_grad
                                                         for a in args)):
            self._check_inplace()
            self._rebase(fn(self, *args))
            return self
        self._check_inplace(False)
        with no_grad():
            r = fn(self, *args)
        np.copyto(self._data, r._data, casting="same_kind")
        self._bump_version()
        return self

    def add_(self, other, alpha=1):
        return self._inplace(lambda s, o: s.add(o, alpha=alpha), other)

    def sub_(self, other, alpha=1):
        return self._inplace(lambda s, o: s.sub(o, alpha=alpha), other)

    def mul_(self, other):
        return self._inplace(operator.mul, other)

    def div_(self, other):
        return self._inplace(operator.truediv, other)

    def pow_(self, e):
        return self._inplace(operator.pow, e)

    def clamp_(self, min=None, max=None):
        return self._inplace(lambda s: s.clamp(min, max))

    def neg_(self):
        return self._inplace(operator.neg)

    # x.f_(): x.f() written into x
    exp_, log_, log1p_, expm1_, sqrt_ = map(_in_place, ("exp", "log", "log1p", "expm1", "sqrt"))
    sin_, cos_, tanh_, sigmoid_, relu_ = map(_in_place, ("sin", "cos", "tanh", "sigmoid", "relu"))
    abs_, sign_, reciprocal_, square_ = map(_in_place, ("abs", "sign", "reciprocal", "square"))
    floor_, ceil_, round_, trunc_ = map(_in_place, ("floor", "ceil", "round", "trunc"))

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def zero_(self):
        return self._fill(0, "ZeroBackward0")

    def fill_(self, value):
        return self._fill(value.item() if isinstance(value, TensorBase) else value, "FillBackward2")

    def _fill(self, values, torch_name):
        """Write ``values`` (broadcast) into the tensor. In a graph the tensor takes a node whose gradient to
        what it held is zero, as PyTorch's fills: the old node would pass gradients through the new values."""
        if _state.enabled and self.requires_grad:
            self._check_inplace()
            self._rebase(elementwise.Fill.apply(self, values, torch_name))
            return self
        self._check_inplace(False)
        self._data[...] = values
        self._bump_version()
        return self

    def copy_(self, src):
        src_t = src if isinstance(src, TensorBase) else self._new(np.asarray(src))
        if _state.enabled and (self.requires_grad or src_t.requires_grad):
            self._check_inplace()
            src_t = src_t.expand(self.shape)
            if src_t.dtype != self.dtype:
                r = elementwise.Cast.apply(src_t, self.dtype)
            else:
                r = elementwise.Clone.apply(src_t)
            self._rebase(r)
            return self
        self._check_inplace(False)
        np.copyto(self._data, np.broadcast_to(src_t._data, self._data.shape), casting="unsafe")
        self._bump_version()
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from convgrad.random import rng

        return self._fill(rng(generator).uniform(a, b, self._data.shape), "UniformBackward0")

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from convgrad.random import rng

        return self._fill(rng(generator).normal(mean, std, self._data.shape), "NormalBackward0")

    def bernoulli_(self, p=0.5, generator=None):
        from convgrad.random import rng

        return self._fill(rng(generator).random(self._data.shape) < p, "BernoulliBackward2")


def _renew_view_nodes(root, written):
    """``root`` has new values and a new node: each live view over the ``written`` bytes (all, if None)
    takes a node reading its places from it. A view clear of them keeps its node: its values did not
    change, and its old node leads to the same producers."""
    for ref in list(root._views.values()):
        view = ref()
        if view is None:
            continue
        if written is not None:
            lo, hi = shape_ops.byte_extent(view._data)
            if hi <= written[0] or lo >= written[1]:
                continue
        positions = shape_ops.flat_positions(root._data, view._data)
        r = shape_ops.AsStrided.apply(root, np.unravel_index(positions, root._data.shape))
        view.grad_fn, view._output_nr, view.requires_grad = r.grad_fn, 0, r.requires_grad


def _keep_saved_input(node, t):
    """The op of an in-place call saved ``t``'s own buffer as its input (``clamp_``, ``pow_``, ``elu_``...),
    which the write is about to overwrite: it keeps a private copy instead, as PyTorch keeps the original
    ``self`` for such in-place ops, so a later in-place op on ``t`` does not invalidate its backward. The
    copy is a recorded clone of ``t`` (still at its old node), so a create_graph backward differentiates
    through it to ``t``'s producers."""
    saved = node._saved
    if not saved or type(saved) is not tuple or not any(s is t._data for s in saved):
        return
    copy = elementwise.Clone.apply(t)
    node._saved = tuple(copy._data if s is t._data else s for s in saved)
    if node._saved_versions:
        node._saved_versions = [(copy, copy._vc[0]) if u is t else (u, v) for u, v in node._saved_versions]


def _redirect_saved(node, old, new):
    """After an in-place op, the node saved ``old`` (the result); it now lives in ``new``: the saved array
    too, so create_graph finds the tensor it belongs to (and ``old``'s buffer is freed)."""
    versions = node._saved_versions
    if versions:
        node._saved_versions = [(SavedOutput.of(new, t.output_nr), new._vc[0])
                                if type(t) is SavedOutput and t() is old else (t, v) for t, v in versions]
        saved, a, b = node._saved, old._data, new._data
        if saved and a.dtype == b.dtype and a.shape == b.shape:
            node._saved = tuple(b if s is a else s for s in saved)
