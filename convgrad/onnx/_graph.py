"""The ONNX graph under construction while an export writes the recorded ops: nodes, initializers, and the
ONNX name of every traced value."""

import numpy as np

from convgrad.tensor import Tensor

from ._common import _onnx
from ._trace import value_key


class _Graph:
    def __init__(self, opset, dynamic_batch):
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.nodes = []
        self.initializers = []
        self.env = {}  # value key -> ONNX name
        self.lazy = {}  # value key -> (state_dict name, array): initializers made on first use
        self.keep = []  # what the keys' ids refer to, kept alive
        self.used_names = set()
        self.counter = 0

    def fresh(self, hint):
        self.counter += 1
        name = f"{hint}_{self.counter}"
        while name in self.used_names:
            self.counter += 1
            name = f"{hint}_{self.counter}"
        self.used_names.add(name)
        return name

    def const(self, array, hint="const"):
        array = np.asarray(array)
        name = self.fresh(hint)
        self.initializers.append(_onnx().numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def ints(self, values, hint="shape"):
        return self.const(np.asarray(values, np.int64), hint)

    def node(self, op_type, inputs, n_outputs=1, **attrs):
        outs = [self.fresh(op_type) for _ in range(n_outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(_onnx().helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_outputs == 1 else outs

    def bind(self, t, name):
        self.keep.append(t)
        self.env[value_key(t)] = name
        self.env[("array", id(t._data))] = name

    def name(self, value, dtype=None):
        """The ONNX name of an op argument: a traced value, a parameter/buffer, or a new constant (a
        Python number becomes a constant of ``dtype``)."""
        if value is None:
            return ""
        if isinstance(value, Tensor):
            for key in (value_key(value), ("obj", id(value)), ("array", id(value._data))):
                if key in self.env:
                    return self.env[key]
                if key in self.lazy:
                    return self._materialise(key)
            return self._constant_of(value._data)
        if isinstance(value, np.ndarray):
            key = ("array", id(value))
            if key in self.env:
                return self.env[key]
            if key in self.lazy:
                return self._materialise(key)
            return self._constant_of(value)
        return self.const(np.asarray(value, dtype), "scalar")

    def _materialise(self, key):
        name, array = self.lazy[key]
        if name in self.used_names:  # a parameter reached through another key (tensor vs. its array)
            return name
        self.used_names.add(name)
        self.initializers.append(_onnx().numpy_helper.from_array(np.ascontiguousarray(array), name))
        for k, (n, _) in self.lazy.items():
            if n == name:
                self.env[k] = name
        return name

    def _constant_of(self, array):
        name = self.const(array)
        self.keep.append(array)
        self.env[("array", id(array))] = name
        return name

    # opset-dependent spellings
    def reduce(self, op_type, x, axes, keepdims):
        if axes is None:
            return self.node(op_type, [x], keepdims=int(keepdims))
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes, "axes")], keepdims=int(keepdims))
        return self.node(op_type, [x], axes=axes, keepdims=int(keepdims))

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.ints(axes, "axes")])

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.ints(axes, "axes")])
