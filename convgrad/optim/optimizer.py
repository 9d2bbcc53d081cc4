"""``Optimizer``: parameter groups, per-parameter state, ``zero_grad`` and ``state_dict`` in PyTorch's
layout (state keyed by the parameter's position across all groups). Subclasses implement ``step``,
updating ``p._data`` in place with NumPy (no graph is recorded)."""

import copy
from collections import defaultdict

import numpy as np

from convgrad import _checks as checks
from convgrad.autograd.grad_mode import enable_grad, no_grad
from convgrad.nn.parameter import zero_grads
from convgrad.tensor import Tensor


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _scalar_state(value, dtype=np.float32):
    """A 0-d tensor (how PyTorch keeps ``step``)."""
    return Tensor._make(np.array(value, dtype))


def _new_state(p, *buffers):
    """A parameter's first state: ``step`` = 0 and a zero tensor shaped like ``p`` per buffer name."""
    state = {"step": _scalar_state(0.0)}
    for name in buffers:
        state[name] = Tensor._make(np.zeros_like(p._data))
    return state


_HYPER_NAMES = {"lr": "learning rate", "eps": "epsilon value"}


def _check_nonnegative(**hyper):
    """PyTorch's checks of the hyper-parameters that must be >= 0, in its order and words
    ("Invalid learning rate: -1", "Invalid momentum value: -0.5")."""
    for name, value in hyper.items():
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_HYPER_NAMES.get(name, name + ' value')}: {value}")


def _ascent_and_decay(p, grad, group):
    """The gradient the update follows: negated with ``maximize``, plus ``weight_decay * p`` (L2)."""
    g = -grad if group["maximize"] else grad
    if group["weight_decay"] != 0:
        g = g + p._data * group["weight_decay"]
    return g


class Optimizer:
    """Base class of all optimisers.

    ``params`` is an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter groups)
    with a ``"params"`` entry and per-group options overriding ``defaults``."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, but got "
                + params.type()
            )
        if isinstance(params, dict):
            params = [params]
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(dict(group))

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        s = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    s += f"\n    {key}: {group[key]}"
        return s + "\n)"

    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``"params"``) with its own options."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a "
                            "list instead.")
        else:
            params = list(params)
        if params and isinstance(params[0], tuple):
            names = [n for n, _ in params]
            params = [p for _, p in params]
            param_group["param_names"] = names
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required optimization "
                                 f"parameter {name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            import warnings

            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this "
                          "will cause an error", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient (to None by default, else to zeros)."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    @no_grad()
    def step(self, closure=None):
        """One update of every parameter that has a gradient; ``closure`` (optional) re-evaluates the
        model with gradients enabled and its loss is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad._data, group)
                    p._bump_version()
        return loss

    def _update(self, p, grad, group):
        """Update ``p._data`` in place from its gradient array ``grad`` (its state: ``self.state[p]``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``: parameters are
        numbered by their position across all groups, so the dict can be loaded into a fresh optimiser
        built on the same parameters. The state tensors are the optimiser's own (not copies)."""
        index = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(group["params"])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = self.state[p]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load what ``state_dict`` returned (a deep copy is taken; state tensors are cast to their
        parameter's floating dtype, except ``step``)."""
        state_dict = _copy_state(state_dict)
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise checks.error(f"{type(self).__name__}.load_state_dict", f"a state dict with the optimizer's "
                               f"{len(groups)} parameter groups", f"{len(saved_groups)} groups", ValueError)
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise checks.error(f"{type(self).__name__}.load_state_dict",
                                   f"{len(g['params'])} parameters in group {i} (the optimizer's)",
                                   f"{len(sg['params'])} in the state dict", ValueError)
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            for saved_id, p in zip(sg["params"], g["params"]):
                id_map[saved_id] = p
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            key = int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k
            if key in id_map:
                p = id_map[key]
                state[p] = {name: self._cast_state(p, name, value) for name, value in v.items()}
            else:
                state[k] = v
        new_groups = []
        for g, sg in zip(groups, saved_groups):
            ng = dict(sg)
            ng["params"] = g["params"]
            if "param_names" in g and "param_names" not in ng:
                ng["param_names"] = g["param_names"]
            new_groups.append(ng)
        self.state = state
        self.param_groups = new_groups

    @staticmethod
    def _cast_state(param, key, value):
        if isinstance(value, np.ndarray):
            value = Tensor._make(value)
        if not isinstance(value, Tensor):
            return value
        if key == "step":
            return value
        if value.dtype.kind == "f" and param.dtype.kind == "f" and value.dtype != param.dtype:
            return Tensor._make(value._data.astype(param.dtype))
        return value


def _copy_state(obj):
    """A deep copy of a state dict whose tensors own fresh, writable arrays."""
    if isinstance(obj, Tensor):
        return Tensor._make(np.array(obj._data, copy=True))
    if isinstance(obj, np.ndarray):
        return np.array(obj, copy=True)
    if isinstance(obj, dict):
        return {k: _copy_state(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy_state(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_copy_state(v) for v in obj)
    return copy.deepcopy(obj)

