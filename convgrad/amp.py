"""``convgrad.amp``, as ``torch.amp``: mixed precision. convgrad computes in each tensor's own dtype
(float32 by default), so ``autocast`` changes nothing and ``GradScaler`` is disabled, as PyTorch's are on
a machine without CUDA: a script written for AMP runs unchanged, in full precision."""

import functools
import warnings


class autocast:
    """``with autocast(device_type, dtype=None, enabled=True):`` (also a decorator): ops keep their
    inputs' dtype here; asking for it to be enabled warns once that it is not."""

    def __init__(self, device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(
                f"autocast: expected device_type to be a string, got {type(device_type).__name__}"
            )
        self.device = device_type
        self.fast_dtype = dtype
        if enabled:
            warnings.warn(f"autocast('{device_type}'): convgrad has no mixed precision; computing in each "
                          f"tensor's own dtype. Disabling autocast.", stacklevel=2)
        self._enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)

        return wrapped


def is_autocast_available(device_type):
    return False


class GradScaler:
    """Loss scaling for float16 training; disabled here (there is no float16 compute), so ``scale``
    returns its argument, ``step`` calls ``optimizer.step()`` and the scale stays 1.0."""

    def __init__(self, device="cuda", init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        if enabled:
            warnings.warn("GradScaler is enabled, but convgrad computes in full precision (no CUDA, no "
                          "float16 autocast). Disabling.", stacklevel=2)
        self._device = device
        self._init_scale = init_scale
        self._growth_factor, self._backoff_factor = growth_factor, backoff_factor
        self._growth_interval = growth_interval
        self._enabled = False

    def is_enabled(self):
        return self._enabled

    def scale(self, outputs):
        return outputs

    def unscale_(self, optimizer):
        pass

    def step(self, optimizer, *args, **kwargs):
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        pass

    def get_scale(self):
        return 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def get_growth_interval(self):
        return self._growth_interval

    def state_dict(self):
        return {}

    def load_state_dict(self, state_dict):
        pass
