"""The parity harness: run one expression in convgrad and in PyTorch on the same data and compare
forward values, shapes, dtypes and every input's gradient; check that both reject the same bad input.

    compare(lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2), x_np, w_np)

``fn(lib, *tensors)`` receives the library module (``convgrad`` or ``torch``) and one tensor per input.
Float inputs require grad (unless ``requires_grad`` says otherwise); with ``noncontiguous=True`` each
float input of 2+ dims is passed as a transposed view of a contiguous leaf, 1-D ones as a strided slice.
"""

import numpy as np
import torch

import convgrad

torch.set_num_threads(1)


def _to_lib(lib, arr, requires_grad, noncontiguous):
    """A tensor of ``lib`` equal to ``arr``; returns (tensor given to fn, leaf whose grad we read)."""
    if noncontiguous and arr.dtype.kind == "f" and arr.ndim >= 1:
        if arr.ndim >= 2:
            base = np.ascontiguousarray(np.swapaxes(arr, -1, -2))
        else:
            base = np.repeat(arr, 2)
        leaf = lib.tensor(base, requires_grad=requires_grad) if lib is torch else \
            convgrad.tensor(base, requires_grad=requires_grad)
        view = leaf.transpose(-1, -2) if arr.ndim >= 2 else leaf[::2]
        return view, leaf
    if lib is torch:
        t = torch.tensor(arr, requires_grad=requires_grad)
    else:
        t = convgrad.tensor(arr, requires_grad=requires_grad)
    return t, t


def _outputs(out):
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t._data


def run(lib, fn, inputs, requires_grad, noncontiguous):
    ts, leaves = [], []
    for a, rg in zip(inputs, requires_grad):
        if isinstance(a, np.ndarray):
            t, leaf = _to_lib(lib, a, rg and a.dtype.kind == "f", noncontiguous)
            ts.append(t)
            leaves.append(leaf)
        else:
            ts.append(a)
            leaves.append(None)
    return fn(lib, *ts), leaves


def compare(fn, *inputs, atol=1e-5, rtol=1e-4, grad=True, requires_grad=None, noncontiguous=False,
            seed=0, check_dtype=True):
    """Assert that ``fn`` gives the same outputs and gradients in convgrad and PyTorch."""
    if requires_grad is None:
        requires_grad = [grad] * len(inputs)
    out_c, leaves_c = run(convgrad, fn, inputs, requires_grad, noncontiguous)
    out_t, leaves_t = run(torch, fn, inputs, requires_grad, noncontiguous)
    outs_c, outs_t = _outputs(out_c), _outputs(out_t)
    assert len(outs_c) == len(outs_t), f"{len(outs_c)} outputs, torch gives {len(outs_t)}"
    for i, (c, t) in enumerate(zip(outs_c, outs_t)):
        if not isinstance(t, torch.Tensor):
            assert c == t, f"output {i}: {c} != torch's {t}"
            continue
        assert isinstance(c, convgrad.Tensor), f"output {i}: expected a Tensor, got {type(c).__name__}"
        assert tuple(c.shape) == tuple(t.shape), f"output {i}: shape {tuple(c.shape)} != {tuple(t.shape)}"
        if check_dtype:
            assert str(c.dtype) == str(t.dtype).replace("torch.", ""), f"output {i}: {c.dtype} != {t.dtype}"
        np.testing.assert_allclose(_np(c), _np(t), atol=atol, rtol=rtol, err_msg=f"forward output {i}")
    if not grad:
        return out_c
    rng = np.random.default_rng(seed)
    loss_c, loss_t = 0, 0
    any_grad = False
    for c, t in zip(outs_c, outs_t):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            assert c.requires_grad, "convgrad output does not require grad but torch's does"
            w = rng.standard_normal(tuple(t.shape)).astype(str(t.dtype).replace("torch.", ""))
            loss_c = loss_c + (c * convgrad.tensor(w)).sum()
            loss_t = loss_t + (t * torch.tensor(w)).sum()
            any_grad = True
    if not any_grad:
        return out_c
    loss_t.backward()
    loss_c.backward()
    for i, (lc, lt) in enumerate(zip(leaves_c, leaves_t)):
        if lt is None or not lt.requires_grad:
            continue
        gt, gc = lt.grad, lc.grad
        if gt is None:
            assert gc is None or not np.any(gc._data), f"input {i}: torch gives no gradient, convgrad does"
            continue
        assert gc is not None, f"input {i}: convgrad gives no gradient"
        assert gc.shape == tuple(gt.shape), f"input {i}: grad shape {gc.shape} != torch's {tuple(gt.shape)}"
        assert str(gc.dtype) == str(gt.dtype).replace("torch.", ""), f"input {i}: grad dtype {gc.dtype}"
        np.testing.assert_allclose(gc._data, _np(gt), atol=atol, rtol=rtol, err_msg=f"gradient of input {i}")
    return out_c


def compare_raises(fn, *inputs):
    """Assert that both libraries raise on this input; return convgrad's exception for message checks.
    convgrad must raise before NumPy does: its error may not come from inside NumPy."""
    errs = []
    for lib in (torch, convgrad):
        try:
            run(lib, fn, inputs, [False] * len(inputs), False)
        except Exception as e:  # noqa: BLE001
            errs.append(e)
        else:
            errs.append(None)
    assert errs[0] is not None, "torch accepts this input (the test's premise is wrong)"
    assert errs[1] is not None, f"convgrad accepts an input torch rejects: {errs[0]}"
    tb = errs[1].__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    origin = tb.tb_frame.f_code.co_filename
    assert "numpy" not in origin.replace("\\", "/").split("site-packages")[-1][:30], (
        f"convgrad's error comes from inside NumPy ({origin}): {errs[1]!r}"
    )
    return errs[1]


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """float64 finite-difference check of ``fn(convgrad, *tensors)``."""
    ts = [convgrad.tensor(a.astype(np.float64), requires_grad=True) if isinstance(a, np.ndarray)
          and a.dtype.kind == "f" else (convgrad.tensor(a) if isinstance(a, np.ndarray) else a)
          for a in inputs]
    return convgrad.autograd.gradcheck(lambda *xs: fn(convgrad, *xs), ts, eps=eps, atol=atol, rtol=rtol)
