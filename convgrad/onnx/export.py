"""``convgrad.onnx.export``: trace a forward, then write each recorded op as ONNX nodes.

The forward runs once on the example input with the model in evaluation mode and gradients on (so
in-place layers go through their ops and are recorded). Each recorded op class maps to one function of
``EXPORTERS`` (``_exporters.py``) that emits its nodes; parameters and buffers become initializers named
by their ``state_dict`` keys, any other array an op reads becomes a constant initializer.
"""

import os

import numpy as np

from convgrad.autograd.grad_mode import enable_grad
from convgrad.tensor import Tensor

from ._common import ExportError, _onnx
from ._exporters import EXPORTERS, supported_ops
from ._graph import _Graph
from ._trace import Tracer

__all__ = ["ExportError", "export", "supported_ops"]


def _flatten_outputs(out, where="output"):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten_outputs(o, where)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flatten_outputs(o, where)]
    raise ExportError(f"convgrad.onnx.export: expected the model to return Tensors (or tuples/lists/dicts "
                      f"of them), got {type(out).__name__}")


def _value_info(name, array, dyn):
    onnx = _onnx()
    shape = [dyn.get(i, d) for i, d in enumerate(array.shape)]
    return onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(array.dtype), shape)


def _dynamic(dynamic_axes, name):
    """{axis: dim_param} for one input/output from torch.onnx's dynamic_axes forms ({name: [0]} or
    {name: {0: 'batch'}})."""
    spec = (dynamic_axes or {}).get(name)
    if spec is None:
        return {}
    if isinstance(spec, dict):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(k): f"{name}_dim{int(k)}" for k in spec}


def _check_trace(model, example, proto):
    """Run the exported graph (on convgrad's backend) and the model on a second input: a forward that
    computes part of its result outside convgrad's ops (a comparison, ``.numpy()``, Python control flow on
    values) has had that part frozen into the trace as a constant, and the two disagree."""
    from .backend import OnnxModule

    rng = np.random.default_rng(0)
    second = []
    for a in example:
        arr = a._data
        if arr.dtype.kind == "f" and arr.size:
            noise = rng.standard_normal(arr.shape) * (float(arr.std()) or 1.0)
            arr = (arr + noise).astype(arr.dtype)
        second.append(Tensor._make(arr))
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        from convgrad.autograd.grad_mode import no_grad

        with no_grad():
            want = _flatten_outputs(model(*second))
            got = OnnxModule.from_onnx(proto)(*second)
    finally:
        if hasattr(model, "train"):
            model.train(was_training)
    got = [got] if isinstance(got, Tensor) else list(got)
    for i, (w, g_) in enumerate(zip(want, got)):
        w, g_ = w._data, g_._data
        scale = float(np.abs(w).max()) if w.size and w.dtype.kind in "fiu" else 0.0
        if w.shape != g_.shape or np.abs(g_.astype(np.float64) - w).max(initial=0) > 1e-4 * scale + 1e-6:
            raise ExportError(
                f"convgrad.onnx.export: the traced graph does not reproduce the model on a second input "
                f"(output {i}): the forward computes something outside convgrad's ops (a comparison, "
                "argmax, .numpy(), Python control flow on tensor values, ...), which the trace froze as a "
                "constant. Pass check_trace=False to export it anyway.")


def export(model, args, f, opset_version=17, input_names=None, output_names=None, dynamic_axes=None,
           do_constant_folding=True, verbose=False, training=None, doc_string=None, check_trace=True):
    """Trace ``model(*args)`` and write it to ``f`` (a path or binary file object) as an ONNX model, as
    ``torch.onnx.export`` is called. Returns the ``onnx.ModelProto`` (checked with
    ``onnx.checker.check_model``). ``dynamic_axes`` ({name: [axes]} or {name: {axis: label}}) leaves those
    axes free; a dynamic batch axis (0) is the one the graph's reshapes follow. ``check_trace`` runs the
    written graph and the model on a second, perturbed input and raises if they disagree (a part of the
    forward that the trace could not follow). ``do_constant_folding`` and ``training`` are accepted for
    torch.onnx compatibility: the graph is always the evaluation-mode one, with parameters as
    initializers."""
    onnx = _onnx()
    from convgrad.nn import Module

    if not isinstance(model, Module) and not callable(model):
        raise TypeError(f"convgrad.onnx.export: expected an nn.Module, got {type(model).__name__}")
    if not 13 <= int(opset_version) <= 21:
        raise ValueError(f"convgrad.onnx.export: expected opset_version between 13 and 21, got "
                         f"{opset_version}")
    example = (args,) if isinstance(args, Tensor) else tuple(args)
    if not example or not all(isinstance(a, Tensor) for a in example):
        raise TypeError("convgrad.onnx.export: expected args to be a Tensor or a tuple of Tensors, got "
                        f"{type(args).__name__}")
    input_names = list(input_names or [])
    input_names += [f"input{i}" if len(example) > 1 else "input" for i in range(len(input_names),
                                                                                  len(example))]
    dynamic_batch = any(0 in _dynamic(dynamic_axes, n) for n in input_names)
    g = _Graph(int(opset_version), dynamic_batch)
    g.used_names.update(input_names)

    is_module = isinstance(model, Module)
    was_training = model.training if is_module else False
    frozen = []
    if is_module:
        for key, t in model.state_dict(keep_vars=True).items():
            g.keep.append(t)
            g.lazy[("obj", id(t))] = (key, t._data)
            g.lazy[("array", id(t._data))] = (key, t._data)
        model.eval()
        # ops record their inputs only when a gradient is needed: make every float parameter ask for one
        for p in model.parameters():
            if not p.requires_grad and p.dtype.kind == "f":
                p.requires_grad_(True)
                frozen.append(p)
    inputs = []
    for name, a in zip(input_names, example):
        t = Tensor._make(a._data.copy())
        if t.dtype.kind == "f":
            t.requires_grad_(True)
        g.bind(t, name)
        inputs.append(t)
    tracer = Tracer()
    try:
        with enable_grad(), tracer:
            out = model(*inputs)
    finally:
        for p in frozen:
            p.requires_grad_(False)
        if is_module:
            model.train(was_training)
    outs = _flatten_outputs(out)

    for rec in tracer.records:
        fn = EXPORTERS.get(rec.op)
        if fn is None:
            raise ExportError(
                f"convgrad.onnx.export: no ONNX mapping for the op {rec.op.__name__} (from "
                f"{rec.op.__module__}); ops that export: {', '.join(supported_ops())}")
        names = fn(g, rec)
        names = names if isinstance(names, list) else [names]
        for t, n in zip(rec.outs, names):
            g.bind(t, n)

    output_names = list(output_names or [])
    output_names += [f"output{i}" if len(outs) > 1 else "output" for i in range(len(output_names), len(outs))]
    graph_outputs = []
    for t, name in zip(outs, output_names):
        src = g.name(t)
        g.nodes.append(onnx.helper.make_node("Identity", [src], [name]))
        graph_outputs.append(_value_info(name, t._data, _dynamic(dynamic_axes, name)))
    graph_inputs = [_value_info(n, a._data, _dynamic(dynamic_axes, n)) for n, a in zip(input_names, example)]
    graph = onnx.helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs,
                                   initializer=g.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", int(opset_version))],
                                   producer_name="convgrad", doc_string=doc_string or "")
    proto.ir_version = min(proto.ir_version, 8 if opset_version <= 18 else 9)
    onnx.checker.check_model(proto)
    if check_trace:
        _check_trace(model, example, proto)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
    else:
        from convgrad.serialization import _atomic_write

        _atomic_write(os.fspath(f), data)
    return proto
