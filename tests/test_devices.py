"""Devices and the GPU-facing namespaces (device, cuda, accelerator, backends, amp, nn.parallel),
against PyTorch (a CPU build, as convgrad is: no CUDA, no MPS)."""

import importlib
import types
import warnings

import numpy as np
import pytest
import torch

import convgrad

DEVICE_ARGS = [
    ("cuda",),
    ("cuda:0",),
    ("cuda:1",),
    ("mps",),
    ("cuda", 0),
    ("cuda", 3),
    ("cpu",),
    ("cpu:0",),
    ("cpu", 0),
    ("meta",),
    ("xpu", 1),
]
BAD_DEVICE_ARGS = [
    ("gpu",),
    ("CUDA",),
    ("cuda:x",),
    (" cuda",),
    ("cuda", -1),
    ("cuda:0", 1),
    ("cuda:",),
    (0,),
]


@pytest.mark.parametrize("args", DEVICE_ARGS)
def test_device_constructs_as_torch(args):
    c, t = convgrad.device(*args), torch.device(*args)
    assert (c.type, c.index, str(c), repr(c)) == (t.type, t.index, str(t), repr(t))
    assert convgrad.device(c) == c and hash(convgrad.device(c)) == hash(c)


def test_device_keywords_equality_and_hash_as_torch():
    assert repr(convgrad.device(type="cuda", index=2)) == repr(torch.device(type="cuda", index=2))
    for a in DEVICE_ARGS:
        for b in DEVICE_ARGS:
            same = torch.device(*a) == torch.device(*b)
            assert (convgrad.device(*a) == convgrad.device(*b)) == same, (a, b)
    # a device is not equal to its string, in either library
    assert (convgrad.device("cpu") == "cpu") == (torch.device("cpu") == "cpu") is False
    assert len({convgrad.device("cuda", 0), convgrad.device("cuda:0"), convgrad.device("cuda")}) == 2
    with pytest.raises(AttributeError):
        convgrad.device("cpu").type = "cuda"


@pytest.mark.parametrize("args", BAD_DEVICE_ARGS)
def test_bad_device_strings_raise_as_torch(args):
    with pytest.raises(RuntimeError) as t:
        torch.device(*args)
    with pytest.raises(RuntimeError) as c:
        convgrad.device(*args)
    assert str(c.value) == str(t.value)


def test_moving_to_a_missing_device_names_it():
    x = convgrad.ones(2)
    for d in ("cuda", "cuda:1", convgrad.device("mps"), convgrad.device("cuda", 0)):
        with pytest.raises(RuntimeError, match=f"expected device 'cpu', got '{convgrad.device(d)}'"):
            x.to(d)
        with pytest.raises(RuntimeError, match="convgrad computes on the CPU only"):
            convgrad.zeros(2, device=d)
        with pytest.raises(RuntimeError, match="convgrad computes on the CPU only"):
            convgrad.tensor([1.0], device=d)
        with pytest.raises(RuntimeError, match="convgrad computes on the CPU only"):
            convgrad.nn.Linear(2, 2).to(d)
    with pytest.raises(RuntimeError, match="got 'cuda'"):
        x.cuda()
    with pytest.raises(RuntimeError, match="got 'cuda'"):
        convgrad.nn.Linear(2, 2).cuda()
    for d in ("cpu", "cpu:0", convgrad.device("cpu"), convgrad.device("cpu", 0)):
        assert x.to(d) is x
    assert x.device == convgrad.device("cpu") and x.device.type == "cpu"


def test_the_cuda_tutorial_idiom():
    device = convgrad.device("cuda:0" if convgrad.cuda.is_available() else "cpu")
    net = convgrad.nn.Linear(3, 2).to(device)
    assert net(convgrad.ones(1, 3).to(device)).shape == (1, 2)
    acc = convgrad.accelerator
    device = acc.current_accelerator().type if acc.is_available() else "cpu"
    assert device == "cpu"


@pytest.mark.parametrize(
    "name",
    [
        "cuda",
        "accelerator",
        "backends",
        "backends.cudnn",
        "backends.mps",
        "backends.cuda",
        "nn.parallel",
        "amp",
        "cuda.amp",
    ],
)
def test_namespaces_are_modules(name):
    mod = importlib.import_module(f"convgrad.{name}")
    assert type(mod).__name__ == "module"
    obj = convgrad
    for part in name.split("."):
        obj = getattr(obj, part)
    assert obj is mod


def test_every_namespace_attribute_is_a_module_not_a_stand_in_object():
    # an object standing in for a module breaks `import convgrad.X.Y as Z`; check every public attribute
    for ns in (convgrad, convgrad.nn, convgrad.utils, convgrad.backends, convgrad.cuda, convgrad.accelerator):
        for name in dir(ns):
            value = getattr(ns, name)
            if name.startswith("_") or callable(value) or isinstance(value, (np.dtype, str, int, float)):
                continue
            assert isinstance(value, types.ModuleType) or name == "matmul", f"{ns.__name__}.{name}: {value!r}"


CUDA_CALLS = [
    "is_available()",
    "device_count()",
    "is_initialized()",
    "manual_seed(1)",
    "manual_seed_all(1)",
    "seed()",
    "seed_all()",
    "empty_cache()",
    "memory_allocated()",
    "max_memory_allocated()",
    "memory_reserved()",
    "is_bf16_supported()",
    "get_arch_list()",
    "current_device()",
    "synchronize()",
    "get_device_name()",
    "get_device_properties(0)",
    "init()",
    "initial_seed()",
    "get_rng_state()",
    "mem_get_info()",
]
ACC_CALLS = [
    "is_available()",
    "current_accelerator()",
    "current_accelerator(check_available=True)",
    "device_count()",
    "current_device_index()",
    "synchronize()",
    "empty_cache()",
    "memory_allocated()",
    "max_memory_allocated()",
    "reset_peak_memory_stats()",
    "current_stream()",
    "set_device_index(0)",
    "device_index(None).__enter__()",
    "device_index(0).__enter__()",
]


def _outcome(namespace, call):
    try:
        return ("value", eval(f"namespace.{call}", {"namespace": namespace}))  # noqa: S307
    except Exception as e:  # noqa: BLE001
        return ("raises", type(e))


@pytest.mark.parametrize("call", CUDA_CALLS)
def test_cuda_module_answers_as_a_cpu_build_of_torch(call):
    c, t = _outcome(convgrad.cuda, call), _outcome(torch.cuda, call)
    assert c == t


@pytest.mark.parametrize("call", ACC_CALLS)
def test_accelerator_answers_as_torch_without_one(call):
    c, t = _outcome(convgrad.accelerator, call), _outcome(torch.accelerator, call)
    assert c == t


def test_accelerator_errors_name_the_call():
    with pytest.raises(RuntimeError, match="accelerator.synchronize: Cannot access accelerator"):
        convgrad.accelerator.synchronize()
    with pytest.raises(AssertionError, match="cuda.current_device: convgrad has no CUDA"):
        convgrad.cuda.current_device()


def test_backends_flags_are_settable_and_read_back():
    import convgrad.backends.cudnn as cudnn

    for name in ("benchmark", "deterministic", "enabled", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name), name
    saved = cudnn.benchmark, cudnn.deterministic
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert convgrad.backends.cudnn.benchmark is True and convgrad.backends.cudnn.deterministic is True
    finally:
        cudnn.benchmark, cudnn.deterministic = saved
    assert cudnn.is_available() == torch.backends.cudnn.is_available()
    assert convgrad.backends.mps.is_available() == torch.backends.mps.is_available()
    assert convgrad.backends.mps.is_built() == torch.backends.mps.is_built()
    assert convgrad.backends.cuda.matmul.allow_tf32 == torch.backends.cuda.matmul.allow_tf32
    convgrad.backends.cuda.matmul.allow_tf32 = True
    convgrad.backends.cuda.matmul.allow_tf32 = False


def test_data_parallel_is_a_pass_through_on_the_cpu():
    convgrad.manual_seed(0)
    net = convgrad.nn.Sequential(convgrad.nn.Linear(4, 3), convgrad.nn.ReLU())
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    tnet.load_state_dict({k: torch.tensor(v._data) for k, v in net.state_dict().items()})
    dp, tdp = convgrad.nn.DataParallel(net), torch.nn.DataParallel(tnet)
    assert list(dp.state_dict()) == list(tdp.state_dict())
    assert dp.module is net and dp.device_ids == tdp.device_ids == []
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    yc, yt = dp(convgrad.tensor(x)), tdp(torch.tensor(x))
    np.testing.assert_allclose(yc._data, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    yc.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(net[0].weight.grad._data, tnet[0].weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    # the functional form evaluates the module (PyTorch without a GPU raises instead)
    np.testing.assert_allclose(convgrad.nn.parallel.data_parallel(net, convgrad.tensor(x))._data, yc._data)
    np.testing.assert_allclose(
        convgrad.nn.parallel.data_parallel(net, convgrad.tensor(x), range(0))._data, yc._data
    )
    with pytest.raises(RuntimeError, match="data_parallel: expected no GPU device ids, got 0"):
        convgrad.nn.parallel.data_parallel(net, convgrad.tensor(x), range(2))
    with pytest.raises(RuntimeError, match="DistributedDataParallel: expected an initialized default"):
        convgrad.nn.parallel.DistributedDataParallel(net)


def test_amp_on_a_machine_without_cuda_is_disabled_as_torch():
    w = convgrad.tensor([1.0, 2.0], requires_grad=True)
    opt = convgrad.optim.SGD([w], lr=0.5)
    for make in (
        lambda L: L.amp.GradScaler(),
        lambda L: L.cuda.amp.GradScaler(),
        lambda L: L.amp.GradScaler("cuda", enabled=False),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scaler, tscaler = make(convgrad), make(torch)
        assert scaler.is_enabled() == tscaler.is_enabled() is False
        assert scaler.get_scale() == tscaler.get_scale()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with convgrad.autocast("cuda"):
                loss = (w * w).sum()
        scaled = scaler.scale(loss)
        assert scaled is loss
        opt.zero_grad()
        scaled.backward()
        scaler.step(opt)
        scaler.update()
    # three SGD steps of w <- w - 0.5 * 2w = 0 then stay 0
    np.testing.assert_allclose(w._data, [0.0, 0.0])
    with pytest.warns(UserWarning, match="no mixed precision"):
        convgrad.amp.autocast("cpu", dtype=convgrad.float16)
