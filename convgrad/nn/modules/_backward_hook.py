"""Module backward hooks: identity nodes around a module's tensor inputs and outputs. The output node
records dL/d(outputs); the input node, reached later, calls ``hook(module, grad_input, grad_output)``."""

from convgrad.autograd.function import NumpyFunction
from convgrad.tensor import Tensor


def _as_tensors(arrays):
    return tuple(None if a is None else Tensor._make(a) for a in arrays)


class _State:
    def __init__(self, module, n_inputs):
        self.module = module
        self.grad_output = None
        self.n_inputs = n_inputs
        self.fired = False

    def fire(self, grad_input):
        """Run the module's backward hooks; returns the (possibly replaced) input gradients."""
        self.fired = True
        gi = _as_tensors(grad_input)
        go = _as_tensors(self.grad_output or ())
        for hook in list(self.module._backward_hooks.values()):
            r = hook(self.module, gi, go)
            if r is not None:
                r = r if isinstance(r, tuple) else (r,)
                if len(r) != len(gi):
                    raise RuntimeError(
                        f"backward hook returned {len(r)} gradients; the module has {len(gi)} inputs"
                    )
                gi = r
        return tuple(None if g is None else g._data for g in gi)


class _Identity(NumpyFunction):
    """Passes its arrays through; the subclasses' backward is where the hook state acts."""

    @staticmethod
    def forward(ctx, *arrays):
        return arrays if len(arrays) > 1 else arrays[0]


class _InputIdentity(_Identity):
    @staticmethod
    def backward(ctx, *grads):
        return ctx.state.fire(grads)


class _OutputIdentity(_Identity):
    @staticmethod
    def backward(ctx, *grads):
        state = ctx.state
        state.grad_output = grads
        if not state.inputs_need_grad:
            state.fire((None,) * state.n_inputs)
        return grads


def _through(identity, items, idx, state):
    """``items`` as a list with ``items[i]`` (i in ``idx``) passed through one ``identity`` node that
    carries the hook ``state``."""
    outs = identity.apply(*(items[i] for i in idx))
    outs = outs if isinstance(outs, tuple) else (outs,)
    node = outs[0].grad_fn
    if node is not None:
        node.state = state
    new = list(items)
    for i, t in zip(idx, outs):
        new[i] = t
    return new


def wrap_inputs(module, args):
    tensors = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    state = _State(module, len(tensors))
    module.__dict__["_bw_state"] = state
    grad_idx = [i for i in tensors if args[i].requires_grad]
    state.inputs_need_grad = bool(grad_idx)
    if not grad_idx:
        return args
    return tuple(_through(_InputIdentity, args, grad_idx, state))


def wrap_outputs(module, out):
    state = module.__dict__.pop("_bw_state", None)
    if state is None:
        return out
    single = isinstance(out, Tensor)
    items = (out,) if single else out
    if not isinstance(items, (tuple, list)):
        return out
    idx = [i for i, t in enumerate(items) if isinstance(t, Tensor) and t.requires_grad]
    if not idx:
        return out
    new = _through(_OutputIdentity, items, idx, state)
    if single:
        return new[0]
    return type(out)(new) if isinstance(out, tuple) else new
