"""Lecture: affine reparameterization of a layer, the batch-centering gradient and K-FAC's affine
invariance.

Source: Grosse, CSC 2541 Lecture 5 (``002_cd849d122e313ad8.txt``), slides "ICS and Invariance" and
"A Wrinkle". Symbolic identities: ``proofs/lecture_affine_reparam.py``.

Every property is a function of the implementation it checks, so the tests can show that it fails
on a deliberately broken variant; the claims run it on the library code (:mod:`normtheory.curvature`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from normtheory import curvature
from normtheory import reparam
from normtheory.registry import LECTURE, Evidence, Verdict, claim, decide
from normtheory.roundoff import EPS64

INV = 'slide "ICS and Invariance"'


def _stats_case(rng, d: int, m_out: int, n: int, mean_norm: float):
    x = torch.from_numpy(rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.7
                         + mean_norm * rng.standard_normal(d) / np.sqrt(d))
    w = torch.from_numpy(rng.standard_normal((m_out, d)))
    b = torch.from_numpy(rng.standard_normal(m_out))
    y = torch.from_numpy(rng.standard_normal((n, m_out)))
    return x, w, b, y


def _ls_loss(x, y):
    return lambda w, b: 0.5 * (x @ w.T + b - y).square().sum() / x.shape[0]


def affine_reparam_facts(reparameterize: Callable = curvature.affine_reparameterize,
                         inverse_jacobian: Callable = curvature.reparam_inverse_jacobian,
                         block: Callable = curvature.quasi_diagonal_block, *, cases: int = 20, seed: int = 4) -> dict:
    """Function preservation, the block formula for [R R^T]^{-1}, and the preconditioner R R^T that
    gradient descent in the new parameters applies to the old ones (errors in units of round-off).

    Round-off: every quantity is a short chain of products of (D+1)M-sized matrices built from
    Sigma^{1/2} and its inverse, so its error is <= 16 n eps kappa times its magnitude with
    n = (D+1)M and kappa = cond(R^{-1})^2 (R enters twice).
    """
    rng = np.random.default_rng(seed)
    worst = {"function_err_over_tol": 0.0, "theta_map_err_over_tol": 0.0, "block_formula_err_over_tol": 0.0,
             "block_equals_gauss_newton_err_over_tol": 0.0, "preconditioned_step_err_over_tol": 0.0,
             "whitened_hessian_cond_minus_one_over_tol": 0.0}
    rows = []
    for i in range(cases):
        d, m_out, n = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(8, 40))
        x, w, b, y = _stats_case(rng, d, m_out, n, mean_norm=float(10 ** rng.uniform(-1, 1.5)))
        mean, sigma = curvature.input_statistics(x)
        w_t, b_t = reparameterize(w, b, mean, sigma)
        x_t = curvature.standardize_inputs(x, mean, sigma)
        size = (d + 1) * m_out
        r_inv = inverse_jacobian(mean, sigma, m_out)
        kappa = float(torch.linalg.cond(r_inv)) ** 2
        unit = 16 * size * EPS64 * kappa
        mag = float((x.abs() @ w.abs().T + b.abs()).max())
        worst["function_err_over_tol"] = max(worst["function_err_over_tol"], float(
            (x_t @ w_t.T + b_t - (x @ w.T + b)).abs().max()) / (unit * mag))
        theta = torch.cat([curvature.vec(w), b])
        theta_t = torch.cat([curvature.vec(w_t), b_t])
        worst["theta_map_err_over_tol"] = max(worst["theta_map_err_over_tol"], float(
            (r_inv @ theta - theta_t).abs().max()) / (unit * float(r_inv.abs().max() * theta.abs().max())))
        r = torch.linalg.inv(r_inv)
        rrt_inv = torch.linalg.inv(r @ r.mT)
        blk = block(mean, sigma, m_out)
        scale = float(blk.abs().max())
        worst["block_formula_err_over_tol"] = max(worst["block_formula_err_over_tol"],
                                                  float((rrt_inv - blk).abs().max()) / (unit * scale))
        gn = torch.kron(curvature.homogeneous_second_moment(x), torch.eye(m_out, dtype=x.dtype))
        worst["block_equals_gauss_newton_err_over_tol"] = max(
            worst["block_equals_gauss_newton_err_over_tol"], float((gn - blk).abs().max()) / (unit * scale))
        # one GD step in the new parameters (autograd there), mapped back with R
        loss_t = _ls_loss(x_t, y)
        wt_, bt_ = w_t.clone().requires_grad_(True), b_t.clone().requires_grad_(True)
        gw_t, gb_t = torch.autograd.grad(loss_t(wt_, bt_), (wt_, bt_))
        lr = 0.1
        step_new = r @ (theta_t - lr * torch.cat([curvature.vec(gw_t), gb_t]))
        w_, b_ = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
        gw, gb = torch.autograd.grad(_ls_loss(x, y)(w_, b_), (w_, b_))
        grad = torch.cat([curvature.vec(gw), gb])
        precond = r @ r.mT
        via_p = theta - lr * precond @ grad
        plain = theta - lr * grad
        worst["preconditioned_step_err_over_tol"] = max(worst["preconditioned_step_err_over_tol"], float(
            (step_new - via_p).abs().max()) / (unit * float(theta.abs().max() + lr * (precond @ grad).abs().max())))
        h_new = r.mT @ gn @ r
        # ||R||^2 ||H|| = cond(R^{-1})^2 since H = R^{-T} R^{-1}: R^T H R = I up to 2 * unit
        worst["whitened_hessian_cond_minus_one_over_tol"] = max(
            worst["whitened_hessian_cond_minus_one_over_tol"], (float(torch.linalg.cond(h_new)) - 1) / (2 * unit))
        rows.append({"plain_vs_new_step_rel": float((plain - via_p).norm() / (via_p - theta).norm()),
                     "precond_minus_identity": float(torch.linalg.matrix_norm(precond - torch.eye(size, dtype=x.dtype), ord=2)),
                     "cond_H_old": float(torch.linalg.cond(gn)), "cond_H_new": float(torch.linalg.cond(h_new))})
    worst["min_plain_vs_new_step_rel"] = min(r["plain_vs_new_step_rel"] for r in rows)
    worst["max_cond_H_old"] = max(r["cond_H_old"] for r in rows)
    worst["max_cond_H_new"] = max(r["cond_H_new"] for r in rows)
    return worst


@claim(
    "L5-affine-reparam",
    document=LECTURE,
    ref=INV + " (W~ = W Sigma^(1/2), b~ = b + W m; [R R^T]^{-1})",
    statement="With a~ = Sigma^(-1/2)(a - m), the weights W~ = W Sigma^(1/2), b~ = b + W m compute the "
              "same function; updates in these coordinates amount to premultiplying by R R^T, with "
              "R^{-1} = [[Sigma^(1/2) (x) I, 0], [m^T (x) I, 1]] and [R R^T]^{-1} = "
              "[[(Sigma + m m^T) (x) I, m (x) I], [m^T (x) I, 1]], which is supposed to approximate H.",
    checked="On 20 random linear layers (D 1..4, M 1..3, batch statistics m, Sigma with ||m|| 0.1..30), "
            "float64, column-major vec, symmetric Sigma^(1/2), the slide's '1' read as I_M: the "
            "function is unchanged, theta~ = R^{-1} theta, inv(R R^T) equals the block formula and "
            "equals the exact Gauss-Newton matrix of the squared loss, and one GD step on (W~, b~) "
            "mapped back equals theta - lr R R^T grad (all to round-off); it differs from a plain GD "
            "step (measured), and R^T H R = I (condition number 1).",
    expect=Verdict.CONFIRMED,
    proof="proofs/lecture_affine_reparam.py",
)
def check_affine_reparam() -> Evidence:
    found = affine_reparam_facts()
    errs = [v for k, v in found.items() if k.endswith("_over_tol")]
    holds = max(errs) <= 1.0 and found["min_plain_vs_new_step_rel"] > 1e-3
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"identities within {max(errs):.2g} x tol; block = Gauss-Newton H exactly, so GD in (W~, b~) "
            f"is GD preconditioned by H^-1: cond(H) up to {found['max_cond_H_old']:.3g} -> "
            f"{found['max_cond_H_new']:.3g}; plain GD step differs by >= {found['min_plain_vs_new_step_rel']:.2g} (rel.)",
        measured=found,
        tolerance=1.0,
        tolerance_reason="errors in units of 16 (D+1) M eps cond(R^{-1})^2 times the magnitude of the "
                         "compared quantity (see affine_reparam_facts)",
        counterexample=None if holds else found,
    )


# --------------------------------------------------------------------------- batch-centering gradient

def batch_centering_gradient_gap(formula: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *,
                                 cases: int = 25, seed: int = 5) -> dict:
    """W_bar from ``formula(S_bar, A)`` against autograd through Z = batch_center(A W^T), J = sum(h(Z)).

    S_bar = dJ/dZ (the error signal at the centered pre-activations). Autograd forms
    (S_bar - 1 mean(S_bar)^T)^T A, a sum of N products with magnitudes |S_bar|^T |A| (uncentered A
    cancels); the formula sums |S_bar|^T |A~|. Bound: 4 (N + 4) eps (|S_bar|^T |A| + |S_bar|^T |A~|).
    """
    rng = np.random.default_rng(seed)
    worst, worst_case, direct_gap = 0.0, None, 0.0
    for i in range(cases):
        n, d, m = int(rng.integers(2, 33)), int(rng.integers(1, 9)), int(rng.integers(1, 6))
        a = torch.from_numpy(rng.standard_normal((n, d)) + rng.uniform(-20, 20, size=d))
        w = torch.from_numpy(rng.standard_normal((m, d))).requires_grad_(True)
        target = torch.from_numpy(rng.standard_normal((n, m)))
        z = reparam.batch_center(a @ w.T)
        z_leaf = z.detach().requires_grad_(True)
        h = lambda t: 0.5 * (torch.tanh(t) - target).square().sum()  # noqa: E731
        (s_bar,) = torch.autograd.grad(h(z_leaf), z_leaf)
        (w_bar,) = torch.autograd.grad(h(z), w)
        a_t = reparam.batch_center(a)
        tol = 4 * (n + 4) * EPS64 * (s_bar.abs().mT @ a.abs() + s_bar.abs().mT @ a_t.abs())
        err = float(((formula(s_bar, a) - w_bar).abs() / tol).max())
        direct_gap = max(direct_gap, float(((s_bar.mT @ a - w_bar).abs() / tol).max()))
        if err > worst:
            worst, worst_case = err, {"seed": seed, "case": i, "n": n, "d": d, "m": m}
    return {"worst_err_over_tol": worst, "worst_case": worst_case, "direct_path_only_err_over_tol": direct_gap}


@claim(
    "L5-batch-centering-grad",
    document=LECTURE,
    ref='slide "A Wrinkle" (W_bar = S_bar^T A~ with batch centering)',
    statement="Without batch centering the weight gradient is W_bar = S_bar^T A; with batch centering "
              "of the pre-activations it is W_bar = S_bar^T A~, A~ the centered activations; the "
              "statistics path is responsible for the difference.",
    checked="For 25 random layers (N 2..32, uncentered inputs with means up to 20): with "
            "S_bar = dJ/dZ at Z = batch_center(A W^T), S_bar^T batch_center(A) equals autograd's "
            "dJ/dW within 4(N+4) eps (|S_bar|^T|A| + |S_bar|^T|A~|) per entry; the direct path alone "
            "(S_bar^T A, i.e. the statistics path detached) does not.",
    expect=Verdict.CONFIRMED,
    proof="proofs/lecture_affine_reparam.py",
)
def check_batch_centering_grad() -> Evidence:
    found = batch_centering_gradient_gap(lambda s_bar, a: s_bar.mT @ reparam.batch_center(a))
    holds = found["worst_err_over_tol"] <= 1.0 and found["direct_path_only_err_over_tol"] > 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"S_bar^T A~ vs autograd: {found['worst_err_over_tol']:.2g} x tol; direct path only: "
            f"{found['direct_path_only_err_over_tol']:.2g} x tol",
        measured=found,
        tolerance=1.0,
        tolerance_reason="entrywise forward-error bound of N-term sums, 4 (N+4) eps times the sums of "
                         "absolute products (batch_centering_gradient_gap)",
        counterexample=None if holds else found["worst_case"],
    )


# --------------------------------------------------------------------------- K-FAC affine invariance

def _softmax_model(seed: int, n: int = 64, d: int = 3, classes: int = 3):
    g = np.random.default_rng(seed)
    x = torch.from_numpy(g.standard_normal((n, d)))
    y = torch.from_numpy(g.integers(0, classes, size=n))
    w_bar = torch.from_numpy(0.3 * g.standard_normal((classes, d + 1)))
    t = torch.from_numpy(g.standard_normal((d, d)) + 2 * np.eye(d))
    c = torch.from_numpy(g.uniform(-5, 5, size=d))
    return x, y, w_bar, t, c


def _grad_and_factors(x, y, w_bar, damping):
    xb = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    w_ = w_bar.clone().requires_grad_(True)
    logits = xb @ w_.mT
    (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, y), w_)
    p = torch.softmax(logits.detach(), dim=1)
    s = (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]).mean(dim=0) + damping * torch.eye(p.shape[1], dtype=p.dtype)
    return grad, xb.mT @ xb / x.shape[0], s, logits.detach()


def affine_invariance_run(step: Callable, *, seed: int = 6, steps: int = 20, lr: float = 0.5,
                          damping: float = 0.1) -> dict:
    """Train multinomial logistic regression on x and on x' = T x + c (weights mapped by
    W_bar' = W_bar U^{-1}, U = [[T, c], [0, 1]]) with ``step(w_bar, grad, A_bar, S, lr)`` and compare
    the logits of the two runs after every step (relative to the logits' size)."""
    x, y, w0, t, c = _softmax_model(seed)
    u = torch.eye(x.shape[1] + 1, dtype=x.dtype)
    u[:-1, :-1], u[:-1, -1] = t, c
    x2 = x @ t.mT + c
    w, w2 = w0.clone(), torch.linalg.solve(u.mT, w0.mT).mT
    gaps = []
    for _ in range(steps):
        g1, a1, s1, z1 = _grad_and_factors(x, y, w, damping)
        g2, a2, s2, z2 = _grad_and_factors(x2, y, w2, damping)
        w, w2 = step(w, g1, a1, s1, lr), step(w2, g2, a2, s2, lr)
        z1, z2 = torch.cat([x, torch.ones_like(x[:, :1])], 1) @ w.mT, torch.cat([x2, torch.ones_like(x[:, :1])], 1) @ w2.mT
        gaps.append(float((z1 - z2).abs().max() / z1.abs().max()))
    cond = float(torch.linalg.cond(a2)) * float(torch.linalg.cond(u))
    return {"gaps": gaps, "max_gap": max(gaps), "cond_A_prime_times_cond_U": cond}


def _sgd(w, grad, a_bar, s, lr):
    return w - lr * grad


def _draw_kfac(evidence: Evidence):
    from normtheory.figures import new_figure

    fig = new_figure()
    ax = fig.add_subplot()
    for label, gaps in evidence.series.items():
        ax.semilogy(np.arange(1, len(gaps) + 1), np.maximum(np.array(gaps), 1e-18), "o-", label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("max |logits - logits'| / max |logits|")
    ax.set_title("Same model, inputs x vs Tx + c: K-FAC commutes, SGD does not", fontsize=10)
    ax.legend(fontsize=8)
    return fig


@claim(
    "L5-kfac-affine-invariance",
    document=LECTURE,
    ref=INV + ' ("K-FAC is invariant to affine transformations of the layer as a whole")',
    statement="K-FAC is invariant to affine transformations of a layer's inputs: two networks that "
              "compute the same function before a K-FAC step still do after it.",
    checked="Multinomial logistic regression (N 64, D 3, 3 classes, float64), inputs x vs "
            "x' = T x + c (cond(T) ~ 10, |c| up to 5) with weights mapped so the functions agree; "
            "20 steps of K-FAC (A = E[a_bar a_bar^T], S = E[diag p - p p^T] + 0.1 I) keep the logits "
            "equal within 16 (D+1)^2 eps cond(A') cond(U) per step; 20 plain SGD steps do not "
            "(relative gap > 1e-3).",
    expect=Verdict.CONFIRMED,
    figure=_draw_kfac,
)
def check_kfac_affine_invariance() -> Evidence:
    kfac = affine_invariance_run(lambda w, g, a, s, lr: curvature.kfac_step(w, g, a, s, lr=lr))
    sgd = affine_invariance_run(_sgd)
    # each step solves with A' (error ~ cond(A') eps) and maps through U (cond(U)); errors add per step
    tol = 16 * 4**2 * EPS64 * kfac["cond_A_prime_times_cond_U"] * len(kfac["gaps"])
    holds = kfac["max_gap"] <= tol and sgd["max_gap"] > 1e-3
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"K-FAC logits gap {kfac['max_gap']:.2g} (tol {tol:.2g}); SGD gap {sgd['max_gap']:.2g} after 20 steps",
        measured={"kfac_max_gap": kfac["max_gap"], "sgd_max_gap": sgd["max_gap"],
                  "cond_A_prime_times_cond_U": kfac["cond_A_prime_times_cond_U"]},
        tolerance=tol,
        tolerance_reason="16 (D+1)^2 eps cond(A') cond(U) per step (a linear solve with A' and the map "
                         "through U), times 20 steps",
        counterexample=None if holds else {"seed": 6, "kfac_gaps": kfac["gaps"]},
        series={"K-FAC": kfac["gaps"], "SGD": sgd["gaps"]},
    )
