"""PyTorch and torchvision names convgrad does not have, with the reason, per namespace.

A namespace's module-level ``__getattr__`` calls :func:`missing`: a known PyTorch name gets a
:class:`NotImplementedFeature` naming the feature and the reason; any other name the usual
``AttributeError``. It is deliberately not an ``AttributeError``: ``from convgrad.nn import LSTM`` would
turn one into a bare "cannot import name" ``ImportError`` and lose the reason (the price: ``hasattr`` on
such a name raises too). ``tools/compat.py`` reads the same table for the reasons in ``docs/compat.md``.
Imports nothing: every layer may use it.
"""

_3D = "3-D (volumetric) layers: convgrad has the 1-D and 2-D ones"
_RNN = "recurrent networks: outside a CNN framework"
_ATTENTION = "attention and transformers: outside a CNN framework"
_LAZY = "lazy modules (sizes inferred at the first call): not implemented; give the sizes"
_TEXT = "embeddings (text models): outside a CNN framework"
_LOSS = "ranking, embedding and sequence losses: not implemented yet"
_LOWP = "low-precision and grouped GEMM kernels: convgrad computes in float32/float64 NumPy"
_TODO = "not implemented yet"
_DEPRECATED = "deprecated in PyTorch"


_TABLE = {
    # torch and Tensor: convgrad/__init__.py's __getattr__ and Tensor's NotProvided base read these
    "torch": {
        "TorchScript compilation; convgrad runs Python directly": "jit",
        "Fourier transforms are outside a CNN course": "fft",
        "the linear algebra namespace (matmul, einsum and norm cover a CNN course)": "linalg",
        "probability distributions": "distributions",
        "special functions beyond a CNN course; NumPy has no vectorised erf or gamma family":
            "special erf erfc erfinv lgamma digamma polygamma i0",
        "sparse tensors": "sparse sparse_coo_tensor",
        "downloading models: convgrad works offline and has no pretrained weights": "hub",
        "quantization": "ao quantization",
        "functional transforms (vmap, jacrev) need higher-order autograd": "func vmap",
        "graph export": "export",
        "the operator profiler": "profiler",
        "bfloat16: NumPy has no bfloat16 type": "bfloat16",
        "NumPy-backed CNN training has no use for complex tensors":
            "complex64 complex128 cfloat cdouble view_as_complex view_as_real",
        "spectrograms are outside a CNN course": "stft istft",
        "memory-mapped storages": "from_file",
        "tensors over raw buffers (use from_numpy(numpy.frombuffer(...)))": "frombuffer",
        "convgrad has only the CPU device": "set_default_device",
        "pairwise distances (write ((a[:, None] - b[None]) ** 2).sum(-1).sqrt())": "cdist",
        "cross products": "cross",
        "Kronecker products": "kron",
        "use meshgrid": "cartesian_prod",
        "use itertools.combinations on indices": "combinations",
        "quantiles": "quantile nanquantile",
        "the most frequent value": "mode",
        "use unique": "unique_consecutive",
        "running maxima": "cummax",
        "running minima": "cummin",
        "use histc": "histogram",
        "two-argument arctangent": "atan2",
        "use sqrt(a * a + b * b)": "hypot",
        "use log(p / (1 - p))": "logit",
        "use x * log(y)": "xlogy",
        "use flip and transpose": "rot90",
        "a functional op: use nn.functional.dropout": "dropout",
    },
    "Tensor methods": {
        "storages: a convgrad Tensor wraps a NumPy array (see .numpy())":
            "storage untyped_storage storage_offset set_",
        "tensors shared between processes": "share_memory_",
        "pinned memory is for copying to a GPU; convgrad has none": "pin_memory",
        "sparse tensors": "to_sparse",
        "bfloat16: NumPy has no bfloat16 type": "bfloat16",
        "NumPy-backed CNN training has no use for complex tensors":
            "cfloat cdouble conj angle real imag H mH",
        "special functions beyond a CNN course; NumPy has no vectorised erf or gamma family":
            "erf erfc erfinv lgamma digamma",
        "the most frequent value": "mode",
        "running maxima": "cummax",
        "running minima": "cummin",
        "quantiles": "quantile nanquantile",
        "use unique": "unique_consecutive",
        "use masked_select and index_copy": "masked_scatter masked_scatter_",
        "use a flattened view and index_copy_": "put_",
        "use item assignment, t[idx] = v": "index_put_",
        "use item assignment on a clone, t[idx] = v": "index_put",
        "use scatter_add, or scatter(..., reduce='add')": 'scatter_reduce',
        "use scatter_add_, or scatter_(..., reduce='add')": 'scatter_reduce_',
        "arbitrary strides over a NumPy array": "as_strided",
        "use nn.functional.unfold for patches": "unfold",
        "calling Python per element (use vectorised ops)": "apply_",
        "calling Python per element": "map_",
        "use sum over the broadcast dims": "sum_to_size",
        "two-argument arctangent": "atan2",
        "cross products": "cross",
        "Kronecker products": "kron",
        "use log(p / (1 - p))": "logit",
        "use flip and transpose": "rot90",
    },
    "torch.backends": {
        "CPU backend switches: convgrad does not use oneDNN or OpenMP itself": "mkldnn openmp",
    },
    "torch.cuda": {
        "CUDA tensor types, graphs and streams need a GPU; convgrad computes on the CPU":
            "FloatTensor DoubleTensor HalfTensor LongTensor IntTensor ByteTensor BoolTensor CUDAGraph graph "
            "make_graphed_callables nccl nvtx jiterator MemPool use_mem_pool ExternalStream",
    },
    "torch.nn.parallel": {
        "copying a module to GPUs and splitting batches across them: there are none":
            "replicate scatter gather parallel_apply",
    },
    "torch.nn": {
        _3D: "AdaptiveAvgPool3d AdaptiveMaxPool3d AvgPool3d CircularPad3d ConstantPad3d Conv3d "
             "ConvTranspose3d Dropout3d FractionalMaxPool3d LPPool3d LazyBatchNorm3d LazyConv3d "
             "LazyConvTranspose3d LazyInstanceNorm3d MaxPool3d MaxUnpool3d ReflectionPad3d ReplicationPad3d "
             "ZeroPad3d",
        _RNN: "RNN RNNBase RNNCell RNNCellBase LSTM LSTMCell GRU GRUCell",
        _ATTENTION: "MultiheadAttention Transformer TransformerDecoder TransformerDecoderLayer "
                    "TransformerEncoder TransformerEncoderLayer",
        _LAZY: "LazyBatchNorm1d LazyBatchNorm2d LazyConv1d LazyConv2d LazyConvTranspose1d "
               "LazyConvTranspose2d LazyInstanceNorm1d LazyInstanceNorm2d LazyLinear",
        _TEXT: "Embedding EmbeddingBag AdaptiveLogSoftmaxWithLoss",
        _LOSS: "CTCLoss CosineEmbeddingLoss GaussianNLLLoss HingeEmbeddingLoss MarginRankingLoss "
               "MultiLabelMarginLoss MultiLabelSoftMarginLoss MultiMarginLoss PoissonNLLLoss SoftMarginLoss "
               "TripletMarginLoss TripletMarginWithDistanceLoss LinearCrossEntropyLoss "
               "LinearCrossEntropyOptions",
        _DEPRECATED: "Container NLLLoss2d",
        _TODO: "AlphaDropout FeatureAlphaDropout FractionalMaxPool2d LPPool1d LPPool2d MaxUnpool1d RMSNorm "
               "CrossMapLRN2d",
    },
    "torch.nn.functional": {
        _3D: "adaptive_avg_pool3d adaptive_max_pool3d adaptive_max_pool3d_with_indices avg_pool3d conv3d "
             "conv_transpose3d fractional_max_pool3d fractional_max_pool3d_with_indices lp_pool3d max_pool3d "
             "max_pool3d_with_indices max_unpool3d",
        _ATTENTION: "multi_head_attention_forward scaled_dot_product_attention",
        _TEXT: "embedding embedding_bag conv_tbc",
        _LOSS: "cosine_embedding_loss ctc_loss gaussian_nll_loss hinge_embedding_loss multi_margin_loss "
               "multilabel_margin_loss multilabel_soft_margin_loss poisson_nll_loss soft_margin_loss "
               "triplet_margin_loss triplet_margin_with_distance_loss linear_cross_entropy",
        _LOWP: "grouped_mm scaled_grouped_mm scaled_mm",
        "spatial transformer sampling (affine_grid, grid_sample): not implemented yet":
            "affine_grid grid_sample",
        _TODO: "fractional_max_pool2d fractional_max_pool2d_with_indices gumbel_softmax pdist rms_norm",
    },
    "torch.nn.init": {
        _DEPRECATED + " (use the in-place versions ending in _)": "dirac eye sparse",
    },
    "torch.optim": {
        "sparse gradients: not supported": "SparseAdam",
        _TODO + " (SGD, Adam, AdamW, RMSprop, Adagrad and Adadelta are there)":
            "ASGD Adafactor Adamax LBFGS Muon NAdam RAdam Rprop",
    },
    "torch.optim.lr_scheduler": {_TODO: "CyclicLR"},
    "torchvision.transforms": {
        "AutoAugment policies: not implemented yet": "AutoAugment RandAugment TrivialAugmentWide AugMix",
        _TODO: "GaussianBlur FiveCrop TenCrop RandomPerspective RandomInvert RandomPosterize RandomSolarize "
               "RandomAdjustSharpness RandomAutocontrast RandomEqualize LinearTransformation",
    },
    "torchvision.transforms.v2": {
        "AutoAugment policies: not implemented yet": "AutoAugment RandAugment TrivialAugmentWide AugMix",
        "batch mixing (MixUp, CutMix): not implemented yet": "MixUp CutMix",
        _TODO: "GaussianBlur",
    },
    "torchvision.utils": {
        "drawing boxes, masks, keypoints and optical flow (detection tools): not implemented":
            "draw_bounding_boxes draw_segmentation_masks draw_keypoints flow_to_image",
    },
    "torchvision.datasets": {
        "not implemented yet (ImageFolder or a Dataset of your own reads the files)":
            "KMNIST EMNIST QMNIST SVHN STL10 USPS ImageNet CelebA Caltech101 Caltech256 Flowers102 Food101 "
            "OxfordIIITPet StanfordCars DTD EuroSAT GTSRB VOCSegmentation VOCDetection CocoDetection "
            "CocoCaptions Omniglot Places365 LSUN SBDataset",
    },
}

_REASONS = {ns: {name: why for why, names in groups.items() for name in names.split()}
            for ns, groups in _TABLE.items()}


class NotImplementedFeature(NotImplementedError):
    """A PyTorch feature convgrad does not implement."""


def reason(namespace, name):
    """Why ``namespace.name`` (PyTorch's spelling, e.g. "torch.nn", "Conv3d") is missing, or None."""
    return _REASONS.get(namespace, {}).get(name)


def missing(namespace, module, name):
    """The exception for ``module.name`` not found: NotImplementedFeature for a known PyTorch name."""
    why = reason(namespace, name)
    if why is None:
        return AttributeError(f"module {module!r} has no attribute {name!r}")
    return NotImplementedFeature(f"{namespace}.{name} is not available in convgrad ({module}.{name}): {why}")


class _NotProvided:
    """A Tensor method PyTorch has and convgrad lacks: reading it raises NotImplementedFeature (a class
    attribute, not ``Tensor.__getattr__``, which would slow every attribute read of every tensor)."""

    def __init__(self, name):
        self._name = name

    def __get__(self, obj, objtype=None):
        raise NotImplementedFeature(f"torch.Tensor.{self._name} is not available in convgrad "
                                    f"(convgrad.Tensor.{self._name}): {reason('Tensor methods', self._name)}")


# the last of Tensor's bases: one raising attribute per absent method
NotProvidedMethods = type("NotProvidedMethods", (), {
    "__slots__": (),
    "__doc__": "PyTorch's Tensor methods convgrad lacks: reading one raises NotImplementedFeature.",
    **{name: _NotProvided(name) for name in _REASONS["Tensor methods"]},
})
