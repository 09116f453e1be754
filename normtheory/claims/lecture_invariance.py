"""Lecture: invariances of batch normalization, and the conditions they need.

Source: Grosse, CSC 2541 Lecture 5 (``002_cd849d122e313ad8.txt``), slides "Implicit Learning Rate
Decay" (BN(A W^T) = BN(A W^T Gamma) for diagonal Gamma > 0) and "A Wrinkle" (BN applied to the next
layer's pre-activations makes the layer invariant to rescaling and shifting its input).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from normtheory import reparam
from normtheory.claims._roundoff import centered_tolerance
from normtheory.registry import LECTURE, Evidence, Verdict, claim, decide

BatchNorm = Callable[[torch.Tensor], torch.Tensor]


def _kappa(x: torch.Tensor, magnitude: torch.Tensor) -> float:
    """Cancellation factor per channel (columns): (max |a||w| path sum) / batch std, worst channel."""
    std = (x - x.mean(dim=0)).square().mean(dim=0).sqrt()
    return float((magnitude.amax(dim=0) / std).max())


def _layer(a: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Pre-activations A W^T and the cancellation factor of computing them (n_sum = d)."""
    return a @ w.T, _kappa(a @ w.T, a.abs() @ w.abs().T)


def bn_unit_rescaling(bn: BatchNorm, *, cases: int = 100, seed: int = 3) -> dict:
    """BN(A W^T Gamma) vs BN(A W^T) for random positive diagonal Gamma, and for a Gamma with one
    negative entry (worst error in units of the round-off bound)."""
    rng = np.random.default_rng(seed)
    worst_pos, worst_case, neg_changes = 0.0, None, True
    for i in range(cases):
        batch, d, units = int(rng.integers(2, 33)), int(rng.integers(1, 17)), int(rng.integers(1, 9))
        a = torch.from_numpy(rng.standard_normal((batch, d)))
        w = torch.from_numpy(rng.standard_normal((units, d)) * 10.0 ** rng.uniform(-50, 50))
        gamma = torch.from_numpy(10.0 ** rng.uniform(-50, 50, size=units))
        x, kappa = _layer(a, w)
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
            tol = centered_tolerance(1, 64, _kappa(x, x.abs())) * (1 + predicted)
            worst_formula = max(worst_formula, abs(measured - predicted) / tol)
            rows.append((eps_over_var, float(gamma), measured, predicted))
    return {"worst_formula_err_over_tol": worst_formula,
            "max_change": max(abs(r[2] - 1) for r in rows), "rows": rows}


def _draw_bn_eps(evidence: Evidence):
    from normtheory.figures import new_figure

    fig = new_figure()
    ax = fig.add_subplot()
    rows = np.array(evidence.series["rows"])
    for i, ratio in enumerate(sorted(set(rows[:, 0]))):
        sel = rows[rows[:, 0] == ratio]
        ax.semilogx(sel[:, 1], sel[:, 3], "-", color=f"C{i}", label=f"eps/var = {ratio:g}")
        ax.semilogx(sel[:, 1], sel[:, 2], "o", color=f"C{i}", mfc="none")
    ax.axhline(1.0, color="k", lw=0.5)
    ax.set_xlabel("gamma (channel rescaled by gamma > 0)")
    ax.set_ylabel("||BN_eps(gamma x)|| / ||BN_eps(x)||")
    ax.set_title("BN is scale invariant only for eps = 0\n(lines: exact factor; o: measured)", fontsize=10)
    ax.legend(fontsize=8)
    return fig


@claim(
    "L5-bn-unit-rescaling",
    document=LECTURE,
    ref='slide "Implicit Learning Rate Decay" (BN(AW^T) = BN(AW^T Gamma))',
    statement="Batch norm is invariant to rescaling each unit's incoming weights by a positive "
              "factor: BN(A W^T) = BN(A W^T Gamma) for any positive diagonal Gamma.",
    checked="With BN as on the slides (no eps), BN(A W^T Gamma) = BN(A W^T) to float64 round-off "
            "for Gamma's entries in 1e-50..1e50, and the condition Gamma > 0 is needed: a negative "
            "entry changes the output (it flips that unit).",
    expect=Verdict.CONFIRMED,
)
def check_bn_unit_rescaling() -> Evidence:
    found = bn_unit_rescaling(reparam.batch_norm)
    holds = found["worst_err_over_tol"] <= 1.0 and found["negative_entry_changes_output"]
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"max err {found['worst_err_over_tol']:.2g} x tol over 100 cases; negative entry "
            f"changes output: {found['negative_entry_changes_output']}",
        measured=found,
        tolerance=1.0,
        tolerance_reason="errors in units of _roundoff.centered_tolerance(d+1, batch, kappa), "
                         "kappa from |A||W|^T over the batch std",
        counterexample=None if holds else found["worst_case"],
    )


@claim(
    "L5-bn-eps",
    document=LECTURE,
    ref='slide "Batch Normalization" (BN without eps) vs practical BN',
    statement="The slides define BN without an epsilon and derive its exact scale invariance.",
    checked="With the eps > 0 of practical BN (torch's batch_norm), rescaling a unit by gamma > 0 "
            "changes its output by the exact factor gamma sqrt(v+eps)/sqrt(gamma^2 v+eps); the "
            "invariance is exact only for eps = 0 and approximate while eps << gamma^2 v.",
    expect=Verdict.CORRECTED,
    figure=_draw_bn_eps,
)
def check_bn_eps() -> Evidence:
    found = bn_eps_sweep(lambda x, eps: reparam.batch_norm(x, eps=eps))
    rows = found.pop("rows")
    exact = found["max_change"] <= 1e-12  # far above round-off, far below any eps effect measured
    return Evidence(
        verdict=decide(holds_as_stated=exact, holds_corrected=found["worst_formula_err_over_tol"] <= 1.0),
        key=f"max change of output norm {found['max_change']:.2g}; factor formula err "
            f"{found['worst_formula_err_over_tol']:.2g} x tol",
        measured=found,
        tolerance=1.0,
        tolerance_reason="formula error in units of the centering round-off bound times the "
                         "output ratio; exactness threshold 1e-12 is 4500 eps",
        corrected="BN_eps(gamma x) = gamma sqrt(v+eps)/sqrt(gamma^2 v+eps) BN_eps(x) per unit: "
                  "invariant only in the limit eps/(gamma^2 v) -> 0; a unit whose pre-activation "
                  "variance shrinks toward eps loses the invariance.",
        series={"rows": rows},
    )


def bn_input_transforms(bn: BatchNorm, *, cases: int = 100, seed: int = 5) -> dict:
    """f(A) = BN(A W^T) under transforms of the layer input A: shift by a constant row vector,
    positive scalar rescaling, negative scalar rescaling, per-feature positive rescaling D."""
    rng = np.random.default_rng(seed)
    worst = {"shift": 0.0, "positive_scalar": 0.0}
    changed = {"negative_scalar": 0, "per_feature": 0}
    for _ in range(cases):
        batch, d, units = int(rng.integers(4, 33)), int(rng.integers(2, 17)), int(rng.integers(1, 9))
        a = torch.from_numpy(rng.standard_normal((batch, d)))
        w = torch.from_numpy(rng.standard_normal((units, d)))
        x, kappa = _layer(a, w)
        base = bn(x)
        shift = torch.from_numpy(rng.uniform(-100, 100, size=d))
        scale = float(10.0 ** rng.uniform(-30, 30))
        per_feature = torch.from_numpy(10.0 ** rng.uniform(-1, 1, size=d))
        for name, a2 in (("shift", a + shift), ("positive_scalar", scale * a)):
            x2, kappa2 = _layer(a2, w)
            tol = centered_tolerance(d + 1, batch, max(kappa, kappa2))
            worst[name] = max(worst[name], float((bn(x2) - base).abs().max()) / tol)
        for name, a2 in (("negative_scalar", -scale * a), ("per_feature", a * per_feature)):
            x2, kappa2 = _layer(a2, w)
            tol = centered_tolerance(d + 1, batch, max(kappa, kappa2))
            changed[name] += float((bn(x2) - base).abs().max()) > tol
    return {"worst_err_over_tol": worst, "cases_changed": changed, "cases": cases}


@claim(
    "L5-bn-input-shift-rescale",
    document=LECTURE,
    ref='slide "A Wrinkle" (BN before the activation)',
    statement="A layer phi(BN(A W^T)) is invariant to rescaling and shifting its input "
              "activations A, so shifted activations leave the network function unchanged.",
    checked="For fixed W: invariant (to float64 round-off) to A -> A + 1 c^T for any c and to "
            "A -> s A for scalar s > 0; tested also s < 0 and a per-feature rescaling A -> A D, "
            "which the statement's word 'rescaling' would include.",
    expect=Verdict.CORRECTED,
)
def check_bn_input_shift_rescale() -> Evidence:
    found = bn_input_transforms(reparam.batch_norm)
    exact = all(v <= 1.0 for v in found["worst_err_over_tol"].values())
    unqualified = exact and not any(found["cases_changed"].values())
    return Evidence(
        verdict=decide(holds_as_stated=unqualified, holds_corrected=exact),
        key=f"shift/positive scale err <= {max(found['worst_err_over_tol'].values()):.2g} x tol; "
            f"changed: s<0 in {found['cases_changed']['negative_scalar']}/{found['cases']}, "
            f"per-feature D in {found['cases_changed']['per_feature']}/{found['cases']}",
        measured=found,
        tolerance=1.0,
        tolerance_reason="errors in units of _roundoff.centered_tolerance with kappa of both inputs",
        corrected="BN(A W^T) is invariant to shifting A by any constant vector and to rescaling A "
                  "by a positive scalar. A negative scalar flips every unit; a per-feature "
                  "rescaling A D is not an invariance of the layer (only of the pair: W -> W D^-1 "
                  "compensates it).",
        counterexample=None if exact else found,
    )
