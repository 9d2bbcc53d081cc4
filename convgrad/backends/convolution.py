"""``convgrad.backends.convolution``: which algorithm computes a 3x3 stride-1 ``conv2d``, in the spirit of
``torch.backends.cudnn``. ``algorithm``:

- ``"im2col"`` (default): always im2col and a GEMM;
- ``"auto"``: per shape, whichever of im2col and Winograd ran faster in a one-off measurement on this
  machine at the shape's first use (see ``convgrad.functional.winograd``);
- ``"winograd"``: Winograd F(2x2, 3x3) wherever it applies (groups 1, 3x3 kernel, stride 1, dilation 1,
  float32/float64); other convolutions still use im2col.

Set it (``convgrad.backends.convolution.algorithm = "winograd"``) or scope it with ``flags``.

im2col is the default because on the machines measured so far (Zen 4, OpenBLAS's SkylakeX kernels) it ran
faster than this Winograd for every ResNet-20/VGG layer (1.3-2x on a quiet machine), and because "auto"
decides from a timing: two runs (a training run and its resumption, say) could choose differently and so
differ in the last bits of float32."""

from contextlib import contextmanager

ALGORITHMS = ("auto", "im2col", "winograd")

algorithm = "im2col"


def current(op="conv2d"):
    """The algorithm setting, checked: a clear error naming the op for an unknown value."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"{op}: expected convgrad.backends.convolution.algorithm in {ALGORITHMS}, "
                         f"got {algorithm!r}")
    return algorithm


@contextmanager
def flags(algorithm=None):
    """``with flags(algorithm="winograd"): ...`` sets the algorithm for the block and restores it after
    (None: unchanged)."""
    old = globals()["algorithm"]
    if algorithm is not None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"convolution.flags: expected algorithm in {ALGORITHMS}, got {algorithm!r}")
        globals()["algorithm"] = algorithm
    try:
        yield
    finally:
        globals()["algorithm"] = old
