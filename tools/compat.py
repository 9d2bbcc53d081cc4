"""Writes docs/compat.md: which of PyTorch's (and torchvision's) public names convgrad has, per namespace,
found by introspecting both libraries, with the reason for each missing one.

    python tools/compat.py              # writes docs/compat.md
    python tools/compat.py --stdout     # prints it instead
    python tools/compat.py --missing    # the missing names per namespace, as Python

It imports torch, so it lives outside ``convgrad/``. What is counted:

- ``torch`` and ``Tensor`` methods: not every public name (torch has ~1,300, most of them internal kernels,
  sparse/quantised/complex/distributed APIs) but the CNN-relevant public API, ``TORCH_NAMES`` and
  ``TENSOR_METHODS`` below: the sections of PyTorch's "torch" and "torch.Tensor" reference pages that a CNN
  course uses (creation, indexing/joining, random sampling, pointwise/reduction/comparison maths,
  serialisation, gradient modes, dtypes and devices). Names in those lists that the installed torch lacks
  are dropped, so the table only counts real PyTorch names.
- ``torch.nn`` (``torch.nn.modules.__all__`` plus ``Parameter``/``Buffer``), ``torch.nn.functional`` (its
  public functions), ``torch.nn.init``, ``torch.optim``, ``torch.optim.lr_scheduler``, ``torch.utils.data``:
  every public name the installed torch exposes (``__all__`` where there is one).
- ``torch.backends``: the flags and queries training scripts set or read.
- torchvision cannot be installed beside torch 2.13.0 here, so its namespaces are name lists kept in this
  file, taken from torchvision's documented API (transforms v1, the common v2 names, utils, datasets).

Reasons for missing names come from ``convgrad._unsupported`` (the same table makes those names raise a
``NotImplementedError`` naming the PyTorch feature); names it does not list are "not implemented yet".
"""

import argparse
import inspect
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

import convgrad  # noqa: E402
import convgrad.nn.functional  # noqa: E402
from convgrad import _unsupported  # noqa: E402

TORCH_NAMES = """
tensor as_tensor from_numpy zeros zeros_like ones ones_like arange linspace logspace eye empty empty_like full
full_like is_tensor is_floating_point numel
cat concat concatenate chunk split stack hstack vstack dstack unbind gather scatter index_select masked_select
narrow nonzero permute reshape squeeze unsqueeze transpose t flatten unflatten flip roll movedim where take
tile broadcast_to repeat_interleave tril triu
manual_seed seed initial_seed get_rng_state set_rng_state bernoulli multinomial normal rand rand_like randint
randint_like randn randn_like randperm Generator
save load
no_grad enable_grad set_grad_enabled is_grad_enabled inference_mode
abs add sub mul div neg pow exp log log2 log10 log1p expm1 sqrt rsqrt sin cos tan tanh sigmoid sign floor ceil
round trunc frac clamp clip reciprocal square maximum minimum lerp addmm erf
argmax argmin amax amin max min mean median sum prod std var std_mean var_mean norm logsumexp cumsum cumprod
all any unique count_nonzero
eq ne lt le gt ge equal allclose isclose isfinite isinf isnan sort argsort topk kthvalue
matmul mm bmm dot outer einsum cdist
relu softmax log_softmax dropout
float32 float64 float16 bfloat16 int8 int16 int32 int64 uint8 bool float double half long int short
get_default_dtype set_default_dtype device dtype Size
set_num_threads get_num_threads set_printoptions
cuda backends autograd nn optim utils accelerator compile
""".split()

TENSOR_METHODS = """
size dim ndim shape numel dtype device requires_grad grad grad_fn is_leaf data item tolist numpy
to cpu cuda float double half long int bool type type_as
view view_as reshape reshape_as flatten unflatten squeeze unsqueeze permute transpose t contiguous
is_contiguous expand expand_as repeat chunk split narrow unbind flip roll
clone detach detach_ requires_grad_ retain_grad backward register_hook zero_
add add_ sub sub_ mul mul_ div div_ pow pow_ neg neg_ abs abs_ exp exp_ log log_ sqrt sqrt_ clamp clamp_
clip clip_ sigmoid sigmoid_ tanh tanh_ relu relu_ softmax log_softmax
sum mean std var max min argmax argmin amax amin prod norm cumsum all any logsumexp
eq ne lt le gt ge equal allclose isnan isinf isfinite
matmul mm bmm dot
fill_ normal_ uniform_ copy_ masked_fill masked_fill_ index_select gather scatter_ sort argsort topk
new_tensor new_zeros new_ones new_full new_empty
""".split()

BACKENDS = [
    "cudnn",
    "cudnn.benchmark",
    "cudnn.deterministic",
    "cudnn.enabled",
    "cudnn.is_available",
    "mps",
    "mps.is_available",
    "cuda",
    "cuda.matmul",
    "cuda.matmul.allow_tf32",
    "mkldnn",
    "openmp",
]

# torchvision's documented API (https://pytorch.org/vision/stable/): torchvision is not installed here
TV_TRANSFORMS = """
Compose ToTensor PILToTensor ToPILImage ConvertImageDtype Normalize Resize CenterCrop Pad RandomCrop
RandomResizedCrop FiveCrop TenCrop RandomHorizontalFlip RandomVerticalFlip RandomRotation RandomAffine
RandomPerspective ElasticTransform ColorJitter Grayscale RandomGrayscale GaussianBlur RandomInvert
RandomPosterize RandomSolarize RandomAdjustSharpness RandomAutocontrast RandomEqualize RandomErasing
AutoAugment RandAugment TrivialAugmentWide AugMix RandomApply RandomChoice RandomOrder Lambda
LinearTransformation InterpolationMode functional
""".split()
TV_TRANSFORMS_V2 = """
Compose ToImage ToDtype ToPureTensor Normalize Resize CenterCrop RandomCrop RandomResizedCrop
RandomHorizontalFlip RandomVerticalFlip RandomRotation RandomAffine ColorJitter Grayscale RandomGrayscale
GaussianBlur RandomErasing AutoAugment RandAugment TrivialAugmentWide MixUp CutMix RandomApply RandomChoice
Lambda Pad ToTensor PILToTensor ToPILImage
""".split()
TV_UTILS = (
    "make_grid save_image draw_bounding_boxes draw_segmentation_masks draw_keypoints flow_to_image".split()
)
TV_DATASETS = """
MNIST FashionMNIST KMNIST EMNIST QMNIST CIFAR10 CIFAR100 SVHN STL10 USPS FakeData ImageFolder DatasetFolder
ImageNet CelebA Caltech101 Caltech256 Flowers102 Food101 OxfordIIITPet StanfordCars DTD EuroSAT GTSRB
VOCSegmentation VOCDetection CocoDetection CocoCaptions Omniglot Places365 LSUN SBDataset VisionDataset
""".split()


def _public_functions(module):
    out = []
    for name, obj in vars(module).items():
        if name.startswith("_") or inspect.ismodule(obj) or inspect.isclass(obj) or not callable(obj):
            continue
        if not name[0].islower() or getattr(obj, "__module__", "").startswith(("typing", "collections")):
            continue
        if name in (
            "boolean_dispatch",
            "handle_torch_function",
            "has_torch_function",
            "has_torch_function_unary",
            "has_torch_function_variadic",
            "assert_int_or_pair",
            "Tensor",
        ):
            continue
        out.append(name)
    return sorted(out)


def _getattr_path(obj, path):
    for part in path.split("."):
        try:
            obj = getattr(obj, part)
        except Exception:  # noqa: BLE001 (a NotImplementedError or AttributeError: the name is absent)
            return None
    return obj


def _has(obj, name):
    """The name resolves to something real: not a NotImplementedError stand-in, not missing."""
    if "." in name:
        return _getattr_path(obj, name) is not None
    try:
        return getattr(obj, name, None) is not None or name in vars(obj)
    except Exception:  # noqa: BLE001
        return False


def namespaces():
    """(title, convgrad object, [names], source note) per namespace."""
    import torch.nn.functional as tF
    import torch.nn.init as tinit
    import torch.optim.lr_scheduler as tlr
    import torch.utils.data as tdata

    from convgrad import optim
    from convgrad.nn import init
    from convgrad.optim import lr_scheduler
    from convgrad.utils import data
    from convgrad.vision import datasets, transforms
    from convgrad.vision import utils as vutils

    def real(obj, names):
        return sorted(n for n in names if _has(obj, n))

    tensor_names = [n for n in TENSOR_METHODS if n in dir(torch.Tensor)]
    nn_names = sorted(set(torch.nn.modules.__all__) | {"Parameter", "Buffer"})
    optim_names = sorted(n for n in torch.optim.__all__ if inspect.isclass(getattr(torch.optim, n)))
    data_names = sorted(
        n
        for n in tdata.__all__
        if not n.startswith("_")
        and "DataPipe" not in n
        and n
        not in (
            "DataChunk",
            "functional_datapipe",
            "guaranteed_datapipes_determinism",
            "non_deterministic",
            "runtime_validation",
            "runtime_validation_disabled",
            "argument_validation",
        )
    )
    v2 = getattr(transforms, "v2", None)
    return [
        ("torch", convgrad, real(torch, TORCH_NAMES), "CNN-relevant filter (`TORCH_NAMES`)"),
        ("Tensor methods", convgrad.Tensor, tensor_names, "CNN-relevant filter (`TENSOR_METHODS`)"),
        ("torch.nn", convgrad.nn, nn_names, "`torch.nn.modules.__all__` + Parameter, Buffer"),
        ("torch.nn.functional", convgrad.nn.functional, _public_functions(tF), "introspected"),
        (
            "torch.nn.init",
            init,
            sorted(n for n in tinit.__all__ if not n.startswith("_"))
            if hasattr(tinit, "__all__")
            else _public_functions(tinit),
            "introspected",
        ),
        ("torch.optim", optim, optim_names, "introspected (`__all__`, classes)"),
        ("torch.optim.lr_scheduler", lr_scheduler, sorted(tlr.__all__), "introspected (`__all__`)"),
        ("torch.utils.data", data, data_names, "introspected (`__all__`, without the DataPipe API)"),
        ("torch.backends", convgrad.backends, real(torch.backends, BACKENDS), "flags scripts set"),
        ("torchvision.transforms", transforms, TV_TRANSFORMS, "name list from torchvision's docs"),
        (
            "torchvision.transforms.v2",
            v2,
            TV_TRANSFORMS_V2,
            "name list from torchvision's docs (common names)",
        ),
        ("torchvision.utils", vutils, TV_UTILS, "name list from torchvision's docs"),
        ("torchvision.datasets", datasets, TV_DATASETS, "name list from torchvision's docs"),
    ]


def report():
    rows, details = [], []
    missing_all = {}
    for title, ours, names, source in namespaces():
        present = [n for n in names if ours is not None and _has(ours, n)]
        missing = [n for n in names if n not in present]
        missing_all[title] = missing
        rows.append(f"| `{title}` | {len(present)} / {len(names)} | {source} |")
        if missing:
            details.append(f"\n### `{title}`: {len(missing)} missing\n")
            by_reason = {}
            for n in missing:
                by_reason.setdefault(_unsupported.reason(title, n) or "not implemented yet", []).append(n)
            for reason, ns in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                details.append(f"- {reason}: " + ", ".join(f"`{n}`" for n in ns))
    total_p = sum(int(r.split("|")[2].split("/")[0]) for r in rows)
    total_n = sum(int(r.split("|")[2].split("/")[1]) for r in rows)
    text = [
        "# PyTorch API coverage",
        "",
        f"Generated by `python tools/compat.py` against torch {torch.__version__.split('+')[0]}; do not "
        "edit by hand. Names present / total per namespace; the missing names follow, with the reason. A "
        "missing name that has a reason raises `NotImplementedError` naming the PyTorch feature when used "
        "(in the namespaces convgrad owns), not an `AttributeError` from deep inside. How each list of "
        "names is made: the docstring of `tools/compat.py`.",
        "",
        "| namespace | present / total | names counted |",
        "|---|---|---|",
        *rows,
        f"| **all** | **{total_p} / {total_n}** | |",
        "",
        "## Missing names",
        *details,
        "",
    ]
    return "\n".join(text), missing_all


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stdout", action="store_true")
    parser.add_argument("--missing", action="store_true")
    args = parser.parse_args(argv)
    text, missing = report()
    if args.missing:
        for title, names in missing.items():
            print(f"{title!r}: {names!r},")
        return
    if args.stdout:
        print(text)
        return
    path = os.path.join(ROOT, "docs", "compat.md")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
