"""``convgrad.backends.mps``: Apple's Metal backend is not built in (convgrad computes on the CPU)."""


def is_available():
    return False


def is_built():
    return False
