"""Paper: invariances of weight normalization (WN) and weight standardization (WS).

Source: Li, Chen, Xia, Yang, "Understanding the Disharmony between Weight Normalization Family and
Weight Decay: epsilon-shifted L2 Regularizer" (``001_b5a1945cc2ea1296.txt``), Eqs. (2), (3), (5),
(7) and (23).

Each property is a function of the implementation it checks (``normalize=...``), so the tests can
show that it fails on a deliberately broken variant; the claim's check runs it on the library's own
implementation.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from normtheory import reparam
from normtheory.claims._roundoff import centered_tolerance, unit_norm_tolerance
from normtheory.registry import PAPER, Evidence, Verdict, claim, decide

def wn_scale_invariance(normalize: Callable[[torch.Tensor], torch.Tensor], *, cases: int = 200,
                        seed: int = 0) -> dict:
    """Largest ``|N(alpha v) - N(v)|_inf / tol`` over seeded random weights and alpha > 0.

    Weights are drawn with entries spread over many decades (norms from 1e-150 to 1e150), alpha
    over 1e-100 .. 1e100. Also reports how N(alpha v) relates to N(v) for alpha < 0.
    """
    rng = np.random.default_rng(seed)
    worst, worst_case, flip_ok = 0.0, None, True
    for i in range(cases):
        out_ch, in_ch = rng.integers(1, 9), rng.integers(2, 65)
        scale = 10.0 ** rng.uniform(-150, 150)
        v = torch.from_numpy(rng.standard_normal((out_ch, in_ch)) * scale)
        alpha = float(10.0 ** rng.uniform(-100, 100))
        base = normalize(v)
        err = float((normalize(alpha * v) - base).abs().max())
        ratio = err / unit_norm_tolerance(in_ch)
        if ratio > worst:
            worst, worst_case = ratio, {"seed": seed, "case": i, "shape": [int(out_ch), int(in_ch)],
                                        "weight_scale": scale, "alpha": alpha, "abs_err": err}
        # A negative scale is not an invariance: the normalized weight flips sign.
        flip_err = float((normalize(-alpha * v) + base).abs().max())
        flip_ok &= flip_err <= unit_norm_tolerance(in_ch)
    return {"worst_err_over_tol": worst, "worst_case": worst_case, "negative_alpha_flips_sign": flip_ok}


@claim(
    "PAPER-wn-scale-invariance",
    document=PAPER,
    ref="Eqs. (2), (5)",
    statement="With weight normalization W' = W/||W||, the loss no longer depends on the weight's "
              "magnitude: scaling W leaves the normalized weight, hence the network, unchanged.",
    checked="For every alpha > 0, WN(alpha W) = WN(W) per output channel to float64 round-off "
            "(|diff|_inf <= 2(n+3) eps), for norms from 1e-150 to 1e150; for alpha < 0, "
            "WN(alpha W) = -WN(W), so the invariance needs alpha > 0.",
    expect=Verdict.CONFIRMED,
)
def check_wn_scale_invariance() -> Evidence:
    found = wn_scale_invariance(lambda v: reparam.weight_norm(v, dim=0))
    holds = found["worst_err_over_tol"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"max |WN(aW)-WN(W)| = {found['worst_err_over_tol']:.2g} x tol over 200 cases; "
            f"a<0 flips sign: {found['negative_alpha_flips_sign']}",
        measured=found,
        tolerance=1.0,
        tolerance_reason="errors are measured in units of the round-off bound 2(n+3) eps "
                         "(see _roundoff.unit_norm_tolerance); 1.0 means at the bound",
        counterexample=None if holds else found["worst_case"],
    )


def _kappa(x: torch.Tensor) -> float:
    """Cancellation factor max|x| / spread per output channel (rows), worst row."""
    centered = x - x.mean(dim=1, keepdim=True)
    spread = centered.square().mean(dim=1).sqrt()
    return float((x.abs().amax(dim=1) / spread).max())


def ws_affine_invariance(standardize: Callable[[torch.Tensor], torch.Tensor], *, cases: int = 200,
                         seed: int = 1) -> dict:
    """Largest ``|S(alpha W + beta) - S(W)|_inf / tol`` with per-channel alpha > 0 and beta.

    alpha spans 1e-80 .. 1e80 and beta up to 1e3 times the channel's spread (strong cancellation,
    which the tolerance accounts for through kappa).
    """
    rng = np.random.default_rng(seed)
    worst, worst_case = 0.0, None
    for i in range(cases):
        out_ch, n = int(rng.integers(1, 9)), int(rng.integers(2, 65))
        w = torch.from_numpy(rng.standard_normal((out_ch, n)) * 10.0 ** rng.uniform(-100, 100))
        alpha = torch.from_numpy(10.0 ** rng.uniform(-80, 80, size=(out_ch, 1)))
        spread = w.std(dim=1, keepdim=True)
        beta = torch.from_numpy(rng.uniform(-1e3, 1e3, size=(out_ch, 1))) * alpha * spread
        shifted = alpha * w + beta
        err = float((standardize(shifted) - standardize(w)).abs().max())
        tol = centered_tolerance(1, n, max(_kappa(w), _kappa(shifted)))
        if err / tol > worst:
            worst, worst_case = err / tol, {"seed": seed, "case": i, "shape": [out_ch, n], "abs_err": err}
    return {"worst_err_over_tol": worst, "worst_case": worst_case}


@claim(
    "PAPER-ws-affine-invariance",
    document=PAPER,
    ref="Eqs. (3), (7)",
    statement="With weight standardization W' = (W - mean)/std, the loss depends neither on the "
              "weight's magnitude nor on its mean.",
    checked="For every output channel's alpha > 0 and shift beta, WS(alpha W + beta) = WS(W) to "
            "float64 round-off (bound 2((n+3) kappa (1+sqrt n) + n^1.5) eps, kappa = max|x|/std "
            "measuring the cancellation of the shift), for alpha over 1e-80..1e80 and |beta| up to "
            "1e3 std.",
    expect=Verdict.CONFIRMED,
)
def check_ws_affine_invariance() -> Evidence:
    found = ws_affine_invariance(lambda w: reparam.weight_standardization(w, dim=0))
    holds = found["worst_err_over_tol"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"max |WS(aW+b)-WS(W)| = {found['worst_err_over_tol']:.2g} x tol over 200 cases",
        measured=found,
        tolerance=1.0,
        tolerance_reason="errors in units of the centering round-off bound "
                         "(_roundoff.centered_tolerance with kappa of both inputs)",
        counterexample=None if holds else found["worst_case"],
    )


def ws_eps_deviation(alpha: float, sigma: float, eps: float) -> float:
    r"""Exact relative change of Eq. (23)'s output when W -> alpha W.

    WS_eps(W) = c/(sigma+eps) and WS_eps(alpha W) = alpha c/(alpha sigma+eps) with c = W - mean, so
    ||WS_eps(alpha W) - WS_eps(W)|| / ||WS_eps(W)|| = eps |alpha - 1| / (alpha sigma + eps).
    """
    return eps * abs(alpha - 1) / (alpha * sigma + eps)


def ws_eps_scale_sweep(standardize_eps: Callable[[torch.Tensor, float], torch.Tensor], *,
                       seed: int = 2) -> dict:
    """Measured vs predicted relative deviation of WS_eps(alpha W + beta) from WS_eps(W)."""
    rng = np.random.default_rng(seed)
    n = 64
    w = torch.from_numpy(rng.standard_normal((1, n)))
    sigma = float(w.std(dim=1, unbiased=False))
    rows, worst_formula, worst_invariance = [], 0.0, 0.0
    for eps_over_sigma in (1e-6, 1e-3, 1e-2, 1e-1, 1.0):
        eps = eps_over_sigma * sigma
        base = standardize_eps(w, eps)
        for alpha in np.logspace(-3, 3, 13):
            shifted = alpha * w + 5.0 * alpha * sigma  # the shift stays exact with eps; the scale does not
            out = standardize_eps(shifted, eps)
            measured = float(torch.linalg.vector_norm(out - base) / torch.linalg.vector_norm(base))
            predicted = ws_eps_deviation(float(alpha), sigma, eps)
            ratio = float(alpha) * (sigma + eps) / (float(alpha) * sigma + eps)
            tol = centered_tolerance(1, n, max(_kappa(w), _kappa(shifted))) * (1 + ratio)
            worst_formula = max(worst_formula, abs(measured - predicted) / tol)
            worst_invariance = max(worst_invariance, measured / tol)
            rows.append((eps_over_sigma, float(alpha), measured, predicted))
    return {"worst_formula_err_over_tol": worst_formula, "worst_deviation_over_tol": worst_invariance,
            "max_relative_deviation": max(r[2] for r in rows), "rows": rows}


def _draw_ws_eps(evidence: Evidence):
    from normtheory.figures import new_figure

    fig = new_figure()
    ax = fig.add_subplot()
    rows = np.array(evidence.series["rows"])
    for i, ratio in enumerate(sorted(set(rows[:, 0]))):
        sel = rows[rows[:, 0] == ratio]
        ax.loglog(sel[:, 1], np.maximum(sel[:, 3], 1e-18), "-", color=f"C{i}", label=f"eps/sigma = {ratio:g}")
        ax.loglog(sel[:, 1], np.maximum(sel[:, 2], 1e-18), "o", color=f"C{i}", mfc="none")
    ax.set_xlabel("alpha (W -> alpha W + beta)")
    ax.set_ylabel("relative change of WS_eps output")
    ax.set_title("Eq. (23): eps breaks scale invariance\n(lines: eps|alpha-1|/(alpha sigma+eps); o: measured)",
                 fontsize=10)
    ax.legend(fontsize=8)
    return fig


@claim(
    "PAPER-ws-eps-invariance",
    document=PAPER,
    ref="Eq. (23)",
    statement="WS makes the loss independent of the weight's magnitude and mean (Eq. 3); Eq. (23), "
              "the form used in practice, adds eps to the denominator and is discussed as the same "
              "reparameterization.",
    checked="With eps > 0, WS_eps(alpha W + beta) = WS_eps(W) only for alpha = 1 (the shift stays "
            "exact): the output changes by the relative amount eps|alpha-1|/(alpha sigma+eps), "
            "measured against that formula over eps/sigma in 1e-6..1 and alpha in 1e-3..1e3.",
    expect=Verdict.CORRECTED,
    figure=_draw_ws_eps,
)
def check_ws_eps_invariance() -> Evidence:
    found = ws_eps_scale_sweep(lambda w, eps: reparam.weight_standardization(w, eps=eps, dim=0))
    invariant = found["worst_deviation_over_tol"] <= 1.0
    formula_holds = found["worst_formula_err_over_tol"] <= 1.0
    rows = found.pop("rows")
    return Evidence(
        verdict=decide(holds_as_stated=invariant, holds_corrected=formula_holds),
        key=f"max rel. change {found['max_relative_deviation']:.2g} (eps/sigma<=1); formula err "
            f"{found['worst_formula_err_over_tol']:.2g} x tol",
        measured=found,
        tolerance=1.0,
        tolerance_reason="differences in units of the centering round-off bound, scaled by the "
                         "output ratio alpha(sigma+eps)/(alpha sigma+eps)",
        corrected="WS with eps (Eq. 23) is invariant to per-channel shifts but not to scaling: "
                  "||WS_eps(aW) - WS_eps(W)|| / ||WS_eps(W)|| = eps|a-1|/(a sigma + eps), small only "
                  "while eps << a sigma; as the weight's spread sigma shrinks (e.g. under weight "
                  "decay) the output itself shrinks like sigma/eps.",
        series={"rows": rows},
    )
