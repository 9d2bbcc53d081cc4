"""``Tensor``'s method groups, one module each: :mod:`.reduction` (sum, mean, max, topk, ...),
:mod:`.shape` (view, permute, squeeze, gather, ...), :mod:`.inplace` (add_, copy_, normal_, ...),
:mod:`.math` (log1p, remainder, addmm, cumprod, median, isclose, ...), :mod:`.indexing` (scatter,
index_add, masked_select, diag, tril, roll, unique, ...) and :mod:`.creation` (new_zeros, new_tensor,
random_, ...). :class:`convgrad.tensor.Tensor` inherits them; each method calls its op from
:mod:`convgrad.ops`, where the forward and backward are."""
