"""What every picture needs: matplotlib on the Agg backend (no display), saving, arrays from tensors, layer
look-up by name."""

import math
import os

import numpy as np


class VizError(ValueError):
    """A picture cannot be drawn from what was given (a layer that does not exist, an input of the wrong
    shape, ...); the message says what was expected."""


class LayerNotFoundError(VizError, KeyError):
    """No layer of that name; the message lists the layers there are."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def _plt():
    try:
        import matplotlib
    except ImportError:  # optional: only plots need it
        raise ImportError("convgrad.viz: plots need matplotlib, which is not installed: "
                          "`pip install matplotlib`") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    """Write ``fig`` to ``path`` (PNG, or what the suffix says) when a path is given; return the Figure.
    The figure is released from pyplot either way, so drawing many pictures does not keep them all."""
    if path is not None:
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    _plt().close(fig)
    return fig


def _array(x):
    if hasattr(x, "detach"):
        x = x.detach()
    if hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x)


def _grid(n, cols=None):
    cols = cols or int(math.ceil(math.sqrt(n)))
    return int(math.ceil(n / cols)), cols


def find_layer(model, layer):
    """``layer`` itself if it is a module, else the module of ``model`` with that dotted name; an unknown
    name lists the layers that exist."""
    if isinstance(layer, str):
        modules = dict(model.named_modules())
        if layer not in modules:
            names = ", ".join(n for n in modules if n)
            raise LayerNotFoundError(f"no layer named '{layer}' in {type(model).__name__}; its layers: "
                                     f"{names}")
        return modules[layer]
    return layer


def layer_name(model, layer):
    """The dotted name of ``layer`` in ``model`` (or the string given)."""
    if isinstance(layer, str):
        return layer
    for name, m in model.named_modules():
        if m is layer:
            return name or type(model).__name__
    return type(layer).__name__
