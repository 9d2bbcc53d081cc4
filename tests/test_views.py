"""Views: tensors that share another's memory. In-place ops through a view change its base, and autograd
follows (PyTorch's CopySlices and AsStridedBackward0); views share their base's version counter; ops that
copy in PyTorch copy here too. Each case runs on convgrad and on torch, which is the oracle."""

import pickle

import numpy as np
import pytest

import convgrad

torch = pytest.importorskip("torch")

W = [1.0, -2.0, 3.0, 0.5]


def _slice_then_view(lib, x):
    h = x * 2
    v = h[0:2]
    v.mul_(3)
    return v * 1 + h[2:].sum()


def _siblings(lib, x):
    h = x * 2
    v1, v2 = h[0:3], h[1:4]
    v1.mul_(3)
    return v2 * 1


def _base_then_view(lib, x):
    h = x * 2
    v = h.view(2, 2)
    h.mul_(x)
    return v.reshape(-1)


def _then_base(write):
    """h = 2x, ``write(lib, h, x)`` through some view of h, then h itself is the result."""
    def case(lib, x):
        h = x * 2
        write(lib, h, x)
        return h
    return case


CASES = {
    "slice": _then_base(lambda lib, h, x: h[0:2].mul_(3)),
    "slice, then the view used": _slice_then_view,
    "overlapping sibling view": _siblings,
    "base in place, then a view used": _base_then_view,
    "row of a transpose": _then_base(lambda lib, h, x: h.view(2, 2).t()[0].zero_()),
    "one element (0-d view)": _then_base(lambda lib, h, x: h[1].mul_(5)),
    "setitem on a view": _then_base(lambda lib, h, x: h[1:3].__setitem__(0, x[3] * 7)),
    "view of a view": _then_base(lambda lib, h, x: h.unsqueeze(0)[0, 1:].exp_()),
    "+= on a slice": _then_base(lambda lib, h, x: h[0:2].__iadd__(x[2:])),
    "in-place relu on a view": _then_base(lambda lib, h, x: lib.nn.functional.relu(h[1:], inplace=True)),
    "strided slice": _then_base(lambda lib, h, x: h[::2].sigmoid_()),
    "copy_ into a view": _then_base(lambda lib, h, x: h[2:].copy_(x[:2] ** 2)),
    "fill_ of a view": _then_base(lambda lib, h, x: h[1:3].fill_(0.5)),
    "a buffer without grad takes one": lambda lib, x: _then_write(lib.zeros(4, dtype=lib.float64), x),
    "a view made before its buffer joined the graph": lambda lib, x: _early_view(lib, x),
    "rows written in a loop while views of earlier rows are kept": lambda lib, x: _row_loop(lib, x),
}


def _early_view(lib, x):
    buf = lib.zeros(4, dtype=lib.float64)
    v = buf[0:2]
    buf[1:3].add_(x[:2] * 3)
    return v * 1


def _row_loop(lib, x):
    buf = lib.zeros(4, 2, dtype=lib.float64)
    buf[0] = x[:2]
    rows = []
    for i in range(1, 4):
        rows.append(buf[i - 1])  # kept alive: each write below is checked against it
        buf[i] = (rows[-1] + x[2:]).tanh()
    return buf * 1 + rows[0].sum()


def _then_write(buf, x):
    buf[1:3].add_(x[:2] * x[2:])
    return buf


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_in_place_through_a_view_matches_torch(case):
    results = []
    for lib in (convgrad, torch):
        x = lib.tensor(W, dtype=lib.float64, requires_grad=True)
        y = CASES[case](lib, x)
        weights = lib.arange(1.0, y.numel() + 1, dtype=lib.float64).reshape(y.shape)
        (y * weights).sum().backward()
        results.append((y.detach().numpy().copy(), x.grad.numpy().copy(), y.grad_fn.name().split("::")[-1]))
    (yc, gc, nc), (yt, gt, nt) = results
    np.testing.assert_allclose(yc, yt, rtol=1e-12)
    np.testing.assert_allclose(gc, gt, rtol=1e-12)
    assert nc == nt


def test_in_place_through_a_view_passes_gradcheck():
    def f(x, w):
        h = x * w
        h[1:3].mul_(w[0])
        h.view(2, 2).t()[1].tanh_()
        return h * h.sum()

    x = convgrad.tensor([0.3, -0.7, 1.1, 0.2], dtype=convgrad.float64, requires_grad=True)
    w = convgrad.tensor([0.9, 1.3, -0.4, 2.0], dtype=convgrad.float64, requires_grad=True)
    assert convgrad.autograd.gradcheck(f, (x, w))


ERRORS = {
    "view of a leaf": lambda lib, x: x[0:2].mul_(2),
    "output of chunk": lambda lib, x: (x * 2).chunk(2)[0].mul_(2),
    "expanded view": lambda lib, x: (x[:1] * 2).expand(4).mul_(2),
    "view made under no_grad": lambda lib, x: _no_grad_view(lib, x * 2).mul_(2),
    "fill_ of a view made under no_grad": lambda lib, x: _no_grad_view(lib, x * 2).fill_(7),
    "copy_ into a view made under no_grad": lambda lib, x: _no_grad_view(lib, x * 2).copy_(x[:2]),
    "a no_grad view of a buffer, written with an operand that requires grad":
        lambda lib, x: _no_grad_view(lib, lib.zeros(4)).add_(x[:2] * 3),
    "a view of a view made under no_grad": lambda lib, x: _no_grad_view(lib, x * 2)[1:].mul_(2),
    "output of unbind": lambda lib, x: (x * 2).unbind()[0].mul_(2),
    "a view of chunk's output": lambda lib, x: (x * 2).chunk(2)[0][0:1].mul_(2),
    "the one piece of a split": lambda lib, x: (x * 2).split(4)[0].mul_(2),
    "expanded view outside a graph": lambda lib, x: lib.zeros(1).expand(4).add_(1),
    "detach_ of a view": lambda lib, x: (x * 2)[0:2].detach_(),
}


def _no_grad_view(lib, h):
    with lib.no_grad():
        return h[0:2]


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_forbidden_in_place_ops_on_views_raise_as_torch(case):
    for lib in (convgrad, torch):
        x = lib.tensor(W, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            ERRORS[case](lib, x)
        if lib is torch:
            first_words = str(info.value).split()[:3]
        else:
            message = str(info.value)
    assert message.split()[:3] == first_words


def test_setitem_on_a_view_made_under_no_grad_raises_as_torch():
    for lib in (convgrad, torch):
        x = lib.tensor(W, requires_grad=True)
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            _no_grad_view(lib, x * 2)[0] = 1.0  # (torch words it as a select's view of that view)


def test_in_place_through_a_view_is_differentiable_twice():
    results = []
    for lib in (convgrad, torch):
        x = lib.tensor(W, dtype=lib.float64, requires_grad=True)
        h = x * x
        h[1:3].mul_(x[0])
        (g,) = lib.autograd.grad((h * h).sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad((g * lib.arange(1.0, 5.0, dtype=lib.float64)).sum(), x)
        results.append((g.detach().numpy().copy(), g2.numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_a_write_through_a_view_invalidates_what_saved_the_base():
    for lib in (convgrad, torch):
        x = lib.tensor(W, requires_grad=True)
        h = x * 2
        y = h * h  # saves h
        h[0:1].mul_(2)
        assert h._version == 1 and h[0:1]._version == 1
        with pytest.raises(RuntimeError, match="modified by an in"):
            y.sum().backward()


VIEWS_OR_COPIES = {
    "view": lambda t: t.view(12, 2), "reshape": lambda t: t.reshape(12, 2),
    "reshape of a transpose": lambda t: t.transpose(0, 1).reshape(-1), "flatten": lambda t: t.flatten(),
    "transpose": lambda t: t.transpose(0, 1), "permute": lambda t: t.permute(2, 0, 1),
    "squeeze/unsqueeze": lambda t: t.unsqueeze(0).squeeze(0),
    "expand": lambda t: t.unsqueeze(0).expand(2, 4, 3, 2),
    "narrow": lambda t: t.narrow(0, 1, 2), "slice": lambda t: t[1:3], "step": lambda t: t[::2],
    "integer": lambda t: t[1], "all integers": lambda t: t[1, 2, 0], "ellipsis": lambda t: t[..., 0],
    "None": lambda t: t[None], "mask": lambda t: t[t > 3], "integer list": lambda t: t[[0, 1]],
    "chunk": lambda t: t.chunk(2, 0)[1], "split": lambda t: t.split(1, 0)[1],
    "unbind": lambda t: t.unbind(0)[1],
    "movedim": lambda t: t.movedim(0, 2), "detach": lambda t: t.detach(), "flip": lambda t: t.flip(0),
    "roll": lambda t: t.roll(1, 0), "contiguous of a transpose": lambda t: t.transpose(0, 1).contiguous(),
    "clone": lambda t: t.clone(), "repeat": lambda t: t.repeat(1, 1, 1),
}


@pytest.mark.parametrize("op", VIEWS_OR_COPIES, ids=list(VIEWS_OR_COPIES))
def test_which_ops_return_views_matches_torch(op):
    """A write into the result reaches the source exactly when it does in PyTorch (flip, say, copies), and
    only then do the two share a version counter."""
    seen = []
    for lib in (convgrad, torch):
        t = lib.arange(24.0).reshape(4, 3, 2)
        r = VIEWS_OR_COPIES[op](t)
        before = t._version
        if op != "expand":
            r.add_(100)  # (an expanded view cannot be written; its version is still shared)
        else:
            t.add_(0)
        seen.append((t.numpy().copy(), t._version - before, r._version == t._version))
    (tc, vc, sc), (tt, vt, st) = seen
    np.testing.assert_array_equal(tc, tt)
    assert (vc, sc) == (vt, st)


def test_a_pickled_view_keeps_its_values_not_its_base():
    h = convgrad.arange(1000.0)
    v = h[10:13]
    w = pickle.loads(pickle.dumps(v))
    assert w.tolist() == [10.0, 11.0, 12.0] and w._base is None and v._base is h
