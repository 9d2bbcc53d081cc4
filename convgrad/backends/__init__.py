"""``convgrad.backends``, as ``torch.backends``: the flags scripts set at the top
(``cudnn.benchmark = True``, ``cudnn.deterministic = True``, ``cuda.matmul.allow_tf32``) are accepted and
kept; they change nothing, since convgrad's CPU kernels are deterministic and have one algorithm each."""

from convgrad.backends import cuda, cudnn, mps  # noqa: F401
