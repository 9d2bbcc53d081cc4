"""Names PyTorch has and convgrad deliberately does not: using one raises ``NotImplementedError`` that
names the PyTorch feature and why, instead of an ``AttributeError`` from deep inside a script."""


class Missing:
    """Stands for ``{where}.{name}``; calling it, or reading an attribute of it, raises."""

    def __init__(self, where, name, why):
        self._where, self._name, self._why = where, name, why

    def _raise(self):
        torch_name = "torch" + self._where[len("convgrad"):] + "." + self._name
        raise NotImplementedError(
            f"{self._where}.{self._name}: PyTorch's {torch_name} is not provided by convgrad ({self._why})"
        )

    def __call__(self, *args, **kwargs):
        self._raise()

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._raise()

    def __repr__(self):
        return f"<{self._where}.{self._name}: not provided by convgrad ({self._why})>"


def module_getattr(where, missing):
    """A module ``__getattr__``: ``missing`` maps a name to why it is absent; other names are unknown."""

    def __getattr__(name):
        if name in missing:
            return Missing(where, name, missing[name])
        raise AttributeError(f"module '{where}' has no attribute '{name}'")

    return __getattr__


_NO_COMPLEX = "NumPy-backed CNN training has no use for complex tensors"
_SPECIAL = "special functions beyond a CNN course; NumPy has no vectorised erf or gamma family"

# torch.X that convgrad deliberately lacks, and why
TOPLEVEL_NOT_PROVIDED = {
    "jit": "TorchScript compilation; convgrad runs Python directly",
    "fft": "Fourier transforms are outside a CNN course",
    "linalg": "the linear algebra namespace (matmul, einsum and norm cover a CNN course)",
    "distributions": "probability distributions",
    "special": _SPECIAL,
    "sparse": "sparse tensors",
    "onnx": "ONNX export",
    "hub": "downloading models: convgrad works offline and has no pretrained weights",
    "ao": "quantization",
    "quantization": "quantization",
    "distributed": "multi-process training; convgrad runs in one process",
    "func": "functional transforms (vmap, jacrev) need higher-order autograd",
    "vmap": "functional transforms (vmap, jacrev) need higher-order autograd",
    "export": "graph export",
    "profiler": "the operator profiler",
    "bfloat16": "bfloat16: NumPy has no bfloat16 type",
    "complex64": _NO_COMPLEX, "complex128": _NO_COMPLEX, "cfloat": _NO_COMPLEX, "cdouble": _NO_COMPLEX,
    "view_as_complex": _NO_COMPLEX, "view_as_real": _NO_COMPLEX,
    "erf": _SPECIAL, "erfc": _SPECIAL, "erfinv": _SPECIAL, "lgamma": _SPECIAL, "digamma": _SPECIAL,
    "polygamma": _SPECIAL, "i0": _SPECIAL,
    "stft": "spectrograms are outside a CNN course", "istft": "spectrograms are outside a CNN course",
    "sparse_coo_tensor": "sparse tensors", "from_file": "memory-mapped storages",
    "frombuffer": "tensors over raw buffers (use from_numpy(numpy.frombuffer(...)))",
    "set_default_device": "convgrad has only the CPU device",
    "cdist": "pairwise distances (write ((a[:, None] - b[None]) ** 2).sum(-1).sqrt())",
    "cross": "cross products", "kron": "Kronecker products",
    "cartesian_prod": "use meshgrid", "combinations": "use itertools.combinations on indices",
    "quantile": "quantiles", "nanquantile": "quantiles", "mode": "the most frequent value",
    "unique_consecutive": "use unique", "cummax": "running maxima", "cummin": "running minima",
    "histogram": "use histc", "atan2": "two-argument arctangent", "hypot": "use sqrt(a * a + b * b)",
    "logit": "use log(p / (1 - p))", "xlogy": "use x * log(y)", "rot90": "use flip and transpose",
}

TENSOR_NOT_PROVIDED = {
    "storage": "storages: a convgrad Tensor wraps a NumPy array (see .numpy())",
    "untyped_storage": "storages: a convgrad Tensor wraps a NumPy array (see .numpy())",
    "storage_offset": "storages: a convgrad Tensor wraps a NumPy array (see .numpy())",
    "set_": "storages: a convgrad Tensor wraps a NumPy array (see .numpy())",
    "share_memory_": "tensors shared between processes",
    "pin_memory": "pinned memory is for copying to a GPU; convgrad has none",
    "to_sparse": "sparse tensors", "bfloat16": "bfloat16: NumPy has no bfloat16 type",
    "cfloat": _NO_COMPLEX, "cdouble": _NO_COMPLEX, "conj": _NO_COMPLEX, "angle": _NO_COMPLEX,
    "real": _NO_COMPLEX, "imag": _NO_COMPLEX, "H": _NO_COMPLEX, "mH": _NO_COMPLEX,
    "erf": _SPECIAL, "erfc": _SPECIAL, "erfinv": _SPECIAL, "lgamma": _SPECIAL, "digamma": _SPECIAL,
    "mode": "the most frequent value", "cummax": "running maxima", "cummin": "running minima",
    "quantile": "quantiles", "nanquantile": "quantiles", "unique_consecutive": "use unique",
    "masked_scatter": "use masked_select and index_copy",
    "masked_scatter_": "use masked_select and index_copy",
    "put_": "use a flattened view and index_copy_", "index_put_": "use item assignment, t[idx] = v",
    "index_put": "use item assignment on a clone, t[idx] = v",
    "scatter_reduce": "use scatter_add, or scatter(..., reduce='add')",
    "scatter_reduce_": "use scatter_add_, or scatter_(..., reduce='add')",
    "as_strided": "arbitrary strides over a NumPy array", "unfold": "use nn.functional.unfold for patches",
    "apply_": "calling Python per element (use vectorised ops)", "map_": "calling Python per element",
    "sum_to_size": "use sum over the broadcast dims", "atan2": "two-argument arctangent",
    "cross": "cross products", "kron": "Kronecker products", "logit": "use log(p / (1 - p))",
    "rot90": "use flip and transpose",
}


class _MissingProperty:
    """A PyTorch attribute convgrad lacks (``t.real``): reading it raises."""

    def __init__(self, name, why):
        self._missing = Missing("convgrad.Tensor", name, why)

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        self._missing._raise()


_PROPERTIES = ("real", "imag", "H", "mH")

# The last of Tensor's bases: each deliberately absent method is a class attribute that raises when
# called (a class attribute, not __getattr__, which would slow every attribute read of every tensor)
NotProvidedMethods = type("NotProvidedMethods", (), {
    "__slots__": (),
    "__doc__": "PyTorch's Tensor methods convgrad deliberately lacks: using one raises NotImplementedError.",
    **{name: _MissingProperty(name, why) if name in _PROPERTIES else Missing("convgrad.Tensor", name, why)
       for name, why in TENSOR_NOT_PROVIDED.items()},
})
