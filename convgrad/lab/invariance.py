"""Shift an MNIST digit by k pixels and look inside small CNNs that differ only in how they downsample
(2x2 max pooling, 2x2 average pooling, a stride-2 convolution): how much do the convolution's feature
maps move (equivariance: they should move with the input and otherwise stay equal), and how much do the
downsampled features and the predictions change (invariance)?"""

import numpy as np

import convgrad
from convgrad import nn, optim

from ._common import (
    Report,
    accuracy,
    batches,
    load_mnist,
    plt,
    predict,
    save_fig,
    seed_all,
    table,
    train_step,
)

TITLE = "Invariance: convolution is shift-equivariant, pooling buys (some) shift invariance"
ESTIMATE = 240
SHIFTS = [0, 1, 2, 3, 4]
KINDS = ["max pool", "avg pool", "strided conv"]


class ShiftNet(nn.Module):
    """conv 3x3 (1->16) -> ReLU -> downsample /2 -> conv 3x3 (16->32) -> ReLU -> downsample /2 -> linear.
    Output size: 28 -> 14 -> 7, so 32 x 7 x 7 features feed the classifier."""

    def __init__(self, kind):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.relu = nn.ReLU()
        if kind == "max pool":
            self.down1, self.down2 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        elif kind == "avg pool":
            self.down1, self.down2 = nn.AvgPool2d(2), nn.AvgPool2d(2)
        else:
            self.down1, self.down2 = nn.Conv2d(16, 16, 2, stride=2), nn.Conv2d(32, 32, 2, stride=2)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def features(self, x):
        """The first convolution's maps (N, 16, 28, 28), the first downsampled maps (N, 16, 14, 14) and the
        second ones (N, 32, 7, 7)."""
        c1 = self.relu(self.conv1(x))
        p1 = self.down1(c1)
        p2 = self.down2(self.relu(self.conv2(p1)))
        return c1, p1, p2

    def forward(self, x):
        return self.fc(convgrad.flatten(self.features(x)[2], 1))


def shift(x, k):
    """Move images ``(N, C, H, W)`` k pixels right, filling with the background value (the minimum)."""
    if k == 0:
        return x
    out = np.full_like(x, x.min())
    out[..., k:] = x[..., :-k]
    return out


def _rel(a, b, ref):
    """Mean over images of ||a - b|| / ||ref||."""
    n = len(a)
    num = np.linalg.norm((a - b).reshape(n, -1), axis=1)
    den = np.linalg.norm(ref.reshape(n, -1), axis=1) + 1e-12
    return float((num / den).mean())


def measure(model, x):
    """Per shift k: relative change of conv maps, of conv maps shifted back, of the two downsampled
    stages, and the fraction of predictions that change."""
    model.eval()
    with convgrad.no_grad():
        c1, p1, p2 = (t.numpy() for t in model.features(convgrad.from_numpy(x)))
    base_pred = predict(model, x).argmax(1)
    rows = []
    for k in SHIFTS:
        xs = shift(x, k)
        with convgrad.no_grad():
            c1s, p1s, p2s = (t.numpy() for t in model.features(convgrad.from_numpy(xs)))
        # conv maps of the shifted input against the shifted conv maps of the input, away from the columns
        # that saw the zero padding in one of them (the first k+1 and the last): there they agree exactly
        keep = np.s_[..., k + 1:-1]
        aligned = _rel(c1s[keep], shift(c1, k)[keep], c1[keep])
        rows.append({"k": k, "conv": _rel(c1s, c1, c1), "conv_aligned": aligned, "pool1": _rel(p1s, p1, p1),
                     "pool2": _rel(p2s, p2, p2),
                     "pred_changed": float((predict(model, xs).argmax(1) != base_pred).mean())})
    return rows


def run(out, seed=0, quick=False):
    report = Report("invariance", TITLE, out, seed, quick)
    rng = seed_all(seed)
    n_train, n_test, steps = (600, 100, 40) if quick else (10000, 1000, 300)
    xtr, ytr, xte, yte = load_mnist(n_train, n_test, rng)
    results, accs = {}, {}
    for kind in KINDS:
        rng = seed_all(seed)
        model = ShiftNet(kind)
        opt = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
        for _, idx in zip(range(steps), batches(rng, n_train, 64)):
            train_step(model, opt, xtr[idx], ytr[idx])
        results[kind] = measure(model, xte)
        accs[kind] = [accuracy(model, shift(xte, k), yte) for k in SHIFTS]

    report.add("## Claim\nConvolution is equivariant to translation (shift the input, the feature maps shift "
               "the same way); pooling makes the output invariant to small translations (Prince, "
               "*Understanding "
               "Deep Learning*, ch. 10; the lecture slides: 'Convolution provides equivariance to "
               "shift, pooling "
               "provides invariance to shift'). The published claim is qualitative: exact "
               "equivariance of the "
               "convolution away from the borders, and downsampled outputs that change less than the maps "
               "they pool.")
    report.add("## Setup\nThree networks, identical but for their two downsampling layers "
               f"({', '.join(KINDS)}), "
               f"each trained on {n_train} MNIST training images for {steps} SGD steps (batch 64, learning "
               f"rate 0.02, momentum 0.9), then measured on {n_test} test images shifted right by k pixels "
               "(filled with the background). Numbers are means over images of ||f(shift x) - "
               "f(x)|| / ||f(x)||; "
               "'shifted back' compares f(shift x) with shift(f(x)) away from the filled border.")
    rows = []
    for kind in KINDS:
        for r, acc in zip(results[kind], accs[kind]):
            rows.append([kind, r["k"], f"{r['conv']:.3f}", f"{r['conv_aligned']:.1e}", f"{r['pool1']:.3f}",
                         f"{r['pool2']:.3f}", f"{100 * r['pred_changed']:.1f}%", f"{100 * acc:.1f}%"])
    report.add("## Results\n" + table(
        ["downsampling", "shift k (px)", "conv maps change", "conv maps, shifted back",
         "after 1st downsampling", "after 2nd downsampling", "predictions changed", "test accuracy"], rows))
    fig, axes = plt().subplots(1, 3, figsize=(14, 4))
    for kind, style in zip(KINDS, ("-", "--", ":")):
        ks = [r["k"] for r in results[kind]]
        axes[0].plot(ks, [r["conv"] for r in results[kind]], "o" + style, label=f"{kind}: conv maps")
        axes[0].plot(ks, [r["pool2"] for r in results[kind]], "s" + style, label=f"{kind}: after 2nd down")
        axes[1].plot(ks, [100 * r["pred_changed"] for r in results[kind]], "o" + style, label=kind)
        axes[2].plot(ks, [100 * a for a in accs[kind]], "o" + style, label=kind)
    for ax, ylabel in zip(axes, ("relative change", "predictions changed (%)", "test accuracy (%)")):
        ax.set_xlabel("shift (pixels)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    png = save_fig(fig, report.path("shift.png"))
    report.add(f"![change against shift]({png})")
    k1 = {kind: results[kind][1] for kind in KINDS}
    worst = max(r['conv_aligned'] for k in KINDS for r in results[k])
    report.add("## How it compares\nEquivariance holds: shifted back, the first convolution's maps agree "
               "with "
               f"those of the shifted input to within {worst:.0e} "
               "(float32 rounding), while unaligned they change by "
               + ", ".join(f"{k1[k]['conv']:.2f}" for k in KINDS) + " (1-pixel shift; max pool, avg pool, "
               "strided conv). After the 2nd downsampling the same shift changes the features by "
               + ", ".join(f"{k1[k]['pool2']:.2f}" for k in KINDS) + ". The invariance is partial and "
               "shrinks with larger shifts: 2x2 pooling twice absorbs at most a shift of a few "
               "pixels, and only "
               "for features whose maximum (or mean) stays in the same window; predictions change more as k "
               "grows. " + ("Quick form: few images and steps, the direction only." if quick else
                            "Scaled down: a 2-stage network and a 10,000-image training subset "
                            "instead of LeNet-5 "
                            "on all of MNIST."))
    path, wall = report.write()
    return {"path": path, "wall": wall, "results": results, "accuracy": accs}
