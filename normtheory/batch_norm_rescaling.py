r"""What rescaling a unit does to batch normalization: measurements on any batch-norm implementation.

Batch norm without eps, :math:`\mathrm{BN}(X) = (X - \mathbf 1\mu^\top)/\sigma` per channel (column),
is unchanged when a channel is multiplied by a positive factor; with eps,
:math:`(x - \mu)/\sqrt{v + \epsilon}`, rescaling a channel by :math:`\gamma > 0` multiplies its output
by :math:`\gamma\sqrt{v+\epsilon}/\sqrt{\gamma^2 v + \epsilon}` (:func:`bn_eps_factor`). The functions
here take the implementation as an argument (the library's ``reparam.batch_norm``, torch's
``batch_norm``, or a deliberately broken variant in a test) and return the worst error in units of the
round-off bound :func:`normtheory.roundoff.centered_tolerance`; the claims decide what it means
(lecture slide "Implicit Learning Rate Decay" and torch's documentation).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from normtheory.roundoff import centered_tolerance

__all__ = ["BatchNorm", "cancellation_factor", "pre_activations", "bn_unit_rescaling", "bn_eps_factor",
           "bn_eps_sweep"]

BatchNorm = Callable[[torch.Tensor], torch.Tensor]


def cancellation_factor(x: torch.Tensor, magnitude: torch.Tensor) -> float:
    """Worst channel (column) of max_n magnitude[n] / batch std of x: how much of each entry's
    magnitude the centering cancels (the kappa of ``centered_tolerance``)."""
    std = (x - x.mean(dim=0)).square().mean(dim=0).sqrt()
    return float((magnitude.amax(dim=0) / std).max())


def pre_activations(a: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Pre-activations A W^T and the cancellation factor of computing them (|A| |W|^T over the std)."""
    return a @ w.T, cancellation_factor(a @ w.T, a.abs() @ w.abs().T)


def bn_unit_rescaling(bn: BatchNorm, *, cases: int = 100, seed: int = 3) -> dict:
    """BN(A W^T Gamma) vs BN(A W^T) for random positive diagonal Gamma (entries 1e-50..1e50, weights
    scaled by 1e-50..1e50), and for a Gamma with one negative entry.

    Returns ``worst_err_over_tol`` (in units of centered_tolerance(d + 1, batch, kappa)), the seeded
    ``worst_case`` and ``negative_entry_changes_output`` (whether every flipped case differs beyond
    the tolerance)."""
    rng = np.random.default_rng(seed)
    worst_pos, worst_case, neg_changes = 0.0, None, True
    for i in range(cases):
        batch, d, units = int(rng.integers(2, 33)), int(rng.integers(1, 17)), int(rng.integers(1, 9))
        a = torch.from_numpy(rng.standard_normal((batch, d)))
        w = torch.from_numpy(rng.standard_normal((units, d)) * 10.0 ** rng.uniform(-50, 50))
        gamma = torch.from_numpy(10.0 ** rng.uniform(-50, 50, size=units))
        x, kappa = pre_activations(a, w)
        tol = centered_tolerance(d + 1, batch, kappa)
        err = float((bn(x * gamma) - bn(x)).abs().max()) / tol
        if err > worst_pos:
            worst_pos, worst_case = err, {"seed": seed, "case": i, "batch": batch, "d": d, "units": units}
        flipped = gamma.clone()
        flipped[0] = -flipped[0]
        neg_changes &= float((bn(x * flipped) - bn(x)).abs().max()) > tol
    return {"worst_err_over_tol": worst_pos, "worst_case": worst_case,
            "negative_entry_changes_output": neg_changes}


def bn_eps_factor(gamma: float, var: float, eps: float) -> float:
    """Exact factor by which BN_eps's output for one channel changes when the channel is scaled by
    gamma > 0: gamma sqrt(v + eps) / sqrt(gamma^2 v + eps)."""
    return gamma * np.sqrt(var + eps) / np.sqrt(gamma**2 * var + eps)


def bn_eps_sweep(bn_eps: Callable[[torch.Tensor, float], torch.Tensor], *, seed: int = 4) -> dict:
    """||bn_eps(gamma x, eps)|| / ||bn_eps(x, eps)|| for one seeded channel (64 samples) against
    :func:`bn_eps_factor`, over eps/v in {1e-5, 1e-3, 1e-1, 1} and gamma in 1e-3..1e3.

    Returns ``worst_formula_err_over_tol`` (units of centered_tolerance(1, 64, kappa) (1 + factor)),
    ``max_change`` (largest |ratio - 1|) and the ``rows`` (eps/v, gamma, measured, predicted)."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.standard_normal((64, 1)))
    var = float(x.var(unbiased=False))
    rows, worst_formula = [], 0.0
    for eps_over_var in (1e-5, 1e-3, 1e-1, 1.0):
        eps = eps_over_var * var
        base = bn_eps(x, eps)
        for gamma in np.logspace(-3, 3, 13):
            measured = float(torch.linalg.vector_norm(bn_eps(gamma * x, eps)) / torch.linalg.vector_norm(base))
            predicted = bn_eps_factor(float(gamma), var, eps)
            tol = centered_tolerance(1, 64, cancellation_factor(x, x.abs())) * (1 + predicted)
            worst_formula = max(worst_formula, abs(measured - predicted) / tol)
            rows.append((eps_over_var, float(gamma), measured, predicted))
    return {"worst_formula_err_over_tol": worst_formula,
            "max_change": max(abs(r[2] - 1) for r in rows), "rows": rows}
