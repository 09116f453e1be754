"""Lecture: invariances of batch normalization, and the conditions they need.

Source: Grosse, CSC 2541 Lecture 5 (``002_cd849d122e313ad8.txt``), slides "Implicit Learning Rate
Decay" (BN(A W^T) = BN(A W^T Gamma) for diagonal Gamma > 0) and "A Wrinkle" (BN applied to the next
layer's pre-activations makes the layer invariant to rescaling and shifting its input). The
per-unit rescaling measurements are :mod:`normtheory.batch_norm_rescaling` (shared with the
conformance claims on torch's batch_norm); derivations: ``proofs/invariance_eps.py``.
"""

from __future__ import annotations

import numpy as np
import torch

from normtheory import reparam
from normtheory.batch_norm_rescaling import BatchNorm, bn_unit_rescaling, pre_activations
from normtheory.registry import LECTURE, Evidence, Verdict, claim, decide
from normtheory.roundoff import EPS64, centered_tolerance
from normtheory.toy_models import BNNet


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
    proof="proofs/invariance_eps.py",
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
        tolerance_reason="errors in units of roundoff.centered_tolerance(d+1, batch, kappa), "
                         "kappa from |A||W|^T over the batch std",
        counterexample=None if holds else found["worst_case"],
    )


def network_rescaling(bn: BatchNorm, *, cases: int = 40, seed: int = 6, affine: bool = False) -> dict:
    """max |logits(Gamma W) - logits(W)| / bound over seeded nets, every layer's rows rescaled by its
    own positive diagonal Gamma (entries 1e-20..1e20); ``changed_without_bn``: the same nets with the
    normalization removed, relative change of the logits (the control)."""
    rng = np.random.default_rng(seed)
    worst, worst_case, control = 0.0, None, np.inf
    for i in range(cases):
        net = BNNet(seed=seed * 1000 + i)
        ws = net.weights(seed * 1000 + i + 1)
        gammas = [torch.from_numpy(10.0 ** rng.uniform(-20, 20, size=(w.shape[0], 1))) for w in ws]
        scaled = [g * w for g, w in zip(gammas, ws)]
        err = float((net.logits(scaled, bn, affine=affine) - net.logits(ws, bn, affine=affine)).abs().max())
        ratio = err / net.roundoff_bound(ws, affine=affine) if np.isfinite(err) else np.inf
        if ratio > worst:
            worst, worst_case = ratio, {"seed": seed, "case": i}
        plain = net.logits(ws, lambda z: z)
        control = min(control, float((net.logits(scaled, lambda z: z) - plain).abs().max() / plain.abs().max()))
    return {"err_over_tol": worst, "worst_case": worst_case, "min_change_without_bn": control, "cases": cases}


@claim(
    "L5-bn-eps",
    document=LECTURE,
    ref='slide "Batch Normalization" (BN defined without eps, the fitted mean/variance parameters set '
        'aside) with slide "Implicit Learning Rate Decay" (f_l(A, W) = f_l(A, Gamma W), the network as a whole)',
    statement="With BN as the slides define it, (X - 1 mu^T) divided by the batch standard deviation (no eps, "
              "and ignoring the mean and variance parameters fit after normalization in practice), each "
              "layer phi(BN(A W^T)) and therefore the network as a whole are invariant to rescaling each "
              "unit's incoming weights by a positive factor.",
    checked="40 seeded two-hidden-layer networks x -> tanh(BN(x W1^T)) -> tanh(BN(h W2^T)) -> logits "
            "(float64, N = 16, inputs with nonzero means): rescaling every layer's rows by positive diagonal "
            "Gammas (entries 1e-20..1e20) leaves the logits unchanged within the round-off bound carried "
            "through the layers (BNNet.roundoff_bound); the same holds with the per-unit scale and shift "
            "after BN that the slide sets aside; control: without BN the logits change.",
    expect=Verdict.CONFIRMED,
    proof="proofs/invariance_eps.py",
)
def check_bn_eps() -> Evidence:
    plain = network_rescaling(reparam.batch_norm)
    affine = network_rescaling(reparam.batch_norm, affine=True)
    holds = plain["err_over_tol"] <= 1.0 and affine["err_over_tol"] <= 1.0
    control_differs = plain["min_change_without_bn"] > 1e-3
    return Evidence(
        verdict=decide(holds_as_stated=holds and control_differs),
        key=f"logits under per-unit rescaling of every layer: {plain['err_over_tol']:.2g} x tol; with the "
            f"affine parameters: {affine['err_over_tol']:.2g} x tol; without BN they change by >= "
            f"{plain['min_change_without_bn']:.2g}",
        measured={"slides_bn": plain, "with_affine_parameters": affine},
        tolerance=1.0,
        tolerance_reason="errors in units of BNNet.roundoff_bound: each layer's batch-norm round-off "
                         "(centered_tolerance) plus the previous layer's error carried through the matmul",
        counterexample=None if holds and control_differs else {"slides_bn": plain, "affine": affine},
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
        x, kappa = pre_activations(a, w)
        base = bn(x)
        shift = torch.from_numpy(rng.uniform(-100, 100, size=d))
        scale = float(10.0 ** rng.uniform(-30, 30))
        per_feature = torch.from_numpy(10.0 ** rng.uniform(-1, 1, size=d))
        for name, a2 in (("shift", a + shift), ("positive_scalar", scale * a)):
            x2, kappa2 = pre_activations(a2, w)
            tol = centered_tolerance(d + 1, batch, max(kappa, kappa2))
            worst[name] = max(worst[name], float((bn(x2) - base).abs().max()) / tol)
        for name, a2 in (("negative_scalar", -scale * a), ("per_feature", a * per_feature)):
            x2, kappa2 = pre_activations(a2, w)
            tol = centered_tolerance(d + 1, batch, max(kappa, kappa2))
            changed[name] += float((bn(x2) - base).abs().max()) > tol
    return {"worst_err_over_tol": worst, "cases_changed": changed, "cases": cases}


def shifted_input_gradients(bn: BatchNorm, *, steps: int = 30, lr: float = 0.5, seed: int = 7) -> dict:
    """Along an SGD trajectory of W for the layer loss L(A, W) = CE(tanh(BN(A W^T)) U, y), compare
    grad_W L(A + 1 c^T, W_t) with grad_W L(A, W_t) at every W_t. Equal gradients at every point mean,
    by induction, identical trajectories (the slide's "optimization trajectories are identical").

    Round-off (per entry of W's gradient for unit j): the backward pass through BN forms
    G_j^T A'/sigma_j with G_j summing to zero over the batch; in float it leaves up to
    8 (N + d + 8) eps sum_n |G_nj| (|A_n| + |c|)_i / sigma_j, with the forward error (cancellation
    kappa' of the shifted pre-activations) adding a factor (1 + kappa').
    """
    rng = np.random.default_rng(seed)
    batch, d, units, classes = 24, 5, 4, 3
    a = torch.from_numpy(rng.standard_normal((batch, d)))
    c = torch.from_numpy(rng.uniform(-20, 20, size=d))
    head = torch.from_numpy(rng.standard_normal((units, classes)))
    y = torch.from_numpy(rng.integers(0, classes, size=batch))
    w = torch.from_numpy(rng.standard_normal((units, d)))

    def grads(inputs, weight):
        weight = weight.clone().requires_grad_(True)
        z = bn(inputs @ weight.T)
        z_leaf = z.detach().requires_grad_(True)
        (g_z,) = torch.autograd.grad(torch.nn.functional.cross_entropy(torch.tanh(z_leaf) @ head, y), z_leaf)
        (g_w,) = torch.autograd.grad(torch.nn.functional.cross_entropy(torch.tanh(z) @ head, y), weight)
        return g_w, g_z

    worst, shifted_w = 0.0, w.clone()
    for _ in range(steps):
        g, g_z = grads(a, w)
        g_shift, _ = grads(a + c, w)
        pre = (a + c) @ w.T
        std = pre.std(dim=0, unbiased=False)
        kappa = float(((a.abs() + c.abs()) @ w.abs().T).amax(dim=0).div(std).max())
        scale = (g_z.abs().mT @ (a.abs() + c.abs())) / std[:, None]
        tol = 8 * (batch + d + 8) * EPS64 * (1 + kappa) * scale
        err = ((g_shift - g).abs() / tol).max()
        worst = max(worst, float(err) if torch.isfinite(err) else float("inf"))
        w = w - lr * g
        shifted_w = shifted_w - lr * g_shift
    return {"gradient_err_over_tol": worst, "steps": steps,
            "end_trajectory_gap": float((shifted_w - w).abs().max() / w.abs().max())}


@claim(
    "L5-bn-input-shift-rescale",
    document=LECTURE,
    ref='slide "A Wrinkle" (BN before the activation)',
    statement="A layer phi(BN(A W^T)) is invariant to rescaling and shifting its input activations A; "
              "if the activations are shifted, the network computes the same function for every W, so "
              "the optimization trajectories are identical.",
    checked="For fixed W (100 seeded layers, float64): invariant to round-off to A -> A + 1 c^T for any "
            "c and to A -> s A for a scalar s > 0 (rescaling read as on the slide 'Implicit Learning "
            "Rate Decay': by a positive scalar); and along a 30-step SGD trajectory the gradient in W "
            "for shifted inputs (|c| up to 20) equals the unshifted one at every W_t within its "
            "round-off bound, so the trajectories coincide. Reported, not part of the statement: a "
            "negative s and a per-feature rescaling A D (what a per-unit variance change would be).",
    expect=Verdict.CONFIRMED,
    proof="proofs/invariance_eps.py",
)
def check_bn_input_shift_rescale() -> Evidence:
    found = bn_input_transforms(reparam.batch_norm)
    trajectory = shifted_input_gradients(reparam.batch_norm)
    holds = all(v <= 1.0 for v in found["worst_err_over_tol"].values()) and trajectory["gradient_err_over_tol"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"shift/positive scale err <= {max(found['worst_err_over_tol'].values()):.2g} x tol; gradients "
            f"along the trajectory {trajectory['gradient_err_over_tol']:.2g} x tol; not invariances: "
            f"s<0 changed {found['cases_changed']['negative_scalar']}/{found['cases']}, per-feature D "
            f"{found['cases_changed']['per_feature']}/{found['cases']}",
        measured={**found, "trajectory": trajectory},
        tolerance=1.0,
        tolerance_reason="errors in units of roundoff.centered_tolerance with kappa of both inputs; "
                         "gradients in units of shifted_input_gradients' backward-pass bound",
        counterexample=None if holds else {**found, "trajectory": trajectory},
    )
