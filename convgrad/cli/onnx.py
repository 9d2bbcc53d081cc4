"""``convgrad export`` and ``convgrad import``: a trained model to an ONNX file, and an ONNX file's
weights to a convgrad state_dict."""

import numpy as np

from convgrad.cli.common import CLIError, add_command, build_model
from convgrad.cli.evaluate import read_weights


# -- ONNX: export / import ------------------------------------------------------------------------------
def _onnx_module():
    import convgrad.onnx as connx
    from convgrad.onnx._common import _onnx

    try:
        _onnx()
    except ImportError as e:
        raise CLIError(str(e)) from None
    return connx


def run_export(args, log=print):
    import convgrad
    from convgrad.vision import models

    connx = _onnx_module()
    weights, config = read_weights(args.checkpoint)
    name = args.model or config.get("model")
    if name is None:
        raise CLIError("the checkpoint does not name its model: pass --model")
    num_classes = args.num_classes
    if num_classes is None:  # the classifier's output size: the first dim of the last float tensor
        floats = [v for v in weights.values() if hasattr(v, "dtype") and v.dtype.kind == "f" and v.ndim]
        num_classes = int(floats[-1].shape[0]) if floats else None
    model = build_model(name, num_classes=num_classes)
    model.load_state_dict(weights)
    model.eval()
    shape = tuple(args.input_shape) if args.input_shape else models.default_input_size(name)
    x = convgrad.randn(args.batch_size, *shape)
    dynamic = {"input": {0: "batch"}, "output": {0: "batch"}} if args.dynamic_batch else None
    proto = connx.export(model, x, args.onnx, opset_version=args.opset, dynamic_axes=dynamic)
    ops = sorted({n.op_type for n in proto.graph.node})
    log(f"exported {name} ({num_classes} classes, input {(args.batch_size,) + shape}) to {args.onnx}: "
        f"opset {args.opset}, {len(proto.graph.node)} nodes ({', '.join(ops)}), "
        f"{len(proto.graph.initializer)} initializers; onnx.checker passed")
    return proto


def add_export_cli(subparsers):
    p = add_command(subparsers, "export", run_export, help="write a checkpoint's model as an ONNX file",
                    description="Export a trained model (a training checkpoint, a run folder, a saved "
                                "state_dict or a torch.save state dict) to ONNX.")
    p.add_argument("checkpoint", help="a .pt checkpoint, its run folder, or a state_dict file")
    p.add_argument("--onnx", required=True, metavar="PATH", help="the ONNX file to write")
    p.add_argument("--model", help="model name (default: the checkpoint's; needed for a bare state_dict)")
    p.add_argument("--num-classes", type=int, help="default: read from the classifier's weights")
    p.add_argument("--input-shape", type=int, nargs="+", metavar="N",
                   help="one input's shape without the batch, e.g. 3 32 32 (default: the model's)")
    p.add_argument("--batch-size", type=int, default=1, help="batch size of the traced example (default 1)")
    p.add_argument("--dynamic-batch", action="store_true", help="leave the batch axis free in the ONNX graph")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (13-21, default 17)")
    return p


def run_import(args, log=print):
    import convgrad

    connx = _onnx_module()
    module = connx.load(args.model_file)
    state = module.state_dict()
    convgrad.save(state, args.out)
    n = sum(int(np.prod(v.shape)) for v in state.values() if v.dtype.kind == "f")
    log(f"imported {args.model_file}: {len(module._nodes)} nodes, {len(state)} tensors ({n:,} float values) "
        f"saved to {args.out} (load with model.load_state_dict(convgrad.load(...)) or "
        "convgrad.onnx.load for the graph itself)")
    return state


def add_import_cli(subparsers):
    p = add_command(subparsers, "import", run_import, help="read an ONNX file's weights into a convgrad "
                    "checkpoint", description="Load an ONNX model with convgrad's ONNX backend and save its "
                    "initializers (named by the graph) as a convgrad state_dict.")
    p.add_argument("model_file", metavar="MODEL.onnx")
    p.add_argument("--out", required=True, help="the .pt (safetensors) file to write")
    return p
