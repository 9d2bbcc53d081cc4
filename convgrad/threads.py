"""How many threads the BLAS library under NumPy may use (the only threaded part of convgrad)."""


def set_blas_threads(n):
    """Limit the BLAS library under NumPy to ``n`` threads at run time; returns whether it could.

    Uses threadpoolctl when installed; otherwise calls OpenBLAS's own setter in the loaded library (the
    OpenBLAS that NumPy wheels ship names it ``scipy_openblas_set_num_threads64_``)."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n, user_api="blas")
        return True
    except ImportError:
        pass
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return False
    done = False
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads", "openblas_set_num_threads64_"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(int(n)))
                done = True
                break
    return done
