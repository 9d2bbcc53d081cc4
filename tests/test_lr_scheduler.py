"""Learning-rate schedulers against PyTorch: the lr sequence (and cycled momentum) over many steps, with
several parameter groups and chained schedulers; state_dict resumes exactly."""

import warnings

import numpy as np
import pytest
import torch

import convgrad
from convgrad import nn, optim
from convgrad.optim import lr_scheduler as cs

ts = torch.optim.lr_scheduler


def _opt(lib, name="SGD", **kw):
    if lib is torch:
        ps = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]
        cls = getattr(torch.optim, name)
    else:
        ps = [nn.Parameter(convgrad.zeros(2)), nn.Parameter(convgrad.zeros(3))]
        cls = getattr(optim, name)
    base = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1}
    base.update(kw)
    return cls([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.03}], **base)


def _sched(lib, cls_name, opt, *args, **kwargs):
    mod = ts if lib is torch else cs
    return getattr(mod, cls_name)(opt, *args, **kwargs)


CASES = [
    ("StepLR", (7,), {}),
    ("StepLR", (3,), {"gamma": 0.5}),
    ("MultiStepLR", ([5, 12, 12, 30],), {"gamma": 0.3}),
    ("ExponentialLR", (0.93,), {}),
    ("CosineAnnealingLR", (20,), {}),
    ("CosineAnnealingLR", (13,), {"eta_min": 0.001}),
    ("LinearLR", (), {}),
    ("LinearLR", (), {"start_factor": 0.1, "end_factor": 0.6, "total_iters": 17}),
    ("ConstantLR", (), {"factor": 0.4, "total_iters": 9}),
    ("PolynomialLR", (), {"total_iters": 30, "power": 2.0}),
    ("LambdaLR", (lambda e: 0.95**e + 0.01 * (e % 3),), {}),
    ("MultiplicativeLR", (lambda e: 0.97,), {}),
    ("CosineAnnealingWarmRestarts", (5,), {}),
    ("CosineAnnealingWarmRestarts", (3,), {"T_mult": 2, "eta_min": 0.002}),
]


def _run(sched, opt, steps, momentum_key=None):
    lrs = [list(sched.get_last_lr())]
    moms = []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
        assert lrs[-1] == [g["lr"] for g in opt.param_groups]
        if momentum_key:
            moms.append([g[momentum_key] for g in opt.param_groups])
    return lrs, moms


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}{c[2]}".replace(" ", "") for c in CASES])
def test_scheduler_matches_torch(name, args, kwargs):
    oc, ot = _opt(convgrad), _opt(torch)
    sc, st = _sched(convgrad, name, oc, *args, **kwargs), _sched(torch, name, ot, *args, **kwargs)
    lc, _ = _run(sc, oc, 60)
    lt, _ = _run(st, ot, 60)
    np.testing.assert_allclose(lc, lt, rtol=1e-12, atol=1e-15)
    assert sc.last_epoch == st.last_epoch


def test_cosine_recursion_follows_the_closed_form_and_reaches_eta_min():
    o = _opt(convgrad)
    s = cs.CosineAnnealingLR(o, T_max=10, eta_min=0.01)
    lrs, _ = _run(s, o, 25)
    t = np.arange(26)
    closed = 0.01 + (0.1 - 0.01) * (1 + np.cos(np.pi * t / 10)) / 2
    np.testing.assert_allclose([lr[0] for lr in lrs], closed, rtol=1e-9)
    assert lrs[10][0] == pytest.approx(0.01)


def test_chained_schedulers_match_torch():
    oc, ot = _opt(convgrad), _opt(torch)
    sc = [cs.StepLR(oc, 4, 0.5), cs.ExponentialLR(oc, 0.97), cs.LinearLR(oc, 0.2, total_iters=6)]
    st = [ts.StepLR(ot, 4, 0.5), ts.ExponentialLR(ot, 0.97), ts.LinearLR(ot, 0.2, total_iters=6)]
    for _ in range(30):
        oc.step()
        ot.step()
        for s in sc + st:
            s.step()
        np.testing.assert_allclose([g["lr"] for g in oc.param_groups], [g["lr"] for g in ot.param_groups],
                                   rtol=1e-12)
    cc = cs.ChainedScheduler([cs.StepLR(_opt(convgrad), 2)])
    assert isinstance(cc.get_last_lr(), list)


def test_sequential_lr_matches_torch():
    def build(lib, mod, opt):
        warm = mod.LinearLR(opt, start_factor=0.1, total_iters=5)
        cos = mod.CosineAnnealingLR(opt, T_max=20)
        return mod.SequentialLR(opt, [warm, cos], milestones=[5])

    oc, ot = _opt(convgrad), _opt(torch)
    sc, st = build(convgrad, cs, oc), build(torch, ts, ot)
    lc, _ = _run(sc, oc, 30)
    lt, _ = _run(st, ot, 30)
    np.testing.assert_allclose(lc, lt, rtol=1e-12)


def test_step_with_epoch_uses_the_closed_form():
    for name, args in (("StepLR", (3,)), ("CosineAnnealingLR", (10,)), ("MultiStepLR", ([2, 5],))):
        oc, ot = _opt(convgrad), _opt(torch)
        sc, st = _sched(convgrad, name, oc, *args), _sched(torch, name, ot, *args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (4, 7, 2, 9):
                sc.step(epoch)
                st.step(epoch)
                np.testing.assert_allclose(sc.get_last_lr(), st.get_last_lr(), rtol=1e-12)


ONE_CYCLE = [
    ("SGD", {"max_lr": 1.0, "total_steps": 50}),
    ("SGD", {"max_lr": [0.5, 0.2], "epochs": 4, "steps_per_epoch": 10, "anneal_strategy": "linear"}),
    ("SGD", {"max_lr": 0.8, "total_steps": 40, "three_phase": True, "pct_start": 0.25}),
    ("Adam", {"max_lr": 0.01, "total_steps": 30, "div_factor": 10.0, "final_div_factor": 100.0}),
    ("AdamW", {"max_lr": 0.01, "total_steps": 30, "cycle_momentum": False}),
]


@pytest.mark.parametrize("opt_name,kwargs", ONE_CYCLE, ids=[f"{o}{k}".replace(" ", "") for o, k in ONE_CYCLE])
def test_one_cycle_matches_torch(opt_name, kwargs):
    oc, ot = _opt(convgrad, opt_name), _opt(torch, opt_name)
    sc, st = cs.OneCycleLR(oc, **kwargs), ts.OneCycleLR(ot, **kwargs)
    key = None if not kwargs.get("cycle_momentum", True) else ("momentum" if opt_name == "SGD" else "betas")
    n = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    lc, mc = _run(sc, oc, n - 1, key)
    lt, mt = _run(st, ot, n - 1, key)
    np.testing.assert_allclose(lc, lt, rtol=1e-12, atol=1e-15)
    if key:
        first = [[m[0] if isinstance(m, tuple) else m for m in ms] for ms in mc]
        first_t = [[m[0] if isinstance(m, tuple) else m for m in ms] for ms in mt]
        np.testing.assert_allclose(first, first_t, rtol=1e-12)
        if key == "betas":
            assert all(m[1] == 0.999 for ms in mc for m in ms)
    with pytest.raises(ValueError, match="Tried to step"):
        oc.step()
        sc.step()
        sc.step()


def test_one_cycle_argument_errors():
    o = _opt(convgrad)
    with pytest.raises(ValueError, match="either total_steps OR"):
        cs.OneCycleLR(o, max_lr=0.1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        cs.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="momentum or beta1"):
        cs.OneCycleLR(_opt(convgrad, "Adagrad"), max_lr=0.1, total_steps=10)


PLATEAU = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 2},
    {"patience": 1, "threshold": 0.1, "threshold_mode": "abs", "cooldown": 2},
    {"patience": 0, "factor": 0.2, "min_lr": [0.01, 0.001]},
    {"patience": 0, "factor": 0.5, "min_lr": 0.02, "eps": 1e-3},
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(k).replace(" ", "") for k in PLATEAU])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    oc, ot = _opt(convgrad), _opt(torch)
    sc, st = cs.ReduceLROnPlateau(oc, **kwargs), ts.ReduceLROnPlateau(ot, **kwargs)
    rng = np.random.default_rng(0)
    metrics = list(1.0 / np.arange(1, 6)) + list(0.2 + 0.05 * rng.standard_normal(40))
    for m in metrics:
        sc.step(m)
        st.step(torch.tensor(m))
        assert sc.get_last_lr() == pytest.approx(st.get_last_lr(), rel=1e-12)
        assert (sc.num_bad_epochs, sc.cooldown_counter, sc.best) == pytest.approx(
            (st.num_bad_epochs, st.cooldown_counter, st.best))


def test_reduce_lr_on_plateau_errors():
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        cs.ReduceLROnPlateau(_opt(convgrad), factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        cs.ReduceLROnPlateau(_opt(convgrad), mode="median")


def _state_round_trip(sd, tmp_path):
    path = tmp_path / "sched.safetensors"
    convgrad.save(sd, path)
    return convgrad.load(path)


RESUME = [
    ("StepLR", (4,), {"gamma": 0.5}),
    ("MultiStepLR", ([3, 8, 8],), {}),
    ("CosineAnnealingLR", (15,), {"eta_min": 0.001}),
    ("LinearLR", (), {"total_iters": 10}),
    ("OneCycleLR", (), {"max_lr": 1.0, "total_steps": 40}),
    ("LambdaLR", (lambda e: 1 / (1 + e),), {}),
    ("CosineAnnealingWarmRestarts", (4,), {"T_mult": 2}),
]


@pytest.mark.parametrize("name,args,kwargs", RESUME, ids=[r[0] for r in RESUME])
def test_state_dict_resumes_exactly(name, args, kwargs, tmp_path):
    o_ref = _opt(convgrad)
    s_ref = _sched(convgrad, name, o_ref, *args, **kwargs)
    ref, _ = _run(s_ref, o_ref, 30)

    o_a = _opt(convgrad)
    s_a = _sched(convgrad, name, o_a, *args, **kwargs)
    first, _ = _run(s_a, o_a, 12)
    saved = _state_round_trip({"optimizer": o_a.state_dict(), "scheduler": s_a.state_dict()}, tmp_path)

    o_b = _opt(convgrad)
    s_b = _sched(convgrad, name, o_b, *args, **kwargs)
    o_b.load_state_dict(saved["optimizer"])
    s_b.load_state_dict(saved["scheduler"])
    assert s_b.get_last_lr() == first[-1]
    rest, _ = _run(s_b, o_b, 18)
    assert first + rest[1:] == ref


def test_reduce_lr_on_plateau_resumes(tmp_path):
    o_ref = _opt(convgrad)
    s_ref = cs.ReduceLROnPlateau(o_ref, patience=1, cooldown=1)
    metrics = [1.0, 0.9, 0.95, 0.97, 0.96, 0.99, 1.2, 0.5, 0.6, 0.7, 0.8, 0.9]
    for m in metrics:
        s_ref.step(m)
    o_a = _opt(convgrad)
    s_a = cs.ReduceLROnPlateau(o_a, patience=1, cooldown=1)
    for m in metrics[:5]:
        s_a.step(m)
    saved = _state_round_trip({"optimizer": o_a.state_dict(), "scheduler": s_a.state_dict()}, tmp_path)
    o_b = _opt(convgrad)
    s_b = cs.ReduceLROnPlateau(o_b, patience=1, cooldown=1)
    o_b.load_state_dict(saved["optimizer"])
    s_b.load_state_dict(saved["scheduler"])
    for m in metrics[5:]:
        s_b.step(m)
    assert s_b.get_last_lr() == s_ref.get_last_lr()
    assert s_b.best == s_ref.best


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        cs.StepLR(_opt(convgrad), 3, last_epoch=5)
    o = _opt(convgrad)
    cs.StepLR(o, 3)
    s = cs.StepLR(o, 3, last_epoch=5)  # the optimiser now carries initial_lr
    assert s.last_epoch == 6


def test_scheduler_rejects_a_non_optimizer():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        cs.StepLR(object(), 3)
