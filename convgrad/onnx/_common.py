"""What the ONNX modules share: the ``onnx`` package, imported on first use (convgrad itself never needs
it), and the errors."""

_module = []


def _onnx():
    """The ``onnx`` package, or an ImportError saying how to install it."""
    if not _module:
        try:
            import onnx
        except ImportError:
            raise ImportError("convgrad.onnx needs the 'onnx' package: pip install onnx "
                              "(or pip install 'convgrad[onnx]')") from None
        _module.append(onnx)
    return _module[0]


class ExportError(RuntimeError):
    """A model or op that cannot be written as ONNX."""


class BackendError(NotImplementedError):
    """An ONNX operator, attribute or input this backend does not run."""
