"""Names PyTorch has and convgrad deliberately does not: using one raises ``NotImplementedError`` that
names the PyTorch feature and why, instead of an ``AttributeError`` from deep inside a script."""


class Missing:
    """Stands for ``{where}.{name}``; calling it, or reading an attribute of it, raises."""

    def __init__(self, where, name, why):
        self._where, self._name, self._why = where, name, why

    def _raise(self):
        torch_name = "torch" + self._where[len("convgrad"):] + "." + self._name
        raise NotImplementedError(
            f"{self._where}.{self._name}: PyTorch's {torch_name} is not provided by convgrad ({self._why})"
        )

    def __call__(self, *args, **kwargs):
        self._raise()

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._raise()

    def __repr__(self):
        return f"<{self._where}.{self._name}: not provided by convgrad ({self._why})>"


def module_getattr(where, missing):
    """A module ``__getattr__``: ``missing`` maps a name to why it is absent; other names are unknown."""

    def __getattr__(name):
        if name in missing:
            return Missing(where, name, missing[name])
        raise AttributeError(f"module '{where}' has no attribute '{name}'")

    return __getattr__
