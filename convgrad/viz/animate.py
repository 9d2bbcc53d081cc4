"""Convolution and pooling, animated (the conv_arithmetic pictures, with the numbers): a kernel slides
over the (padded, dilated) input and each output value fills in as the sum of its window's products.

Every number comes from convgrad: output sizes from :mod:`convgrad.arithmetic`, and the values each frame
shows are checked against ``conv2d`` / ``conv_transpose2d`` / ``max_pool2d`` / ``avg_pool2d`` when the
steps are made. A transposed convolution is drawn as the direct convolution it equals: the input with
``stride - 1`` zeros between its pixels, ``dilation (k - 1) - padding`` of padding on each side
(plus ``output_padding`` at the bottom and right) and the kernel flipped, at stride 1."""

from dataclasses import dataclass, field

import numpy as np

from convgrad.viz._common import VizError, _plt

# The conv_arithmetic cases (Dumoulin & Visin): (input, kernel, stride, padding, dilation)
CONV_ARITHMETIC_CASES = {
    "no_padding_no_strides": (4, 3, 1, 0, 1),
    "arbitrary_padding_no_strides": (5, 4, 1, 2, 1),
    "same_padding_no_strides": (5, 3, 1, 1, 1),
    "full_padding_no_strides": (5, 3, 1, 2, 1),
    "no_padding_strides": (5, 3, 2, 0, 1),
    "padding_strides": (5, 3, 2, 1, 1),
    "padding_strides_odd": (6, 3, 2, 1, 1),
    "dilation": (7, 3, 1, 0, 2),
}

PAD, INPUT, INSERTED = 0, 1, 2  # what each cell of the drawn grid is


@dataclass
class Steps:
    """What an animation shows: the grid the kernel slides over (``kind`` per cell: PAD, INPUT or
    INSERTED zero), the kernel as applied, the output, and per frame the output position, the grid cells
    of its window (row-major over the kernel) and the value written there."""

    title: str
    grid: np.ndarray
    kind: np.ndarray
    kernel: np.ndarray  # (kh, kw) for convolutions; None for pooling
    window: tuple
    output: np.ndarray
    frames: list = field(default_factory=list)  # [((i, j), [(r, c), ...], value)]
    op: str = "conv"


def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)


def conv_steps(input_size, kernel_size, stride=1, padding=0, dilation=1, transposed=False,
               output_padding=0, seed=0):
    """The frames of a (transposed) convolution of one random integer image with one integer kernel."""
    import convgrad
    from convgrad import arithmetic
    from convgrad.nn import functional as F

    (h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(v) for v in
                                                      (input_size, kernel_size, stride, padding, dilation))
    oph, opw = _pair(output_padding)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, (h, w)).astype(np.float32)
    k = rng.integers(0, 3, (kh, kw)).astype(np.float32)
    xt, kt = convgrad.from_numpy(x[None, None].copy()), convgrad.from_numpy(k[None, None].copy())
    if not transposed:
        out_size = arithmetic.conv_output_size((h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw))
        out = F.conv2d(xt, kt, stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw)).numpy()[0, 0]
        grid = np.zeros((h + 2 * ph, w + 2 * pw), np.float32)
        kind = np.full(grid.shape, PAD)
        grid[ph:ph + h, pw:pw + w], kind[ph:ph + h, pw:pw + w] = x, INPUT
        kernel, step = k, (sh, sw)
        title = f"conv2d: input {h}x{w}, kernel {kh}x{kw}, stride {sh}, padding {ph}, dilation {dh}"
    else:
        qh, qw = dh * (kh - 1) - ph, dw * (kw - 1) - pw
        if qh < 0 or qw < 0:
            raise VizError(f"conv_steps: expected padding <= dilation * (kernel - 1) for a transposed "
                           f"convolution drawing, got padding {(ph, pw)}")
        out_size = arithmetic.conv_transpose_output_size((h, w), (kh, kw), (sh, sw), (ph, pw), (oph, opw),
                                                         (dh, dw))
        out = F.conv_transpose2d(xt, kt, stride=(sh, sw), padding=(ph, pw), output_padding=(oph, opw),
                                 dilation=(dh, dw)).numpy()[0, 0]
        eh, ew = (h - 1) * sh + 1, (w - 1) * sw + 1
        grid = np.zeros((eh + 2 * qh + oph, ew + 2 * qw + opw), np.float32)
        kind = np.full(grid.shape, PAD)
        kind[qh:qh + eh, qw:qw + ew] = INSERTED
        kind[qh:qh + eh:sh, qw:qw + ew:sw] = INPUT
        grid[qh:qh + eh:sh, qw:qw + ew:sw] = x
        kernel, step = k[::-1, ::-1].copy(), (1, 1)
        title = (f"conv_transpose2d: input {h}x{w}, kernel {kh}x{kw}, stride {sh}, padding {ph}"
                 + (f", output_padding {oph}" if oph else "") + (f", dilation {dh}" if dh > 1 else ""))
    if tuple(out.shape) != tuple(out_size):
        raise AssertionError(f"output {out.shape} disagrees with convgrad.arithmetic's {out_size}")
    steps = Steps(title, grid, kind, kernel, (kh, kw), out)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            cells = [(i * step[0] + a * dh, j * step[1] + b * dw) for a in range(kh) for b in range(kw)]
            value = float(sum(grid[r, c] * kernel[a, b] for (r, c), (a, b) in
                              zip(cells, [(a, b) for a in range(kh) for b in range(kw)])))
            steps.frames.append(((i, j), cells, value))
    return steps


def pool_steps(input_size, kernel_size, stride=None, padding=0, mode="max", seed=0):
    """The frames of max or average pooling (``count_include_pad=True``, PyTorch's default) of one image."""
    import convgrad
    from convgrad import arithmetic
    from convgrad.nn import functional as F

    if mode not in ("max", "avg"):
        raise VizError(f"pool_steps: expected mode 'max' or 'avg', got {mode!r}")
    (h, w), (kh, kw), (ph, pw) = _pair(input_size), _pair(kernel_size), _pair(padding)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    rng = np.random.default_rng(seed)
    x = rng.permutation(h * w).reshape(h, w).astype(np.float32)  # distinct values: no ties for max
    xt = convgrad.from_numpy(x[None, None].copy())
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    out = fn(xt, (kh, kw), (sh, sw), (ph, pw)).numpy()[0, 0]
    out_size = arithmetic.pool_output_size((h, w), (kh, kw), (sh, sw), (ph, pw))
    if tuple(out.shape) != tuple(out_size):
        raise AssertionError(f"output {out.shape} disagrees with convgrad.arithmetic's {out_size}")
    grid = np.full((h + 2 * ph, w + 2 * pw), -np.inf if mode == "max" else 0.0, np.float32)
    kind = np.full(grid.shape, PAD)
    grid[ph:ph + h, pw:pw + w], kind[ph:ph + h, pw:pw + w] = x, INPUT
    steps = Steps(f"{mode}_pool2d: input {h}x{w}, kernel {kh}x{kw}, stride {sh}, padding {ph}", grid, kind,
                  None, (kh, kw), out, op=mode)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            cells = [(i * sh + a, j * sw + b) for a in range(kh) for b in range(kw)]
            vals = [grid[r, c] for r, c in cells]
            steps.frames.append(((i, j), cells, float(max(vals) if mode == "max" else sum(vals) / len(vals))))
    return steps


def _fmt(v):
    return "" if not np.isfinite(v) else (f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}")


def _draw(ax_in, ax_out, steps, t):
    from matplotlib.patches import Rectangle

    (oi, oj), cells, value = steps.frames[t]
    hp, wp = steps.grid.shape
    colours = {PAD: "#d9d9d9", INPUT: "#a6cee3", INSERTED: "#f0f0f0"}
    kernel_at = dict(zip(cells, [(a, b) for a in range(steps.window[0]) for b in range(steps.window[1])]))
    for ax in (ax_in, ax_out):
        ax.clear()
        ax.set_aspect("equal")
        ax.axis("off")
    for r in range(hp):
        for c in range(wp):
            hit = (r, c) in kernel_at
            ax_in.add_patch(Rectangle((c, hp - 1 - r), 1, 1, facecolor="#1f78b4" if hit else
                                      colours[steps.kind[r, c]], edgecolor="white", lw=1))
            label = _fmt(steps.grid[r, c]) if steps.kind[r, c] == INPUT else ""
            if hit and steps.kernel is not None:
                a, b = kernel_at[(r, c)]
                label = f"{_fmt(steps.grid[r, c]) or '0'}\n×{_fmt(steps.kernel[a, b])}"
            ax_in.text(c + 0.5, hp - 0.5 - r, label, ha="center", va="center", fontsize=7,
                       color="white" if hit else "black")
    ax_in.set_xlim(0, wp)
    ax_in.set_ylim(0, hp)
    oh, ow = steps.output.shape
    done = {pos for pos, _, _ in steps.frames[:t + 1]}
    values = {pos: v for pos, _, v in steps.frames[:t + 1]}
    for r in range(oh):
        for c in range(ow):
            now = (r, c) == (oi, oj)
            ax_out.add_patch(Rectangle((c, oh - 1 - r), 1, 1, facecolor="#33a02c" if now else
                                       ("#b2df8a" if (r, c) in done else "#f7f7f7"), edgecolor="white", lw=1))
            if (r, c) in done:
                ax_out.text(c + 0.5, oh - 0.5 - r, _fmt(values[(r, c)]), ha="center", va="center", fontsize=8)
    ax_out.set_xlim(0, ow)
    ax_out.set_ylim(0, oh)
    what = {"conv": "sum of products", "max": "maximum", "avg": "mean"}[steps.op]
    notes = [what for what, kind in (("grey: padding", PAD), ("white: inserted zeros", INSERTED))
             if (steps.kind == kind).any()]
    ax_in.set_title("input" + (f" ({', '.join(notes)})" if notes else ""), fontsize=9)
    ax_out.set_title(f"output[{oi}, {oj}] = {what} = {_fmt(value)}", fontsize=9)


def animate_steps(steps, path=None, frame_ms=700):
    """Draw ``steps`` frame by frame; write a looping GIF to ``path`` if given. Returns the frames as a
    list of RGB arrays."""
    plt = _plt()
    from PIL import Image

    hp, wp = steps.grid.shape
    oh, ow = steps.output.shape
    fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(0.42 * (wp + ow) + 1.5, 0.42 * max(hp, oh) + 1.1),
                                        gridspec_kw={"width_ratios": [wp, max(ow, 1)]})
    fig.suptitle(steps.title, fontsize=9)
    images = []
    for t in range(len(steps.frames)):
        _draw(ax_in, ax_out, steps, t)
        fig.canvas.draw()
        images.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    if path is not None:
        import os

        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        pil = [Image.fromarray(im) for im in images]
        pil[0].save(path, save_all=True, append_images=pil[1:], duration=frame_ms, loop=0)
    return images


def animate_conv(input_size, kernel_size, stride=1, padding=0, dilation=1, transposed=False,
                 output_padding=0, path=None, seed=0):
    """A GIF of a convolution (or transposed convolution) on small integers; returns its :class:`Steps`."""
    steps = conv_steps(input_size, kernel_size, stride, padding, dilation, transposed, output_padding, seed)
    animate_steps(steps, path)
    return steps


def animate_pool(input_size, kernel_size, stride=None, padding=0, mode="max", path=None, seed=0):
    """A GIF of max or average pooling with the numbers shown; returns its :class:`Steps`."""
    steps = pool_steps(input_size, kernel_size, stride, padding, mode, seed)
    animate_steps(steps, path)
    return steps
