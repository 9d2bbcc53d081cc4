"""Recording the ops a forward runs: while a ``Tracer`` is installed as ``autograd.function._recorder``,
every ``NumpyFunction.apply`` runs as usual and is appended to ``tracer.records`` as
(op class, positional arguments, keyword arguments, outputs)."""

from dataclasses import dataclass

from convgrad.autograd import function as _function
from convgrad.tensor import Tensor


@dataclass
class Record:
    op: type
    args: tuple
    kwargs: dict
    outs: tuple  # the output Tensors, one or more


def value_key(t):
    """What identifies the value a Tensor holds now: its node and output number when it has one (an
    in-place op moves the node, so ``x.relu_()`` makes ``x`` name the new value), else the object."""
    node = t.grad_fn
    if node is not None:
        return ("node", id(node), t._output_nr)
    return ("obj", id(t))


class Tracer:
    def __init__(self):
        self.records = []

    def __call__(self, op, args, kwargs):
        # run the op untraced (ops called inside its forward are its own business), then record it
        _function._recorder = None
        try:
            out = op.apply(*args, **kwargs)
        finally:
            _function._recorder = self
        outs = out if isinstance(out, tuple) else (out,)
        self.records.append(Record(op, args, kwargs, outs))
        return out

    def __enter__(self):
        if _function._recorder is not None:
            raise RuntimeError("convgrad.onnx: a forward is already being traced (nested export?)")
        _function._recorder = self
        return self

    def __exit__(self, *exc):
        _function._recorder = None
        return False


__all__ = ["Record", "Tensor", "Tracer", "value_key"]
