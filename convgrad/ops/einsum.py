"""Einstein summation: y = einsum("ij,jk->ik", a, b). The gradient of each operand is another einsum:
the output's gradient contracted with the other operands onto that operand's subscripts."""

import numpy as np

from convgrad.autograd.function import NumpyFunction


def parse(equation, n_operands):
    """'ij,jk->ik' -> (['ij', 'jk'], 'ik'); the implicit form's output is the letters seen once,
    in alphabetical order. Raises ValueError for what this einsum does not handle."""
    eq = equation.replace(" ", "")
    if "." in eq:
        raise NotImplementedError("einsum: an ellipsis ('...') in the equation is not provided by convgrad; "
                                  "name every dimension with a letter")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != n_operands:
        raise ValueError(f"einsum: expected {len(ins)} operands for '{equation}', got {n_operands}")
    if not arrow:
        counts = {c: lhs.count(c) for c in set(lhs) if c.isalpha()}
        out = "".join(sorted(c for c, k in counts.items() if k == 1))
    for s in ins + [out]:
        if not all(c.isalpha() for c in s):
            raise ValueError(f"einsum: expected subscripts made of letters, got '{s}' in '{equation}'")
    return ins, out


class Einsum(NumpyFunction):
    """y = sum over the letters missing from the output of the product of the operands;
    dL/dx_k = einsum(g and the other operands -> x_k's subscripts), broadcast over letters only x_k has"""

    @staticmethod
    def forward(ctx, ins, out, *xs):
        ctx.ins, ctx.out = ins, out
        ctx.save_for_backward(*xs)
        return np.asarray(np.einsum(",".join(ins) + "->" + out, *xs, optimize=len(xs) > 2))

    @staticmethod
    def backward(ctx, g):
        xs = ctx.saved_tensors
        grads = [None, None]
        for k, (sub, x) in enumerate(zip(ctx.ins, xs)):
            if not ctx.needs_input_grad[k + 2]:
                grads.append(None)
                continue
            if len(set(sub)) != len(sub):
                raise NotImplementedError(f"einsum: the gradient of an operand with a repeated subscript "
                                          f"('{sub}') is not provided by convgrad")
            others = [(s, a) for j, (s, a) in enumerate(zip(ctx.ins, xs)) if j != k]
            seen = set(ctx.out).union(*(set(s) for s, _ in others))
            kept = "".join(c for c in sub if c in seen)  # letters only this operand has are summed away
            eq = ",".join([ctx.out] + [s for s, _ in others]) + "->" + kept
            gk = np.asarray(np.einsum(eq, g, *(a for _, a in others), optimize=len(others) > 1))
            if kept != sub:
                shape = [x.shape[i] if c in seen else 1 for i, c in enumerate(sub)]
                gk = np.broadcast_to(gk.reshape(shape), x.shape).copy()
            grads.append(gk)
        return tuple(grads)
