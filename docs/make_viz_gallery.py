"""Regenerate docs/viz.md and its pictures from a trained LeNet-5 run (``make demo`` writes one):

    python docs/make_viz_gallery.py [runs/demo-lenet5-mnist]

Every picture is made by the ``convgrad viz`` command shown under it, so the gallery doubles as its
documentation."""

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from convgrad import cli  # noqa: E402

PICTURES = [
    ("First-layer filters", "filters", ["filters_features.0.png"],
     "The six 5x5 kernels of `features.0` on one diverging scale (red positive, blue negative): oriented "
     "stroke and edge detectors."),
    ("Feature maps of every layer", "features", ["features_all.png"],
     "One test digit through each convolution, ReLU and pooling layer (first 8 channels each)."),
    ("Saliency and guided backpropagation", "saliency", ["saliency.png", "guided_backprop.png"],
     "Where a small change of the input changes the predicted class score most."),
    ("Deconvnet projection", "deconv", ["deconv_features.3_0.png"],
     "The strongest activation of unit 0 of the second convolution projected back to pixels (Zeiler & "
     "Fergus)."),
    ("Occlusion sensitivity", "occlusion", ["occlusion.png"],
     "How much the predicted class's score drops when a 4x4 patch is covered (window 4, stride 2)."),
    ("Grad-CAM", "cam", ["grad_cam_features.4.png"],
     "LeNet-5 has no global average pooling, so `viz cam` falls back to Grad-CAM on its last "
     "convolution's rectified output (`features.4`): the evidence for the predicted class, at the "
     "resolution of that layer."),
    ("Nearest neighbours in feature space", "neighbors", ["neighbors.png"],
     "Training digits whose last-hidden-layer features are closest to each query (AlexNet's figure)."),
    ("Misclassified test digits", "errors", ["errors.png", "per_class_accuracy.png", "confusion.png"],
     "The mistakes, most confident first, titled true -> predicted; accuracy per class; the confusion "
     "matrix."),
]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    run = argv[0] if argv else os.path.join("runs", "demo-lenet5-mnist")
    out = os.path.join(HERE, "viz")
    shutil.rmtree(out, ignore_errors=True)
    lines = ["# What LeNet-5 learned: the `convgrad viz` gallery", "",
             f"Made by `python docs/make_viz_gallery.py {run}` from the LeNet-5 that `make demo` trains "
             "(99.2 % test accuracy). Each picture's command is under it.", ""]
    extra = {"occlusion": ["--window", "4", "--stride", "2"], "errors": ["--count", "36"],
             "neighbors": ["--k", "6"]}
    for title, picture, files, text in PICTURES:
        args = ["viz", picture, run, "--out", out] + extra.get(picture, [])
        if cli.main(args) != 0:
            raise SystemExit(f"convgrad {' '.join(args)} failed")
        lines += [f"## {title}", "", text, ""] + [f"![{title}](viz/{f})" for f in files]
        lines += ["", f"`convgrad {' '.join(a if a != out else 'docs/viz' for a in args)}`", ""]
    lines += ["## Convolution arithmetic, animated", "",
              "Each output value is the sum of the highlighted window's products; transposed convolutions "
              "are drawn as the direct convolution they equal (zeros inserted between input pixels, kernel "
              "flipped).",
              ""]
    assert cli.main(["viz", "conv", "--case", "all", "--out", out]) == 0
    from convgrad import viz

    for name in viz.CONV_ARITHMETIC_CASES:
        row = [f"![{name}](viz/{name}.gif)"]
        if os.path.exists(os.path.join(out, f"{name}_transposed.gif")):
            row.append(f"![{name} transposed](viz/{name}_transposed.gif)")
        lines += [f"**{name.replace('_', ' ')}**", "", " ".join(row), ""]
    for mode in ("max", "avg"):
        assert cli.main(["viz", "conv", "--pool", mode, "--input", "4", "--kernel", "2",
                         "--out", os.path.join(out, f"{mode}_pool.gif")]) == 0
        lines += [f"**{mode} pooling**", "", f"![{mode} pooling](viz/{mode}_pool.gif)", ""]
    lines += ["`convgrad viz conv --case all --out docs/viz`, "
              "`convgrad viz conv --pool max --input 4 --kernel 2`", "", "## Hand-made kernels", ""]
    assert cli.main(["viz", "filtering", "--out", out]) == 0
    lines += ["![filtering](viz/filtering.png)", "", "`convgrad viz filtering` (scikit-image's camera "
              "photograph when scikit-image is installed, else an MNIST digit; `--image PATH` for your own)",
              ""]
    with open(os.path.join(HERE, "viz.md"), "w") as f:
        f.write("\n".join(lines))
    print(os.path.join(HERE, "viz.md"))


if __name__ == "__main__":
    main()
