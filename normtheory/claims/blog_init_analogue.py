"""Blog: the scaled orthogonal initialisation's effect on convergence (a small analogue).

Source: the blog (``000_c4f6666b093bc660.txt``), "Norm Scaling": initialising the weights
orthogonally (then scaling by sqrt(d_k/d_{k-1})) "helps prevent gradient numerical stability
issues and improve convergence timing". The exact part (partial products perfectly conditioned)
is BLOG-init-lipschitz-targets; this claim is the training effect, on deep linear networks (the
setting where the init's conditioning is all that differs), against Gaussian init of the same
scale. Control: a single layer, where the two inits give the same convex problem's rate, so an
effect there would not be the init's conditioning.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from normtheory.claims._analogue import ABOVE, HOLDS, UNDECIDED, all_of, ci, finding, interval_json, part
from normtheory.lipschitz import partial_products
from normtheory.registry import BLOG, Evidence, Finding, Verdict, claim
from normtheory.scaling import scaled_orthogonal_

__all__ = ["INIT_SETUP", "deep_linear_gd", "init_runs", "init_decision"]

INIT_SETUP = {"width": 8, "depth": 6, "control_depth": 1, "lr": 0.1, "steps": 100, "seeds": 6,
              "cap_decades": 10.0,
              "target": "M = U diag(linspace(0.5, 1.5, width)) V^T, U, V Q factors of Gaussian matrices from "
                        "numpy default_rng([seed, 1]); loss 1/2 ||W_L ... W_1 - M||_F^2 (whitened inputs)",
              "inits": {"orthogonal": "normtheory.scaling.scaled_orthogonal_ (torch.Generator seeded with seed)",
                        "gaussian": "entries N(0, 1/width) from numpy default_rng([seed, 2])"}}


def _init(kind: str, depth: int, width: int, seed: int) -> list[np.ndarray]:
    if kind == "orthogonal":
        g = torch.Generator().manual_seed(seed)
        return [scaled_orthogonal_(torch.empty(width, width, dtype=torch.float64), generator=g).numpy()
                for _ in range(depth)]
    rng = np.random.default_rng([seed, 2])
    return [rng.standard_normal((width, width)) / math.sqrt(width) for _ in range(depth)]


def _target(width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 1])
    U, _ = np.linalg.qr(rng.standard_normal((width, width)))
    V, _ = np.linalg.qr(rng.standard_normal((width, width)))
    return U @ np.diag(np.linspace(0.5, 1.5, width)) @ V.T


def deep_linear_gd(weights: list[np.ndarray], target: np.ndarray, *, lr: float, steps: int) -> float:
    """Full-batch gradient descent on 1/2 ||W_L ... W_1 - M||_F^2 (whitened inputs); the final loss,
    ``inf`` if the run leaves the float range. dL/dW_k = (W_L..W_{k+1})^T E (W_{k-1}..W_1)^T."""
    ws = [w.copy() for w in weights]
    eye = np.eye(ws[0].shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            pre = [eye] + [p.numpy() for p in partial_products([torch.from_numpy(w) for w in ws])]
            err = pre[-1] - target
            if not np.isfinite(err).all():
                return math.inf
            post, grads = np.eye(target.shape[0]), [None] * len(ws)
            for k in range(len(ws) - 1, -1, -1):
                grads[k] = post.T @ err @ pre[k].T
                post = post @ ws[k]
            ws = [w - lr * g for w, g in zip(ws, grads)]
        final = partial_products([torch.from_numpy(w) for w in ws])[-1].numpy() - target
    loss = 0.5 * float(np.square(final).sum())
    return loss if math.isfinite(loss) else math.inf


def _effect(loss_gauss: float, loss_orth: float, cap: float) -> float:
    """log10(loss_gauss / loss_orth), capped at +-cap decades (a diverged run counts as cap decades worse)."""
    if not math.isfinite(loss_gauss) and not math.isfinite(loss_orth):
        return 0.0
    if not math.isfinite(loss_gauss):
        return cap
    if not math.isfinite(loss_orth):
        return -cap
    return max(-cap, min(cap, math.log10(max(loss_gauss, 1e-300) / max(loss_orth, 1e-300))))


def init_runs(setup: dict = INIT_SETUP) -> dict:
    """Per seed, at the test depth and the control depth: final losses of both inits and the effect."""
    out = {}
    for name, depth in (("deep", setup["depth"]), ("control", setup["control_depth"])):
        rows = []
        for seed in range(setup["seeds"]):
            target = _target(setup["width"], seed)
            losses = {kind: deep_linear_gd(_init(kind, depth, setup["width"], seed), target, lr=setup["lr"],
                                           steps=setup["steps"]) for kind in ("orthogonal", "gaussian")}
            rows.append({"seed": seed, **losses, "effect": _effect(losses["gaussian"], losses["orthogonal"],
                                                                   setup["cap_decades"])})
        out[name] = {"depth": depth, "rows": rows}
    return out


def init_decision(runs: dict) -> dict:
    """supports: the deep effect's interval lies above 0 and the control's does not; does not
    support: the deep effect's lies below 0; else inconclusive."""
    deep, control = (ci([r["effect"] for r in runs[k]["rows"]]) for k in ("deep", "control"))
    deep_part = part(deep, 0.0, predicted=ABOVE)
    control_part = part(control, 0.0, predicted=ABOVE)
    outcome = all_of([deep_part, UNDECIDED if control_part == HOLDS else HOLDS]) if deep_part == HOLDS else deep_part
    return {"deep_effect": interval_json(deep), "control_effect": interval_json(control),
            "deep_part": deep_part, "control_part": control_part, "finding": finding(outcome).value}


@claim(
    "BLOG-init-convergence",
    document=BLOG,
    ref="Norm Scaling (orthogonal init said to help gradient numerical stability and convergence timing)",
    statement="Initialising the weight matrices orthogonally helps prevent gradient numerical-stability issues and "
              "improves convergence timing.",
    checked="Analogue: deep linear networks (width 8, depth 6, whitened regression onto a target with singular "
            "values 0.5..1.5), full-batch GD lr 0.1 for 100 steps, 6 seeds: per seed, log10 of the final loss with "
            "Gaussian N(0, 1/width) init over that with the scaled orthogonal init (a diverged run counts as 10 "
            "decades worse); supports when its bootstrap interval lies above 0 and the single-layer control's "
            "does not, does not support when it lies below 0, otherwise inconclusive.",
    expect=Verdict.ANALOGUE,
    expect_finding=Finding.SUPPORTS,
)
def check_init_convergence() -> Evidence:
    runs = init_runs()
    d = init_decision(runs)
    return Evidence(
        verdict=Verdict.ANALOGUE, finding=Finding(d["finding"]),
        key=f"log10(loss Gaussian / loss orthogonal) after 100 steps: depth 6 {d['deep_effect']['estimate']:.2f} "
            f"[{d['deep_effect']['low']:.2f}, {d['deep_effect']['high']:.2f}], depth-1 control "
            f"{d['control_effect']['estimate']:.3f} [{d['control_effect']['low']:.3f}, {d['control_effect']['high']:.3f}]"
            f" -> {d['finding']}",
        measured={"setup": INIT_SETUP, "runs": runs, "decision": d},
        analogue="deep linear networks (width 8, depth 6) trained by full-batch GD instead of MLPs/ResNets on CIFAR-100 "
                 "with Adam; the init's conditioning is the only difference between the two arms")
