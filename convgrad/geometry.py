"""Where sliding windows land: output sizes of convolution, pooling and transposed convolution, 'same'
padding, and hyper-parameters given as an int or a tuple. Pure Python on ints, below every other layer:
``functional``, ``nn``, the model zoo and ``arithmetic`` all take their sizes from here.

Per spatial dim, input ``n``, kernel ``k``, stride ``s``, padding ``p`` (before and after), dilation ``d``
(the window spans ``d(k-1) + 1`` inputs)::

    o = floor((n + p_before + p_after - d(k-1) - 1) / s) + 1     convolution, pooling
    o = ceil(...) + 1, less one if the last window starts past n + p    pooling with ceil_mode
    o = (n - 1) s - 2p + d(k-1) + output_padding + 1               transposed convolution
"""

import numbers

from convgrad import _checks as checks

__all__ = ["OutputSizeError", "conv_out_size", "pool_out_size", "conv_transpose_out_size", "same_padding",
           "window_span", "int_tuple"]


class OutputSizeError(RuntimeError):
    """A window larger than the (padded) input: no output. Carries, per spatial dim, the input size the
    op got, its padding (before, after) and the dilated window's span, so that a network can say which of
    its layers the input became too small for."""

    def __init__(self, message, input_size, padding, span):
        super().__init__(message)
        self.input_size, self.padding, self.span = tuple(input_size), tuple(padding), tuple(span)


def window_span(k, d=1):
    """Inputs a dilated kernel covers: d(k-1) + 1."""
    return d * (k - 1) + 1


def conv_out_size(n, k, s=1, p=0, d=1, p_after=None):
    """floor((n + p + p_after - d(k-1) - 1) / s) + 1 (``p_after`` defaults to ``p``); < 1 when the window
    does not fit."""
    return (n + p + (p if p_after is None else p_after) - d * (k - 1) - 1) // s + 1


def pool_out_size(n, k, s, p=0, d=1, ceil_mode=False):
    """As ``conv_out_size``, or rounded up in ceil mode, where the last window must still start inside
    the input or the left padding (PyTorch's rule)."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def conv_transpose_out_size(n, k, s=1, p=0, d=1, output_padding=0):
    """(n - 1) s - 2p + d(k-1) + output_padding + 1: the input size of the convolution it transposes."""
    return (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


def same_padding(k, d=1, s=1, n=None):
    """(before, after) padding giving an output of ceil(n / s): d(k-1) in total at stride 1, whatever n;
    an odd total puts the extra element after, as PyTorch's ``padding='same'``. Strided: needs ``n``."""
    if s == 1:
        total = d * (k - 1)
    else:
        if n is None:
            raise ValueError("same_padding: a strided window's 'same' padding depends on the input size; "
                             "pass n")
        total = max((-(-n // s) - 1) * s + window_span(k, d) - n, 0)
    return total // 2, total - total // 2


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def int_tuple(op, name, value, n, one_ok=True, allow_none=False):
    """A hyper-parameter given as an int or a sequence of ``n`` ints (or of one, when ``one_ok``), as an
    ``n``-tuple; ``allow_none`` lets entries be None (adaptive pooling's "keep this size"). The check and
    its message are :func:`convgrad._checks.ints`'."""
    return checks.ints(op, name, value, n, one_ok=one_ok, allow_none=allow_none)
