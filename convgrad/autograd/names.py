"""The name PyTorch gives each graph node (``grad_fn.name()``, ``<AddBackward0 object at ...>``), by
convgrad op class: the one place that maps them. A value is the name, or a function of the node for ops
that stand for several of PyTorch's (``x.sum()`` is ``SumBackward0``, ``x.sum(1)`` ``SumBackward1``).
The choice may read attributes the node frees after backward: it then falls back to the first form."""


def _by_axis(stem):
    return lambda n: f"{stem}Backward{0 if n.axis is None else 1}"


def _matmul(n):
    a, b = (e[2] if e else s.shape for e, s in zip(n._edges, n._saved))
    if len(a) == 1:
        return "DotBackward0" if len(b) == 1 else "SqueezeBackward4"
    if len(b) == 1:
        return "MvBackward0"
    return "MmBackward0" if len(a) == len(b) == 2 else "UnsafeViewBackward0"


def _linear(n):
    x = n._edges[0][2] if n._edges[0] else n._saved[0].shape
    if len(x) != 2:
        return "ViewBackward0"
    has_bias = len(n._edges) > 2 and n._edges[2] is not False
    return "AddmmBackward0" if has_bias else "MmBackward0"


def _getitem(n):
    if n.advanced:
        return "IndexBackward0"
    index = n.index if isinstance(n.index, tuple) else (n.index,)
    return "SelectBackward0" if all(isinstance(i, int) for i in index) else "SliceBackward0"


def _pow(n):
    if not n._edges[0]:
        return "PowBackward2"
    return "PowBackward1" if n._edges[1] is not False else "PowBackward0"


def _pointwise_loss(n):
    return {"mse": "MseLossBackward0", "l1": "MeanBackward0", "smooth_l1": "SmoothL1LossBackward0",
            "huber": "HuberLossBackward0"}[n.kind]


def _pool(stem):
    return lambda n: f"{stem}{len(n.geo.ks)}D{'WithIndices' if stem == 'MaxPool' else ''}Backward0"


NAMES = {
    # core ops (convgrad.ops)
    "Add": "AddBackward0", "Sub": "SubBackward0", "Mul": "MulBackward0", "Div": "DivBackward0",
    "Neg": "NegBackward0", "Pow": _pow, "Exp": "ExpBackward0", "Log": "LogBackward0",
    "Sqrt": "SqrtBackward0", "Abs": "AbsBackward0", "Sin": "SinBackward0", "Cos": "CosBackward0",
    "Tanh": "TanhBackward0", "Sigmoid": "SigmoidBackward0", "ReLU": "ReluBackward0",
    "Clamp": "ClampBackward1", "Maximum": "MaximumBackward0", "Minimum": "MinimumBackward0",
    "Where": "WhereBackward0", "Cast": "ToCopyBackward0", "Clone": "CloneBackward0",
    "Fill": lambda n: getattr(n, "torch_name", "FillBackward2"),
    "MatMul": _matmul, "Sum": _by_axis("Sum"), "Mean": _by_axis("Mean"), "MaxAll": "MaxBackward1",
    "MinAll": "MinBackward1", "MaxDim": "MaxBackward0", "MinDim": "MinBackward0", "Var": "VarBackward0",
    "LogSumExp": "LogsumexpBackward0", "Prod": _by_axis("Prod"), "Reshape": "ViewBackward0",
    "Permute": "PermuteBackward0", "Expand": "ExpandBackward0", "Repeat": "RepeatBackward0",
    "Cat": "CatBackward0", "Stack": "StackBackward0", "Split": "SplitBackward0",
    "PadConstant": "ConstantPadNdBackward0", "GetItem": _getitem, "Gather": "GatherBackward0",
    "Flip": "FlipBackward0", "SetItem": "CopySlices", "AsStrided": "AsStridedBackward0",
    "IndexBackward": "IndexPutBackward0",
    "GatherBackward": "ScatterAddBackward0",
    # CNN ops (convgrad.functional)
    "Hardtanh": "HardtanhBackward0", "LeakyReLU": "LeakyReluBackward0",
    "Threshold": lambda n: "ThresholdBackward1" if n.inplace else "ThresholdBackward0",
    "Shrink": lambda n: "SoftshrinkBackward0" if n.soft else "HardshrinkBackward0",
    # PyTorch composes these in Python (x - x.tanh(), x / (x.abs() + 1)): its last node's name
    "Tanhshrink": "SubBackward0", "Softsign": "DivBackward0",
    "ELU": lambda n: "EluBackward0" if n.input_scale == 1 else "CeluBackward0",
    "PReLU": "PreluKernelBackward0", "GLU": "GluBackward0", "GELU": "GeluBackward0", "SiLU": "SiluBackward0",
    "Mish": "MishBackward0", "Hardswish": "HardswishBackward0", "Hardsigmoid": "HardsigmoidBackward0",
    "Softplus": "SoftplusBackward0", "LogSigmoid": "LogSigmoidBackward0", "Softmax": "SoftmaxBackward0",
    "LogSoftmax": "LogSoftmaxBackward0", "_Conv": "ConvolutionBackward0",
    "_ConvTranspose": "ConvolutionBackward0", "WinogradConv": "ConvolutionBackward0",
    "_Unfold": "Im2ColBackward0", "_Fold": "Col2ImBackward0",
    "Dropout": "MulBackward0", "PointwiseLoss": _pointwise_loss, "NLLLoss": "NllLossBackward0",
    "CrossEntropy": "NllLossBackward0", "BinaryCrossEntropy": "BinaryCrossEntropyBackward0",
    "BinaryCrossEntropyWithLogits": "BinaryCrossEntropyWithLogitsBackward0", "Linear": _linear,
    "_BatchNormTrain": "NativeBatchNormBackward0", "_BatchNormEval": "NativeBatchNormBackward0",
    "_BatchNormReLUTrain": "ReluBackward0",
    "_RowNorm": "NativeLayerNormBackward0", "_MaxPool": _pool("MaxPool"), "_AvgPool": _pool("AvgPool"),
    "_GlobalAvgPool": "MeanBackward1", "_AdaptiveAvgPool": "AdaptiveAvgPool2DBackward0",
    "_AdaptiveMaxPool": "AdaptiveMaxPool2DBackward0", "Embedding": "EmbeddingBackward0",
    "AccumulateGrad": "torch::autograd::AccumulateGrad",
}


def _first_form(cls_name):
    stem = cls_name.lstrip("_")
    return f"{stem}Backward0"


def node_name(node):
    """PyTorch's name for ``node``."""
    cls_name = type(node).__name__
    entry = NAMES.get(cls_name)
    if entry is None:
        return _first_form(cls_name)
    if isinstance(entry, str):
        return entry
    try:
        return entry(node)
    except (AttributeError, TypeError, IndexError, KeyError):  # freed by backward, or not recorded
        return entry_default(cls_name)


_DEFAULTS = {"Pow": "PowBackward0", "MatMul": "MmBackward0", "Sum": "SumBackward0", "Mean": "MeanBackward0",
             "Prod": "ProdBackward0", "GetItem": "SliceBackward0", "ELU": "EluBackward0",
             "Threshold": "ThresholdBackward0", "Shrink": "HardshrinkBackward0",
             "Linear": "AddmmBackward0",
             "PointwiseLoss": "MseLossBackward0", "_MaxPool": "MaxPool2DWithIndicesBackward0",
             "_AvgPool": "AvgPool2DBackward0"}


def entry_default(cls_name):
    return _DEFAULTS.get(cls_name, _first_form(cls_name))
