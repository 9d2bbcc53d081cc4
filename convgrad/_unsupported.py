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
_DIST = "distributed training: convgrad runs in one process on the CPU"
_LOSS = "ranking, embedding and sequence losses: not implemented yet"
_LOWP = "low-precision and grouped GEMM kernels: convgrad computes in float32/float64 NumPy"
_TODO = "not implemented yet"
_DEPRECATED = "deprecated in PyTorch"

_PART_A = "tensor-level API: issue 10 part A (another branch) adds it"
_OPS = "tensor op: not implemented yet"

_TABLE = {
    # torch and Tensor: reasons for docs/compat.md; their __getattr__ belongs in convgrad/__init__.py and
    # tensor.py, which this branch does not edit
    "torch": {
        _PART_A: "Size accelerator",
        "NumPy has no bfloat16": "bfloat16",
        "no compiler: convgrad runs eagerly on NumPy": "compile",
        "the data type is a NumPy dtype (convgrad.float32 is numpy.dtype('float32'))": "dtype",
        "printing follows NumPy's print options": "set_printoptions",
        _OPS: "addmm broadcast_to cdist count_nonzero cumprod dot dropout dstack einsum erf expm1 frac "
              "hstack isclose kthvalue lerp log10 log1p log2 logspace masked_select median movedim narrow "
              "nonzero outer randint_like reciprocal repeat_interleave roll scatter std_mean take tan "
              "tile tril triu trunc unique vstack",
    },
    "Tensor methods": {
        _PART_A: "new_tensor new_zeros new_ones new_full new_empty",
        _OPS: "narrow roll abs_ log_ clip_ sigmoid_ tanh_ masked_fill_ scatter_",
    },
    "torch.backends": {
        _PART_A + " (backends as importable modules)":
            "cuda cuda.matmul cuda.matmul.allow_tf32 cudnn.enabled cudnn.is_available mkldnn openmp",
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
        _DIST: "SyncBatchNorm",
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
    "torch.utils.data": {_DIST: "DistributedSampler"},
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
