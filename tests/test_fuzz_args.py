"""The bad-argument fuzzer (issue 9): hostile values in every argument of every public functional op, the
``convgrad.*`` tensor functions, the Tensor methods that take arguments and the common layers, each run in
convgrad and in PyTorch (see tests/fuzz_args.py for what a probe asserts).

`make test` runs a hypothesis-drawn sample and one non-Tensor input per op; CONVGRAD_SLOW=1 runs every probe
(about 14,000) and prints the counts.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad
from tests import fuzz_args as fz
from tests.conftest import SLOW, examples

PROBES = list(fz.all_probes())


def _label(value):
    return value.name if isinstance(value, fz.Derived) else repr(value)


# Differences from PyTorch the fuzzer knows and accepts, each with its reason. They are accepted inputs whose
# result dtype or argument parsing differs; none is a silent wrong value.
KNOWN = {
    # mixed float32/float64 arguments: convgrad promotes to float64 where PyTorch keeps one operand's dtype
    ("functional", "binary_cross_entropy_with_logits", ("arg", 0), "float64"),
    ("functional", "binary_cross_entropy_with_logits", ("arg", 1), "float64"),
    ("functional", "huber_loss", ("arg", 1), "float64"),
    # clamp of an integer tensor by float bounds: float64 in convgrad, float32 in PyTorch
    ("function", "clamp", ("arg", 0), "int64"),
    ("function", "clamp", ("arg", 0), "bool"),
    # PyTorch's argument parser rejects these spellings; convgrad reads them as their obvious meaning
    ("function", "where", ("arg", 0), "True"),
    ("function", "where", ("arg", 0), "False"),
    ("function", "clamp", ("kw", "min"), "0-d"),
    ("function", "clamp", ("kw", "max"), "0-d"),
    ("method", "max", ("kw", "dim"), "None"),
    ("method", "max", ("kw", "dim"), "0-d"),
    ("method", "squeeze", ("arg", 1), "None"),
}


def _check(kind, name, slot, value, stats):
    problem = fz.probe(kind, name, slot, value, stats)
    if problem is not None and (kind, name, slot, _label(value)) not in KNOWN:
        return problem
    return None


@settings(max_examples=examples(400, 4000))
@given(st.sampled_from(PROBES))
def test_hostile_argument(p):
    problem = _check(*p, fz.new_stats())
    assert problem is None, problem


def _first_slot(kind, name):
    return fz.slots(kind, name)[0]


@pytest.mark.parametrize("kind,name", [(k, n) for k in ("functional", "function", "method", "layer")
                                       for n in fz.table(k)])
def test_every_op_rejects_a_string_and_a_wrong_dtype_clearly(kind, name):
    stats = fz.new_stats()
    for value in ("a", None, next(v for v in fz.HOSTILE if _label(v) == "bool")):
        problem = _check(kind, name, _first_slot(kind, name), value, stats)
        assert problem is None, problem


@pytest.mark.slow
def test_every_probe():
    if not SLOW:
        pytest.skip("every probe (about 14,000, ~30 s): CONVGRAD_SLOW=1 runs it")
    stats, problems = fz.new_stats(), []
    for p in PROBES:
        problem = _check(*p, stats)
        if problem is not None:
            problems.append(problem)
    print(f"\nbad-argument fuzzer: {dict(stats)}")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:50])


def test_the_probe_catches_what_it_should():
    # an op that accepts what torch rejects, and one whose error names no op, are both reported
    stats = fz.new_stats()
    fz.FUNCTIONAL["_lax"] = ([fz.X2], {})
    try:
        convgrad.nn.functional._lax = lambda x: x
        torch.nn.functional._lax = lambda x: (_ for _ in ()).throw(TypeError("no"))
        assert "accepts what torch rejects" in fz.probe("functional", "_lax", ("arg", 0), 1.5, stats)
        convgrad.nn.functional._lax = lambda x: [][1]
        assert "does not name the op" in fz.probe("functional", "_lax", ("arg", 0), 1.5, stats)
    finally:
        del fz.FUNCTIONAL["_lax"]
        del convgrad.nn.functional._lax
        del torch.nn.functional._lax
