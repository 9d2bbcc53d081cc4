"""``Tensor``'s method groups, one module each: :mod:`.reduction` (sum, mean, max, topk, ...),
:mod:`.shape` (view, permute, squeeze, gather, ...) and :mod:`.inplace` (add_, copy_, normal_, ...).
:class:`convgrad.tensor.Tensor` inherits them; each method calls its op from :mod:`convgrad.ops`, where the
forward and backward are."""
