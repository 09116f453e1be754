"""Paper: what L2 decay and the eps-shifted L2 do to the objective of a normalized layer.

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``): Eq. (4) and Eqs. (8)-(13), (21)-(22)
(no global minimum; the optimal direction is unchanged), Eq. (26)'s WS constraint, Eqs. (27)-(28)
(the eps-shifted penalty's gradients). Where the eps-shifted objective has its minimum (Eqs. (25)-(26))
and whether training keeps ||W|| >= eps (Sec. 6.2) are :mod:`normtheory.claims.paper_eps_shift`.

Exact models: :class:`normtheory.models.ScaleInvariantNet` with a WN or WS first layer (float64); the
regularizers are those of :mod:`normtheory.regularizers`. Derivations: ``proofs/paper_eps_shift.py``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from normtheory import regularizers
from normtheory._threads import single_thread
from normtheory.claims._replay import net_from_record, net_record
from normtheory.models import ScaleInvariantNet
from normtheory.registry import PAPER, Evidence, Verdict, claim, decide
from normtheory.roundoff import EPS64

Regularizer = Callable[[torch.Tensor], torch.Tensor]


def _l2(lam: float) -> Regularizer:
    return lambda w: regularizers.l2_penalty(w, lam=lam)


def _objective(net: ScaleInvariantNet, reg: Regularizer) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda w: net(w) + reg(w)


def shrink_gaps(net: ScaleInvariantNet, reg: Regularizer, lam: float, *, cases: int = 40, seed: int = 0) -> dict:
    """For W and alpha in (0, 1): does L^(alpha W) < L^(W), by exactly 1/2 lam (1 - alpha^2) ||W||^2?"""
    rng = np.random.default_rng(seed)
    worst_err, always_lower = 0.0, True
    for _ in range(cases):
        w = net.init(10.0 ** rng.uniform(-3, 3))
        alpha = float(rng.uniform(0.01, 0.99))
        f = _objective(net, reg)
        drop = float(f(w) - f(alpha * w))
        predicted = 0.5 * lam * (1 - alpha**2) * float(w.square().sum())
        # both sides are sums of a loss O(1) and a penalty; round-off ~ (n + 10) eps times their size
        scale = float(net(w).abs()) + 0.5 * lam * float(w.square().sum())
        worst_err = max(worst_err, abs(drop - predicted) / ((w.numel() + 10) * EPS64 * scale))
        always_lower &= drop > 0
    return {"always_lower": always_lower, "drop_formula_err_over_tol": worst_err}


@claim(
    "PAPER-no-global-minimum",
    document=PAPER,
    ref="Eq. (4), Eqs. (21)-(22)",
    statement="With WN (and WS), the loss plus 1/2 lambda ||W||^2 has no global minimum: for any W and "
              "0 < alpha < 1, alpha W has the same loss term and a smaller penalty.",
    checked="On the float64 WN and WS models with lambda = 0.1: for 40 seeded W (scales 1e-3..1e3) and "
            "alpha in (0.01, 0.99), L^(alpha W) < L^(W) and the drop equals 1/2 lambda (1 - alpha^2) "
            "||W||^2 within (n+10) eps times the objective's size.",
    expect=Verdict.CONFIRMED,
    proof="proofs/paper_eps_shift.py",
)
def check_no_global_minimum() -> Evidence:
    lam = 0.1
    with single_thread():
        found = {k: shrink_gaps(ScaleInvariantNet(k, seed=3), _l2(lam), lam) for k in ("wn", "ws")}
    holds = all(f["always_lower"] and f["drop_formula_err_over_tol"] <= 1.0 for f in found.values())
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"alpha W always lower; drop formula err {max(f['drop_formula_err_over_tol'] for f in found.values()):.2g} x tol",
        measured=found,
        tolerance=1.0,
        tolerance_reason="drop compared with 1/2 lam (1-alpha^2)||W||^2 in units of (n+10) eps x "
                         "(|loss| + penalty): the round-off of two objective evaluations",
        counterexample=None if holds else found,
    )


def direction_gaps(net: ScaleInvariantNet, reg: Regularizer, *, cases: int = 30, seed: int = 1) -> dict:
    """Per unit, the tangential gradient (I - A A^T) grad of L + R vs that of L alone, and the radial
    derivative <grad (L + R), A> (the k-derivative of the objective along W's ray)."""
    rng = np.random.default_rng(seed)
    worst_tan, radial = 0.0, []
    for _ in range(cases):
        w = net.init(10.0 ** rng.uniform(-2, 2)).requires_grad_(True)
        (g_hat,) = torch.autograd.grad(net(w) + reg(w), w)
        (g,) = torch.autograd.grad(net(w), w)
        k = torch.linalg.vector_norm(w.detach(), dim=1, keepdim=True)
        a = w.detach() / k
        tan = lambda x: x - a * (a * x).sum(dim=1, keepdim=True)
        diff = (tan(g_hat) - tan(g)).abs().max()
        # tangential parts agree to the round-off of projecting the penalty's gradient (size |grad R|)
        tol = 4 * (w.shape[1] + 8) * EPS64 * float((g_hat - g).abs().max() + g.abs().max())
        worst_tan = max(worst_tan, float(diff) / tol)
        radial.append(float(((g_hat * a).sum(dim=1) - (g * a).sum(dim=1)).min() / k.min()))
    return {"tangential_err_over_tol": worst_tan, "min_radial_over_k": min(radial)}


def replay_wd_optimal_direction(evidence: dict) -> dict:
    """Rerun PAPER-wd-optimal-direction's instance: the radial derivative of the objective per unit over
    k (= lam for every unit: positive, so no k > 0 is stationary) and the largest tangential difference."""
    ce = evidence["counterexample"]
    net, w = net_from_record(ce["model"])
    lam = float(ce["lam"])
    w = w.clone().requires_grad_(True)
    (g_hat,) = torch.autograd.grad(net(w) + regularizers.l2_penalty(w, lam=lam), w)
    (g,) = torch.autograd.grad(net(w), w)
    k = torch.linalg.vector_norm(w.detach(), dim=1, keepdim=True)
    a = w.detach() / k
    tan = lambda x: x - a * (a * x).sum(dim=1, keepdim=True)  # noqa: E731
    return {"min_radial_over_k": float(((g_hat * a).sum(dim=1, keepdim=True) / k).min()),
            "tangential_max_diff": float((tan(g_hat) - tan(g)).abs().max())}


@claim(
    "PAPER-wd-optimal-direction",
    document=PAPER,
    ref="Eqs. (8)-(13)",
    statement="With WN/WS, adding the L2 term does not change the optimization goal: with A = W/||W|| and "
              "k = ||W|| independent, min over (A, k) of L^ equals min_A L(A) plus min_k 1/2 lambda k^2.",
    checked="On the float64 WN model (lambda = 0.1): (i) for every W the tangential gradient of "
            "L + 1/2 lam ||W||^2 equals that of L (the stationary directions coincide for every k), "
            "and (ii) the k-derivative of the objective is lam k > 0 at every W, so min_k over k > 0 "
            "does not exist; Eq. (12) is then checked with inf in place of min.",
    expect=Verdict.CORRECTED,
    replay=replay_wd_optimal_direction,
    proof="proofs/paper_eps_shift.py",
)
def check_wd_optimal_direction() -> Evidence:
    lam = 0.1
    net = ScaleInvariantNet("wn", seed=4)
    with single_thread():
        found = direction_gaps(net, _l2(lam))
    instance = {"model": net_record(net, net.init(0.3)), "lam": lam,
                "question": "d/dk of L(W) + 1/2 lam ||W||^2 along each unit's ray W_j -> k A_j, divided by k, at W = v0"}
    instance["reproduces"] = replay_wd_optimal_direction({"counterexample": instance})
    same_direction = found["tangential_err_over_tol"] <= 1.0
    no_min = found["min_radial_over_k"] > 0  # dL^/dk = lam k > 0: no stationary k
    return Evidence(
        verdict=decide(holds_as_stated=same_direction and not no_min,
                       holds_corrected=same_direction and no_min),
        key=f"tangential gradients equal ({found['tangential_err_over_tol']:.2g} x tol); "
            f"dL^/dk / k >= {found['min_radial_over_k']:.3g} > 0: min_k does not exist",
        measured=found,
        counterexample=instance,
        tolerance=1.0,
        tolerance_reason="tangential gradients compared in units of 4(n+8) eps x gradient size "
                         "(round-off of the projection)",
        corrected="The direction part holds: for every k the L2 term is constant on the sphere, so "
                  "L^ and L have the same stationary and optimal directions. But min_k 1/2 lambda k^2 "
                  "over k > 0 does not exist (dL^/dk = lambda k > 0), so Eqs. (10), (12), (13) hold "
                  "only with inf: inf L^ = min_A L(A), approached as k -> 0 and never attained -- the "
                  "paper's own Sec. 4.1.",
    )


def replay_ws_constraint(evidence: dict) -> dict:
    """||B|| for the recorded weight against n and sqrt(n)."""
    from normtheory import reparam

    w = torch.tensor(evidence["counterexample"]["weight"], dtype=getattr(torch, evidence["counterexample"]["dtype"]))
    norm = float(torch.linalg.vector_norm(reparam.weight_standardization(w)))
    return {"n": w.shape[1], "norm_B": norm, "norm_B_over_sqrt_n": norm / w.shape[1] ** 0.5}


@claim(
    "PAPER-ws-constraint",
    document=PAPER,
    ref="Eq. (26)",
    statement="In the WS decomposition, the standardized weight B = (W - mean)/std satisfies ||B|| = n.",
    checked="||B|| for seeded W with n in 2..200, against n and against sqrt(n), to (n+10) eps relative.",
    expect=Verdict.CORRECTED,
    replay=replay_ws_constraint,
    proof="proofs/paper_eps_shift.py",
)
def check_ws_constraint() -> Evidence:
    from normtheory import reparam

    rng = np.random.default_rng(6)
    worst_n, worst_sqrt = 0.0, 0.0
    for n in (2, 3, 7, 50, 200):
        w = torch.from_numpy(rng.standard_normal((1, n)) * 10.0 ** rng.uniform(-5, 5))
        norm = float(torch.linalg.vector_norm(reparam.weight_standardization(w)))
        tol = (n + 10) * EPS64
        worst_n = max(worst_n, abs(norm / n - 1) / tol)
        worst_sqrt = max(worst_sqrt, abs(norm / n**0.5 - 1) / tol)
    return Evidence(
        verdict=decide(holds_as_stated=worst_n <= 1.0, holds_corrected=worst_sqrt <= 1.0),
        key=f"||B|| = sqrt(n) ({worst_sqrt:.2g} x tol); ||B|| = n off by up to {worst_n:.2g} x tol",
        measured={"err_vs_n_over_tol": worst_n, "err_vs_sqrt_n_over_tol": worst_sqrt},
        counterexample=(instance := {"dtype": "float64", "seed": 6, "weight": np.random.default_rng(6).standard_normal((1, 7)).tolist(),
                                     "recipe": "B = (W - mean)/std, population std, one row of n = 7"}) | {
            "reproduces": replay_ws_constraint({"counterexample": instance})},
        tolerance=1.0,
        tolerance_reason="relative error in units of (n+10) eps: an n-term sum of squares and a few "
                         "more roundings",
        corrected="||B||^2 = n, i.e. ||B|| = sqrt(n) (Eq. (26)'s constraint ||B|| = n holds only for n = 1); "
                  "it does not affect the minimum at m = 0, v = eps.",
    )


# --- Eqs. (27)-(28): closed-form gradients ---------------------------------------------------------

def paper_eq27(w: torch.Tensor, lam: float, eps: float) -> torch.Tensor:
    """Eq. (27) as printed: lam (1 - eps/||W||) W (per row)."""
    k = torch.linalg.vector_norm(w, dim=1, keepdim=True)
    return lam * (1 - eps / k) * w


def paper_eq28(w: torch.Tensor, lam: float, eps: float) -> torch.Tensor:
    """Eq. (28) as printed: lam ((1 - eps/v) W + eps/v mean) (per row)."""
    m = w.mean(dim=1, keepdim=True)
    v = torch.linalg.vector_norm(w - m, dim=1, keepdim=True) / w.shape[1] ** 0.5
    return lam * ((1 - eps / v) * w + eps / v * m)


def penalty_grad_gaps(formula: Callable[[torch.Tensor, float, float], torch.Tensor], form: str, *,
                      cases: int = 100, seed: int = 8) -> float:
    """Worst |formula - autograd of eps_shifted_l2| / tol over seeded W, lam, eps."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(cases):
        out_ch, n = int(rng.integers(1, 5)), int(rng.integers(2, 40))
        scale = 10.0 ** rng.uniform(-4, 4)
        w = torch.from_numpy(rng.standard_normal((out_ch, n)) * scale + rng.uniform(-2, 2) * scale)
        lam, eps = float(10.0 ** rng.uniform(-4, 0)), float(scale * 10.0 ** rng.uniform(-3, 1))
        wr = w.clone().requires_grad_(True)
        (ref,) = torch.autograd.grad(regularizers.eps_shifted_l2(wr, lam=lam, eps=eps, form=form), wr)
        got = formula(w, lam, eps)
        s = regularizers.slice_stats(w)["norm" if form == "wn" else "std"]
        # entries lam (W - (eps/s) (W - m)): a few n-term roundings of terms of size lam max|W| (1 + eps/s)
        tol = 4 * (n + 8) * EPS64 * lam * w.abs().amax(dim=1, keepdim=True) * (1 + eps / s)
        worst = max(worst, float(((got - ref).abs() / tol).max()))
    return worst


@claim(
    "PAPER-eps-shift-gradients",
    document=PAPER,
    ref="Eqs. (27)-(28)",
    statement="The gradient of 1/2 lambda (||W|| - eps)^2 is lambda (1 - eps/||W||) W (Eq. 27); that of "
              "1/2 lambda n (m^2 + (v - eps)^2) is lambda ((1 - eps/v) W + eps/v mean) (Eq. 28).",
    checked="Eqs. (27) and (28) as printed against autograd of the penalties (float64, 100 seeded "
            "cases each, scales 1e-4..1e4, eps/scale 1e-3..10), tolerance 4(n+8) eps lam max|W| (1 + eps/s).",
    expect=Verdict.CONFIRMED,
    proof="proofs/paper_eps_shift.py",
)
def check_eps_shift_gradients() -> Evidence:
    wn, ws = penalty_grad_gaps(paper_eq27, "wn"), penalty_grad_gaps(paper_eq28, "ws")
    lib = max(penalty_grad_gaps(lambda w, l, e: regularizers.eps_shifted_l2_grad(w, lam=l, eps=e, form="wn"), "wn"),
              penalty_grad_gaps(lambda w, l, e: regularizers.eps_shifted_l2_grad(w, lam=l, eps=e, form="ws"), "ws"))
    holds = max(wn, ws, lib) <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"Eq. (27) {wn:.2g} x tol, Eq. (28) {ws:.2g} x tol; library closed form {lib:.2g} x tol",
        measured={"eq27_err_over_tol": wn, "eq28_err_over_tol": ws, "library_err_over_tol": lib},
        tolerance=1.0,
        tolerance_reason="errors in units of 4(n+8) eps lam max|W| (1 + eps/s): round-off of the "
                         "closed form and of autograd through the per-slice statistics",
        counterexample=None if holds else {"seed": 8, "eq27": wn, "eq28": ws},
    )
