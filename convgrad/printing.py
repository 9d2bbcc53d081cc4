"""How tensors print: ``set_printoptions`` (as ``torch.set_printoptions``) sets the digits after the point,
the size above which a tensor is summarised, the items shown at each end, the line width and whether
scientific notation is allowed."""

import math

import numpy as np

_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}

PRINT_OPTS = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """Change how tensors print; ``profile`` ('default', 'short', 'full') resets the others first.
    ``sci_mode`` True forces scientific notation, False forbids it, None lets the values decide."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(
                f"set_printoptions: expected profile 'default', 'short' or 'full', got {profile!r}"
            )
        PRINT_OPTS.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is not None:
            PRINT_OPTS[name] = value
    PRINT_OPTS["sci_mode"] = sci_mode


def get_printoptions():
    return dict(PRINT_OPTS)


def array_string(array, prefix):
    """The body of a tensor's repr under the current options (NumPy formats the numbers)."""
    opts = PRINT_OPTS
    threshold = opts["threshold"]
    kwargs = {}
    if opts["sci_mode"] is not None and array.dtype.kind == "f":
        style = "e" if opts["sci_mode"] else "f"
        p = opts["precision"]
        kwargs["formatter"] = {"float_kind": lambda v: f"{v:.{p}{style}}"}
    return np.array2string(array, separator=", ", prefix=prefix, precision=opts["precision"],
                           threshold=threshold if threshold != math.inf else np.iinfo(np.int64).max,
                           edgeitems=opts["edgeitems"], max_line_width=opts["linewidth"],
                           suppress_small=opts["sci_mode"] is False, **kwargs)
