"""convgrad: a convolutional neural network framework from first principles on NumPy.

The API follows PyTorch's, so ``import convgrad as torch`` runs a PyTorch CNN script on convgrad.
"""

from convgrad import accelerator, amp, autograd, backends, cuda, random  # noqa: F401
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
from convgrad.random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state  # noqa: F401
from convgrad.serialization import load, save  # noqa: F401
from convgrad.tensor import Tensor, device, get_default_dtype, set_default_dtype  # noqa: F401
from convgrad.tensor_functions import (  # noqa: F401
    as_tensor,
    bmm,
    cat,
    chunk,
    concat,
    concatenate,
    from_numpy,
    is_tensor,
    matmul,
    maximum,
    minimum,
    mm,
    split,
    stack,
    tensor,
    where,
)

bool = bool_  # noqa: A001  (PyTorch spells it convgrad.bool)
float = float32  # noqa: A001
int = int32  # noqa: A001
__version__ = "0.1.0"


def _method(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = name
    fn.__doc__ = f"``{name}(input, ...)`` is ``input.{name}(...)``."
    return fn


for _name in (
    "exp log sqrt rsqrt abs neg sin cos tanh sigmoid relu clamp clip sign floor ceil round square "
    "sum mean max min amax amin argmax argmin var std logsumexp prod norm topk sort argsort cumsum all any "
    "reshape flatten unflatten permute transpose t squeeze unsqueeze flip gather index_select unbind "
    "masked_fill isnan isinf isfinite logical_not equal allclose eq ne lt le gt ge pow add sub mul div "
    "numel clone softmax log_softmax"
).split():
    globals()[_name] = _method(_name)
del _name


_SUBPACKAGES = ("nn", "optim", "utils", "vision", "training", "functional")


def __getattr__(name):
    # `import convgrad as torch; torch.nn.Module` works as in PyTorch, loading subpackages on first use
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"convgrad.{name}")
    raise AttributeError(f"module 'convgrad' has no attribute '{name}'")


def is_floating_point(t):
    return t.is_floating_point()


def var_mean(input, dim=None, unbiased=True, keepdim=False):
    return input.var(dim, unbiased, keepdim), input.mean(dim, keepdim)


_num_threads = [None]


def set_num_threads(n):
    """Limit the threads BLAS uses for convolutions and matrix products (as ``torch.set_num_threads``)."""
    from convgrad.threads import set_blas_threads

    if set_blas_threads(n):
        _num_threads[0] = n


def get_num_threads():
    import os

    return _num_threads[0] or os.cpu_count() or 1
