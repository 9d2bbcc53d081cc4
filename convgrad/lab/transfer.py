"""Transfer learning (lecture notes on transfer learning, after Donahue et al. 2014 and Razavian et al. 2014):
a small CNN pretrained on MNIST digits 0-4 is reused for digits 5-9 (a similar task) and for grey texture
patches (a different one), each with little and with much labelled data. Regimes: a linear classifier on
frozen features (at the top, and at the earlier conv stage), fine-tuning the last layers, fine-tuning all
(a smaller learning rate for the pretrained layers), and training from scratch as the baseline."""

import numpy as np

from convgrad import nn, optim

from ._common import Report, accuracy, batches, load_mnist, pct, plt, save_fig, seed_all, table, train_step

TITLE = "Transfer learning: linear probe vs fine-tuning, by data size and similarity of the task"
ESTIMATE = 500  # seconds, full form: CPU time of the committed run (~490 s; 4,579 s wall, loaded machine)
TEXTURES = ["brick", "grass", "gravel", "moon", "hubble_deep_field"]
REGIMES = ["scratch", "probe (conv stage)", "probe (top)", "fine-tune last", "fine-tune all"]
# the lecture's 2x2 table: (data, task) -> advice
PUBLISHED = {("little", "similar"): "Use Linear Classifier on top layer",
             ("little", "different"): "You're in trouble... Try linear classifier from different stages",
             ("much", "similar"): "Finetune a few layers",
             ("much", "different"): "Finetune a larger number of layers"}
# the regimes that follow each piece of advice
ADVISED = {("little", "similar"): ["probe (top)"],
           ("little", "different"): ["probe (top)", "probe (conv stage)"],
           ("much", "similar"): ["fine-tune last"],
           ("much", "different"): ["fine-tune all"]}
PATCH = 28


class SmallNet(nn.Module):
    """features: conv 5x5 (1->16) -> relu -> max pool -> conv 5x5 (16->32) -> relu -> max pool -> flatten
    (28 -> 24 -> 12 -> 8 -> 4: 512 features); fc: linear 512->64 -> relu; head: linear 64->classes."""

    def __init__(self, classes=5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(512, 64), nn.ReLU())
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        return self.head(self.fc(self.features(x)))


def texture_patches(n_train, n_test, rng):
    """Grey 28x28 patches of five photographs of textures shipped with scikit-image (halved in size), one
    class each; training patches come from the top 70% of each photograph, test patches from the rest, so
    no test pixel was seen in training. Each patch is standardised on its own: the class is in the texture,
    not the brightness. Returns float32 (N, 1, 28, 28) arrays and int64 labels, classes balanced."""
    try:
        from skimage import data
    except ImportError:
        raise RuntimeError("convgrad lab transfer: expected scikit-image for the texture task "
                           "(pip install scikit-image), got ImportError") from None
    out = [[], [], [], []]
    for label, name in enumerate(TEXTURES):
        img = np.asarray(getattr(data, name)(), dtype=np.float32)
        img = img.mean(2) if img.ndim == 3 else img
        h, w = (img.shape[0] // 2) * 2, (img.shape[1] // 2) * 2
        img = img[:h, :w].reshape(h // 2, 2, w // 2, 2).mean((1, 3))
        cut = int(0.7 * img.shape[0])
        for part, (rows, n) in enumerate(((img[:cut], n_train), (img[cut:], n_test))):
            k = -(-n // len(TEXTURES))
            ys = rng.integers(0, rows.shape[0] - PATCH + 1, k)
            xs = rng.integers(0, rows.shape[1] - PATCH + 1, k)
            p = np.stack([rows[y:y + PATCH, x:x + PATCH] for y, x in zip(ys, xs)])
            p = (p - p.mean((1, 2), keepdims=True)) / (p.std((1, 2), keepdims=True) + 1e-3)
            out[2 * part].append(p[:, None])
            out[2 * part + 1].append(np.full(k, label, dtype=np.int64))
    return [np.concatenate(a) for a in out]


def balanced(rng, y, per_class):
    """Indices of ``per_class`` random examples of each label in ``y``."""
    return np.concatenate([rng.choice(np.nonzero(y == c)[0], per_class, replace=False)
                           for c in np.unique(y)])


def fit(model, params, x, y, steps, batch, rng):
    opt = optim.Adam(params, lr=1e-3)
    for _, idx in zip(range(steps), batches(rng, len(y), min(batch, len(y)))):
        train_step(model, opt, x[idx], y[idx])
    return model


def build(regime, pretrained, classes):
    """The model and the optimiser's parameter groups for ``regime``: pretrained layers are copied from
    ``pretrained``, the head is new (re-initialised), frozen layers get ``requires_grad_(False)``."""
    if regime == "scratch":
        model = SmallNet(classes)
        return model, model.parameters()
    net = SmallNet(classes)
    state = {k: v for k, v in pretrained.state_dict().items() if not k.startswith("head.")}
    net.load_state_dict(state, strict=False)
    if regime == "probe (conv stage)":
        net.features.requires_grad_(False)
        model = nn.Sequential(net.features, nn.Linear(512, classes))
        return model, model[1].parameters()
    if regime == "probe (top)":
        net.features.requires_grad_(False)
        net.fc.requires_grad_(False)
        return net, net.head.parameters()
    if regime == "fine-tune last":
        net.features.requires_grad_(False)
        return net, list(net.fc.parameters()) + list(net.head.parameters())
    # fine-tune all: the pretrained convolutions move ten times slower than the layers above them
    return net, [{"params": net.features.parameters(), "lr": 1e-4},
                 {"params": list(net.fc.parameters()) + list(net.head.parameters())}]


def run(out, seed=0, quick=False):
    report = Report("transfer", TITLE, out, seed, quick)
    rng = seed_all(seed)
    if quick:
        n_mnist, n_pre, pre_steps, repeats, n_test = 2000, 800, 40, 1, 200
        sizes = {"little": 10, "much": 100}
        steps = {"little": 30, "much": 40}
    else:
        n_mnist, n_pre, pre_steps, repeats, n_test = 40000, 10000, 500, 3, 2000
        sizes = {"little": 20, "much": 1000}
        steps = {"little": 100, "much": 300}
    xtr, ytr, xte, yte = load_mnist(n_mnist, 10000, rng)
    low, high = ytr < 5, ytr >= 5
    pre_idx = np.nonzero(low)[0][:n_pre]
    pretrained = SmallNet(5)
    fit(pretrained, pretrained.parameters(), xtr[pre_idx], ytr[pre_idx], pre_steps, 64, rng)
    test_low = np.nonzero(yte < 5)[0][:n_test]
    pre_acc = accuracy(pretrained, xte[test_low], yte[test_low])

    test_high = np.nonzero(yte >= 5)[0][:n_test]
    tx_tr, ty_tr, tx_te, ty_te = texture_patches(6 * sizes["much"], n_test, rng)
    tasks = {"similar": (xtr[high], ytr[high] - 5, xte[test_high], yte[test_high] - 5),
             "different": (tx_tr, ty_tr, tx_te, ty_te)}
    acc = {}  # (data, task, regime) -> list of test accuracies, one per labelled subset
    for task, (x, y, x_test, y_test) in tasks.items():
        for size, per_class in sizes.items():
            for rep in range(repeats if size == "little" else 1):
                pick = balanced(np.random.default_rng([seed, rep]), y, per_class)
                for regime in REGIMES:
                    rng = seed_all(seed + rep)  # same head draw and batch order for every regime
                    model, params = build(regime, pretrained, 5)
                    fit(model, params, x[pick], y[pick], steps[size], 25 if size == "little" else 50, rng)
                    acc.setdefault((size, task, regime), []).append(accuracy(model, x_test, y_test))
    mean = {k: float(np.mean(v)) for k, v in acc.items()}

    def cell(k):
        v = acc[k]
        return pct(mean[k]) + (f" ({pct(min(v))}-{pct(max(v))})" if len(v) > 1 else "")

    def winner(size, task):
        return max(REGIMES, key=lambda r: mean[size, task, r])

    n = {s: 5 * p for s, p in sizes.items()}
    report.add("## Claim\nThe lecture's 2x2 table on transfer learning: with very little data on a similar "
               "task, use a linear classifier on the top layer; with quite a lot of data on a similar task, "
               "fine-tune a few layers; with quite a lot on a very different one, fine-tune a larger number "
               "of layers; with very little on a very different one 'you're in trouble': try linear "
               "classifiers from different stages (lower layers are more generic, higher ones more "
               "specific).")
    report.add(
        f"## Setup\nA small CNN (two 5x5 conv layers of 16 and 32 channels with max pooling, a 64-unit "
        f"hidden layer, a linear head) pretrained with Adam (learning rate 1e-3, batches of 64, "
        f"{pre_steps} steps) on {len(pre_idx)} MNIST training images of the digits 0-4: "
        f"{pct(pre_acc)} test accuracy on 0-4. It is then transferred to two five-class tasks:\n\n"
        "- similar: the digits 5-9 (other MNIST training images; test: MNIST test images of 5-9);\n"
        "- different: grey 28x28 patches of five texture photographs that scikit-image ships (brick, grass, "
        "gravel, the moon's surface, the Hubble deep field), each patch standardised; training patches from "
        "the top 70% of each photograph, test patches from the bottom 30%. FashionMNIST, the obvious "
        "choice, has no offline copy here, and rotated or inverted digits are still strokes: too similar "
        "for the right-hand column.\n\n"
        f"Little data: {n['little']} labelled images ({sizes['little']} per class, {steps['little']} "
        f"steps of 25; the mean over {repeats} random subsets, range in brackets); much data: "
        f"{n['much']} ({steps['much']} steps of 50). Test sets: {n_test} images each. Regimes, each with a "
        "re-initialised head and Adam (learning rate 1e-3): *scratch* (random weights, all trained); "
        "*probe (top)*: a linear classifier on the frozen 64 top features (`requires_grad_(False)`); "
        "*probe (conv stage)*: a linear classifier on the frozen 512 features of the second conv stage; "
        "*fine-tune last*: the convolutions frozen, the hidden and head layers trained; *fine-tune all*: "
        "everything trained, the pretrained convolutions with a ten times smaller learning rate (a second "
        "parameter group, 1e-4).")
    rows = [[f"{size} ({n[size]} images)", task] + [cell((size, task, r)) for r in REGIMES]
            + [winner(size, task)] for size in sizes for task in tasks]
    report.add("## Test accuracy\n" + table(["labelled data", "task"] + REGIMES + ["best"], rows))
    rows = []
    for size in sizes:
        row = [f"{size} data"]
        for task in tasks:
            best = winner(size, task)
            advised = max(ADVISED[size, task], key=lambda r: mean[size, task, r])
            row.append(f"published: *{PUBLISHED[size, task]}*; measured: {advised} "
                       f"{pct(mean[size, task, advised])}"
                       f", best {best} {pct(mean[size, task, best])}, scratch "
                       f"{pct(mean[size, task, 'scratch'])}")
        rows.append(row)
    report.add("## The lecture's 2x2 table, filled\n" + table(["", "very similar dataset (digits 5-9)",
                                                                  "very different dataset (textures)"], rows))
    fig, axes = plt().subplots(1, 2, figsize=(13, 4), sharey=True)
    width = 0.8 / len(REGIMES)
    for ax, task in zip(axes, tasks):
        for i, r in enumerate(REGIMES):
            ax.bar(np.arange(len(sizes)) + (i - 2) * width, [100 * mean[s, task, r] for s in sizes], width,
                   label=r)
        ax.set_xticks(np.arange(len(sizes)), [f"{s} data ({n[s]})" for s in sizes])
        ax.set_title(f"{task} task")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 100)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="lower right")
    png = save_fig(fig, report.path("transfer.png"))
    report.add(f"![test accuracy per regime]({png})")
    fig, axes = plt().subplots(3, 8, figsize=(10, 4))
    shows = [(xtr[low][:8], "digits 0-4 (pretraining)"), (xtr[high][:8], "digits 5-9 (similar)"),
             (tx_te[np.arange(8) * len(tx_te) // 8], "textures (different)")]
    for row, (imgs, name) in zip(axes, shows):
        for ax, img in zip(row, imgs):
            ax.imshow(img[0], cmap="gray")
            ax.axis("off")
        row[0].set_title(name, loc="left", fontsize=9)
    png = save_fig(fig, report.path("tasks.png"))
    report.add(f"![the three tasks]({png})")
    report.add(_compare(mean, sizes, tasks, winner, quick, (pre_steps, len(pre_idx)), steps))
    path, wall = report.write()
    return {"path": path, "wall": wall, "accuracy": mean, "pretrain_accuracy": pre_acc}


def _compare(mean, sizes, tasks, winner, quick, pre, steps):
    lines = []
    for size in sizes:
        for task in tasks:
            best = winner(size, task)
            hit = best in ADVISED[size, task]
            lines.append(f"- {size} data, {task} task: {best} wins"
                         + (" as the lecture advises." if hit else
                            f" (the lecture advises {' or '.join(ADVISED[size, task])}: "
                            f"{pct(max(mean[size, task, r] for r in ADVISED[size, task]))}).")
                         + f" Pretrained features vs scratch: "
                           f"{pct(max(mean[size, task, r] for r in REGIMES[1:]))} vs "
                           f"{pct(mean[size, task, 'scratch'])}.")
    return ("## How it compares\n" + "\n".join(lines) + "\n\n"
            + ("Quick form: tiny data and few steps: the direction only. " if quick else "")
            + "The lecture speaks of ImageNet networks of millions of weights, where fine-tuning on little "
            "data overfits; this network has 40,000 weights and the tasks are small, so the table's "
            "boundaries (how little is 'little') sit elsewhere. Scaled down: one 2-conv-layer network "
            f"pretrained for {pre[0]} steps on {pre[1]} digits instead of ImageNet, "
            f"{steps['little']} and {steps['much']} steps per transfer, one learning rate, no tuning per "
            "regime.")
