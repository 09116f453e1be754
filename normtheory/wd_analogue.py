r"""A seconds-long analogue of training a normalized layer with and without weight decay.

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``), Sec. 1 / Fig. 1 (under-fitting without
decay) and Sec. 3.2 / Fig. 2 (the effective learning rate with and without decay).

Model: one hidden layer of ``hidden`` tanh units on ``d`` inputs, read out by a fixed random head
(``c`` classes, cross-entropy), so the first layer's raw weight V is the only trained weight. The
*normalized* net uses WN per unit, ``tanh(x (V_j/||V_j||))``, and its loss is invariant to each
unit's scale (the paper's setting); the *control* uses V as it is. Data: ``n`` Gaussian inputs
labelled by a fixed random teacher (argmax of ``tanh(x A) B``), the same for every seed; a seed
fixes the initial V (``init_scale`` times a unit-variance draw divided by sqrt(d)) and the order
of the minibatches. Training: plain SGD with coupled L2 decay, V <- V - lr (grad + lam V), float64.

All seeds, both decay settings and both nets run as one batched computation (``4 seeds`` models),
so a whole sweep takes about a second on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from normtheory._threads import single_thread
from normtheory._validation import check_int_at_least, check_nonnegative, check_positive

__all__ = ["AnalogueRuns", "decay_sweep"]


@dataclass(frozen=True)
class AnalogueRuns:
    """Per-seed results of :func:`decay_sweep`, arrays of shape (seeds,) unless stated.

    ``loss[net][lam_key]``: full-data training loss averaged over the last ``tail`` evaluations;
    ``eff_lr[net][lam_key]``: (evaluations, seeds) mean over units of lr / ||V_j||^2 (the rate of
    the direction's change, Sec. 3.2 / lecture's alpha/||w||^2); ``loss_curve`` likewise (evals, seeds);
    ``steps_at``: the step of each evaluation. ``net`` in ("normalized", "control"), ``lam_key`` in
    ("0", "lam")."""

    loss: dict
    eff_lr: dict
    loss_curve: dict
    steps_at: np.ndarray
    settings: dict


def decay_sweep(*, seeds: int = 6, n: int = 256, d: int = 10, hidden: int = 32, classes: int = 4, steps: int = 300,
                batch: int = 16, lr: float = 1.0, lam: float = 1e-2, init_scale: float = 3.0, every: int = 25,
                tail: int = 4) -> AnalogueRuns:
    """Train the normalized net and the control, with ``lam`` and without decay, for ``seeds`` seeds."""
    for name, v in (("seeds", seeds), ("n", n), ("d", d), ("hidden", hidden), ("classes", classes),
                    ("steps", steps), ("batch", batch), ("every", every), ("tail", tail)):
        check_int_at_least(v, name, 1)
    check_positive(lr, "lr")
    check_nonnegative(lam, "lam")
    check_positive(init_scale, "init_scale")
    with single_thread():
        return _sweep(seeds, n, d, hidden, classes, steps, batch, lr, lam, init_scale, every, tail)


def _sweep(S, n, d, h, c, steps, batch, lr, lam, init_scale, every, tail) -> AnalogueRuns:
    f64 = torch.float64
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=f64)
    teacher_a = torch.randn(d, 16, generator=g, dtype=f64)
    teacher_b = torch.randn(16, c, generator=g, dtype=f64)
    y = (torch.tanh(x @ teacher_a) @ teacher_b).argmax(dim=1)
    # model m = block * S + seed, blocks: (normalized, 0), (normalized, lam), (control, 0), (control, lam)
    blocks = (("normalized", "0"), ("normalized", "lam"), ("control", "0"), ("control", "lam"))
    M = len(blocks) * S
    gs = torch.Generator().manual_seed(1)
    v0 = torch.randn(S, h, d, generator=gs, dtype=f64) * init_scale / d**0.5
    head = torch.randn(S, h, c, generator=gs, dtype=f64) / h**0.5
    v = v0.repeat(len(blocks), 1, 1).clone().requires_grad_(True)
    head = head.repeat(len(blocks), 1, 1)
    lams = torch.tensor([0.0 if k == "0" else lam for _, k in blocks], dtype=f64).repeat_interleave(S)[:, None, None]
    normalized = torch.tensor([net == "normalized" for net, _ in blocks]).repeat_interleave(S)[:, None, None]
    order = torch.stack([torch.randint(0, n, (steps, batch), generator=torch.Generator().manual_seed(100 + s))
                         for s in range(S)]).repeat(len(blocks), 1, 1)

    def losses(vv: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        w = torch.where(normalized, vv / torch.linalg.vector_norm(vv, dim=2, keepdim=True), vv)
        logits = torch.tanh(xb @ w.transpose(1, 2)) @ head
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, c), yb.reshape(-1), reduction="none")
        return ce.reshape(M, -1).mean(dim=1)

    full_x, full_y = x.expand(M, n, d), y.expand(M, n)
    curve, eff, at = [], [], []
    for t in range(steps):
        idx = order[:, t]
        (grad,) = torch.autograd.grad(losses(v, x[idx], y[idx]).sum(), v)
        with torch.no_grad():
            v -= lr * (grad + lams * v)
            if (t + 1) % every == 0 or t == steps - 1:
                curve.append(losses(v, full_x, full_y).numpy().copy())
                eff.append((lr / torch.linalg.vector_norm(v, dim=2).square()).mean(dim=1).numpy().copy())
                at.append(t + 1)
    curve_a, eff_a = np.array(curve), np.array(eff)
    out_loss, out_eff, out_curve = {}, {}, {}
    for b, (net, key) in enumerate(blocks):
        cols = slice(b * S, (b + 1) * S)
        out_loss.setdefault(net, {})[key] = curve_a[-tail:, cols].mean(axis=0)
        out_eff.setdefault(net, {})[key] = eff_a[:, cols]
        out_curve.setdefault(net, {})[key] = curve_a[:, cols]
    settings = {"seeds": S, "n": n, "d": d, "hidden": h, "classes": c, "steps": steps, "batch": batch, "lr": lr,
                "lam": lam, "init_scale": init_scale, "every": every, "tail": tail}
    return AnalogueRuns(out_loss, out_eff, out_curve, np.array(at), settings)
