r"""Exact vector-Jacobian products of weight normalization and weight standardization (per row).

For a weight ``w`` of shape (out, n), one normalized slice per row, and an upstream gradient
``g = dL/dW'`` of the same shape, these return dL/dw. With k = ||w||, A = w/k, c = w - mean,
v = ||c||/sqrt(n) (population standard deviation):

* WN, W' = w/||w||:                :math:`(I - A A^\top)\,g / k`
* WS with eps, W' = c/(v + eps):   :math:`\bigl(g - \bar g - c\,(c\cdot g)/(n v (v+\epsilon))\bigr)/(v+\epsilon)`
  (eps = 0 is plain WS, Eq. (7); eps > 0 is Eq. (23))

Both Jacobians are symmetric, so dL/dw = J g. Derivations: ``proofs/paper_gradients.py``; checked
against torch autograd in ``normtheory.claims.paper_gradients``.
"""

from __future__ import annotations

import torch

__all__ = ["ws_stats", "wn_vjp", "ws_vjp"]


def ws_stats(w: torch.Tensor) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(n, c, v): entries per row, the centered rows, and each row's population standard deviation."""
    n = w.shape[1]
    c = w - w.mean(dim=1, keepdim=True)
    v = torch.linalg.vector_norm(c, dim=1, keepdim=True) / n**0.5
    return n, c, v


def wn_vjp(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """dL/dw = (I - A A^T) g / ||w|| per row, A = w/||w||."""
    k = torch.linalg.vector_norm(w, dim=1, keepdim=True)
    a = w / k
    return (g - a * (a * g).sum(dim=1, keepdim=True)) / k


def ws_vjp(w: torch.Tensor, g: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """dL/dw = (g - mean(g) - c (c.g)/(n v (v + eps))) / (v + eps) per row; eps = 0 is plain WS."""
    n, c, v = ws_stats(w)
    gc = g - g.mean(dim=1, keepdim=True)
    return (gc - c * (c * g).sum(dim=1, keepdim=True) / (n * v * (v + eps))) / (v + eps)
