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
from normtheory.roundoff import centered_tolerance, unit_norm_tolerance
from normtheory.registry import PAPER, Evidence, Verdict, claim, decide

def _ratio(err: float, tol: float) -> float:
    """err / tol, and inf when the error is not finite (a NaN must fail a check, never pass it)."""
    with np.errstate(all="ignore"):
        return err / tol if np.isfinite(err) and np.isfinite(tol) else float("inf")


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
        ratio = _ratio(err, unit_norm_tolerance(in_ch))
        if ratio > worst:
            worst, worst_case = ratio, {"seed": seed, "case": i, "shape": [int(out_ch), int(in_ch)],
                                        "weight_scale": scale, "alpha": alpha, "abs_err": err}
        # A negative scale is not an invariance: the normalized weight flips sign.
        flip_err = float((normalize(-alpha * v) + base).abs().max())
        flip_ok &= _ratio(flip_err, unit_norm_tolerance(in_ch)) <= 1.0
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
    proof="proofs/invariance_eps.py",
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
    """Cancellation factor max|x| / spread per output channel (rows), worst row.

    kappa is scale free, so rows are first divided by their peak: squaring entries of 1e180 would
    overflow and leave a NaN tolerance (which compares False and would silently pass a case).
    """
    x = x / x.abs().amax(dim=1, keepdim=True)
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
        if _ratio(err, tol) > worst:
            worst, worst_case = _ratio(err, tol), {"seed": seed, "case": i, "shape": [out_ch, n], "abs_err": err}
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
    proof="proofs/invariance_eps.py",
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


def ws_eps_factor(alpha: torch.Tensor | float, sigma: torch.Tensor | float, eps: float):
    r"""The positive factor r with WS_eps(alpha W + beta) = r WS_eps(W), per output channel.

    With c = W - mean and sigma = ||c||/sqrt(n), the shift beta cancels in c and
    WS_eps(alpha W + beta) = alpha c/(alpha sigma + eps) = r c/(sigma + eps) with
    r = alpha (sigma + eps)/(alpha sigma + eps) > 0 (r = 1 for eps = 0 or alpha = 1).
    """
    return alpha * (sigma + eps) / (alpha * sigma + eps)


def _draw_case(rng, eps_over_sigma: float):
    """One output layer's weight (rows = output channels), per-channel alpha > 0 and shift beta."""
    out_ch, n = int(rng.integers(2, 7)), int(rng.integers(3, 40))
    w = torch.from_numpy(rng.standard_normal((out_ch, n)) * 10.0 ** rng.uniform(-3, 3))
    sigma = w.std(dim=1, unbiased=False, keepdim=True)
    eps = float(eps_over_sigma * sigma.min())
    alpha = torch.from_numpy(10.0 ** rng.uniform(-3, 3, size=(out_ch, 1)))
    beta = torch.from_numpy(rng.uniform(-5, 5, size=(out_ch, 1))) * alpha * sigma
    return w, eps, alpha, beta, sigma


def ws_eps_weight_factor(standardize_eps: Callable[[torch.Tensor, float], torch.Tensor], *, cases: int = 60,
                         seed: int = 2) -> dict:
    """WS_eps(alpha W + beta) against r WS_eps(W) (r = ws_eps_factor), in units of the centering round-off.

    Also reports max |r - 1|: how much the eps-standardized weight itself changes with the magnitude.
    """
    rng = np.random.default_rng(seed)
    worst, max_change, rows = 0.0, 0.0, []
    for i in range(cases):
        ratio = (1e-6, 1e-3, 1e-1, 1.0)[i % 4]
        w, eps, alpha, beta, sigma = _draw_case(rng, ratio)
        shifted = alpha * w + beta
        r = ws_eps_factor(alpha, sigma, eps)
        base = standardize_eps(w, eps)
        err = float((standardize_eps(shifted, eps) - r * base).abs().max())
        # outputs have |.| <= sqrt(n); r <= max(1, alpha) rescales the error of the scaled side
        tol = centered_tolerance(1, w.shape[1], max(_kappa(w), _kappa(shifted))) * float(1 + r.max())
        worst = max(worst, _ratio(err, tol))
        max_change = max(max_change, float((r - 1).abs().max()))
        rows.append((ratio, float(alpha[0, 0]), float(r[0, 0])))
    return {"factor_err_over_tol": worst, "max_weight_change": max_change, "rows": rows}


def ws_eps_network_change(standardize_eps: Callable[[torch.Tensor, float], torch.Tensor],
                          normalize_after: Callable[[torch.Tensor], torch.Tensor] | None, *,
                          cases: int = 60, seed: int = 3) -> dict:
    """Layer output Z = N(X WS_eps(W)^T) for W and for alpha W + beta (per-channel alpha > 0, beta).

    ``normalize_after`` is the normalization that follows the WS layer (batch norm as on the lecture
    slides; None: none). Differences are in units of the round-off bound: the batch norm of a matmul
    over d inputs (centered_tolerance(d + 1, N, kappa_z)) plus the WS round-off e_w (relative to the
    row's size) carried through the matmul and the normalization, 2 (1 + sqrt N) kappa_z e_w.
    Without a following normalization the change is reported relative to the output's size.
    """
    rng = np.random.default_rng(seed)
    worst, relative_change = 0.0, 0.0
    for i in range(cases):
        ratio = (1e-6, 1e-3, 1e-1, 1.0)[i % 4]
        w, eps, alpha, beta, _ = _draw_case(rng, ratio)
        batch = int(rng.integers(4, 33))
        x = torch.from_numpy(rng.standard_normal((batch, w.shape[1])))
        w_a, w_b = standardize_eps(alpha * w + beta, eps), standardize_eps(w, eps)
        z_a, z_b = x @ w_a.T, x @ w_b.T
        if normalize_after is None:
            relative_change = max(relative_change, float((z_a - z_b).abs().max() / z_b.abs().max()))
            continue
        n = w.shape[1]
        kappa_z = float(((x.abs() @ w_b.abs().T).amax(dim=0) / z_b.std(dim=0, unbiased=False)).max())
        e_w = centered_tolerance(1, n, max(_kappa(w), _kappa(alpha * w + beta))) * 2 / n**0.5
        tol = centered_tolerance(n + 1, batch, kappa_z) + 2 * (1 + batch**0.5) * kappa_z * e_w
        err = float((normalize_after(z_a) - normalize_after(z_b)).abs().max())
        worst = max(worst, _ratio(err, tol))
        relative_change = max(relative_change, _ratio(err, float(normalize_after(z_b).abs().max())))
    return {"err_over_tol": worst, "max_relative_change": relative_change, "cases": cases}


def _draw_ws_eps(evidence: Evidence):
    from normtheory.figures import new_figure

    fig = new_figure()
    ax = fig.add_subplot()
    rows = np.array(evidence.series["rows"])
    for i, ratio in enumerate(sorted(set(rows[:, 0]))):
        sel = rows[rows[:, 0] == ratio]
        sel = sel[np.argsort(sel[:, 1])]
        ax.loglog(sel[:, 1], np.maximum(np.abs(sel[:, 2] - 1), 1e-18), "o-", color=f"C{i}", ms=3,
                  label=f"weight, eps/sigma = {ratio:g}")
    ax.axhline(max(evidence.series["network_with_bn_change"], 1e-18), color="k", ls="--",
               label="layer output with batch norm after it (max)")
    ax.set_xlabel("alpha (W -> alpha W + beta, per output channel)")
    ax.set_ylabel("|r - 1|: relative change")
    ax.set_title("Eq. (23): eps makes WS_eps(aW+b) = r WS_eps(W); a following BN removes r", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def ws_eps_instance(ce: dict) -> dict:
    """Evaluate one written-out instance (weight, alpha, beta, inputs, eps as plain lists)."""
    w = torch.tensor(ce["weight"], dtype=getattr(torch, ce["dtype"]))
    alpha = torch.tensor(ce["alpha"], dtype=w.dtype)[:, None]
    beta = torch.tensor(ce["beta"], dtype=w.dtype)[:, None]
    x = torch.tensor(ce["inputs"], dtype=w.dtype)
    eps = float(ce["eps"])
    ws = lambda v: reparam.weight_standardization(v, eps=eps, dim=0)  # noqa: E731
    w_a, w_b = ws(alpha * w + beta), ws(w)
    z_a, z_b = x @ w_a.T, x @ w_b.T
    return {"weight_relative_change": float((w_a - w_b).norm() / w_b.norm()),
            "no_bn_output_relative_change": float((z_a - z_b).abs().max() / z_b.abs().max()),
            "with_bn_output_change": float((reparam.batch_norm(z_a) - reparam.batch_norm(z_b)).abs().max())}


def _instance(seed: int = 9) -> dict:
    """A small, fully written-out instance: the weight itself and the WS layer without a following
    normalization change with the magnitude; with a batch norm after the layer nothing changes."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, 5)) * 0.01
    return {"dtype": "float64", "eps": 0.01, "weight": w, "alpha": [10.0, 0.5, 3.0], "beta": [0.2, -0.1, 0.0],
            "inputs": rng.standard_normal((8, 5)),
            "recipe": "WS_eps(W) = (W - mean)/(std + eps) per row (population std); layer z = x WS_eps(W)^T; "
                      "batch norm (no eps, as on the lecture slides) per column of z",
            "seed": seed}


@claim(
    "PAPER-ws-eps-invariance",
    document=PAPER,
    ref="Eq. (23) (with Eqs. (3), (7) and Sec. 2: WS used together with BN or GN)",
    statement="(Beyond the paper, which brings in Eq. (23) only to discuss float overflow and says "
              "nothing about its invariance.) Eq. (23), WS as implemented in practice, adds eps to the "
              "standard deviation; derived here: WS_eps(alpha W + beta) = r WS_eps(W) with one positive "
              "factor r = alpha(sigma+eps)/(alpha sigma+eps) per output channel, so the standardized "
              "weight depends on the magnitude (not on the mean), but a layer followed by batch norm -- "
              "how the paper's WS networks use WS -- stays exactly independent of both, as Eq. (3) says "
              "of WS without eps.",
    checked="(a) WS_eps(alpha W + beta) = r WS_eps(W) per output channel, to float64 round-off "
            "(centering bound, kappa of both inputs), for 60 seeded weights with eps/sigma in 1e-6..1, "
            "per-channel alpha in 1e-3..1e3 and |beta| up to 5 alpha sigma; (b) the layer output "
            "BN(X WS_eps(W)^T) (batch norm without eps, as on the lecture slides) is unchanged by the "
            "same transformations within its derived round-off bound, while (c) the output X WS_eps(W)^T "
            "without a following normalization does change (a control that must fail).",
    expect=Verdict.CONFIRMED,
    figure=_draw_ws_eps,
    proof="proofs/invariance_eps.py",
)
def check_ws_eps_invariance() -> Evidence:
    ws = lambda w, eps: reparam.weight_standardization(w, eps=eps, dim=0)  # noqa: E731
    factor = ws_eps_weight_factor(ws)
    with_bn = ws_eps_network_change(ws, reparam.batch_norm)
    without = ws_eps_network_change(ws, None)
    rows = factor.pop("rows")
    holds = (factor["factor_err_over_tol"] <= 1.0 and with_bn["err_over_tol"] <= 1.0
             and without["max_relative_change"] > 1e-3)
    example = _instance()
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"WS_eps(aW+b) = r WS_eps(W) ({factor['factor_err_over_tol']:.2g} x tol; weight changes by up "
            f"to {factor['max_weight_change']:.2g}); with BN after it: {with_bn['err_over_tol']:.2g} x tol; "
            f"without: changes by {without['max_relative_change']:.2g}",
        measured={"weight_factor": factor, "layer_with_batch_norm": with_bn,
                  "layer_without_normalization": without,
                  "instance": {**example, **ws_eps_instance(example)}},
        tolerance=1.0,
        tolerance_reason="(a) centered_tolerance(1, n, kappa) (1 + r); (b) the batch-norm bound "
                         "centered_tolerance(d+1, N, kappa_z) plus the WS round-off carried through the "
                         "layer, 2 (1 + sqrt N) kappa_z e_w (ws_eps_network_change)",
        counterexample=None if holds else {**example, "weight_factor": factor, "with_bn": with_bn},
        series={"rows": rows, "network_with_bn_change": with_bn["max_relative_change"]},
    )
