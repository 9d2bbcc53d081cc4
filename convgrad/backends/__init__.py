"""``convgrad.backends``, as ``torch.backends``: the flags scripts set at the top
(``cudnn.benchmark = True``, ``cudnn.deterministic = True``, ``cuda.matmul.allow_tf32``) are accepted and
kept; they change nothing, since convgrad's CPU kernels are deterministic. ``convolution`` is convgrad's
own: it chooses or forces the algorithm of 3x3 stride-1 convolutions (im2col or Winograd)."""

from convgrad.backends import convolution, cuda, cudnn, mps  # noqa: F401
