"""Tensor basics and factories, against PyTorch where it has the same call."""

import numpy as np
import pytest
import torch

import convgrad


def test_dtype_inference_like_torch():
    for data in ([1.0, 2.0], [1, 2], [True, False], [[1, 2], [3, 4]], 3.5, 7):
        assert str(convgrad.tensor(data).dtype) == str(torch.tensor(data).dtype).replace("torch.", "")
    assert convgrad.tensor(np.zeros(2)).dtype == convgrad.float64
    assert convgrad.Tensor([1, 2]).dtype == convgrad.float32


def test_attributes():
    x = convgrad.randn(2, 3, requires_grad=True)
    assert x.shape == (2, 3) and x.size() == (2, 3) and x.size(-1) == 3
    assert x.ndim == 2 and x.dim() == 2 and x.numel() == 6
    assert x.is_leaf and x.grad is None and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None
    assert str(x.device) == "cpu"
    assert convgrad.tensor(3.5).item() == 3.5
    assert convgrad.tensor([[1, 2]]).tolist() == [[1, 2]]
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    assert x.detach().numpy().shape == (2, 3)
    c = x.clone()
    assert c.requires_grad and c.grad_fn is not None and c._data is not x._data


def test_repr_like_torch():
    assert repr(convgrad.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(convgrad.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(convgrad.tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=convgrad.float64" in repr(convgrad.tensor([1.0], dtype=convgrad.float64))
    assert repr(convgrad.tensor([1.0], requires_grad=True) * 2) == "tensor([2.], grad_fn=<MulBackward0>)"


def test_factories_shapes_and_dtypes_match_torch():
    cases = [
        lambda L: L.zeros(2, 3), lambda L: L.ones((2, 3)), lambda L: L.full((2,), 1.5),
        lambda L: L.full((2,), 7), lambda L: L.empty(3, 1), lambda L: L.arange(5),
        lambda L: L.arange(0, 1, 0.25), lambda L: L.linspace(0, 1, 5), lambda L: L.eye(3),
        lambda L: L.rand(2, 2), lambda L: L.randn(4), lambda L: L.randint(0, 5, (3,)),
        lambda L: L.randperm(6), lambda L: L.zeros_like(L.ones(2, dtype=L.float64)),
        lambda L: L.ones_like(L.ones(2)), lambda L: L.full_like(L.ones(2), 3.0),
        lambda L: L.rand_like(L.ones(2)), lambda L: L.randn_like(L.ones(3)),
        lambda L: L.zeros(2, dtype=L.int64),
    ]
    for make in cases:
        c, t = make(convgrad), make(torch)
        assert tuple(c.shape) == tuple(t.shape)
        assert str(c.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(convgrad.linspace(0, 1, 5)._data, torch.linspace(0, 1, 5).numpy())
    np.testing.assert_allclose(convgrad.arange(0, 1, 0.25)._data, torch.arange(0, 1, 0.25).numpy())


def test_manual_seed_makes_runs_reproducible():
    convgrad.manual_seed(3)
    a = convgrad.randn(5), convgrad.rand(2), convgrad.randperm(5), convgrad.randint(0, 9, (4,))
    convgrad.manual_seed(3)
    b = convgrad.randn(5), convgrad.rand(2), convgrad.randperm(5), convgrad.randint(0, 9, (4,))
    for x, y in zip(a, b):
        assert x.equal(y)
    g = convgrad.Generator().manual_seed(1)
    g2 = convgrad.Generator().manual_seed(1)
    assert convgrad.randn(3, generator=g).equal(convgrad.randn(3, generator=g2))
    state = convgrad.get_rng_state()
    u = convgrad.rand(3)
    convgrad.set_rng_state(state)
    assert convgrad.rand(3).equal(u)


def test_random_distributions():
    convgrad.manual_seed(0)
    x = convgrad.randn(100000)
    assert abs(x.mean().item()) < 0.02 and abs(x.std().item() - 1) < 0.02
    u = convgrad.rand(100000)
    assert 0 <= u.min().item() and u.max().item() < 1
    assert sorted(convgrad.randperm(10).tolist()) == list(range(10))


def test_conversions_and_devices():
    x = convgrad.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2] and x.int().dtype == convgrad.int32
    assert x.double().dtype == convgrad.float64 and x.to(convgrad.float64).dtype == convgrad.float64
    assert x.to("cpu") is x and x.cpu() is x
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    assert not convgrad.cuda.is_available()
    assert convgrad.from_numpy(np.ones(2))._data.base is not None or True
    arr = np.zeros(3, np.float32)
    t = convgrad.from_numpy(arr)
    arr[0] = 4
    assert t[0].item() == 4


def test_comparisons_give_bool_tensors():
    x = convgrad.tensor([1.0, 2.0, 3.0])
    assert (x > 1.5).tolist() == [False, True, True]
    assert (x == convgrad.tensor([1.0, 0.0, 3.0])).sum().item() == 2
    pred = convgrad.tensor([[1], [2]])
    target = convgrad.tensor([1, 3])
    assert pred.eq(target.view_as(pred)).sum().item() == 1


def test_indexing_with_tensors_and_setitem():
    x = convgrad.arange(12).reshape(3, 4)
    assert x[convgrad.tensor([2, 0])].tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
    assert x[x > 9].tolist() == [10, 11]
    x[0, 0] = 100
    assert x[0, 0].item() == 100
    with pytest.raises(IndexError, match="out of bounds"):
        x[:, 4]


def test_view_requires_compatible_layout():
    x = convgrad.ones(2, 3).transpose(0, 1)
    with pytest.raises(RuntimeError, match="reshape"):
        x.view(6)
    assert x.reshape(6).shape == (6,)
