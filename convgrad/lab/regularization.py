"""Overfitting and its two classic remedies: a small CNN trained long on a small MNIST subset, with and
without dropout (p = 0.5 on the fully connected layers, as in AlexNet) and with and without data
augmentation (random affine distortions of every batch); training and test loss per epoch, and the
train/test gap at the end."""

from convgrad import nn, optim

from . import _common as common

TITLE = "Regularization: dropout and data augmentation narrow the train/test gap"
ESTIMATE = 300  # seconds, full form, on this machine alone (a guess from its CPU time under load)
CONFIGS = [(False, False), (True, False), (False, True), (True, True)]  # (dropout, augmentation)
AUGMENT = {"degrees": 10.0, "translate": 2.0, "scale": (0.9, 1.1)}


def small_cnn(p):
    """conv 5x5 (1->16) -> ReLU -> max pool -> conv 5x5 (16->32) -> ReLU -> max pool -> dropout(p) ->
    linear 512->128 -> ReLU -> dropout(p) -> linear 128->10: 28 -> 24 -> 12 -> 8 -> 4 spatially."""
    return nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(p), nn.Linear(512, 128), nn.ReLU(), nn.Dropout(p), nn.Linear(128, 10))


def augment(x, rng):
    return common.random_affine(x, rng, **AUGMENT)


def _label(dropout, augmented):
    parts = (["dropout"] if dropout else []) + (["augmentation"] if augmented else [])
    return " + ".join(parts) or "neither"


def _train(dropout, augmented, data, epochs, every, seed, batch_size=50):
    xtr, ytr, xte, yte = data
    rng = common.seed_all(seed)  # the same initial weights and batch order for all four
    model = small_cnn(0.5 if dropout else 0.0)
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def measure(epoch):  # both in eval mode, the training digits undistorted
        if epoch % every and epoch != epochs:
            return None
        return (epoch, *common.loss_and_accuracy(model, xtr, ytr),
                *common.loss_and_accuracy(model, xte, yte))

    log = common.train_epochs(model, opt, xtr, ytr, epochs, batch_size, rng,
                              augment if augmented else None, after_epoch=measure)
    curve = [row for row in log if row is not None]
    _, train_loss, train_acc, test_loss, test_acc = curve[-1]
    return {"params": common.count_params(model), "curve": curve, "train_accuracy": train_acc,
            "test_accuracy": test_acc, "gap": train_acc - test_acc, "train_loss": train_loss,
            "test_loss": test_loss}


def run(out, seed=0, quick=False):
    report = common.Report("regularization", TITLE, out, seed, quick)
    n_train, n_test, epochs, every = (500, 500, 15, 3) if quick else (1000, 2000, 30, 2)
    data = common.load_mnist(n_train, n_test, common.seed_all(seed))
    res = {c: _train(*c, data, epochs, every, seed) for c in CONFIGS}

    rows = [[_label(*c), f"{100 * r['train_accuracy']:.1f}%", f"{100 * r['test_accuracy']:.1f}%",
             f"{100 * r['gap']:.1f} points", f"{r['train_loss']:.3f}", f"{r['test_loss']:.3f}"]
            for c, r in res.items()]
    report.add("## Claim\nA network with many more parameters than training examples overfits: it fits the "
               "training set (training error near zero) while the test error stays high and the test "
               "loss rises again. Dropout (each hidden unit zeroed with probability 0.5 in training) and "
               "data augmentation (label-preserving transformations of the training images) fight it "
               "(AlexNet, Krizhevsky et al. 2012; lecture notes 'Preventing overfitting'). Published "
               "numbers: qualitative here (AlexNet: without dropout 'substantial overfitting'; "
               "dropout roughly doubles the iterations needed to converge).")
    report.add(f"## Setup\n{n_train} MNIST training digits (a random subset), {n_test} test digits. The same "
               f"small CNN ({res[CONFIGS[0]]['params']:,} parameters: "
               f"{res[CONFIGS[0]]['params'] / n_train:.0f} per training digit) in all four runs, "
               "from the same initial weights and batch order: Adam, learning rate 1e-3, batches of 50, "
               f"{epochs} epochs, seed {seed}. Dropout: p = 0.5 before each fully connected layer. "
               "Augmentation: every training batch moved by a fresh random affine map per image "
               f"(rotation up to {AUGMENT['degrees']:.0f} degrees, shift up to "
               f"{AUGMENT['translate']:.0f} pixels, scale {AUGMENT['scale'][0]}-{AUGMENT['scale'][1]} per "
               f"axis). Losses and accuracies are measured every {every} epochs in eval mode (no "
               "dropout), the training digits undistorted.")
    report.add("## Results (after the last epoch)\n" + common.table(
        ["regularization", "training accuracy", "test accuracy", "train/test gap", "training loss",
         "test loss"], rows))
    fig, ax = common.plt().subplots(figsize=(8, 4.5))
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for color, (c, r) in zip(colors, res.items()):
        e = [row[0] for row in r["curve"]]
        ax.plot(e, [row[1] for row in r["curve"]], color=color, ls="-", label=f"{_label(*c)}: train")
        ax.plot(e, [row[3] for row in r["curve"]], color=color, ls="--", label=f"{_label(*c)}: test")
    ax.set_yscale("log")
    common.finish_plot(report, fig, ax, "loss_curves.png", "epoch", "cross-entropy loss (log scale)",
                       "training (solid) and test (dashed) loss per epoch")
    gaps = {c: 100 * r["gap"] for c, r in res.items()}
    best = max(res, key=lambda c: res[c]["test_accuracy"])
    report.add("## How it compares\nThe published claim is a direction: regularization should narrow the "
               "gap between training and test accuracy and, when it works, raise the test accuracy. "
               f"Measured gap: {gaps[False, False]:.1f} points with neither, {gaps[True, False]:.1f} "
               f"with dropout, {gaps[False, True]:.1f} with augmentation, {gaps[True, True]:.1f} with "
               f"both; the best test accuracy is {_label(*best)}'s "
               f"({100 * res[best]['test_accuracy']:.1f}%). "
               + ("This is the quick form (few digits and epochs): the direction only. " if quick else
                  f"Scaled down: MNIST digits and a {n_train}-digit subset instead of ImageNet, a small "
                  "CNN instead of AlexNet. ")
               + f"One test digit is {100 / n_test:.2f} points of accuracy; one seed.")
    path, wall = report.write()
    return {"path": path, "wall": wall,
            **{key: {_label(*c): r[key] for c, r in res.items()}
               for key in ("train_accuracy", "test_accuracy", "gap", "train_loss", "test_loss")},
            "curves": {_label(*c): r["curve"] for c, r in res.items()}}
