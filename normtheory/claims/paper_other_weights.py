"""Paper: the weights the eps-shift is not applied to (Sec. 6.1): do BN and fc weights escape the
problems of the L2 term on normalized weights?

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``), Sec. 6.1 (last sentence of the ImageNet
paragraph): only the normalized weights get the eps-shifted regularizer; BN and fc weights keep the
plain L2 term because they do not suffer from the problems of Secs. 4.1-4.2 (no global minimum, the
weights pushed towards 0).

Exact float64 models:

* the fc layer: a linear softmax classifier on fixed features (the network's last layer);
* a BN affine pair (gamma, beta) as it sits inside a ResNet bottleneck: BN -> gamma x + beta -> ReLU ->
  linear -> BN (batch norm of :mod:`normtheory.reparam`, eps = 0 as in the paper's analysis), read out
  by a fixed head. ReLU is positively homogeneous and the second BN removes a positive scale, so the
  loss is invariant to (gamma, beta) -> c (gamma, beta), c > 0: the same symmetry as WN's.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import torch

from normtheory import regularizers as rg
from normtheory import reparam
from normtheory._threads import single_thread
from normtheory.claims._roundoff import EPS64
from normtheory.registry import PAPER, Evidence, Verdict, claim, decide

__all__ = ["block_data", "bn_affine_loss", "bn_affine_scan", "fc_minimum", "replay_other_weights"]


def block_data(seed: int = 0, *, batch: int = 32, d: int = 6, h: int = 5, classes: int = 3) -> dict:
    """Seeded inputs, labels, the fixed weights of the bottleneck piece and the affine pair."""
    g = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    return {"x": torch.randn(batch, d, generator=g, dtype=f64), "y": torch.randint(0, classes, (batch,), generator=g),
            "w1": torch.randn(h, d, generator=g, dtype=f64), "w2": torch.randn(h, h, generator=g, dtype=f64),
            "head": torch.randn(h, classes, generator=g, dtype=f64),
            "gamma": 1 + 0.3 * torch.randn(h, generator=g, dtype=f64), "beta": 0.3 * torch.randn(h, generator=g, dtype=f64)}


def bn_affine_loss(data: dict, gamma: torch.Tensor, beta: torch.Tensor, *, next_bn_eps: float = 0.0,
                   next_bn: bool = True) -> torch.Tensor:
    """Cross-entropy of head(BN(relu(gamma BN(x W1^T) + beta) W2^T)); ``next_bn_eps``: the second BN's
    eps; ``next_bn=False``: no BN after the linear map (like a bottleneck's last BN, whose output
    joins the residual sum)."""
    z = reparam.batch_norm(data["x"] @ data["w1"].T)
    a = torch.relu(gamma * z + beta) @ data["w2"].T
    out = reparam.batch_norm(a, eps=next_bn_eps) if next_bn else a
    return torch.nn.functional.cross_entropy(out @ data["head"], data["y"])


def bn_affine_scan(data: dict, *, lam: float = 0.1, scales=(1e-3, 1e-1, 10.0, 1e3), next_bn_eps: float = 0.0,
                   next_bn: bool = True) -> dict:
    """J(c gamma, c beta) - J(gamma, beta) over c (in units of the loss's round-off), and the radial
    derivative of J + 1/2 lam ||(gamma, beta)||^2 along (gamma, beta), over lam ||(gamma, beta)||^2."""
    gamma, beta = data["gamma"], data["beta"]
    kw = {"next_bn_eps": next_bn_eps, "next_bn": next_bn}
    base = float(bn_affine_loss(data, gamma, beta, **kw))
    tol = 8 * (data["x"].shape[0] + data["w1"].shape[1] + 20) * EPS64 * max(abs(base), 1.0)
    changes = {str(c): (float(bn_affine_loss(data, c * gamma, c * beta, **kw)) - base) / tol
               for c in scales}
    c = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    theta = torch.cat([gamma, beta])
    obj = bn_affine_loss(data, c * gamma, c * beta, **kw) + rg.l2_penalty(c * theta, lam=lam)
    (slope,) = torch.autograd.grad(obj, c)
    return {"loss_change_over_tol": changes, "radial_slope": float(slope),
            "lam_norm_sq": lam * float(theta.square().sum()), "loss": base}


def fc_minimum(data: dict, *, lam: float = 0.1) -> dict:
    """BFGS on CE(F W^T) + 1/2 lam ||W||^2 for the fc layer on the bottleneck's features F (fixed):
    the final gradient norm, ||W*||, and the objective along the ray c W* (an interior minimum at c = 1)."""
    with torch.no_grad():
        feats = reparam.batch_norm(torch.relu(data["gamma"] * reparam.batch_norm(data["x"] @ data["w1"].T) + data["beta"])
                                   @ data["w2"].T)
    classes = data["head"].shape[1]

    def obj(wv: torch.Tensor) -> torch.Tensor:
        w = wv.reshape(classes, -1)
        return torch.nn.functional.cross_entropy(feats @ w.T, data["y"]) + rg.l2_penalty(w, lam=lam)

    def fg(x):
        w = torch.from_numpy(x).requires_grad_(True)
        f = obj(w)
        (g,) = torch.autograd.grad(f, w)
        return float(f.detach()), g.numpy()

    res = scipy.optimize.minimize(fg, np.zeros(classes * feats.shape[1]), jac=True, method="BFGS",
                                  options={"gtol": 1e-12, "maxiter": 1000})
    w_star = torch.from_numpy(res.x)
    ray = {str(c): float(obj(c * w_star)) - float(res.fun) for c in (0.5, 0.9, 1.1, 2.0)}
    return {"grad_norm": float(np.linalg.norm(fg(res.x)[1])), "norm": float(torch.linalg.vector_norm(w_star)),
            "ray_minus_min": ray, "objective": float(res.fun)}


def replay_other_weights(evidence: dict) -> dict:
    ce = evidence["counterexample"]
    data = {k: torch.tensor(v, dtype=torch.int64 if k == "y" else torch.float64) for k, v in ce["data"].items()}
    scan = bn_affine_scan(data, lam=ce["lam"])
    return {"radial_slope": scan["radial_slope"], "lam_norm_sq": scan["lam_norm_sq"]}


@claim(
    "PAPER-other-weights",
    document=PAPER,
    ref="Sec. 6.1 (last sentence of the ImageNet paragraph)",
    statement="BN and fc layer weights keep the traditional weight decay (no eps-shift) because they do not suffer "
              "from the problems of the L2 term on normalized weights (no global minimum, weights pushed to 0).",
    checked="float64, lambda = 0.1: (fc) BFGS on a linear softmax layer plus 1/2 lambda ||W||^2 ends at a stationary "
            "W* != 0 (||grad|| < 1e-8) that is the minimum along its ray (c = 0.5, 0.9, 1.1, 2 all higher); (BN) for "
            "an affine pair inside a bottleneck (BN -> affine -> ReLU -> linear -> BN, eps 0), the loss is unchanged "
            "by (gamma, beta) -> c (gamma, beta) for c = 1e-3..1e3 (to round-off) and the radial derivative of the "
            "objective is lambda ||(gamma, beta)||^2 > 0: no minimum, as for WN. The second BN's eps (torch: "
            "1e-5) is reported: it breaks the invariance at small c; so is a BN with no BN after it (a bottleneck's "
            "last, feeding the residual sum): not invariant.",
    expect=Verdict.CORRECTED,
    replay=replay_other_weights,
)
def check_other_weights() -> Evidence:
    lam = 0.1
    data = block_data()
    with single_thread():
        fc = fc_minimum(data, lam=lam)
        bn = bn_affine_scan(data, lam=lam)
        bn_eps = bn_affine_scan(data, lam=lam, next_bn_eps=1e-5)
        bn_last = bn_affine_scan(data, lam=lam, next_bn=False)
    fc_ok = fc["grad_norm"] < 1e-8 and fc["norm"] > 0 and all(v > 0 for v in fc["ray_minus_min"].values())
    slope_tol = 8 * (data["x"].shape[0] + 20) * EPS64 * (bn["lam_norm_sq"] + 1)
    bn_invariant = all(abs(v) <= 1 for v in bn["loss_change_over_tol"].values())
    bn_no_min = bn_invariant and abs(bn["radial_slope"] - bn["lam_norm_sq"]) <= slope_tol and bn["radial_slope"] > 0
    ce = {"data": {k: v.tolist() for k, v in data.items()}, "lam": lam,
          "model": "CE(BN(relu(gamma BN(x w1^T) + beta) w2^T) head, y), batch norm without eps (normtheory.reparam)",
          "question": "radial derivative d/dc of J(c gamma, c beta) + 1/2 lam ||c (gamma, beta)||^2 at c = 1"}
    ce["reproduces"] = replay_other_weights({"counterexample": ce})
    return Evidence(
        verdict=decide(holds_as_stated=fc_ok and not bn_no_min, holds_corrected=fc_ok and bn_no_min),
        key=f"fc: minimum at ||W*|| = {fc['norm']:.3g} (grad {fc['grad_norm']:.1g}); inner BN (gamma, beta): loss "
            f"scale-invariant (max {max(abs(v) for v in bn['loss_change_over_tol'].values()):.2g} x tol), radial slope = "
            f"lambda ||theta||^2 = {bn['radial_slope']:.3g} > 0: no minimum",
        measured={"fc": fc, "bn_affine": bn, "bn_affine_next_eps_1e-5": bn_eps, "bn_affine_no_bn_after": bn_last},
        tolerance=slope_tol,
        tolerance_reason="the radial slope against lambda ||theta||^2 within 8 (batch+20) eps (|slope| + 1); loss "
                         "changes in units of 8 (batch+d+20) eps |J|",
        counterexample=ce,
        corrected="True for the fc layer: its L2 objective has a minimum at W* != 0. Not for the affine parameters of "
                  "a BN that feeds ReLU, a convolution and another BN (the first two BNs of every ResNet bottleneck): "
                  "ReLU is positively homogeneous and the next BN removes the scale, so the loss is invariant to "
                  "(gamma, beta) -> c (gamma, beta) and 1/2 lambda ||(gamma, beta)||^2 has no minimum -- the same "
                  "problem as WN's, softened only by the next BN's eps.",
    )
