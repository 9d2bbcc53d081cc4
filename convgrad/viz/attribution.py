"""What the network looks at: attribution maps for a classifier's decision, each returned as a Tensor
(usable without matplotlib) and drawn over the input by :func:`plot_attribution`.

- :func:`saliency` (Simonyan et al. 2014): ``max_c |d score_t / d x_c|``, the input gradient's magnitude.
- :func:`guided_backprop` (Springenberg et al. 2015): the input gradient with every ReLU passing back only
  positive gradient where its input was positive.
- :func:`deconvnet` (Zeiler & Fergus 2014): one unit's strongest activation projected back to pixels, each
  ReLU passing back only positive signal (whatever its forward input), max pooling through its switches
  and convolutions through their transposes (which is what autograd's backward of them is).
- :func:`occlusion` (Zeiler & Fergus): how much the target score drops when a window of the input is
  covered, per window position.
- :func:`cam` (Zhou et al. 2016): ``sum_k w_tk A_k`` for networks that end in global average pooling and a
  linear layer (or in class maps, as NiN), where ``A`` is the last feature maps.
- :func:`grad_cam` (Selvaraju et al. 2017): ``ReLU(sum_k alpha_k A_k)`` for any conv layer, with
  ``alpha_k`` the spatial mean of ``d score_t / d A_k``.

``target`` is the class to explain: None for each input's predicted class, an int for all, or one per
input. The model runs in eval mode and its parameters' ``.grad`` are left untouched."""

import contextlib

import numpy as np

from convgrad.viz._common import VizError, _array, _plt, _save, find_layer, layer_name


@contextlib.contextmanager
def _attribution_mode(model):
    """Eval mode, grad mode on, and the parameters frozen so their ``.grad`` stay as they were."""
    import convgrad

    was_training = model.training
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for p, _ in frozen:
        p.requires_grad_(False)
    try:
        with convgrad.enable_grad():
            yield
    finally:
        for p, flag in frozen:
            p.requires_grad_(flag)
        model.train(was_training)


def _input(x, fn):
    import convgrad

    if not isinstance(x, convgrad.Tensor):
        x = convgrad.as_tensor(np.asarray(x, dtype=np.float32))
    if x.ndim < 3:
        raise VizError(f"{fn}: expected a batch of inputs (N, C, H, W) or (N, C, L), got shape "
                       f"{tuple(x.shape)}")
    return x.detach().clone().float().requires_grad_(True)


def _targets(scores, target, fn):
    import convgrad

    n, classes = scores.shape[0], scores.shape[1]
    if target is None:
        t = scores.detach().argmax(1)
    else:
        t = convgrad.as_tensor(np.broadcast_to(np.asarray(_array(target), dtype=np.int64), (n,)).copy())
    bad = [int(v) for v in t.tolist() if not 0 <= v < classes]
    if bad:
        raise VizError(f"{fn}: expected target classes in [0, {classes}), got {bad}")
    return t


def _scores(model, x, fn):
    out = model(x)
    if out.ndim != 2:
        raise VizError(f"{fn}: expected the model to output class scores (N, classes), got shape "
                       f"{tuple(out.shape)}")
    return out


def _target_score(scores, t):
    return scores.gather(1, t.reshape(-1, 1)).sum()


def input_gradient(model, x, target=None):
    """``d score_target / d x`` (the same shape as x), the raw gradient the maps below are made from."""
    x = _input(x, "input_gradient")
    with _attribution_mode(model):
        scores = _scores(model, x, "input_gradient")
        _target_score(scores, _targets(scores, target, "input_gradient")).backward()
    return x.grad


def saliency(model, x, target=None):
    """Vanilla gradient saliency, (N, H, W): the maximum over channels of ``|d score_target / d x|``."""
    return input_gradient(model, x, target).abs().amax(dim=1)


class _ReLURule:
    """Replaces every ``nn.ReLU`` module's forward with one whose backward follows a rule: "guided" passes
    ``g`` where both ``g > 0`` and the input was ``> 0``; "deconv" passes ``max(g, 0)``. ReLUs applied as
    functions (``F.relu`` inside a ``forward``) are not reached; the zoo's models use modules."""

    def __init__(self, model, rule):
        from convgrad import nn

        self.relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
        if not self.relus:
            raise VizError(f"{rule}: {type(model).__name__} has no nn.ReLU modules to change the backward of")
        self.rule = rule

    def __enter__(self):
        fn = _rule_function()
        for m in self.relus:
            m.forward = lambda x, rule=self.rule: fn.apply(x, rule)
        return self

    def __exit__(self, *exc):
        for m in self.relus:
            del m.forward


_RULE_FN = []


def _rule_function():
    if not _RULE_FN:
        from convgrad.autograd import Function

        class RuleReLU(Function):
            """y = max(x, 0); the backward follows the attribution rule instead of the true gradient."""

            @staticmethod
            def forward(ctx, x, rule):
                ctx.save_for_backward(x)
                ctx.rule = rule
                return x.clamp(min=0)

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                g = g.clamp(min=0)
                if ctx.rule == "guided_backprop":
                    g = g * (x > 0).to(g.dtype)
                return g, None

        _RULE_FN.append(RuleReLU)
    return _RULE_FN[0]


def guided_backprop(model, x, target=None):
    """Guided backpropagation, (N, C, H, W): the input gradient with ReLUs passing back only positive
    gradient through positive inputs."""
    x = _input(x, "guided_backprop")
    with _attribution_mode(model), _ReLURule(model, "guided_backprop"):
        scores = _scores(model, x, "guided_backprop")
        _target_score(scores, _targets(scores, target, "guided_backprop")).backward()
    return x.grad


def deconvnet(model, x, layer, unit):
    """Zeiler & Fergus's deconvnet projection, (N, C, H, W): channel ``unit`` of ``layer``'s output keeps
    only its strongest activation per input (all others set to zero), which is projected back to pixel
    space through the layers below with ReLUs rectifying the signal on the way down."""
    x = _input(x, "deconvnet")
    module = find_layer(model, layer)
    captured = []
    handle = module.register_forward_hook(lambda m, i, out: captured.append(out))
    try:
        with _attribution_mode(model), _ReLURule(model, "deconvnet"):
            model(x)
            if not captured:
                raise VizError(f"deconvnet: layer {layer_name(model, layer)!r} did not run in the forward")
            a = captured[0]
            if a.ndim < 2 or not 0 <= unit < a.shape[1]:
                raise VizError(f"deconvnet: expected a unit in [0, {a.shape[1] if a.ndim > 1 else 0}) of "
                               f"{layer_name(model, layer)!r} (output shape {tuple(a.shape)}), got {unit}")
            values = _array(a.detach())[:, unit].reshape(a.shape[0], -1)
            seed = np.zeros(a.shape, np.float32)
            best = values.argmax(1)
            for n in range(a.shape[0]):
                seed[n, unit].reshape(-1)[best[n]] = values[n, best[n]]
            import convgrad

            a.backward(convgrad.from_numpy(seed))
    finally:
        handle.remove()
    return x.grad


def occlusion(model, x, target=None, window=None, stride=None, fill=0.0, batch_size=256):
    """Occlusion sensitivity, (N, H', W'): the drop in the target score when a ``window`` of the input
    (all channels) is set to ``fill``, for each window position ``stride`` apart, so
    ``H' = (H - window) // stride + 1``. Defaults: a window of about 1/7 of the image, half-overlapping.
    Positive where covering the region hurts the decision."""
    import convgrad

    x = _input(x, "occlusion").detach()
    if x.ndim != 4:
        raise VizError(f"occlusion: expected images (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    wh, ww = (window, window) if isinstance(window, int) else (window or (max(1, round(h / 7)),
                                                                           max(1, round(w / 7))))
    sh, sw = (stride, stride) if isinstance(stride, int) else (stride or (max(1, wh // 2), max(1, ww // 2)))
    if not (1 <= wh <= h and 1 <= ww <= w and sh >= 1 and sw >= 1):
        raise VizError(f"occlusion: expected a window within the input ({h}x{w}) and a positive stride, got "
                       f"window {(wh, ww)}, stride {(sh, sw)}")
    oh, ow = (h - wh) // sh + 1, (w - ww) // sw + 1
    was_training = model.training
    model.eval()
    try:
        with convgrad.no_grad():
            scores = _scores(model, x, "occlusion")
            t = _targets(scores, target, "occlusion")
            base = _array(scores.gather(1, t.reshape(-1, 1))).reshape(n)
            arr = _array(x)
            out = np.zeros((n, oh, ow), np.float32)
            positions = [(i, j) for i in range(oh) for j in range(ow)]
            for s in range(n):
                for k in range(0, len(positions), batch_size):
                    chunk = positions[k:k + batch_size]
                    batch = np.repeat(arr[s:s + 1], len(chunk), axis=0)
                    for b, (i, j) in enumerate(chunk):
                        batch[b, :, i * sh:i * sh + wh, j * sw:j * sw + ww] = fill
                    sc = _array(model(convgrad.from_numpy(batch)))[:, int(t[s])]
                    for b, (i, j) in enumerate(chunk):
                        out[s, i, j] = base[s] - sc[b]
    finally:
        model.train(was_training)
    return convgrad.from_numpy(out)


def _upsample(maps, size):
    """(N, h, w) maps resized to the input's spatial size, bilinearly (linearly for 1D)."""
    from convgrad.nn import functional as F

    mode = "linear" if maps.ndim == 2 else "bilinear"
    up = F.interpolate(maps.unsqueeze(1), size=tuple(size), mode=mode, align_corners=False)
    return up.squeeze(1).clamp(min=0)


def cam(model, x, target=None):
    """Class activation map, (N, H, W): ``ReLU(sum_k w_tk A_k)`` upsampled to the input size, where ``A``
    is the input of the model's last global average pooling and ``w`` the weights of the linear layer after
    it (for networks whose last convolution already gives one map per class, as NiN, ``A_t`` itself)."""
    from convgrad import nn

    x = _input(x, "cam").detach()
    pools = [(name, m) for name, m in model.named_modules() if type(m).__name__.startswith("AdaptiveAvgPool")]
    if not pools:
        raise VizError(f"cam: {type(model).__name__} has no global average pooling (AdaptiveAvgPool) layer; "
                       f"use grad_cam(model, x, layer) for any conv layer")
    pool_name, pool = pools[-1]
    names = [name for name, _ in model.named_modules()]
    after = [m for name, m in model.named_modules() if isinstance(m, nn.Linear)
             and names.index(name) > names.index(pool_name)]
    captured = []
    handle = pool.register_forward_hook(lambda m, inp, out: captured.append(inp[0]))
    try:
        with _attribution_mode(model):
            import convgrad

            with convgrad.no_grad():
                scores = _scores(model, x, "cam")
    finally:
        handle.remove()
    a = captured[-1].detach()  # (N, K, h, w)
    t = _targets(scores, target, "cam")
    if after:
        fc = after[-1]
        if fc.in_features != a.shape[1]:
            raise VizError(f"cam: the last linear layer takes {fc.in_features} features but the pooled maps "
                           f"have {a.shape[1]} channels; use grad_cam")
        w = fc.weight.detach()[t]  # (N, K)
    else:
        if a.shape[1] != scores.shape[1]:
            raise VizError(f"cam: expected one pooled map per class ({scores.shape[1]}), got {a.shape[1]}")
        w = np.eye(a.shape[1], dtype=np.float32)[_array(t)]
        import convgrad

        w = convgrad.from_numpy(w)
    maps = (a * w.reshape(w.shape[0], w.shape[1], *([1] * (a.ndim - 2)))).sum(1)
    return _upsample(maps.clamp(min=0), x.shape[2:])


def grad_cam(model, x, layer, target=None):
    """Grad-CAM, (N, H, W): ``ReLU(sum_k alpha_k A_k)`` upsampled to the input size, where ``A`` is
    ``layer``'s output and ``alpha_k`` the spatial mean of ``d score_target / d A_k``."""
    x = _input(x, "grad_cam")
    module = find_layer(model, layer)
    captured = []

    def keep(m, inp, out):
        if not captured and getattr(out, "requires_grad", False):
            out.retain_grad()  # before the layers above use it, so its gradient is kept
        captured.append(out)

    handle = module.register_forward_hook(keep)
    try:
        with _attribution_mode(model):
            scores = _scores(model, x, "grad_cam")
            if not captured:
                raise VizError(f"grad_cam: layer {layer_name(model, layer)!r} did not run in the forward")
            a = captured[0]
            if a.ndim < 3:
                raise VizError(f"grad_cam: expected {layer_name(model, layer)!r} to output feature maps "
                               f"(N, C, H, W), got shape {tuple(a.shape)}")
            _target_score(scores, _targets(scores, target, "grad_cam")).backward()
    finally:
        handle.remove()
    grad = a.grad
    axes = tuple(range(2, a.ndim))
    alpha = grad.mean(dim=axes, keepdim=True)
    maps = (alpha * a.detach()).sum(1).clamp(min=0)
    return _upsample(maps, x.shape[2:])


def plot_attribution(x, maps, path=None, titles=None, alpha=0.55, cmap="jet", title=None):
    """Each input beside its map drawn over it (maps of another size are stretched over the image).
    ``maps`` (N, H', W') or (N, C, H, W) (shown as the maximum of |value| over channels)."""
    plt = _plt()
    x = np.asarray(_array(x), dtype=np.float32)
    m = np.asarray(_array(maps), dtype=np.float32)
    if m.ndim == 4:
        m = np.abs(m).max(1)
    n = min(len(x), len(m), 8)
    fig, axes = plt.subplots(n, 2, figsize=(4.2, 2.1 * n + 0.3), squeeze=False)
    for k in range(n):
        img = x[k]
        img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        img = (img - img.min()) / (np.ptp(img) or 1.0)
        h, w = img.shape[:2]
        for ax in axes[k]:
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, extent=(0, w, h, 0))
            ax.axis("off")
        axes[k, 1].imshow(m[k], cmap=cmap, alpha=alpha, extent=(0, w, h, 0), interpolation="bilinear")
        if titles is not None:
            axes[k, 1].set_title(str(titles[k]), fontsize=8)
    fig.suptitle(title or "attribution")
    return _save(fig, path)
