"""Optimisers against PyTorch: the same parameters and gradients give the same updates over several steps
for every option and with parameter groups; state_dict has torch's layout and resumes exactly; float32
stays float32. Also gradient clipping and parameter/vector conversion."""

import math

import numpy as np
import pytest
import torch

import convgrad
from convgrad import nn, optim

torch.set_num_threads(1)

SHAPES = [(4, 3), (3,), (2, 2, 3)]


def _params(lib, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    if lib is torch:
        return [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    return [nn.Parameter(convgrad.tensor(a)) for a in arrays]


def _grads(step, dtype=np.float32):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _set_grads(params, step, lib, skip=()):
    for i, (p, g) in enumerate(zip(params, _grads(step, p_dtype(params)))):
        if i in skip:
            p.grad = None
        else:
            p.grad = torch.tensor(g) if lib is torch else convgrad.tensor(g)


def p_dtype(params):
    return np.float64 if str(params[0].dtype).endswith("float64") else np.float32


def _make(lib, name, kwargs, groups, params):
    cls = getattr((torch.optim if lib is torch else optim), name)
    if groups:
        spec = [{"params": params[:1], **groups[0]}, {"params": params[1:], **groups[1]}]
        return cls(spec, **kwargs)
    return cls(params, **kwargs)


CASES = [
    ("SGD", {"lr": 0.1}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}, None),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}, None),
    ("SGD", {"lr": 0.1}, [{"lr": 0.01, "momentum": 0.9}, {"weight_decay": 0.5}]),
    ("Adam", {}, None),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}, None),
    ("Adam", {"lr": 0.01, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01, "maximize": True, "weight_decay": 0.05, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01}, [{"lr": 0.1, "betas": (0.5, 0.9)}, {"amsgrad": True}]),
    ("AdamW", {}, None),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True}, None),
    ("AdamW", {"lr": 0.01}, [{"weight_decay": 0.0}, {"weight_decay": 0.5}]),
    ("RMSprop", {}, None),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.5}, None),
    ("RMSprop", {"lr": 0.01, "centered": True, "weight_decay": 0.1}, None),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "maximize": True}, None),
    ("Adagrad", {}, None),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.2, "weight_decay": 0.1}, None),
    ("Adagrad", {"lr": 0.1, "maximize": True, "eps": 1e-6}, None),
    ("Adadelta", {}, None),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}, None),
    ("Adadelta", {"maximize": True}, [{"lr": 0.1}, {"rho": 0.5}]),
]


def _ids(case):
    return f"{case[0]}{case[1]}{'-groups' if case[2] else ''}".replace(" ", "")


def _compare(pc, pt, rtol=2e-5, atol=2e-6, msg=""):
    for i, (c, t) in enumerate(zip(pc, pt)):
        assert c.dtype == np.dtype(str(t.dtype).replace("torch.", "")), f"{msg} param {i} dtype {c.dtype}"
        np.testing.assert_allclose(c._data, t.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{msg} param {i}")


@pytest.mark.parametrize("name,kwargs,groups", CASES, ids=[_ids(c) for c in CASES])
def test_optimizer_matches_torch(name, kwargs, groups):
    pc, pt = _params(convgrad), _params(torch)
    oc, ot = _make(convgrad, name, kwargs, groups, pc), _make(torch, name, kwargs, groups, pt)
    for step in range(6):
        skip = (1,) if step == 2 else ()  # a parameter without a gradient is left alone
        _set_grads(pc, step, convgrad, skip)
        _set_grads(pt, step, torch, skip)
        oc.step()
        ot.step()
        _compare(pc, pt, msg=f"step {step}")
    # state_dict: torch's layout, the same values
    sc, st = oc.state_dict(), ot.state_dict()
    assert sc["param_groups"] == st["param_groups"]
    assert sc["state"].keys() == st["state"].keys()
    for k in st["state"]:
        assert sc["state"][k].keys() == st["state"][k].keys()
        for key, vt in st["state"][k].items():
            vc = sc["state"][k][key]
            assert vc.dtype == np.dtype(str(vt.dtype).replace("torch.", "")), f"state {k}.{key} dtype"
            np.testing.assert_allclose(vc._data, vt.numpy(), rtol=2e-5, atol=2e-6, err_msg=f"state {k}.{key}")


@pytest.mark.parametrize("name,kwargs,groups", CASES[::3], ids=[_ids(c) for c in CASES[::3]])
def test_state_dict_round_trip_resumes_exactly(name, kwargs, groups, tmp_path):
    """Three steps, save (state_dict through convgrad.save/load), a fresh optimiser loads it and runs three
    more steps: the result equals six uninterrupted steps."""
    p_ref = _params(convgrad)
    o_ref = _make(convgrad, name, kwargs, groups, p_ref)
    p_a = _params(convgrad)
    o_a = _make(convgrad, name, kwargs, groups, p_a)
    for step in range(3):
        for ps, o in ((p_ref, o_ref), (p_a, o_a)):
            _set_grads(ps, step, convgrad)
            o.step()
    path = tmp_path / "opt.safetensors"
    convgrad.save({"params": [p.detach() for p in p_a], "optimizer": o_a.state_dict()}, path)
    ckpt = convgrad.load(path)
    p_b = _params(convgrad, seed=5)
    with convgrad.no_grad():
        for p, saved in zip(p_b, ckpt["params"]):
            p.copy_(saved)
    o_b = _make(convgrad, name, {k: (v if k != "lr" else 123.0) for k, v in kwargs.items()}, groups, p_b)
    o_b.load_state_dict(ckpt["optimizer"])
    for step in range(3, 6):
        for ps, o in ((p_ref, o_ref), (p_b, o_b)):
            _set_grads(ps, step, convgrad)
            o.step()
    for a, b in zip(p_ref, p_b):
        np.testing.assert_array_equal(a._data, b._data)


def test_load_state_dict_does_not_alias_the_source():
    p = _params(convgrad)
    o = optim.Adam(p, lr=0.1)
    _set_grads(p, 0, convgrad)
    o.step()
    sd = o.state_dict()
    o2 = optim.Adam(_params(convgrad), lr=0.1)
    o2.load_state_dict(sd)
    before = sd["state"][0]["exp_avg"]._data.copy()
    _set_grads(o2.param_groups[0]["params"], 1, convgrad)
    o2.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"]._data, before)


def test_load_state_dict_checks_groups():
    p = _params(convgrad)
    sd = optim.SGD(p, lr=0.1).state_dict()
    with pytest.raises(ValueError, match=r"^SGD.load_state_dict: expected a state dict with the "
                                         r"optimizer's 2 parameter groups, got 1 groups$"):
        optim.SGD([{"params": p[:1]}, {"params": p[1:]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"^SGD.load_state_dict: expected 2 parameters in group 0 "
                                         r"\(the optimizer's\), got \d+ in the state dict$"):
        optim.SGD(p[:2], lr=0.1).load_state_dict(sd)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"):
        ps = _params(convgrad, dtype=dtype)
        o = getattr(optim, name)(ps, lr=0.01, **({"momentum": 0.9} if name in ("SGD", "RMSprop") else {}))
        for step in range(2):
            _set_grads(ps, step, convgrad)
            o.step()
        for p in ps:
            assert p.dtype == dtype, name
        for state in o.state.values():
            for k, v in state.items():
                if k != "step":
                    assert v.dtype == dtype, f"{name}.{k}"


def test_float64_matches_torch():
    pc, pt = _params(convgrad, dtype=np.float64), _params(torch, dtype=np.float64)
    oc, ot = optim.Adam(pc, lr=0.05, amsgrad=True), torch.optim.Adam(pt, lr=0.05, amsgrad=True)
    for step in range(5):
        _set_grads(pc, step, convgrad)
        _set_grads(pt, step, torch)
        oc.step()
        ot.step()
    _compare(pc, pt, rtol=1e-12, atol=1e-13)


def test_updates_bump_the_version_and_keep_identity():
    ps = _params(convgrad)
    arrays = [p._data for p in ps]
    o = optim.SGD(ps, lr=0.1)
    _set_grads(ps, 0, convgrad)
    v0 = [p._version for p in ps]
    o.step()
    assert all(p._data is a for p, a in zip(ps, arrays))  # updated in place
    assert all(p._version > v for p, v in zip(ps, v0))
    assert all(p.grad_fn is None for p in ps)


def test_errors():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam(nn.Sequential().parameters())
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(convgrad.ones(2, requires_grad=True), lr=0.1)
    x = convgrad.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [x]}, {"params": [x]}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([x], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([x], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([x], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid rho value"):
        optim.Adadelta([x], rho=1.5)


def test_zero_grad_add_param_group_and_closure():
    ps = _params(convgrad)
    o = optim.SGD(ps[:2], lr=0.1, momentum=0.9)
    o.add_param_group({"params": ps[2:], "lr": 0.01})
    assert o.param_groups[1]["momentum"] == 0.9 and o.param_groups[1]["lr"] == 0.01
    _set_grads(ps, 0, convgrad)
    o.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in ps)
    o.zero_grad()
    assert all(p.grad is None for p in ps)

    w = nn.Parameter(convgrad.tensor([3.0]))
    o = optim.SGD([w], lr=0.25)

    def closure():
        o.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with convgrad.no_grad():  # the closure runs with gradients enabled anyway
        loss = o.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(w._data, [1.5])


def test_named_parameters_are_accepted():
    net = nn.Linear(3, 2)
    o = optim.SGD(net.named_parameters(), lr=0.1)
    assert o.param_groups[0]["param_names"] == ["weight", "bias"]
    assert o.param_groups[0]["params"][0] is net.weight


def test_training_a_small_model_matches_torch():
    """Linear -> ReLU -> Linear trained 5 steps with Adam: weights match torch's."""
    tnet = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    cnet = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    cnet.load_state_dict({k: v.detach().numpy().copy() for k, v in tnet.state_dict().items()})
    to, co = torch.optim.Adam(tnet.parameters(), lr=0.01), optim.Adam(cnet.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.standard_normal((16, 6)).astype(np.float32)
        y = rng.integers(0, 3, 16)
        for net, o, lib in ((tnet, to, torch), (cnet, co, convgrad)):
            o.zero_grad()
            loss = lib.nn.functional.cross_entropy(net(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            o.step()
    for (k, a), (_, b) in zip(cnet.state_dict().items(), tnet.state_dict().items()):
        np.testing.assert_allclose(a._data, b.numpy(), rtol=1e-4, atol=1e-5, err_msg=k)


# ---------------------------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    pc, pt = _params(convgrad), _params(torch)
    _set_grads(pc, 0, convgrad, skip=(1,))
    _set_grads(pt, 0, torch, skip=(1,))
    nc = nn.utils.clip_grad_norm_(pc, max_norm, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type)
    assert isinstance(nc, convgrad.Tensor) and nc.dtype == np.float32
    np.testing.assert_allclose(nc.item(), nt.item(), rtol=1e-5)
    for c, t in zip(pc, pt):
        if t.grad is None:
            assert c.grad is None
        else:
            np.testing.assert_allclose(c.grad._data, t.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(convgrad.ones(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients
    p.grad = convgrad.tensor([3.0, 4.0, 0.0])
    total = nn.utils.clip_grad_norm_(p, 1.0)  # a single tensor
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(np.linalg.norm(p.grad._data), 1.0, rtol=1e-5)
    p.grad = convgrad.tensor([np.nan, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    pc, pt = _params(convgrad), _params(torch)
    _set_grads(pc, 0, convgrad)
    _set_grads(pt, 0, torch)
    nn.utils.clip_grad_value_(pc, 0.5)
    torch.nn.utils.clip_grad_value_(pt, 0.5)
    for c, t in zip(pc, pt):
        np.testing.assert_array_equal(c.grad._data, t.grad.numpy())


def test_parameters_to_vector_and_back():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    net.load_state_dict({k: v.detach().numpy().copy() for k, v in tnet.state_dict().items()})
    vec = nn.utils.parameters_to_vector(net.parameters())
    np.testing.assert_array_equal(vec._data, torch.nn.utils.parameters_to_vector(tnet.parameters()).detach())
    vec.sum().backward()  # differentiable
    assert all(np.all(p.grad._data == 1) for p in net.parameters())
    new = convgrad.arange(vec.numel(), dtype=convgrad.float32)
    nn.utils.vector_to_parameters(new, net.parameters())
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(net.parameters())._data, new._data)
    with pytest.raises(ValueError, match="elements"):
        nn.utils.vector_to_parameters(convgrad.zeros(3), net.parameters())


def _lenet(lib):
    nn_, F_ = lib.nn, lib.nn.functional

    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn_.Conv2d(1, 6, 5, padding=2)
            self.pool = nn_.MaxPool2d(2, 2)
            self.conv2 = nn_.Conv2d(6, 16, 5)
            self.bn = nn_.BatchNorm2d(16)
            self.fc1 = nn_.Linear(16 * 5 * 5, 32)
            self.fc2 = nn_.Linear(32, 10)

        def forward(self, x):
            x = self.pool(F_.relu(self.conv1(x)))
            x = self.pool(F_.relu(self.bn(self.conv2(x))))
            x = x.view(-1, 16 * 5 * 5)
            return self.fc2(F_.relu(self.fc1(x)))

    return Net()


def test_a_pytorch_style_training_script_matches_torch():
    """The CIFAR tutorial loop (SGD with momentum, StepLR, gradient clipping) on a LeNet: after a few
    steps every parameter and buffer equals torch's."""
    tnet, cnet = _lenet(torch), _lenet(convgrad)
    cnet.load_state_dict({k: v.detach().numpy().copy() for k, v in tnet.state_dict().items()})
    runs = []
    for lib, net in ((torch, tnet), (convgrad, cnet)):
        opt = lib.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        criterion = lib.nn.CrossEntropyLoss()
        rng = np.random.default_rng(0)
        norms = []
        for _ in range(4):
            x = lib.tensor(rng.standard_normal((8, 1, 28, 28)).astype(np.float32))
            y = lib.tensor(rng.integers(0, 10, 8))
            opt.zero_grad()
            loss = criterion(net(x), y)
            loss.backward()
            norms.append(float(lib.nn.utils.clip_grad_norm_(net.parameters(), 1.0)))
            opt.step()
            sched.step()
        net.eval()
        with lib.no_grad():
            out = net(lib.tensor(rng.standard_normal((2, 1, 28, 28)).astype(np.float32)))
        runs.append((norms, out.numpy() if lib is convgrad else out.detach().numpy(), sched.get_last_lr()))
    (nt, ot, lt), (nc, oc, lc) = runs
    np.testing.assert_allclose(nc, nt, rtol=1e-4)
    np.testing.assert_allclose(oc, ot, rtol=1e-3, atol=1e-4)
    assert lc == lt
    for (k, a), (_, b) in zip(cnet.state_dict().items(), tnet.state_dict().items()):
        np.testing.assert_allclose(a._data, b.numpy(), rtol=1e-3, atol=1e-5, err_msg=k)
