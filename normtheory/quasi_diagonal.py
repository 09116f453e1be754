r"""Quasi-diagonal natural gradient (Ollivier, *Riemannian metrics for neural networks I*, 2015).

For a layer :math:`z_i = \sum_j w_{ij} a_j + b_i` (``a_0 = 1`` carries the bias), the unit-wise
metric of unit ``i`` is :math:`F^{(i)}_{jk} = \mathbb E[r_i\, a_j a_k]`, with :math:`r_i` the
per-sample metric weight of the unit's pre-activation (for a squared loss on a network output
:math:`y`, Gauss-Newton: :math:`r_i = \lVert\partial y/\partial z_i\rVert^2`). The quasi-diagonal
reduction keeps only :math:`F_{00}`, :math:`F_{0j}` and :math:`F_{jj}`, and the step solves

.. math::
    \delta w_j = \frac{g_j F_{00} - g_0 F_{0j}}{F_{jj}F_{00} - F_{0j}^2}\ (j \ge 1), \qquad
    \delta b = \frac{g_0 - \sum_{j\ge1} F_{0j}\,\delta w_j}{F_{00}},

with :math:`g_j = \partial L/\partial w_{ij}`, :math:`g_0 = \partial L/\partial b_i`. Each
:math:`\delta w_j` is the exact natural-gradient step of the two-parameter model
:math:`(w_{ij}, b_i)`; this is what makes the step invariant to affine changes
:math:`a_j \to \alpha_j a_j + \beta_j` of the layer's individual inputs (and to rescaling a unit's
pre-activation), the property the lecture states. The plain diagonal step (:math:`\delta w_j =
g_j / F_{jj}`) is not invariant.
"""

from __future__ import annotations

import torch

from normtheory._validation import check_positive, check_real_tensor

__all__ = ["unit_metric_moments", "quasi_diagonal_direction", "diagonal_direction", "apply_step"]


def unit_metric_moments(a: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""``(F_00, F_0j, F_jj)`` of every unit: :math:`E[r_i]` ``(M,)``, :math:`E[r_i a_j]` and
    :math:`E[r_i a_j^2]` ``(M, D)``, from inputs ``a`` ``(N, D)`` and metric weights ``r`` ``(N, M)``."""
    check_real_tensor(a, "a", ndim=2)
    check_real_tensor(r, "r", ndim=2)
    if a.shape[0] != r.shape[0]:
        raise ValueError(f"a and r must have the same number of samples, got {a.shape[0]} and {r.shape[0]}")
    n = a.shape[0]
    return r.mean(dim=0), r.mT @ a / n, r.mT @ a.square() / n


def quasi_diagonal_direction(grad_w: torch.Tensor, grad_b: torch.Tensor, a: torch.Tensor,
                             r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The step direction ``(delta_w (M, D), delta_b (M,))`` of the module docstring (the update is
    ``w - lr delta_w``, ``b - lr delta_b``). Raises if some unit's 2x2 block is singular."""
    f00, f0j, fjj = unit_metric_moments(a, r)
    if grad_w.shape != f0j.shape or grad_b.shape != f00.shape:
        raise ValueError(f"grad_w {tuple(grad_w.shape)} / grad_b {tuple(grad_b.shape)} do not match "
                         f"M x D = {tuple(f0j.shape)}")
    det = fjj * f00[:, None] - f0j.square()
    if bool((det <= 0).any()):
        raise ValueError("a unit's (bias, weight) metric block is singular: some input is constant on the batch")
    dw = (grad_w * f00[:, None] - grad_b[:, None] * f0j) / det
    db = (grad_b - (f0j * dw).sum(dim=1)) / f00
    return dw, db


def diagonal_direction(grad_w: torch.Tensor, grad_b: torch.Tensor, a: torch.Tensor,
                       r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The diagonal natural-gradient direction ``(g_j / F_jj, g_0 / F_00)`` (not invariant; the control)."""
    f00, _, fjj = unit_metric_moments(a, r)
    return grad_w / fjj, grad_b / f00


def apply_step(w: torch.Tensor, b: torch.Tensor, direction: tuple[torch.Tensor, torch.Tensor], *,
               lr: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(w - lr delta_w, b - lr delta_b)`` as new tensors."""
    lr = check_positive(lr, "lr")
    return w - lr * direction[0], b - lr * direction[1]
