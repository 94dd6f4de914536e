"""Sums and products whose bits do not depend on the CPU or maths library.

Problems, source data and initial designs must be exact everywhere: they pair
the runs of different methods on one seed, across machines and releases. A
matrix product goes to the BLAS, whose kernels (and so the order of its
additions) change with the CPU and with MKL's code-path setting: the GP-sample
landscapes came out different in their last bits under ``MKL_CBWR=COMPATIBLE``.
A reduction inside torch may also change order with the SIMD width.

These helpers use only elementwise operations (each IEEE-754 multiply and add
is correctly rounded, so every lane computes the same bits on any machine)
in an order fixed here: products sum over a small inner dimension one term at
a time, and long sums add halves pairwise (a tree of ``ceil(log2 n)``
elementwise additions, as accurate as pairwise summation).
"""

from __future__ import annotations

import torch
from torch import Tensor


def fixed_sum(t: Tensor, dim: int = -1) -> Tensor:
    """``t.sum(dim)`` in a fixed pairwise order, the same bits on every machine.

    Each level adds the second half of the remaining terms to the first; an odd
    term out moves along as the last term. The first level makes a fresh
    tensor; outside autograd the later levels work in place on it.
    """
    n = t.shape[dim]
    if n <= 1:
        return t.sum(dim)
    in_place = not (torch.is_grad_enabled() and t.requires_grad)
    acc = t
    while n > 1:
        half, odd = n // 2, n % 2
        if in_place and acc is not t:
            acc.narrow(dim, 0, half).add_(acc.narrow(dim, half, half))
            if odd:
                acc.narrow(dim, half, 1).copy_(acc.narrow(dim, 2 * half, 1))
            acc = acc.narrow(dim, 0, half + odd)
        else:
            head = acc.narrow(dim, 0, half) + acc.narrow(dim, half, half)
            acc = torch.cat([head, acc.narrow(dim, 2 * half, 1)], dim) if odd else head
        n = half + odd
    return acc.squeeze(dim)


def fixed_matmul(X: Tensor, W: Tensor) -> Tensor:
    """``X @ W`` for an `n x d` ``X`` and a `d x m` ``W`` with small ``d``: the
    ``d`` products summed in order, the same bits on every machine."""
    out = X[..., 0:1] * W[0]
    for k in range(1, X.shape[-1]):
        out = out + X[..., k : k + 1] * W[k]
    return out


def fixed_dot(a: Tensor, b: Tensor) -> Tensor:
    """The dot product of ``a`` and ``b`` over their last dimension (broadcast)."""
    return fixed_sum(a * b, -1)


def fixed_norm(v: Tensor) -> Tensor:
    """The Euclidean norm of a vector."""
    return torch.sqrt(fixed_dot(v, v))
