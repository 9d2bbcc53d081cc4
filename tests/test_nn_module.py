"""The Module API: registration, iteration, modes, dtype conversion, state_dict/load_state_dict (keys equal
torch's; one error listing every bad key), hooks, repr, containers and Parameter."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import convgrad
from convgrad import nn
from convgrad.nn import functional as F


def build(lib):
    """The same small CNN in torch or convgrad (``lib`` is the library module)."""
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = lib.nn.Sequential(
                lib.nn.Conv2d(1, 4, 3, padding=1), lib.nn.BatchNorm2d(4), lib.nn.ReLU(), lib.nn.MaxPool2d(2))
            self.blocks = lib.nn.ModuleList([lib.nn.Conv2d(4, 4, 3, padding=1) for _ in range(2)])
            self.heads = lib.nn.ModuleDict({"cls": lib.nn.Linear(4 * 4 * 4, 3),
                                            "aux": lib.nn.Linear(4 * 4 * 4, 1)})
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("cache", lib.zeros(2), persistent=False)
            self.dropout = lib.nn.Dropout(0.5)

        def forward(self, x):
            x = self.features(x)
            for block in self.blocks:
                x = lib.nn.functional.relu(block(x)) + x
            x = self.dropout(x.flatten(1)) * self.scale
            return self.heads["cls"](x), self.heads["aux"](x)

    return Net()


def _torch_state(tnet):
    return {k: v.detach().numpy().copy() for k, v in tnet.state_dict().items()}


def test_names_match_torch():
    c, t = build(convgrad), build(torch)
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in c.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert list(c.state_dict()) == list(t.state_dict())
    assert [n for n, _ in c.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in c.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in c.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in c.features.named_parameters(prefix="f")] == \
        [n for n, _ in t.features.named_parameters(prefix="f")]
    assert repr(c) == repr(t)


def test_forward_backward_and_eval_match_torch():
    c, t = build(convgrad), build(torch)
    c.load_state_dict(_torch_state(t))
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    c.eval()
    t.eval()
    for oc, ot in zip(c(convgrad.tensor(x)), t(torch.tensor(x))):
        np.testing.assert_allclose(oc._data, ot.detach().numpy(), rtol=1e-4, atol=1e-5)
    c.train()
    t.train()
    c.dropout.p = t.dropout.p = 0.0
    oc, ot = c(convgrad.tensor(x)), t(torch.tensor(x))
    (oc[0].sum() + oc[1].sum()).backward()
    (ot[0].sum() + ot[1].sum()).backward()
    for (n, pc), (_, pt) in zip(c.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(pc.grad._data, pt.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=n)
    for (n, bc), (_, bt) in zip(c.named_buffers(), t.named_buffers()):
        np.testing.assert_allclose(bc._data, bt.numpy(), rtol=1e-5, atol=1e-6, err_msg=n)


def test_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(convgrad.ones(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("b", convgrad.zeros(1))
    m.plain = 3
    assert list(m._parameters) == ["w"] and list(m._modules) == ["sub"] and list(m._buffers) == ["b"]
    assert m.plain == 3 and "plain" in m.__dict__
    with pytest.raises(TypeError, match=r"cannot assign 'convgrad\.float32Tensor' as parameter 'w'"):
        m.w = convgrad.ones(2)
    m.w = None  # allowed: the parameter becomes None (and disappears from iteration)
    assert list(m.parameters()) == list(m.sub.parameters())
    with pytest.raises(TypeError, match="as child module 'sub'"):
        m.sub = 5
    m.b = convgrad.ones(1)  # reassigning a buffer keeps it a buffer
    assert "b" in m._buffers and m.b.item() == 1
    with pytest.raises(KeyError, match=r'contain "\."'):
        m.register_buffer("a.b", convgrad.ones(1))
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_parameter("plain", nn.Parameter(convgrad.ones(1)))
    with pytest.raises(TypeError, match="Parameter or None required"):
        m.register_parameter("q", convgrad.ones(1))
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("q", _non_leaf_param())
    m.sub2 = nn.ReLU()
    del m.sub2
    assert "sub2" not in m._modules
    m.add_module("extra", nn.Tanh())
    m.register_module("extra2", None)
    assert m.extra2 is None and [n for n, _ in m.named_children()] == ["sub", "extra"]
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("bad", 3)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(convgrad.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()


def _non_leaf_param():
    p = nn.Parameter(convgrad.ones(1))
    q = p * 2
    q.__class__ = nn.Parameter
    return q


def test_unknown_attribute_error():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

    net = Net()
    with pytest.raises(AttributeError) as info:
        _ = net.x
    assert str(info.value) == "'Net' object has no attribute 'x'"
    assert not hasattr(net, "fc2")
    assert hasattr(net, "fc")


def test_shared_parameters_and_remove_duplicate():
    a = nn.Linear(3, 3)
    net = nn.Sequential(a, nn.ReLU(), a)
    assert len(list(net.parameters())) == 2
    assert [n for n, _ in net.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(net.named_parameters(remove_duplicate=False))) == 4
    assert len(list(net.modules())) == 3
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as torch


def test_train_eval_propagate():
    net = build(convgrad)
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.heads.train()
    assert net.heads.cls.training and not net.features.training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_zero_grad_requires_grad_and_apply():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    net(convgrad.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []

    def init(m):
        seen.append(type(m).__name__)
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)

    assert net.apply(init) is net
    assert seen == ["Linear", "ReLU", "Linear", "Sequential"]
    assert np.all(net[0].weight._data == 0.5)


def test_dtype_and_device_conversion():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    params = list(net.parameters())
    w = net[0].weight
    net[0].weight.grad = convgrad.ones(2, 3)
    assert net.double() is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net[1].running_mean.dtype == np.float64 and net[1].num_batches_tracked.dtype == np.int64
    assert net[0].weight is w and w.grad.dtype == np.float64  # same Parameter objects
    assert list(net.parameters()) == params
    net.float()
    assert w.dtype == np.float32
    net.to(convgrad.float64)
    assert w.dtype == np.float64
    net.to("cpu", dtype=convgrad.float32)
    net.to(convgrad.device("cpu"))
    net.to(convgrad.zeros(1, dtype=convgrad.float64))
    assert w.dtype == np.float64
    assert net.cpu() is net
    with pytest.raises(RuntimeError, match="CPU only"):
        net.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        net.cuda()
    with pytest.raises(TypeError, match="floating point"):
        net.to(convgrad.int64)
    y = net(convgrad.randn(4, 3, dtype=convgrad.float64))
    assert y.dtype == np.float64


def test_load_state_dict_round_trip_and_result():
    src, dst = build(convgrad), build(convgrad)
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (k, a), (_, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        np.testing.assert_array_equal(a._data, b._data, err_msg=k)
    # copies, not aliases
    sd = src.state_dict()
    assert sd["scale"]._data is src.scale._data  # state_dict shares memory, as torch
    assert dst.scale._data is not src.scale._data
    assert "cache" not in sd  # non-persistent buffer


def test_load_state_dict_reports_every_bad_key_at_once():
    net = build(convgrad)
    sd = dict(net.state_dict())
    del sd["scale"], sd["heads.aux.bias"]
    sd["extra.weight"] = convgrad.ones(1)
    sd["heads.cls.weight"] = convgrad.ones(3, 10)
    sd["features.1.running_mean"] = convgrad.ones(5)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "heads.aux.bias", "scale".' in msg or \
        'Missing key(s) in state_dict: "scale", "heads.aux.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    assert "size mismatch for heads.cls.weight: copying a param with shape (3, 10) from checkpoint, " \
           "the shape in current model is (3, 64)." in msg
    assert "size mismatch for features.1.running_mean" in msg
    # the same mistakes against torch produce the same list of keys
    tnet = build(torch)
    tsd = {k: torch.tensor(v._data) for k, v in sd.items()}
    with pytest.raises(RuntimeError) as tinfo:
        tnet.load_state_dict(tsd)
    for line in str(tinfo.value).split("\n\t")[1:]:
        head = line.split(":")[0]
        assert head in msg


def test_load_state_dict_non_strict():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    sd = {"0.weight": np.ones((2, 2), np.float32), "9.bias": np.ones(1, np.float32)}
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias"]
    assert result.unexpected_keys == ["9.bias"]
    assert np.all(net[0].weight._data == 1)
    with pytest.raises(RuntimeError, match="size mismatch"):  # shapes are always checked
        net.load_state_dict({"0.weight": np.ones((3, 2), np.float32)}, strict=False)
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])


def test_load_state_dict_assign_and_casting():
    net = nn.Linear(2, 2)
    w = net.weight
    net.load_state_dict({"weight": np.ones((2, 2)), "bias": np.zeros(2)})  # float64 source cast in place
    assert net.weight is w and w.dtype == np.float32 and np.all(w._data == 1)
    net.load_state_dict({"weight": convgrad.full((2, 2), 2.0), "bias": convgrad.zeros(2)}, assign=True)
    assert net.weight is not w and isinstance(net.weight, nn.Parameter) and np.all(net.weight._data == 2)


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append("pre") or (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append("post") or out + 1)
    h3 = lin.register_forward_hook(lambda m, args, out: calls.append("first"), prepend=True)
    y = lin(convgrad.ones(1, 2))
    assert calls == ["pre", "first", "post"]
    np.testing.assert_allclose(y._data, lin.bias._data[None] + 1, rtol=1e-6)
    for h in (h1, h2, h3):
        h.remove()
    calls.clear()
    lin(convgrad.ones(1, 2))
    assert calls == []
    h = lin.register_forward_pre_hook(lambda m, args, kwargs: (args, kwargs), with_kwargs=True)
    h4 = lin.register_forward_hook(lambda m, args, kwargs, out: out * 0, with_kwargs=True)
    assert np.all(lin(convgrad.ones(1, 2))._data == 0)
    h.remove()
    h4.remove()
    with lin.register_forward_hook(lambda m, a, o: o * 2):
        assert lin(convgrad.zeros(1, 2))._data.tolist() == (lin.bias._data * 2)[None].tolist()
    assert lin(convgrad.zeros(1, 2))._data.tolist() == lin.bias._data[None].tolist()


def test_forward_hooks_collect_activations_in_a_network():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    shapes = {}
    handles = [m.register_forward_hook(lambda m, a, o, name=name: shapes.__setitem__(name, tuple(o.shape)))
               for name, m in net.named_children()]
    net(convgrad.zeros(5, 1, 4, 4))
    assert shapes == {"0": (5, 2, 2, 2), "1": (5, 2, 2, 2), "2": (5, 8), "3": (5, 2)}
    for h in handles:
        h.remove()


def test_always_called_forward_hook():
    lin = nn.Linear(2, 2)
    seen = []
    lin.register_forward_hook(lambda m, a, o: seen.append(o), always_call=True)
    with pytest.raises(RuntimeError):
        lin(convgrad.ones(1, 3))
    assert seen == [None]


def test_full_backward_hook_matches_torch():
    torch.manual_seed(0)
    tl = torch.nn.Linear(3, 2)
    cl = nn.Linear(3, 2)
    cl.load_state_dict(_torch_state(tl))
    got = {}
    for lib, layer in (("t", tl), ("c", cl)):
        layer.register_full_backward_hook(
            lambda m, gi, go, lib=lib: got.__setitem__(lib, (gi, go)))
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    xt, xc = torch.tensor(x, requires_grad=True), convgrad.tensor(x, requires_grad=True)
    (tl(xt) ** 2).sum().backward()
    (cl(xc) ** 2).sum().backward()
    (gi_t, go_t), (gi_c, go_c) = got["t"], got["c"]
    # float32 sums of mixed signs: an absolute floor, or a near-zero element fails on rounding alone
    np.testing.assert_allclose(go_c[0].numpy(), go_t[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gi_c[0].numpy(), gi_t[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)

    # a hook may replace grad_input
    cl2 = nn.Linear(3, 2)
    cl2.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    x2 = convgrad.tensor(x, requires_grad=True)
    cl2(x2).sum().backward()
    assert not x2.grad._data.any() and cl2.weight.grad._data.any()


def test_errors_in_forward_name_the_layer_once():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(10, 2)

        def forward(self, x):
            return self.fc(x.view(-1, 10))

    with pytest.raises(RuntimeError) as info:
        Net()(convgrad.zeros(3, 7))
    assert str(info.value).startswith("Net: ")  # the error came from Net's own code (view)
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(convgrad.zeros(1))


def test_error_annotation_keeps_the_exception_type_and_traceback():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("bad value")

    with pytest.raises(ValueError, match=r"^Boom\(\): bad value$"):
        Boom()(1)


def test_get_submodule_and_parameter():
    net = build(convgrad)
    assert net.get_submodule("features.0") is net.features[0]
    assert net.get_parameter("heads.cls.bias") is net.heads["cls"].bias
    assert net.get_buffer("features.1.running_var") is net.features[1].running_var
    with pytest.raises(AttributeError):
        net.get_submodule("features.9")


def test_sequential_api():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    head = s[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b] and list(head._modules) == ["0", "1"]
    assert list(s[1:]._modules) == ["1", "2"]  # slices keep the names, as torch
    with pytest.raises(IndexError, match="out of range"):
        s[3]
    s.append(nn.Sigmoid())
    assert len(s) == 4
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and s[1] is c
    s[0] = nn.Tanh()
    assert isinstance(s[0], nn.Tanh)
    s.insert(1, nn.Identity())
    assert isinstance(s[1], nn.Identity)
    named = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 2, 3)), ("act", nn.ReLU())]))
    assert named.conv is named[0] and list(named.state_dict()) == ["conv.weight", "conv.bias"]
    y = nn.Sequential(nn.Linear(2, 3), nn.ReLU())(convgrad.ones(4, 2))
    assert y.shape == (4, 3)
    assert len(nn.Sequential(a) + nn.Sequential(b, c)) == 3


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "Linear", "Linear", "ReLU", "Tanh"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert list(ml._modules) == [str(i) for i in range(5)]
    ml += [nn.Sigmoid()]
    assert isinstance(ml[-1], nn.Sigmoid)
    with pytest.raises(NotImplementedError):
        ml(convgrad.ones(1))
    md = nn.ModuleDict({"a": nn.ReLU()})
    md["b"] = nn.Tanh()
    md.update([("c", nn.Sigmoid())])
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert isinstance(md.pop("a"), nn.ReLU) and list(md) == ["b", "c"]
    pl = nn.ParameterList([nn.Parameter(convgrad.ones(2)), convgrad.zeros(3)])
    assert len(pl) == 2 and isinstance(pl[1], nn.Parameter)
    holder = nn.Module()
    holder.pl = pl
    assert [n for n, _ in holder.named_parameters()] == ["pl.0", "pl.1"]
    pd = nn.ParameterDict({"x": nn.Parameter(convgrad.ones(1))})
    assert list(pd.keys()) == ["x"] and pd["x"].shape == (1,)


def test_parameter():
    p = nn.Parameter(convgrad.ones(2))
    assert isinstance(p, convgrad.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\n" + repr(convgrad.ones(2, requires_grad=True))
    frozen = repr(nn.Parameter(convgrad.ones(2), requires_grad=False))
    assert frozen.startswith("Parameter containing:\ntensor(")
    t = convgrad.zeros(3)
    shared = nn.Parameter(t)
    t._data[0] = 5
    assert shared._data[0] == 5  # shares memory
    assert type(p * 2) is convgrad.Tensor
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q._data is not p._data
    r = pickle.loads(pickle.dumps(p))
    assert isinstance(r, nn.Parameter) and np.array_equal(r._data, p._data)
    assert nn.Parameter().shape == (0,)


def test_deepcopy_of_a_model_is_independent():
    net = build(convgrad)
    clone = copy.deepcopy(net)
    with convgrad.no_grad():
        clone.scale.fill_(3.0)
    assert net.scale.item() == 1.0
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]
    x = convgrad.randn(1, 1, 8, 8)
    net.eval()
    clone.eval()
    np.testing.assert_allclose(clone(x)[0].data, 3 * net(x)[0].data - 2 * net.heads.cls.bias._data, rtol=1e-4,
                               atol=1e-5)


def test_buffer_class_and_extra_repr():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.mean = nn.Buffer(convgrad.zeros(2))
            self.tmp = nn.Buffer(convgrad.zeros(1), persistent=False)

        def extra_repr(self):
            return "k=1\nj=2"

    m = Custom()
    assert list(m.state_dict()) == ["mean"] and len(list(m.buffers())) == 2
    assert repr(m) == "Custom(\n  k=1\n  j=2\n)"


def test_functional_and_module_agree():
    x = convgrad.randn(3, 4)
    np.testing.assert_array_equal(nn.ReLU()(x)._data, F.relu(x)._data)


def test_forgetting_super_init_is_explained():
    class Net(nn.Module):
        def __init__(self):
            self.k = 3

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match=r"Net.__init__ must call super\(\).__init__\(\)"):
        Net()(convgrad.ones(1))
