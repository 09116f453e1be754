"""Conformance: torch's batch_norm checked against torch's own documentation.

Source: :data:`normtheory.registry.TORCH_DOCS`, the docstrings of ``torch.nn.BatchNorm1d`` and
``torch.nn.functional.batch_norm`` (``(x - E[x]) / sqrt(Var[x] + eps)``, biased variance in training;
``eps > 0`` required there). CONF-torch-batch-norm-invariance: rescaling a channel by a positive factor
leaves the output unchanged when eps is negligible (the lecture's BN(A W^T Gamma) = BN(A W^T));
CONF-torch-batch-norm-eps: the documented formula, the refusal of eps = 0, and the exact factor eps
introduces. The rescaling measurements are :mod:`normtheory.batch_norm_rescaling` (the lecture claims
run the same ones on the library's batch norm); derivations: ``proofs/invariance_eps.py``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from normtheory.batch_norm_rescaling import bn_eps_sweep, bn_unit_rescaling
from normtheory.registry import TORCH_DOCS, Evidence, Verdict, claim, decide
from normtheory.roundoff import centered_tolerance

__all__ = ["torch_batch_norm", "documented_batch_norm", "eps_zero_refusal", "bn_formula_gap"]

def torch_batch_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    return F.batch_norm(x, None, None, training=True, eps=eps)


def documented_batch_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """The docstring's training-mode formula (gamma = 1, beta = 0), written independently:
    (x - E[x]) / sqrt(Var[x] + eps) per channel (column), Var the biased batch variance."""
    centered = x - x.mean(dim=0)
    return centered / torch.sqrt(centered.square().mean(dim=0) + eps)


def eps_zero_refusal(bn: Callable[[torch.Tensor, float], torch.Tensor] | None = None) -> str | None:
    """The message ``bn`` (default: torch's training-mode batch_norm) gives when asked for eps = 0
    (None if it accepts it)."""
    try:
        (bn or torch_batch_norm)(torch.randn(4, 2, dtype=torch.float64), 0.0)
    except (ValueError, RuntimeError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def bn_formula_gap(bn: Callable[[torch.Tensor, float], torch.Tensor], *, cases: int = 40, seed: int = 5) -> dict:
    """Worst |bn(x, eps) - documented(x, eps)|_inf in units of the centering round-off bound
    (centered_tolerance(1, batch, kappa): two computations of the same centred-and-scaled output)
    over seeded batches, channel offsets and scales, and eps from 1e-5 (torch's default) to 1."""
    rng = np.random.default_rng(seed)
    worst, worst_case = 0.0, None
    for i in range(cases):
        batch, channels = int(rng.integers(2, 65)), int(rng.integers(1, 9))
        scale = 10.0 ** rng.uniform(-2, 2, size=channels)
        x = torch.from_numpy(rng.standard_normal((batch, channels)) * scale + rng.uniform(-3, 3, size=channels) * scale)
        eps = float(10.0 ** rng.uniform(-5, 0))
        std = (x - x.mean(dim=0)).square().mean(dim=0).sqrt()
        kappa = float((x.abs().amax(dim=0) / std).max())
        tol = centered_tolerance(1, batch, kappa)
        err = float((bn(x, eps) - documented_batch_norm(x, eps)).abs().max()) / tol
        if err > worst:
            worst, worst_case = err, {"seed": seed, "case": i, "batch": batch, "channels": channels, "eps": eps}
    return {"worst_err_over_tol": worst, "worst_case": worst_case}


_BN_DOC = ("torch.nn.BatchNorm1d docstring (y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta; biased "
           "batch variance at train time) and torch.nn.functional.batch_norm (eps must be positive in "
           "training mode)")


@claim(
    "CONF-torch-batch-norm-invariance",
    document=TORCH_DOCS,
    ref=_BN_DOC,
    statement="With eps negligible against the channel variance, the documented normalization "
              "(x - E[x]) / sqrt(Var[x] + eps) does not change when a channel is rescaled by a positive "
              "factor (the lecture's BN(A W^T Gamma) = BN(A W^T), slide 'Implicit Learning Rate Decay'); "
              "a negative factor flips the channel.",
    checked="torch refuses eps = 0 in training mode (recorded); with the smallest eps it accepts "
            "(the subnormal 5e-324), BN(A W^T Gamma) = BN(A W^T) to float64 round-off for Gamma in "
            "1e-50..1e50 and the pre-activation scales the lecture check draws, and a negative entry "
            "of Gamma flips that unit.",
    expect=Verdict.CONFIRMED,
    proof="proofs/invariance_eps.py",
)
def check_torch_batch_norm_invariance() -> Evidence:
    refusal = eps_zero_refusal()
    found = bn_unit_rescaling(lambda x: torch_batch_norm(x, 5e-324), cases=60)
    holds = found["worst_err_over_tol"] <= 1.0 and found["negative_entry_changes_output"]
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"eps=0 refused: {refusal is not None}; max err {found['worst_err_over_tol']:.2g} x tol "
            f"(eps=5e-324) over 60 cases",
        measured={**found, "eps_zero_refusal": refusal}, tolerance=1.0,
        tolerance_reason="units of roundoff.centered_tolerance(d+1, batch, kappa) as in L5-bn-unit-rescaling",
        counterexample=None if holds else found["worst_case"],
    )


@claim(
    "CONF-torch-batch-norm-eps",
    document=TORCH_DOCS,
    ref=_BN_DOC,
    statement="In training mode batch_norm divides each centred channel by sqrt(biased batch variance + eps) "
              "and requires eps > 0; so rescaling a channel by gamma > 0 scales its output by "
              "gamma sqrt(v + eps) / sqrt(gamma^2 v + eps), which is 1 only when eps is negligible.",
    checked="torch's training-mode output equals the documented formula written independently to the "
            "centering round-off (40 seeded batches, eps 1e-5..1); eps = 0 raises; and the output ratio "
            "after rescaling a channel by gamma in 1e-3..1e3 equals gamma sqrt(v+eps)/sqrt(gamma^2 v+eps) "
            "for eps/v in 1e-5..1 (the factor of lecture claim L5-bn-eps, here on torch's code).",
    expect=Verdict.CONFIRMED,
    proof="proofs/invariance_eps.py",
)
def check_torch_batch_norm_eps() -> Evidence:
    formula = bn_formula_gap(torch_batch_norm)
    found = bn_eps_sweep(torch_batch_norm)
    found.pop("rows")
    refusal = eps_zero_refusal()
    holds = formula["worst_err_over_tol"] <= 1.0 and refusal is not None and \
        found["worst_formula_err_over_tol"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"documented formula to {formula['worst_err_over_tol']:.2g} x tol; eps=0 refused: "
            f"{refusal is not None}; rescaling factor formula err {found['worst_formula_err_over_tol']:.2g} x tol "
            f"(output changes by up to {found['max_change']:.2g})",
        measured={"formula": formula, "rescaling": found, "eps_zero_refusal": refusal}, tolerance=1.0,
        tolerance_reason="units of roundoff.centered_tolerance (two computations of one centred-and-scaled "
                         "output), times (1 + factor) for the rescaling ratio as in L5-bn-eps",
        counterexample=None if holds else {"formula": formula["worst_case"], "refusal": refusal},
    )
