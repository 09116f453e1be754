"""Conformance: torch's weight_norm parametrization checked against torch's own documentation.

Source: :data:`normtheory.registry.TORCH_DOCS`, the docstring of
``torch.nn.utils.parametrizations.weight_norm`` (``w = g v / ||v||``, magnitude decoupled from
direction; dim=0: one norm per output channel). The paper's Eqs. (2), (5) and (14) only motivate which
behaviour matters: scale invariance in ``v`` (CONF-torch-weight-norm-invariance, corrected: it holds
while ||v||^2 neither over- nor underflows) and the gradient of that formula
(CONF-torch-weight-norm-gradient, against the exact Jacobian of :mod:`normtheory.jacobians`).

Every property is a function of the implementation, so the tests show it fails on a broken variant;
the corrected claim replays from its JSON evidence (:func:`replay_weight_norm_invariance`).
Derivations: ``proofs/paper_gradients.py``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from normtheory import jacobians
from normtheory.registry import TORCH_DOCS, Evidence, Verdict, claim, decide
from normtheory.roundoff import EPS64, unit_norm_tolerance

__all__ = ["SAFE_NORMS", "torch_weight_norm", "wn_case", "wn_scale_invariance", "replay_weight_norm_invariance",
           "wn_gradient_gap"]

WeightFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


_WN_PARAMETRIZATION = nn.utils.parametrizations.weight_norm(
    nn.Linear(2, 2, bias=False), dim=0).parametrizations.weight[0]


def torch_weight_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The weight torch's weight_norm parametrization (``_WeightNorm``, dim=0) computes from (g, v)."""
    return _WN_PARAMETRIZATION(g, v)


# ||v||^2 is representable (no overflow/underflow of the squares) for ||v|| within this range:
# sqrt(realmin) ~ 1.5e-154 and sqrt(realmax / n) with n <= 48 entries ~ 1.9e153.
SAFE_NORMS = (1e-150, 1e150)


WN_RECIPE = ("v: standard normal of the given shape times v_scale, then g: uniform(0.1, 10) of shape "
             "(out, 1), both drawn in that order from numpy.random.default_rng(data_seed); W(g, v) = "
             "torch weight_norm (dim=0) in float64; compared: W(g, alpha v) against W(g, v)")


def wn_case(record: dict[str, Any], weight_fn: WeightFn) -> dict[str, Any]:
    """|W(g, alpha v) - W(g, v)|_inf for the case of ``record``, in units of |g| 2(n+3) eps, and
    the smallest and largest row norm of v and alpha v."""
    out_ch, n = (int(x) for x in record["shape"])
    rng = np.random.default_rng(record["data_seed"])
    v = torch.from_numpy(rng.standard_normal((out_ch, n)) * float(record["v_scale"]))
    g = torch.from_numpy(rng.uniform(0.1, 10, size=(out_ch, 1)))
    alpha = float(record["alpha"])
    with torch.no_grad():
        diff = (weight_fn(g, alpha * v) - weight_fn(g, v)).abs().max()
    finite = bool(torch.isfinite(diff))
    norms = [float(torch.linalg.vector_norm(v[r])) * a for r in range(out_ch) for a in (1.0, alpha)]
    # JSON has no Inf/NaN: a non-finite output is a flag, its error None
    return {"nonfinite_output": not finite, "abs_err": float(diff) if finite else None,
            "err_over_tol": float(diff) / (float(g.max()) * unit_norm_tolerance(n)) if finite else None,
            "row_norms": [min(norms), max(norms)]}


def wn_scale_invariance(weight_fn: WeightFn, *, cases: int = 60, seed: int = 10) -> dict:
    """Worst |W(g, alpha v) - W(g, v)|_inf / (|g| * 2(n+3) eps) over seeded v, g and alpha > 0,
    separately for cases whose norms ||v||, ||alpha v|| lie in SAFE_NORMS and for the rest; each
    case is a record that :func:`wn_case` rebuilds alone."""
    worst = {"in_range": 0.0, "out_of_range": 0.0}
    worst_case = {"in_range": None, "out_of_range": None}
    for i in range(cases):
        rng = np.random.default_rng([seed, i, 0])
        out_ch, n = int(rng.integers(1, 6)), int(rng.integers(2, 48))
        record = {"model": "weight_norm parametrization, dim=0", "dtype": "float64", "shape": [out_ch, n],
                  "v_scale": float(10.0 ** rng.uniform(-100, 100)), "alpha": float(10.0 ** rng.uniform(-100, 100)),
                  "data_seed": [seed, i, 1], "recipe": WN_RECIPE}
        r = wn_case(record, weight_fn)
        which = "in_range" if SAFE_NORMS[0] <= r["row_norms"][0] and r["row_norms"][1] <= SAFE_NORMS[1] \
            else "out_of_range"
        ratio = float("inf") if r["nonfinite_output"] else r["err_over_tol"]
        if ratio > worst[which] or (ratio == worst[which] == float("inf") and worst_case[which] is None):
            worst[which] = ratio
            worst_case[which] = {**record, "result": r}
    return {"worst_err_over_tol": worst, "worst_case": worst_case}


def replay_weight_norm_invariance(evidence_json: dict) -> dict[str, Any]:
    """Re-run CONF-torch-weight-norm-invariance's counterexample from its JSON evidence alone."""
    return wn_case(evidence_json["counterexample"], torch_weight_norm)


_WN_DOC = ('torch.nn.utils.parametrizations.weight_norm docstring (w = g v / ||v||; "decouples the '
           'magnitude of a weight tensor from its direction"; dim=0: norm per output channel)')


@claim(
    "CONF-torch-weight-norm-invariance",
    document=TORCH_DOCS,
    ref=_WN_DOC,
    statement="weight_norm computes w = g v / ||v||, so w does not depend on the magnitude of v: "
              "v -> alpha v (alpha > 0) leaves w unchanged (the invariance the paper's Eqs. (2), (5) rely on).",
    checked="For torch.nn.utils.parametrizations.weight_norm (dim=0, float64), W(g, alpha v) = "
            "W(g, v) to round-off (|diff|_inf <= |g| 2(n+3) eps) for alpha in 1e-100..1e100 and "
            "entries from 1e-100 to 1e100. Corrected form: the invariance holds while every row "
            "norm lies in 1e-150..1e150 (where ||v||^2 neither overflows nor underflows).",
    expect=Verdict.CORRECTED,
    replay=replay_weight_norm_invariance,
)
def check_torch_weight_norm_invariance() -> Evidence:
    found = wn_scale_invariance(torch_weight_norm)
    worst = found["worst_err_over_tol"]
    everywhere = max(worst.values()) <= 1.0
    in_range = worst["in_range"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=everywhere, holds_corrected=in_range),
        key=f"max |W(g,av)-W(g,v)| = {worst['in_range']:.2g} x tol with norms in 1e-150..1e150; "
            f"{worst['out_of_range']:.2g} x tol outside",
        measured=found, tolerance=1.0,
        tolerance_reason="units of |g| 2(n+3) eps, the round-off of v/||v|| (roundoff.unit_norm_tolerance)",
        corrected="torch's weight_norm computes ||v|| from unscaled squares, so the invariance holds "
                  "to round-off only while the row norms stay within about 1e-150..1e150 in float64; "
                  "outside, ||v||^2 under/overflows and W is 0, Inf or NaN (normtheory.reparam.weight_norm "
                  "scales first and keeps the whole range).",
        counterexample=None if everywhere else
        (found["worst_case"]["out_of_range"] if worst["out_of_range"] > 1.0 else found["worst_case"]["in_range"]),
    )


def wn_gradient_gap(weight_fn: WeightFn, *, cases: int = 60, seed: int = 11) -> dict:
    """Worst gap between autograd's dL/dv through ``weight_fn`` and the exact Jacobian product
    g/||v|| (I - vhat vhat^T) dL/dW, in units of the round-off bound, plus the paper's element-wise
    form of Eq. (14) for comparison."""
    rng = np.random.default_rng(seed)
    worst, worst_case, eq14_rel = 0.0, None, 0.0
    for i in range(cases):
        out_ch, n = int(rng.integers(1, 6)), int(rng.integers(3, 40))
        v = torch.from_numpy(rng.standard_normal((out_ch, n)) * 10.0 ** rng.uniform(-8, 8)).requires_grad_()
        g = torch.from_numpy(rng.uniform(0.1, 10, size=(out_ch, 1)))
        upstream = torch.from_numpy(rng.standard_normal((out_ch, n)))
        (got,) = torch.autograd.grad(weight_fn(g, v), v, upstream)
        v = v.detach()
        norm = torch.linalg.vector_norm(v, dim=1, keepdim=True)
        exact = g * jacobians.wn_vjp(v, upstream)  # g/||v|| (I - vhat vhat^T) dL/dW, per row
        # Round-off: each entry is an n-term dot product, a product with vhat, a subtraction and a
        # scaling by g/||v|| (relative (n + 6) u in units of |g| ||upstream|| / ||v||); both sides
        # carry it, with torch's own norm computation adding a few roundings: 4 (n + 8) eps.
        tol = 4 * (n + 8) * EPS64 * g * torch.linalg.vector_norm(upstream, dim=1, keepdim=True) / norm
        ratio = float(((got - exact).abs() / tol).max())
        eq14 = upstream * (1 / norm - v * v / norm**3) * g  # the paper's element-wise form
        eq14_rel = max(eq14_rel, float(torch.linalg.vector_norm(eq14 - exact) / torch.linalg.vector_norm(exact)))
        if ratio > worst:
            worst, worst_case = ratio, {"seed": seed, "case": i, "shape": [out_ch, n]}
    return {"worst_err_over_tol": worst, "worst_case": worst_case,
            "paper_elementwise_eq14_max_rel_err": eq14_rel}


@claim(
    "CONF-torch-weight-norm-gradient",
    document=TORCH_DOCS,
    ref=_WN_DOC,
    statement="Autograd through weight_norm differentiates the documented w = g v / ||v||: dL/dv is "
              "dL/dw projected orthogonally to v and scaled by g/||v|| (the paper's Eq. (14) discussion).",
    checked="Autograd's dL/dv through torch.nn.utils.parametrizations.weight_norm equals the exact "
            "Jacobian product g/||v|| (I - vhat vhat^T) dL/dW per output channel to round-off "
            "(4(n+8) eps |g| ||dL/dW|| / ||v||) for ||v|| in 1e-8..1e8; the element-wise form of "
            "Eq. (14) is reported beside it (its verdict belongs to the paper's own claim).",
    expect=Verdict.CONFIRMED,
    proof="proofs/paper_gradients.py",
)
def check_torch_weight_norm_gradient() -> Evidence:
    found = wn_gradient_gap(torch_weight_norm)
    holds = found["worst_err_over_tol"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"max |autograd - exact| = {found['worst_err_over_tol']:.2g} x tol; element-wise Eq. (14) "
            f"rel. err up to {found['paper_elementwise_eq14_max_rel_err']:.2g}",
        measured=found, tolerance=1.0,
        tolerance_reason="units of 4(n+8) eps |g| ||dL/dW|| / ||v|| (n-term dot product, projection, scaling)",
        counterexample=None if holds else found["worst_case"],
    )
