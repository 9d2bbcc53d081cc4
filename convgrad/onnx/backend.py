"""Running ONNX graphs on convgrad: ``OnnxModule`` is an ``nn.Module`` that executes a graph's nodes with
convgrad ops (so its outputs have gradients and its float initializers are trainable parameters), and
``ConvgradBackend`` is the ``onnx.backend.base.Backend`` over it (``prepare``, ``run_model``,
``run_node``, ``supports_device``), the interface ONNX's conformance tests drive.

Each ONNX operator is one function of ``_OPS`` (``_ops.py``).
"""

import numpy as np

import convgrad
from convgrad import nn
from convgrad.tensor import Tensor

from ._common import BackendError, _onnx
from ._ops import _MULTI_OUTPUT, _OPS, _const, supported_operators

__all__ = ["BackendError", "ConvgradBackend", "ConvgradRep", "OnnxModule", "prepare", "run_model", "run_node",
           "supports_device", "supported_operators"]


# --------------------------------------------------------------------------- the module
def _attributes(node):
    onnx = _onnx()
    out = {}
    for attr in node.attribute:
        v = onnx.helper.get_attribute_value(attr)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode() for s in v]
        out[attr.name] = v
    return out


def _load_proto(f):
    onnx = _onnx()
    if isinstance(f, onnx.ModelProto):
        return f
    where = "the given bytes" if isinstance(f, (bytes, bytearray)) else f"'{getattr(f, 'name', f)}'"
    try:
        if isinstance(f, (bytes, bytearray)):
            return onnx.load_from_string(bytes(f))
        return onnx.load(f)
    except OSError:
        raise
    except Exception as e:  # protobuf's DecodeError and the like
        raise ValueError(f"convgrad.onnx.load: {where} is not an ONNX model ({type(e).__name__}: "
                         f"{e})") from None


class OnnxModule(nn.Module):
    """An ONNX graph run by convgrad ops. Float initializers are Parameters (trainable), the others
    buffers; a dotted initializer name (``features.0.weight``) becomes that path of submodules, so a
    model exported by convgrad comes back with its own ``state_dict`` keys."""

    def __init__(self, graph, opset=17):
        super().__init__()
        onnx = _onnx()
        self.opset = int(opset)
        self._nodes = [(n.op_type, list(n.input), list(n.output), _attributes(n), n.domain or "")
                       for n in graph.node]
        for op_type, *_, domain in self._nodes:
            if domain not in ("", "ai.onnx"):
                raise BackendError(f"convgrad.onnx: operator {domain}::{op_type} is outside the default "
                                   "ONNX domain")
            if op_type not in _OPS:
                raise BackendError(f"convgrad.onnx: the ONNX operator {op_type} has no convgrad "
                                   f"implementation; supported: {', '.join(supported_operators())}")
        self._init_names = {}
        for init in graph.initializer:
            array = onnx.numpy_helper.to_array(init).copy()
            self._init_names[init.name] = self._register(init.name, array)
        self._inputs = [i.name for i in graph.input if i.name not in self._init_names]
        self._outputs = [o.name for o in graph.output]

    @classmethod
    def from_onnx(cls, f):
        proto = _load_proto(f)
        opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 17)
        return cls(proto.graph, opset)

    def _register(self, name, array):
        """Place the initializer at the dotted path ``name`` (or under a flat, sanitised name)."""
        value = Tensor._make(array)
        parts = name.split(".")
        owner = self
        ok = all(p.isidentifier() or p.isdigit() for p in parts)
        if ok:
            for p in parts[:-1]:
                sub = owner._modules.get(p)
                if sub is None:
                    if p in owner._parameters or p in owner._buffers or hasattr(type(owner), p):
                        ok = False
                        break
                    sub = nn.Module()
                    owner.add_module(p, sub)
                owner = sub
            leaf = parts[-1]
            if ok and (leaf in owner._modules or leaf in owner._parameters or leaf in owner._buffers
                       or hasattr(type(owner), leaf)):
                ok = False
        if not ok:
            owner = self
            leaf = "".join(c if c.isalnum() else "_" for c in name)
            if not leaf[:1].isalpha():
                leaf = "v_" + leaf
            while leaf in self._parameters or leaf in self._buffers or leaf in self._modules or \
                    hasattr(type(self), leaf):
                leaf += "_"
        if array.dtype.kind == "f":
            owner.register_parameter(leaf, nn.Parameter(value))
        else:
            owner.register_buffer(leaf, value)
        return (owner, leaf)

    def _initializer(self, name):
        owner, leaf = self._init_names[name]
        return owner._parameters[leaf] if leaf in owner._parameters else owner._buffers[leaf]

    def forward(self, *inputs):
        if len(inputs) != len(self._inputs):
            raise TypeError(f"OnnxModule: expected {len(self._inputs)} input(s) ({', '.join(self._inputs)}), "
                            f"got {len(inputs)}")
        env = {name: self._initializer(name) for name in self._init_names}
        for name, x in zip(self._inputs, inputs):
            env[name] = x if isinstance(x, Tensor) else _const(np.asarray(x))
        for op_type, ins, outs, attrs, _ in self._nodes:
            args = [env[n] if n else None for n in ins]
            while args and args[-1] is None:
                args.pop()
            if op_type in _MULTI_OUTPUT:
                res = _MULTI_OUTPUT[op_type](args, attrs, self, n_outputs=len(outs))
            else:
                res = _OPS[op_type](args, attrs, self)
            res = res if isinstance(res, list) else [res]
            for n, t in zip(outs, res):
                if n:
                    env[n] = t
        out = tuple(env[n] for n in self._outputs)
        return out[0] if len(out) == 1 else out


# --------------------------------------------------------------------------- the Backend interface
def _backend_base():
    _onnx()
    from onnx.backend.base import Backend, BackendRep

    return Backend, BackendRep


_Backend, _BackendRep = _backend_base()


class ConvgradRep(_BackendRep):
    """A prepared model: ``run(inputs)`` with NumPy arrays (a list in graph-input order, or a dict by
    name) returns the outputs as NumPy arrays."""

    def __init__(self, module):
        self.module = module

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in self.module._inputs]
        elif isinstance(inputs, np.ndarray):
            inputs = [inputs]
        with convgrad.no_grad():
            out = self.module(*[_const(np.asarray(x)) for x in inputs])
        out = out if isinstance(out, tuple) else (out,)
        return tuple(np.asarray(t._data) for t in out)


class ConvgradBackend(_Backend):
    """ONNX's backend interface over convgrad (CPU only)."""

    @classmethod
    def prepare(cls, model, device="CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        return ConvgradRep(OnnxModule.from_onnx(model))

    @classmethod
    def run_model(cls, model, inputs, device="CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device="CPU", outputs_info=None, **kwargs):
        """Run one NodeProto on a list of NumPy arrays (its inputs, in order)."""
        m = OnnxModule.__new__(OnnxModule)
        nn.Module.__init__(m)
        m.opset = kwargs.get("opset_version", 21)
        m._init_names = {}
        m._nodes = [(node.op_type, list(node.input), list(node.output), _attributes(node), node.domain or "")]
        if node.op_type not in _OPS:
            raise BackendError(f"convgrad.onnx: the ONNX operator {node.op_type} has no convgrad "
                               "implementation")
        m._inputs = [n for n in node.input if n]
        m._outputs = [n for n in node.output if n]
        return ConvgradRep(m).run(list(inputs))

    @classmethod
    def supports_device(cls, device):
        return str(device).upper().startswith("CPU")


prepare = ConvgradBackend.prepare
run_model = ConvgradBackend.run_model
run_node = ConvgradBackend.run_node
supports_device = ConvgradBackend.supports_device
