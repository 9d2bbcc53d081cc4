"""ONNX interchange: ``export`` writes a convgrad model as an ONNX file (tracing its forward), ``load`` reads
an ONNX file back as a runnable, trainable ``nn.Module``, and ``convgrad.onnx.backend`` is an
``onnx.backend.base.Backend`` that runs ONNX graphs on convgrad's ops. Needs the ``onnx`` package."""

from .export import ExportError, export, supported_ops


def load(f):
    """An ONNX model (path, bytes or ``onnx.ModelProto``) as a convgrad ``nn.Module`` whose parameters are
    the model's float initializers: ``module(*inputs)`` runs the graph on convgrad ops."""
    from .backend import OnnxModule

    return OnnxModule.from_onnx(f)


def __getattr__(name):
    if name == "backend":
        import importlib

        return importlib.import_module("convgrad.onnx.backend")
    raise AttributeError(f"module 'convgrad.onnx' has no attribute '{name}'")


__all__ = ["ExportError", "export", "load", "supported_ops"]
