import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# `make test` runs every test; slow ones in a reduced form. CONVGRAD_SLOW=1 runs them in full.
SLOW = os.environ.get("CONVGRAD_SLOW") == "1"
settings.register_profile(
    "default", deadline=None, max_examples=40, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "slow", deadline=None, max_examples=400,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("slow" if SLOW else "default")


def examples(fast, slow=None):
    """Number of hypothesis examples: ``fast`` in `make test`, ``slow`` under CONVGRAD_SLOW=1."""
    return (slow or fast * 10) if SLOW else fast


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_collection_modifyitems(config, items):
    """ONNX's BackendTest makes a test of every node test it ships and skips those outside the operators
    asked for: deselect them instead, so the summary counts only the conformance tests that apply."""
    keep, drop = [], []
    for item in items:
        why = getattr(getattr(item, "obj", None), "__unittest_skip_why__", "")
        (drop if why.startswith("no matched include pattern") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
