"""Module hooks: forward pre-hooks, forward hooks and full backward hooks, and the handles that remove
them. ``Module`` inherits the registration methods and the hook-running call path from ``HookMixin``."""

import itertools
import weakref

_hook_ids = itertools.count()


class RemovableHandle:
    """Returned by ``register_*_hook``: ``handle.remove()`` unregisters the hook (also a context manager)."""

    def __init__(self, *hook_dicts):
        self.id = next(_hook_ids)
        self._dicts = [weakref.ref(d) for d in hook_dicts]

    def remove(self):
        for ref in self._dicts:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _HookDict(dict):
    """Hooks by handle id (a dict subclass, so that handles can hold a weak reference to it)."""


class HookMixin:
    """The hook half of ``Module``: its ``__init__`` creates the hook dicts these methods use."""

    def _call_with_hooks(self, args, kwargs):
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in self._forward_pre_hooks_with_kwargs:
                r = hook(self, args, kwargs)
                if r is not None:
                    if not (isinstance(r, tuple) and len(r) == 2):
                        raise RuntimeError(
                            "forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                            f"but got {r}."
                        )
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        if self._backward_hooks:
            args = self._backward_hook_inputs(args)
        try:
            out = self.forward(*args, **kwargs)
        except Exception:
            for hid, hook in list(self._forward_hooks.items()):
                if hid in self._forward_hooks_always_called:
                    try:
                        if hid in self._forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception:
                        pass
            raise
        for hid, hook in list(self._forward_hooks.items()):
            if hid in self._forward_hooks_with_kwargs:
                r = hook(self, args, kwargs, out)
            else:
                r = hook(self, args, out)
            if r is not None:
                out = r
        if self._backward_hooks:
            out = self._backward_hook_outputs(out)
        return out

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args) -> None or new args`` runs before ``forward``
        (``hook(module, args, kwargs) -> None or (args, kwargs)`` with ``with_kwargs=True``)."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._insert_hook(self._forward_pre_hooks, handle.id, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """``hook(module, args, output) -> None or new output`` runs after ``forward``."""
        handle = RemovableHandle(self._forward_hooks)
        self._insert_hook(self._forward_hooks, handle.id, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """``hook(module, grad_input, grad_output) -> None or new grad_input`` runs when the gradients
        with respect to the module's tensor inputs have been computed."""
        handle = RemovableHandle(self._backward_hooks)
        self._insert_hook(self._backward_hooks, handle.id, hook, prepend)
        return handle

    register_backward_hook = register_full_backward_hook

    @staticmethod
    def _insert_hook(hooks, hid, hook, prepend):
        if prepend:
            items = list(hooks.items())
            hooks.clear()
            hooks[hid] = hook
            hooks.update(items)
        else:
            hooks[hid] = hook

    def _backward_hook_inputs(self, args):
        """Route tensor inputs through identity nodes so their gradients can be collected."""
        from convgrad.nn.modules._backward_hook import wrap_inputs

        return wrap_inputs(self, args)

    def _backward_hook_outputs(self, out):
        from convgrad.nn.modules._backward_hook import wrap_outputs

        return wrap_outputs(self, out)
