"""The degradation problem (He et al. 2016, "Deep Residual Learning for Image Recognition", figures 1 and 6):
a deeper plain network reaches a higher training error than a shallower one, while the residual network of
the same depth does not. CIFAR-style networks from the zoo (``cifar_resnet``: a 3x3 stem, three stages of
``n`` basic blocks, ``6n + 2`` weighted layers), made narrow, on MNIST; the plain counterpart is the same
stack with the shortcuts removed."""

import numpy as np

from convgrad import optim
from convgrad.vision.models.resnet_cifar import cifar_resnet

from ._common import (
    Report,
    accuracy,
    batches,
    count_params,
    load_mnist,
    pct,
    plt,
    save_fig,
    seed_all,
    table,
    train_step,
)

TITLE = "Degradation: deeper plain networks train worse, residual networks do not (ResNet, figure 6)"
ESTIMATE = 400  # seconds, full form: CPU time of the committed run (378 s; 4,159 s wall, loaded machine)
WINDOW = 25  # batches in the running training error
# ImageNet top-1 validation error, 10-crop (He et al. 2016, table 2): the published numbers for the claim
PUBLISHED = {("plain", 18): 0.2794, ("plain", 34): 0.2854, ("resnet", 18): 0.2788, ("resnet", 34): 0.2503}


def halve(x):
    """Average 2x2 blocks: (N, 1, 28, 28) -> (N, 1, 14, 14), four times fewer multiplications per layer."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean((3, 5))


def running(errors):
    e = np.asarray(errors, dtype=np.float64)
    return np.convolve(e, np.ones(WINDOW) / WINDOW, mode="valid")


def run(out, seed=0, quick=False):
    report = Report("degradation", TITLE, out, seed, quick)
    rng = seed_all(seed)
    if quick:
        n_train, n_test, steps, depths, widths, batch = 1000, 200, 40, (8, 14), (4, 8, 16), 32
    else:
        n_train, n_test, steps, depths, widths, batch = 10000, 2000, 300, (8, 20), (8, 16, 32), 32
    xtr, ytr, xte, yte = load_mnist(n_train, n_test, rng)
    xtr, xte = halve(xtr), halve(xte)
    errors, losses, test_acc, params = {}, {}, {}, {}
    for kind in ("plain", "resnet"):
        for depth in depths:
            rng = seed_all(seed)  # same batch order for all four
            model = cifar_resnet(depth, residual=kind == "resnet", in_channels=1, widths=widths)
            # the paper's CIFAR settings: SGD, learning rate 0.1, momentum 0.9, weight decay 1e-4
            opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
            hist = [train_step(model, opt, xtr[idx], ytr[idx])
                    for _, idx in zip(range(steps), batches(rng, n_train, batch))]
            key = (kind, depth)
            losses[key] = [h[0] for h in hist]
            errors[key] = [h[1] / batch for h in hist]
            test_acc[key], params[key] = accuracy(model, xte, yte), count_params(model)

    last = max(WINDOW, steps // 5)
    final = {k: float(np.mean(e[-last:])) for k, e in errors.items()}
    final_loss = {k: float(np.mean(v[-last:])) for k, v in losses.items()}
    shallow, deep = depths
    report.add("## Claim\n'When deeper networks are able to start converging, a degradation problem has been "
               "exposed: with the network depth increasing, accuracy gets saturated and then degrades "
               "rapidly ... adding more layers to a suitably deep model leads to higher training error' "
               "(He et al. 2016, figures 1 and 6: on CIFAR-10 plain-56 trains worse than plain-20, while "
               "ResNet-56 trains better than ResNet-20). Published in numbers (ImageNet, table 2, top-1 "
               "error): plain-18 27.94%, plain-34 28.54%; ResNet-18 27.88%, ResNet-34 25.03%.")
    report.add(f"## Setup\nThe zoo's CIFAR ResNets (`cifar_resnet(depth, residual=...)`, option A shortcuts, "
               f"batch norm) at depths {shallow} and {deep}, with {widths[0]}/{widths[1]}/{widths[2]} "
               "channels "
               f"in the three stages (the paper: 16/32/64), and their plain counterparts (the same layers, "
               f"no shortcuts). MNIST at 14x14 (each 2x2 block averaged; the paper: CIFAR-10 at 32x32), "
               f"{n_train} training images, no augmentation. SGD with the paper's settings (learning rate "
               f"0.1, momentum 0.9, weight decay 1e-4, He initialisation), batches of {batch}, {steps} steps "
               f"(the paper: 64,000 steps of 128), the same batch order for all four networks. Training "
               f"error: the errors on each batch before its step, averaged over the last {last} steps; test "
               f"error on {n_test} MNIST test images.")
    rows = [[f"{kind}-{d}", f"{params[kind, d]:,}", pct(final[kind, d]), f"{final_loss[kind, d]:.3f}",
             pct(1 - test_acc[kind, d])] for kind in ("plain", "resnet") for d in depths]
    report.add("## Results\n" + table(["network", "parameters", "training error (end)", "training loss (end)",
                                       "test error"], rows))
    gaps = {k: final[k, deep] - final[k, shallow] for k in ("plain", "resnet")}
    report.add(table(["deeper minus shallower, training error", "published (ImageNet top-1, 34 vs 18)",
                      f"measured ({deep} vs {shallow}, MNIST)"],
                     [["plain", "+0.60 points (degrades)", f"{100 * gaps['plain']:+.2f} points"],
                      ["residual", "-2.85 points (improves)", f"{100 * gaps['resnet']:+.2f} points"]]))
    fig, axes = plt().subplots(1, 2, figsize=(12, 4), sharey=True)
    x = np.arange(WINDOW, steps + 1)
    for ax, kind in zip(axes, ("plain", "resnet")):
        for d, style in zip(depths, ("--", "-")):
            ax.plot(x, 100 * running(errors[kind, d]), style, label=f"{kind}-{d}")
        ax.set_title(f"{kind} networks")
        ax.set_xlabel("training step")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    axes[0].set_ylabel(f"training error (%), {WINDOW}-step mean")
    png = save_fig(fig, report.path("training_error.png"))
    report.add(f"![training error of plain and residual networks]({png})")
    degrades = gaps["plain"] > 0
    report.add("## How it compares\n"
               + (f"The deeper plain network ends with the higher training error "
                  f"({pct(final['plain', deep])} "
                  f"vs {pct(final['plain', shallow])}): degradation, as published. " if degrades else
                  f"The deeper plain network does not end worse here ({pct(final['plain', deep])} vs "
                  f"{pct(final['plain', shallow])}): no degradation at these depths and this length of "
                  "training. ")
               + (f"The residual network gains from depth ({pct(final['resnet', deep])} vs "
                  f"{pct(final['resnet', shallow])}), as published. " if gaps["resnet"] < 0 else
                  f"The deeper residual network does not gain here ({pct(final['resnet', deep])} vs "
                  f"{pct(final['resnet', shallow])}). ")
               + ("Quick form: tiny networks and few steps: the direction only. " if quick else "")
               + f"Scaled down: MNIST at 14x14 instead of CIFAR-10, depths {shallow} and {deep} instead "
               f"of 20 to 110, {widths[0]} channels in the first stage instead of 16, {steps} steps "
               "instead of "
               "64,000: the curves are the start of the paper's, where the differences between depths come "
               "from how fast each network starts to learn.")
    path, wall = report.write()
    return {"path": path, "wall": wall, "final_error": final, "test_accuracy": test_acc,
            "errors": errors}
