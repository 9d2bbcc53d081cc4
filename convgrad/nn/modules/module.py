"""``Module``: the base of every layer and network. A module owns parameters, buffers and child modules,
registered by plain attribute assignment, and computes ``forward``; calling it runs the hooks too."""

from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from convgrad.autograd.grad_mode import no_grad
from convgrad.devices import check_device, device
from convgrad.nn.modules.hooks import HookMixin, RemovableHandle, _HookDict  # noqa: F401 (RemovableHandle: re-exported)
from convgrad.nn.parameter import Buffer, Parameter, zero_grads
from convgrad.tensor import Tensor

# exceptions from inside forward that get the layer's name put in front of their message
_ANNOTATED = (RuntimeError, ValueError, TypeError, IndexError)


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(text, spaces):
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line if line.strip() else "" for line in lines[1:])


def _typename(value):
    if isinstance(value, Tensor):
        return value.type()
    return type(value).__name__


def _annotate(module, exc):
    """Put the layer that failed in front of an error's message (once: the innermost layer wins)."""
    if getattr(exc, "_convgrad_module", None) is not None:
        return
    try:
        exc._convgrad_module = module
    except AttributeError:
        return
    if isinstance(exc, _ANNOTATED) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc.args = (f"{module._error_name()}: {exc.args[0]}",)


def _fast(module, name):
    """``module.<name>`` for a parameter or buffer without the slow ``__getattr__`` fallback (hot paths)."""
    d = module.__dict__
    p = d["_parameters"]
    if name in p:
        return p[name]
    b = d["_buffers"]
    if name in b:
        return b[name]
    return getattr(module, name)


def _initialised(registry, what):
    if registry is None:
        raise AttributeError(f"cannot assign {what} before Module.__init__() call")


def _entry(value, what, name, expected, tensor_ok=False):
    """``value`` if it may replace the entry ``name`` of a registry: None (or any Tensor, ``tensor_ok``)."""
    if value is not None and not (tensor_ok and isinstance(value, Tensor)):
        raise TypeError(f"cannot assign '{_typename(value)}' as {what} '{name}' ({expected} or None "
                        "expected)")
    return value


class Module(HookMixin):
    """Base class of all layers and networks.

    Subclasses call ``super().__init__()`` first, then assign ``Parameter``s, child ``Module``s and
    buffers (``register_buffer``) as attributes, and define ``forward``."""

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments: Module.__init__() takes none"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = _HookDict()
        d["_forward_hooks"] = _HookDict()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_hooks_always_called"] = set()
        d["_backward_hooks"] = _HookDict()

    def forward(self, *input):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # ------------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        try:
            # _has_hooks() written out: a method call here would cost every layer call
            if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks:
                return self._call_with_hooks(args, kwargs)
            return self.forward(*args, **kwargs)
        except Exception as e:
            _annotate(self, e)
            raise

    def _has_hooks(self):
        """Whether a hook must see this layer's call (then its output cannot be fused into the next op's)."""
        return bool(self._forward_pre_hooks or self._forward_hooks or self._backward_hooks)

    def _error_name(self):
        """How error messages name this layer: its one-line repr, or its class for a network."""
        short = getattr(self, "_short_repr", None)
        if short is not None:
            return short()
        if self._modules:
            return type(self).__name__
        r = repr(self)
        return r if "\n" not in r else type(self).__name__

    def _input_error(self, message):
        """An error about this layer's input, already carrying the layer's name."""
        e = RuntimeError(f"{self._error_name()}: {message}")
        e._convgrad_module = self
        return e

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        d = self.__dict__
        params, modules, buffers = d.get("_parameters"), d.get("_modules"), d.get("_buffers")
        if isinstance(value, Parameter):
            _initialised(params, "parameters")
            self._forget(name, "_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            params[name] = _entry(value, "parameter", name, "convgrad.nn.Parameter")
        elif isinstance(value, Module):
            _initialised(modules, "module")
            self._forget(name, "_modules")
            modules[name] = value
        elif modules is not None and name in modules:
            modules[name] = _entry(value, "child module", name, "convgrad.nn.Module")
        elif isinstance(value, Buffer):
            _initialised(buffers, "buffer")
            self._forget(name, "_buffers")
            self.register_buffer(name, value, persistent=value.persistent)
        elif buffers is not None and name in buffers:
            buffers[name] = _entry(value, "buffer", name, "convgrad.Tensor", tensor_ok=True)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Remove ``name`` from every registry but ``keep`` (so re-assigning keeps its position)."""
        d = self.__dict__
        d.pop(name, None)
        for k in ("_parameters", "_buffers", "_modules"):
            if k != keep:
                d[k].pop(name, None)
        if keep != "_buffers":
            d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for k in ("_parameters", "_buffers", "_modules"):
            store = d.get(k)
            if store is not None and name in store:
                return store[name]
        cls = type(self).__name__
        if "_parameters" not in d and not name.startswith("__"):
            raise AttributeError(
                f"'{cls}' object has no attribute '{name}': {cls}.__init__ must call super().__init__() "
                "before anything else"
            )
        raise AttributeError(f"'{cls}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for k in ("_parameters", "_buffers", "_modules"):
            if name in d.get(k, ()):
                del d[k][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        keys = list(dir(type(self))) + list(self.__dict__)
        keys += list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def _check_new_name(self, kind, name):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        d = self.__dict__
        if name in d or (hasattr(type(self), name) and name not in d.get("_parameters", ())
                         and name not in d.get("_buffers", ()) and name not in d.get("_modules", ())):
            raise KeyError(f"attribute '{name}' already exists")

    def _check_can_register(self, store, kind, name):
        """Before ``register_{kind}``: called after ``__init__``, and a new name is valid and free."""
        d = self.__dict__
        _initialised(d.get(store), kind)
        if name not in d[store]:
            self._check_new_name(kind, name)
            if any(name in d[other] for other in ("_parameters", "_buffers", "_modules") if other != store):
                raise KeyError(f"attribute '{name}' already exists")

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is part of the module's state but not learnt (e.g. BatchNorm's running mean).
        Persistent buffers go into ``state_dict``."""
        self._check_can_register("_buffers", "buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_typename(tensor)}' object to buffer '{name}' (convgrad Tensor "
                "or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        """Add ``param`` (a ``Parameter`` or None) under ``name``."""
        self._check_can_register("_parameters", "parameter", name)
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                "(convgrad.nn.Parameter or None required)"
            )
        if param.grad_fn is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                f"explicitly. To express '{name}' as a function of another Tensor, compute the value in "
                "the forward() method."
            )
        self._parameters[name] = param

    def add_module(self, name, module):
        """Add a child module (``None`` allowed) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if name not in self._modules:
            self._check_new_name("module", name)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not isinstance(mod, Module) or item not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target):
        return self._get_entry(target, "_parameters", "parameter")

    def get_buffer(self, target):
        return self._get_entry(target, "_buffers", "buffer")

    def _get_entry(self, target, store, kind):
        """The entry ``a.b.name`` of submodule ``a.b``'s registry ``store``."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        registry = mod.__dict__[store]
        if name not in registry:
            raise AttributeError(f"{mod._get_name()} has no {kind} `{name}`")
        return registry[name]

    # ------------------------------------------------------------------ iteration
    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in memo:
                        continue
                    memo.add(id(v))
                yield (module_prefix + "." + k if module_prefix else k), v

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_children(self):
        memo = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + "." + name if prefix else name, remove_duplicate)

    # ------------------------------------------------------------------ modes and gradients
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        zero_grads(self.parameters(), set_to_none)

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and on self, e.g. for custom initialisation."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ dtype and device
    def _apply(self, fn):
        """``fn(array) -> array`` on every parameter, gradient and buffer, keeping the Tensor objects
        (an optimiser built before ``model.double()`` still holds the same parameters)."""
        for m in self.children():
            m._apply(fn)
        for p in self._parameters.values():
            if p is None:
                continue
            p._data = fn(p._data)
            if p.grad is not None:
                p.grad._data = fn(p.grad._data)
        for b in self._buffers.values():
            if b is not None:
                b._data = fn(b._data)
        return self

    def _cast_floats(self, dtype):
        dtype = np.dtype(dtype)
        return self._apply(lambda a: a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a)

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``: floating point parameters
        and buffers take the dtype; any device but the CPU raises."""
        dtype = kwargs.get("dtype")
        check_device(kwargs.get("device"), "Module.to")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif a is None:
                continue
            elif isinstance(a, (str, device)):
                check_device(a, "Module.to")
            else:
                dtype = a
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(
                f"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype={dtype}"
            )
        return self._cast_floats(dtype)

    def cpu(self):
        return self

    def cuda(self, device=None):
        check_device(f"cuda:{device}" if isinstance(device, int) else device or "cuda", "Module.cuda")

    def float(self):
        return self._cast_floats(np.float32)

    def double(self):
        return self._cast_floats(np.float64)

    def half(self):
        return self._cast_floats(np.float16)

    def type(self, dst_type):
        return self._apply(lambda a: a.astype(dst_type))

    def share_memory(self):
        return self

    # ------------------------------------------------------------------ state dict
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An ordered dict of every parameter and persistent buffer under its dotted name; the tensors
        share memory with the module's (detached unless ``keep_vars``)."""
        if args:
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs, assign=False):
        """Copy this module's own entries (``prefix + name``) from ``state_dict`` in place."""
        local = [(n, p, True) for n, p in self._parameters.items() if p is not None]
        local += [(n, b, False) for n, b in self._buffers.items()
                  if b is not None and n not in self._non_persistent_buffers_set]
        for name, current, is_param in local:
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                array = value._data
            elif isinstance(value, (np.ndarray, np.generic, int, float, bool)):
                array = np.asarray(value)
            else:
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected a convgrad Tensor or NumPy array '
                    f"from checkpoint but received {type(value).__name__}"
                )
                continue
            if current.ndim == 0 and array.shape == (1,):
                array = array.reshape(())
            if array.shape != current.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} from "
                    f"checkpoint, the shape in current model is {tuple(current.shape)}."
                )
                continue
            if assign:
                if is_param:
                    new = Parameter(Tensor._make(np.array(array, copy=True)), current.requires_grad)
                    self._parameters[name] = new
                else:
                    self._buffers[name] = Tensor._make(np.array(array, copy=True))
                continue
            try:
                with no_grad():
                    np.copyto(current._data, array, casting="unsafe")
                current._bump_version()
            except Exception as e:  # e.g. a read-only array
                error_msgs.append(
                    f'While copying the parameter named "{key}", whose dimensions in the model are '
                    f"{tuple(current.shape)} and whose dimensions in the checkpoint are "
                    f"{tuple(array.shape)}, an exception occurred : {e}."
                )

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from ``state_dict`` into this module.

        Returns ``(missing_keys, unexpected_keys)``; with ``strict=True`` (the default) any missing or
        unexpected key raises, and a wrong shape always raises. One error lists every bad key."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        missing, unexpected, errors = [], [], []
        expected = set()

        def load(module, prefix):
            for n, p in module._parameters.items():
                if p is not None:
                    expected.add(prefix + n)
            for n, b in module._buffers.items():
                if b is not None and n not in module._non_persistent_buffers_set:
                    expected.add(prefix + n)
            module._load_from_state_dict(state_dict, prefix, {}, True, missing, unexpected, errors, assign)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        load(self, "")
        unexpected.extend(k for k in state_dict if k not in expected)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError(
                "Error(s) in loading state_dict for "
                "{}:\n\t{}".format(type(self).__name__, "\n\t".join(errors))
            )
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr
    # what the default extra_repr shows: the attributes named in _repr_args as bare values, then those in
    # _repr_fields as name=value (``inplace`` only when True, as PyTorch prints it)
    _repr_args = ()
    _repr_fields = ()

    def extra_repr(self):
        """The text inside the parentheses of this layer's repr (its settings)."""
        parts = [str(getattr(self, name)) for name in self._repr_args]
        parts += [f"{name}={getattr(self, name)}" for name in self._repr_fields
                  if name != "inplace" or self.inplace]
        return ", ".join(parts)

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({k}): " + _addindent(repr(m), 2) for k, m in self._modules.items()]
        lines = extra_lines + child_lines
        s = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                s += extra_lines[0]
            else:
                s += "\n  " + "\n  ".join(lines) + "\n"
        return s + ")"

    def __setstate__(self, state):
        self.__dict__.update(state)


class _FunctionalLayer(Module):
    """A layer that keeps its settings and calls one functional op with them: ``forward(input)`` is
    ``_function(input, *settings)``. ``_repr_fields`` names the settings in the op's argument order (the
    default ``extra_repr`` shows them); a subclass's ``__init__`` passes their values in that order."""

    _function = None

    def __init__(self, *settings):
        super().__init__()
        for name, value in zip(self._repr_fields, settings, strict=True):
            setattr(self, name, value)

    def forward(self, input):
        return self._function(input, *[getattr(self, name) for name in self._repr_fields])
