r"""Exact vector-Jacobian products of weight normalization and weight standardization (per row).

For a weight ``w`` of shape (out, n), one normalized slice per row, and an upstream gradient
``g = dL/dW'`` of the same shape, these return dL/dw. With k = ||w||, A = w/k, c = w - mean,
v = ||c||/sqrt(n) (population standard deviation):

* WN, W' = w/||w||:                :math:`(I - A A^\top)\,g / k`
* WS with eps, W' = c/(v + eps):   :math:`\bigl(g - \bar g - c\,(c\cdot g)/(n v (v+\epsilon))\bigr)/(v+\epsilon)`
  (eps = 0 is plain WS, Eq. (7); eps > 0 is Eq. (23))

Both Jacobians are symmetric, so dL/dw = J g. Derivations: ``proofs/paper_gradients.py``; checked
against torch autograd in ``normtheory.claims.paper_gradients``.

The paper (Li et al., ``001_b5a1945cc2ea1296.txt``) prints element-wise forms that keep only the
diagonal of these Jacobians: :func:`printed_wn_grad_eq14`, :func:`printed_ws_grad_eq16` and
:func:`printed_ws_eps_jacobian_diag_eq24` compute them as printed (the claims decide what they are
worth; every claim that uses them imports them from here).
"""

from __future__ import annotations

import torch

__all__ = ["ws_stats", "wn_vjp", "ws_vjp", "printed_wn_grad_eq14", "printed_ws_grad_eq16",
           "printed_ws_eps_jacobian_diag_eq24"]


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


def printed_wn_grad_eq14(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The paper's Eq. (14) as printed: g * (1/||w|| - w*w/||w||^3), element-wise (per row)."""
    k = torch.linalg.vector_norm(w, dim=1, keepdim=True)
    return g * (1 / k - w * w / k**3)


def printed_ws_grad_eq16(w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The paper's Eq. (16) as printed: g * (1 - 1/n - c^2/sum c^2) / v, element-wise (per row)."""
    n, c, v = ws_stats(w)
    return g * (1 - 1 / n - c**2 / (c**2).sum(dim=1, keepdim=True)) / v


def printed_ws_eps_jacobian_diag_eq24(w: torch.Tensor, eps: float) -> torch.Tensor:
    """The paper's Eq. (24) as printed: 1/(v+eps) (1 - 1/n - c^2/(n (v+eps) v)) (per row)."""
    n, c, v = ws_stats(w)
    return (1 - 1 / n - c**2 / (n * (v + eps) * v)) / (v + eps)
