"""A deep plain ReLU CNN (no normalisation layers) started from three initialisations: AlexNet's
N(0, 0.01^2), Xavier/Glorot (variance 2 / (fan_in + fan_out)) and He/Kaiming (variance 2 / fan_in).
Per layer at the start: the standard deviation of the activations (forward) and of the weight gradients
(backward); then the training loss of each over the same steps."""

import numpy as np

import convgrad
from convgrad import nn, optim
from convgrad.nn import functional as F

from ._common import Report, batches, load_mnist, plt, save_fig, seed_all, table, train_step

TITLE = "Initialisation: N(0, 0.01) vs Xavier vs He in a deep ReLU network"
ESTIMATE = 300
SCHEMES = ["N(0, 0.01)", "Xavier", "He"]


class DeepPlain(nn.Module):
    """``depth`` conv 3x3 layers of ``width`` channels with ReLU (the 4th and 7th of stride 2: 28 -> 14 -> 7),
    global average pooling, linear to 10 classes. No batch norm, no bias, so the weights alone set the
    scale of the signal."""

    def __init__(self, depth=10, width=16):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(1 if i == 0 else width, width, 3, stride=2 if i in (3, 6) else 1, padding=1, bias=False)
            for i in range(depth))
        self.fc = nn.Linear(width, 10)

    def forward(self, x, keep=None):
        for conv in self.convs:
            x = F.relu(conv(x))
            if keep is not None:
                keep.append(x)
        return self.fc(x.mean((2, 3)))


def initialise(model, scheme):
    for m in list(model.convs) + [model.fc]:
        if scheme == "N(0, 0.01)":
            nn.init.normal_(m.weight, 0.0, 0.01)
        elif scheme == "Xavier":
            nn.init.xavier_normal_(m.weight)
        else:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def layer_stats(model, x, y):
    """Per conv layer: std of its (post-ReLU) output and of its weight gradient, on one batch."""
    model.zero_grad()
    acts = []
    loss = F.cross_entropy(model(convgrad.from_numpy(x), keep=acts), convgrad.from_numpy(y))
    loss.backward()
    return ([float(a._data.std()) for a in acts],
            [float(c.weight.grad._data.std()) for c in model.convs], float(loss.item()))


def run(out, seed=0, quick=False):
    report = Report("init", TITLE, out, seed, quick)
    rng = seed_all(seed)
    n_train, steps, depth = (500, 5, 10) if quick else (10000, 150, 10)
    xtr, ytr, _, _ = load_mnist(n_train, 10, rng)
    probe = rng.choice(n_train, 256, replace=False)
    stats, losses = {}, {}
    for scheme in SCHEMES:
        rng = seed_all(seed)
        model = DeepPlain(depth)
        initialise(model, scheme)
        stats[scheme] = layer_stats(model, xtr[probe], ytr[probe])
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        losses[scheme] = [train_step(model, opt, xtr[idx], ytr[idx])[0]
                          for _, idx in zip(range(steps), batches(rng, n_train, 64))]

    report.add("## Claim\nAlexNet drew its weights from N(0, 0.01^2) (lecture notes on initialisation); "
               "in a deep "
               "network without normalisation that scale makes the signal shrink layer after layer, so "
               "activations and gradients vanish and training stalls. Xavier initialisation (Glorot & Bengio "
               "2010) keeps the variance for linear/tanh units; He initialisation (He et al. 2015) "
               "doubles it to "
               "make up for ReLU zeroing half its inputs, and keeps the variance constant through "
               "ReLU layers.")
    report.add(f"## Setup\nA plain {depth}-layer 3x3 CNN of 16 channels with ReLU, no bias, no batch norm, "
               f"global average pooling and a linear classifier, on MNIST ({n_train} training images). "
               "Statistics at initialisation on a batch of 256 images; then SGD (learning rate "
               "0.01, momentum "
               f"0.9, batches of 64) for {steps} steps from each initialisation, same seed and batch order.")
    rows = []
    for i in range(depth):
        rows.append([i + 1] + [f"{stats[s][0][i]:.2e}" for s in SCHEMES]
                    + [f"{stats[s][1][i]:.2e}" for s in SCHEMES])
    report.add("## Per layer at initialisation\n" + table(
        ["layer"] + [f"activation std, {s}" for s in SCHEMES]
        + [f"weight-gradient std, {s}" for s in SCHEMES],
        rows))
    w = min(20, steps)
    rows = [[s, f"{stats[s][2]:.3f}", f"{np.mean(losses[s][-w:]):.3f}"] for s in SCHEMES]
    header = ["initialisation", "loss at start", f"mean loss over the last {w} steps"]
    report.add("## Training\n" + table(header, rows)
               + "\n\nPublished: a qualitative claim (no number for this network): "
               "N(0, 0.01) stalls at chance (loss ln 10 = 2.303), He trains, Xavier in between for ReLU.")
    fig, axes = plt().subplots(1, 3, figsize=(15, 4))
    layers = np.arange(1, depth + 1)
    for s in SCHEMES:
        axes[0].semilogy(layers, stats[s][0], "o-", label=s)
        axes[1].semilogy(layers, stats[s][1], "o-", label=s)
        axes[2].plot(np.convolve(losses[s], np.ones(w) / w, mode="valid"), label=s)
    for ax, (xl, yl) in zip(axes, (("layer", "activation std"), ("layer", "weight-gradient std"),
                                   ("training step", f"training loss ({w}-step mean)"))):
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.grid(alpha=0.3)
        ax.legend()
    png = save_fig(fig, report.path("init.png"))
    report.add(f"![per-layer statistics and training loss]({png})")
    last = {s: stats[s][0][-1] / stats[s][0][0] for s in SCHEMES}
    report.add("## How it compares\nFrom the first to the last layer the activation std changes by a factor "
               + ", ".join(f"{last[s]:.1e} ({s})" for s in SCHEMES) + ". "
               + ("Quick form: few steps, the direction only. " if quick else "")
               + "AlexNet itself trained with N(0, 0.01) because it had 8 layers, biases set to 1 and local "
               "response normalisation; this network is deeper and has none of these, which is the case the "
               "claim is about. Scaled down: MNIST, 16 channels, "
               f"{steps} steps.")
    path, wall = report.write()
    return {"path": path, "wall": wall, "activation_std": {s: stats[s][0] for s in SCHEMES},
            "grad_std": {s: stats[s][1] for s in SCHEMES}, "losses": losses}
