"""Pictures of training and of what a CNN learned (matplotlib, Agg backend: no display needed). Every
``plot_*``/``animate_*`` function returns a Figure (or frames) and writes a PNG/GIF when given a path; the
numbers behind each picture come from functions that need no matplotlib.

- :mod:`.plots`: learning curves, confusion matrix, per-class accuracy, misclassified examples.
- :mod:`.inside`: a convolution's filters; the feature maps of one layer or of every layer.
- :mod:`.attribution`: saliency, guided backprop, deconvnet, occlusion, CAM, Grad-CAM.
- :mod:`.neighbors`: images nearest in feature space.
- :mod:`.animate`: convolution, transposed convolution and pooling as GIFs, with the numbers.
- :mod:`.filtering`: hand-made kernels (blur, sharpen, Sobel, ...) applied to a photograph."""

from convgrad.viz._common import VizError, find_layer
from convgrad.viz.animate import (
    CONV_ARITHMETIC_CASES,
    Steps,
    animate_conv,
    animate_pool,
    animate_steps,
    conv_steps,
    pool_steps,
)
from convgrad.viz.attribution import (
    cam,
    deconvnet,
    grad_cam,
    guided_backprop,
    input_gradient,
    occlusion,
    plot_attribution,
    saliency,
)
from convgrad.viz.filtering import KERNELS, apply_kernel, filter_bank, plot_filtering, sample_image
from convgrad.viz.inside import (
    all_feature_maps,
    feature_maps,
    plot_all_feature_maps,
    plot_feature_maps,
    plot_filters,
)
from convgrad.viz.neighbors import embed, nearest_neighbors, plot_neighbors
from convgrad.viz.plots import (
    misclassified,
    per_class_accuracy,
    plot_confusion_matrix,
    plot_history,
    plot_misclassified,
    plot_per_class_accuracy,
)
