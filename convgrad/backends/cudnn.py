"""``convgrad.backends.cudnn`` (``import convgrad.backends.cudnn as cudnn``): cuDNN is not available; its
flags hold what scripts set, with PyTorch's defaults."""

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
