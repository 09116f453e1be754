"""Paper: Theorem 1 with Adam -- can a learning-rate schedule stand in for weight decay?

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``), Theorem 1 (proved for plain SGD) and
Table II (trained with Adam and weight decay). PAPER-thm1-adam asks whether any decay-free Adam schedule
reproduces the weight-decay trajectory of a WN layer: a decay-free Adam step can only reach points in
span{U_t, D_t}, so the least-squares residual of fitting the decay run's next weight in that span
decides (refuted: it is far above round-off). The SGD and momentum forms are
:mod:`normtheory.claims.paper_theorem1`.

Exact model: :class:`normtheory.models.ScaleInvariantNet` ("wn", seed 7, float64), full batch, torch's
Adam / AdamW (:func:`normtheory.toy_models.train_full_batch`); the counterexample replays from its JSON
evidence alone (:func:`replay_thm1_adam`).
"""

from __future__ import annotations

import torch

from normtheory._threads import single_thread
from normtheory.claims._replay import net_from_record, net_record
from normtheory.models import ScaleInvariantNet
from normtheory.registry import PAPER, Evidence, Verdict, claim, decide
from normtheory.roundoff import EPS64
from normtheory.toy_models import train_full_batch

__all__ = ["ADAM_BETAS", "ADAM_EPS", "adam_span_residuals", "replay_thm1_adam"]

MODEL_SEED = 7  # the model of paper_theorem1's checks
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def _least_squares(design: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """argmin ||design x - target|| by Householder QR (full column rank here): reproducible bit for bit
    across calls, unlike torch.linalg.lstsq's default CPU driver (measured: last-digit differences)."""
    q, r = torch.linalg.qr(design)
    return torch.linalg.solve_triangular(r, q.mT @ target, upper=True)


def adam_span_residuals(*, steps: int = 30, lr: float = 0.01, lam: float = 0.1, seed_scale: float = 1.0,
                        optimizer: str = "adam", net: ScaleInvariantNet | None = None, v0: torch.Tensor | None = None,
                        betas: tuple[float, float] = ADAM_BETAS, adam_eps: float = ADAM_EPS) -> dict:
    """See _adam_span_residuals; the default model and v0 = net.init() * seed_scale unless given."""
    if net is None:
        net = ScaleInvariantNet("wn", seed=MODEL_SEED)
    if v0 is None:
        v0 = net.init() * seed_scale
    with single_thread():
        return _adam_span_residuals(net, v0, steps=steps, lr=lr, lam=lam, optimizer=optimizer,
                                    betas=tuple(betas), adam_eps=adam_eps)


def _adam_span_residuals(net: ScaleInvariantNet, v0: torch.Tensor, *, steps: int, lr: float, lam: float,
                         optimizer: str, betas: tuple[float, float], adam_eps: float) -> dict:
    """Adam with coupled L2 decay vs any decay-free Adam schedule.

    A decay-free Adam step is U_{t+1} = U_t - lr_t D_t with D_t = mhat/(sqrt(vhat)+eps) fixed by
    the past, whatever lr_t. Matching the WN directions needs, for every unit j, U_t[j] - lr_t D_t[j]
    = s_j A_{t+1}[j] with s_j > 0 and one common lr_t: a linear system in (s_1..s_J, lr_t) with
    J n equations. The relative least-squares residual of that fit is computed
    at each step (following the forced unique solution while the residual is at round-off level);
    a residual far above round-off is a counterexample no schedule can avoid. At the first step
    nothing is free but lr_0 and the s_j (U_0 = v0, D_0 is fixed by the first gradient), so the
    first-step residual alone decides.
    """
    decay = train_full_batch(net, v0, lr=lr, steps=steps, weight_decay=lam, optimizer=optimizer, betas=betas,
                    adam_eps=adam_eps)
    w = [net.normalized(x) for x in decay["directions"]]  # normalized decay weights = directions
    beta1, beta2, eps = betas[0], betas[1], adam_eps
    u = v0.clone()
    m = torch.zeros_like(u)
    s2 = torch.zeros_like(u)
    residuals = []
    for t in range(steps):
        uu = u.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(net(uu), uu)
        m = beta1 * m + (1 - beta1) * grad
        s2 = beta2 * s2 + (1 - beta2) * grad**2
        d = (m / (1 - beta1 ** (t + 1))) / ((s2 / (1 - beta2 ** (t + 1))).sqrt() + eps)
        # unknowns: one scale s_j per unit (WN fixes only each unit's direction) and the common lr_t:
        # U_t = s_j A_{t+1, j} + lr_t D_t, row by row
        rows, n_in = u.shape
        design = torch.zeros(rows * n_in, rows + 1, dtype=u.dtype)
        for j in range(rows):
            design[j * n_in:(j + 1) * n_in, j] = w[t + 1][j]
        design[:, rows] = d.reshape(-1)
        target = u.reshape(-1, 1)
        coef = _least_squares(design, target)
        fit = design @ coef
        residuals.append(float(torch.linalg.vector_norm(fit - target) / torch.linalg.vector_norm(target)))
        # follow the least-squares choice: U_{t+1} = U_t - lr_t D_t
        u = u - float(coef[rows]) * d
    return {"residuals": residuals, "first_step_residual": residuals[0], "max_residual": max(residuals),
            "lr": lr, "lam": lam, "steps": steps, "model_seed": net.seed}


def replay_thm1_adam(evidence: dict) -> dict:
    """Rerun PAPER-thm1-adam's span test from the JSON evidence alone (model, data, v0, Adam settings)."""
    ce = evidence["counterexample"]
    net, v0 = net_from_record(ce["model"])
    opt = ce["optimizer"]
    found = adam_span_residuals(steps=ce["steps"], lr=opt["lr"], lam=opt["weight_decay"], optimizer="adam",
                                net=net, v0=v0, betas=tuple(opt["betas"]), adam_eps=opt["eps"])
    return {"first_step_residual": found["first_step_residual"], "max_residual": found["max_residual"]}


@claim(
    "PAPER-thm1-adam",
    document=PAPER,
    ref="Theorem 1 with Adam (Table II's second optimizer)",
    statement="Weight decay on normalized weights only modulates the effective learning rate, so a "
              "learning-rate schedule could stand in for it (the paper proves this for SGD and uses Adam "
              "with weight decay in Table II).",
    checked="torch Adam with coupled L2 (weight_decay=0.1, lr=0.01) on the WN model: at each step the "
            "relative residual of fitting the decay run's W_{t+1} in span{U_t, D_t} (the only points a "
            "decay-free Adam step can reach with any lr_t). A residual above 1e3 x (n eps) at some "
            "step means no learning-rate schedule reproduces the trajectory. The same residual is "
            "reported for AdamW (decoupled decay, torch.optim.AdamW) in measured.",
    expect=Verdict.REFUTED,
    replay=replay_thm1_adam,
)
def check_thm1_adam() -> Evidence:
    net = ScaleInvariantNet("wn", seed=MODEL_SEED)
    found = adam_span_residuals()
    decoupled = adam_span_residuals(optimizer="adamw")
    found["adamw_max_residual"] = decoupled["max_residual"]
    found["adamw_first_step_residual"] = decoupled["first_step_residual"]
    n = 30  # entries of the weight (5 x 6): a least-squares fit in n dims has round-off ~ n eps
    threshold = 1e3 * n * EPS64
    holds = found["max_residual"] <= threshold
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"W_(t+1) off span{{U_t, D_t}} by {found['max_residual']:.2g} (relative; first step "
            f"{found['first_step_residual']:.2g}) >> {threshold:.1g}; AdamW: {found['adamw_max_residual']:.2g}",
        measured=found,
        tolerance=threshold,
        tolerance_reason="1e3 x n eps: a least-squares residual in n = 30 dims is ~ n eps when the point "
                         "lies in the span; three orders of headroom",
        counterexample=None if holds else {
            "model": net_record(net, net.init()), "steps": 30,
            "optimizer": {"name": "torch.optim.Adam", "lr": 0.01, "weight_decay": 0.1, "betas": list(ADAM_BETAS),
                          "eps": ADAM_EPS, "amsgrad": False},
            "test": "least-squares residual of U_t = s_j A_(t+1),j + lr_t D_t per unit (D_t the decay-free Adam "
                    "direction at U_t, A_(t+1) the decay run's normalized weight), following the fitted lr_t",
            "reproduces": {"first_step_residual": found["first_step_residual"],
                           "max_residual": found["max_residual"]},
        },
    )
