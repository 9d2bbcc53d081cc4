"""ONNX's own backend node tests (``onnx.backend.test``), run on convgrad's ONNX backend for the CNN
operators of issue 15. The tests left out, and why, are listed in docs/onnx.md (kept in sync with
``EXCLUDED`` below)."""


import pytest

onnx_backend_test = pytest.importorskip("onnx.backend.test")

from convgrad.onnx.backend import ConvgradBackend  # noqa: E402

OPERATORS = {
    "Conv": r"test_(basic_)?conv_(with|without)",
    "ConvTranspose": r"test_convtranspose",
    "MaxPool": r"test_maxpool",
    "AveragePool": r"test_averagepool",
    "GlobalAveragePool": r"test_globalaveragepool",
    "BatchNormalization": r"test_batchnorm",
    "Relu": r"test_relu",
    "LeakyRelu": r"test_leakyrelu",
    "Sigmoid": r"test_sigmoid",
    "Tanh": r"test_tanh",
    "Gelu": r"test_gelu",
    "HardSigmoid": r"test_hardsigmoid",
    "Clip": r"test_clip",
    "Gemm": r"test_gemm",
    "MatMul": r"test_matmul_",
    "Add": r"test_add",
    "Mul": r"test_mul",
    "Flatten": r"test_flatten",
    "Reshape": r"test_reshape",
    "Concat": r"test_concat",
    "Dropout": r"test_dropout",
    "LRN": r"test_lrn",
    "Softmax": r"test_softmax",
    "LogSoftmax": r"test_logsoftmax",
    "Pad": r"test_(constant|edge|reflect|wrap)_pad",
    "Resize": r"test_resize",
    "Upsample": r"test_upsample",
}

# Tests of these operators that convgrad does not run, with the reason (docs/onnx.md lists them too).
EXCLUDED = {
    r"test_(conv|maxpool|averagepool|convtranspose)\w*3d": "3-D convolution/pooling: convgrad has 1-D, 2-D",
    r"test_resize_\w*antialias": "Resize antialias=1 (antialiasing filters are not implemented)",
}

backend_test = onnx_backend_test.BackendTest(ConvgradBackend, __name__)
for pattern in OPERATORS.values():
    backend_test.include(pattern + r".*_cpu$")
for pattern in EXCLUDED:
    backend_test.exclude(pattern)

globals().update(backend_test.test_cases)
