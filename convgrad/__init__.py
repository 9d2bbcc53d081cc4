"""convgrad: a convolutional neural network framework from first principles on NumPy.

The API follows PyTorch's, so ``import convgrad as torch`` runs a PyTorch CNN script on convgrad.
"""

from numpy import dtype  # noqa: F401  (isinstance(x.dtype, convgrad.dtype), as torch.dtype)

from convgrad import _checks, _unsupported, accelerator, amp, autograd, backends, cuda, random  # noqa: F401
from convgrad.amp import autocast  # noqa: F401
from convgrad.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from convgrad.devices import device  # noqa: F401
from convgrad.dtypes import (  # noqa: F401
    bool_,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from convgrad.factories import (  # noqa: F401
    arange,
    bernoulli,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    zeros,
    zeros_like,
)
from convgrad.printing import get_printoptions, set_printoptions  # noqa: F401
from convgrad.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state  # noqa: F401
from convgrad.serialization import load, save  # noqa: F401
from convgrad.size import Size  # noqa: F401
from convgrad.tensor import Tensor, get_default_dtype, set_default_dtype  # noqa: F401
from convgrad.tensor_functions import as_tensor, chunk, from_numpy, is_tensor, split, tensor  # noqa: F401

# every other torch.* function on tensors (add, sum, max, cat, einsum, ..., with PyTorch's input checks
# and out=)
from convgrad.toplevel import *
from convgrad.toplevel import check_input as _check_input

bool = bool_  # noqa: A001  (PyTorch spells it convgrad.bool)
float = float32  # noqa: A001
int = int32  # noqa: A001
__version__ = "0.1.0"


# loaded on first use; ``summary`` is a callable module: ``convgrad.summary(model, input_size)``
_SUBPACKAGES = ("nn", "optim", "utils", "vision", "training", "functional", "summary", "testing", "onnx",
                "distributed")


def __getattr__(name):
    # `import convgrad as torch; torch.nn.Module` works as in PyTorch, loading subpackages on first use;
    # a PyTorch name convgrad deliberately lacks raises NotImplementedError when used, saying why
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"convgrad.{name}")
    raise _unsupported.missing("torch", "convgrad", name)


def is_floating_point(input):
    _check_input("is_floating_point", input)
    return input.is_floating_point()


def set_num_threads(n):
    """Use ``n`` threads for matrix products (BLAS's) and convolutions (convgrad's workers, each calling BLAS
    on one thread), as ``torch.set_num_threads``."""
    from convgrad.threads import set_blas_threads

    set_blas_threads(n, op="set_num_threads")


def get_num_threads():
    """Threads BLAS uses now (as ``torch.get_num_threads``)."""
    import os

    from convgrad.threads import blas_threads

    return blas_threads() or os.cpu_count() or 1
