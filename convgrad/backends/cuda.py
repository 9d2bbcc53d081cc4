"""``convgrad.backends.cuda``: not built; ``matmul.allow_tf32`` and friends hold what scripts set."""


class _MatmulFlags:
    """``backends.cuda.matmul``: flags of CUDA matrix products (kept, no effect)."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built():
    return False
