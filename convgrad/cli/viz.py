"""``convgrad viz``: every picture of :mod:`convgrad.viz` from the command line. Pictures of a trained
network take its checkpoint (or run folder); ``conv`` and ``filtering`` need none. Each writes its files
to ``--out`` (default: the run folder's ``viz/``, or ``./viz``) and prints their paths."""

import os

import numpy as np

from convgrad.cli.common import CLIError
from convgrad.cli.evaluate import load_trained

_NEEDS_CHECKPOINT = ("filters", "features", "saliency", "deconv", "occlusion", "cam", "neighbors", "errors",
                     "confusion")


def _out_dir(args):
    if args.out:
        return args.out
    ckpt = getattr(args, "checkpoint", None)
    if ckpt:
        return os.path.join(ckpt if os.path.isdir(ckpt) else os.path.dirname(os.path.abspath(ckpt)), "viz")
    return "viz"


def _batch(test_set, index, count):
    import convgrad

    n = len(test_set)
    idx = [i % n for i in range(index, index + count)]
    xs, ys = zip(*(test_set[i] for i in idx))
    return convgrad.stack(list(xs)), np.array([int(y) for y in ys]), idx


def _convs(model):
    from convgrad import nn

    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d))]


def _last_feature_layer(model):
    """Where Grad-CAM looks by default: the last convolution's rectified output (the ReLU right after it,
    if there is one), whose maps still have a spatial layout and already the deepest features."""
    from convgrad import nn

    named = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]
    last = max(i for i, (_, m) in enumerate(named) if isinstance(m, (nn.Conv1d, nn.Conv2d)))
    if last + 1 < len(named) and isinstance(named[last + 1][1], nn.ReLU):
        return named[last + 1][0]
    return named[last][0]


def _predict(model, test_set, batch_size=512):
    import convgrad
    from convgrad.utils.data import DataLoader

    logits, targets = [], []
    with convgrad.no_grad():
        for x, y in DataLoader(test_set, batch_size=batch_size):
            logits.append(model(x).numpy())
            targets.append(y.numpy())
    return np.concatenate(logits), np.concatenate(targets)


def _run_checkpoint_picture(args, out, log):
    from convgrad import training, viz

    model, model_name, dataset, test_set, classes = load_trained(args.checkpoint, args.model, args.dataset,
                                                                 args.data_root)
    names = [str(c).split(" ")[0] for c in classes]
    path = lambda name: os.path.join(out, name)
    written = []
    what = args.picture
    if what == "filters":
        convs = _convs(model)
        if not convs:
            raise CLIError(f"{model_name} has no convolution layers to show the filters of")
        layers = [(args.layer, viz.find_layer(model, args.layer))] if args.layer else convs[:1]
        for name, layer in layers:
            if not hasattr(layer, "weight") or getattr(layer.weight, "ndim", 0) not in (3, 4):
                raise CLIError(f"layer '{name}' ({type(layer).__name__}) has no convolution filters; "
                               f"layers that have: {', '.join(n for n, _ in convs)}")
            viz.plot_filters(layer, path(f"filters_{name}.png"), title=f"{model_name} {name} filters")
            written.append(path(f"filters_{name}.png"))
        return written
    x, y, idx = _batch(test_set, args.index, args.count)
    if what == "features":
        if args.layer:
            viz.plot_feature_maps(model, args.layer, x[:1], path(f"features_{args.layer}.png"))
            written.append(path(f"features_{args.layer}.png"))
        else:
            viz.plot_all_feature_maps(model, x[:1], path("features_all.png"))
            written.append(path("features_all.png"))
    elif what == "saliency":
        viz.plot_attribution(x, viz.saliency(model, x, args.target), path("saliency.png"),
                             titles=[f"#{i} ({names[t]})" for i, t in zip(idx, y)], title="saliency")
        viz.plot_attribution(x, viz.guided_backprop(model, x, args.target), path("guided_backprop.png"),
                             titles=[f"#{i} ({names[t]})" for i, t in zip(idx, y)], title="guided backprop")
        written += [path("saliency.png"), path("guided_backprop.png")]
    elif what == "deconv":
        layer = args.layer or _convs(model)[-1][0]
        target = path(f"deconv_{layer}_{args.unit}.png")
        viz.plot_attribution(x, viz.deconvnet(model, x, layer, args.unit), target,
                             title=f"deconvnet: {layer} unit {args.unit}")
        written.append(target)
    elif what == "occlusion":
        maps = viz.occlusion(model, x, args.target, window=args.window, stride=args.stride)
        viz.plot_attribution(x, maps, path("occlusion.png"), title="occlusion: drop in the class score")
        written.append(path("occlusion.png"))
    elif what == "cam":
        if args.layer:
            maps, name = viz.grad_cam(model, x, args.layer, args.target), f"grad_cam_{args.layer}"
        else:
            try:
                maps, name = viz.cam(model, x, args.target), "cam"
            except viz.VizError:  # no global average pooling: Grad-CAM on the last convolution
                layer = _last_feature_layer(model)
                maps, name = viz.grad_cam(model, x, layer, args.target), f"grad_cam_{layer}"
        viz.plot_attribution(x, maps, path(f"{name}.png"), title=name.replace("_", " "))
        written.append(path(f"{name}.png"))
    elif what == "neighbors":
        train_set, _ = _train_split(args, dataset)
        pool = min(len(train_set), args.pool)
        images, labels, _ = _batch(train_set, 0, pool)
        nn_idx, _ = viz.nearest_neighbors(model, x, images, k=args.k)
        viz.plot_neighbors(x, images, nn_idx, path("neighbors.png"), labels=labels,
                           query_labels=[names[t] for t in y])
        written.append(path("neighbors.png"))
    elif what in ("errors", "confusion"):
        logits, targets = _predict(model, test_set)
        cm = training.confusion_matrix(logits.argmax(1), targets, len(classes))
        viz.plot_confusion_matrix(cm, path("confusion.png"), class_names=names)
        written.append(path("confusion.png"))
        if what == "errors":
            wrong, pred = viz.misclassified(logits, targets)
            shown = wrong[:args.count]
            images = np.stack([np.asarray(test_set[int(i)][0]) for i in shown]) if len(shown) else np.zeros(
                (0, 1, 1, 1), np.float32)
            viz.plot_misclassified(images, targets[wrong[:args.count]], pred[:args.count], path("errors.png"),
                                   class_names=names, max_images=args.count,
                                   title=f"{len(wrong)} of {len(targets)} test samples misclassified "
                                         f"(true -> predicted)")
            viz.plot_per_class_accuracy(cm, path("per_class_accuracy.png"), class_names=names)
            written += [path("errors.png"), path("per_class_accuracy.png")]
    return written


def _train_split(args, dataset):
    from convgrad.cli.common import load_dataset

    return load_dataset(dataset, args.data_root or "data", True)


def _run_conv(args, out):
    from convgrad import viz

    if args.case:
        cases = list(viz.CONV_ARITHMETIC_CASES) if args.case == "all" else [args.case]
        written = []
        for name in cases:
            if name not in viz.CONV_ARITHMETIC_CASES:
                raise CLIError(f"unknown case '{name}'; cases: {', '.join(viz.CONV_ARITHMETIC_CASES)}, all")
            i, k, s, p, d = viz.CONV_ARITHMETIC_CASES[name]
            viz.animate_conv(i, k, s, p, d, path=os.path.join(out, f"{name}.gif"))
            written.append(os.path.join(out, f"{name}.gif"))
            if d == 1:  # the transposed case maps the output size back to the input size
                from convgrad import arithmetic

                o = arithmetic.conv_output_size(i, k, s, p)
                viz.animate_conv(o, k, s, p, transposed=True, output_padding=(i - k + 2 * p) % s,
                                 path=os.path.join(out, f"{name}_transposed.gif"))
                written.append(os.path.join(out, f"{name}_transposed.gif"))
        return written
    target = args.gif or os.path.join(out, "conv.gif" if not args.pool else f"{args.pool}_pool.gif")
    if args.pool:
        viz.animate_pool(args.input, args.kernel, args.stride, args.padding, mode=args.pool, path=target)
    else:
        viz.animate_conv(args.input, args.kernel, args.stride or 1, args.padding, args.dilation,
                         args.transposed, args.output_padding, path=target)
    return [target]


def _viz_main(args, log=print):
    if args.picture == "conv" and args.out and args.out.endswith(".gif"):
        args.gif, args.out = args.out, os.path.dirname(args.out) or "."
    out = _out_dir(args)
    if args.picture in _NEEDS_CHECKPOINT:
        written = _run_checkpoint_picture(args, out, log)
    elif args.picture == "conv":
        written = _run_conv(args, out)
    else:  # filtering
        from convgrad import viz

        image = viz.sample_image(args.image, args.size)
        viz.plot_filtering(image, os.path.join(out, "filtering.png"))
        written = [os.path.join(out, "filtering.png")]
    for p in written:
        log(p)
    return 0


def add_viz_cli(subparsers):
    p = subparsers.add_parser("viz", help="pictures: filters, feature maps, attribution, errors, convolution",
                              description=__doc__)
    sub = p.add_subparsers(dest="picture", metavar="PICTURE", required=True)
    helps = {"filters": "a conv layer's filters (default: the first)",
             "features": "feature maps of one layer (--layer) or of every layer, for a test input",
             "saliency": "gradient saliency and guided backpropagation for test inputs",
             "deconv": "Zeiler & Fergus deconvnet projection of one unit (--layer, --unit)",
             "occlusion": "occlusion sensitivity of the predicted class",
             "cam": "class activation map (global-average-pooling nets), else Grad-CAM (--layer)",
             "neighbors": "training images nearest in last-hidden-layer feature space",
             "errors": "misclassified test inputs (true -> predicted), per-class accuracy, confusion matrix",
             "confusion": "the test confusion matrix"}
    for name in _NEEDS_CHECKPOINT:
        q = sub.add_parser(name, help=helps[name], description=helps[name])
        q.add_argument("checkpoint", help="a checkpoint written by `convgrad train`, or its run folder")
        q.add_argument("--out", help="folder for the pictures (default: RUN/viz)")
        q.add_argument("--model", help="default: the checkpoint's")
        q.add_argument("--dataset", help="default: the checkpoint's")
        q.add_argument("--data-root", default=os.environ.get("CONVGRAD_DATA"))
        q.add_argument("--index", type=int, default=0, help="first test sample to explain")
        q.add_argument("--count", type=int, default=36 if name == "errors" else 4, help="how many samples")
        q.add_argument("--layer", help="a layer's dotted name (see `convgrad summary MODEL`)")
        q.add_argument("--target", type=int, help="class to explain (default: the predicted one)")
        q.add_argument("--unit", type=int, default=0, help="deconv: channel of --layer")
        q.add_argument("--window", type=int, help="occlusion: window size in pixels")
        q.add_argument("--stride", type=int, help="occlusion: step between windows")
        q.add_argument("--k", type=int, default=6, help="neighbors: how many per query")
        q.add_argument("--pool", type=int, default=5000, help="neighbors: training images searched")
        q.set_defaults(func=_viz_main)
    q = sub.add_parser("conv", help="GIF of a (transposed) convolution or pooling, with the numbers")
    q.add_argument("--input", type=int, default=5)
    q.add_argument("--kernel", type=int, default=3)
    q.add_argument("--stride", type=int)
    q.add_argument("--padding", type=int, default=0)
    q.add_argument("--dilation", type=int, default=1)
    q.add_argument("--transposed", action="store_true")
    q.add_argument("--output-padding", type=int, default=0)
    q.add_argument("--pool", choices=("max", "avg"), help="pooling instead of convolution")
    q.add_argument("--case", help="a conv_arithmetic case by name (with its transposed version), or 'all'")
    q.add_argument("--out", help="folder (default ./viz); with a .gif name, that file", dest="out")
    q.set_defaults(func=_viz_main, gif=None)
    q = sub.add_parser("filtering", help="hand-made kernels (blur, sharpen, Sobel, ...) on an image")
    q.add_argument("--image", default="sample", help="an image file, or 'sample' (default)")
    q.add_argument("--size", type=int, help="resize to SIZE x SIZE first")
    q.add_argument("--out", help="folder for the picture (default ./viz)")
    q.set_defaults(func=_viz_main)
    return p
