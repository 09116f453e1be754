"""Paper analogues: the lambda sweep (Tables II-III), eps sensitivity (Table IV), implicit warm-up
(Figs. 4-5), on the digits data with WN/WS MLPs.

Protocol (fixed before running; nothing here was tuned after seeing results)
---------------------------------------------------------------------------
Model: ``mlp3`` (64-128-128-128-10, no biases) whose three hidden layers are WN or WS (per output
unit) followed by batch norm and ReLU; the classifier layer is plain. float32 throughout. Weights
start from Kaiming-normal init with ``mode="fan_out"`` (the paper's default init).

Optimizers (paper Sec. 6.1): SGD with momentum 0.9, lr 0.1; Adam with lr 1e-3 and default betas.
Both use the step schedule lr x 0.1 at 30%, 60% and 90% of the epochs (the paper divides by 10 every
30 of 100 epochs). Batch 64; 30 epochs (about 630 steps) in the full form.

Weight decay: on the normalized (WN/WS) weights, lambda in {1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 0}. The
paper's grid is 1e-2..1e-5 and 0; one decade above it is added because our runs have ~800 times fewer
steps than 100 ImageNet epochs, so the product lr*lambda*steps that drives ||W|| down is smaller.
The plain regularizer is coupled L2 (``weight_decay`` of torch's SGD/Adam, the gradient of
lambda/2 ||W||^2, as in the paper's objective Eq. (8)). Other parameters: batch-norm gains and the
classifier weight at 1e-4, batch-norm biases at 0 (paper Sec. 6.1).

Table III analogue: the same grid (lambda > 0) with the eps-shifted regularizer of Eq. (25) (WN,
per unit 1/2 lambda (||W|| - eps)^2) or Eq. (26) (WS, 1/2 lambda n (m^2 + (v - eps)^2)) added to the
loss, eps = 1e-3 (the value the paper's Table IV finds best).

Failures: as defined in :mod:`normtheory.reproduce.training` (non-finite, zero norm, or a unit's
||W|| / std below 1e-3 of its initial value). Decisions: "large lambda causes failures" if some run
with lambda >= 1e-2 fails; "Adam is worse" if Adam's failures outnumber SGD's, or, with equal
counts, its mean test accuracy over the non-failed lambda > 0 runs is lower; "the shift removes every
failure" if no eps-shifted run fails.

Table IV analogue: WS, SGD, lambda = 1e-4, eps in {0 (plain L2), 1e-2, 1e-3, 1e-4, 1e-5}. "eps is
robust" if the range of the per-eps mean test accuracies (eps > 0) is at most twice the mean
per-eps standard deviation over seeds (differences within seed noise).

Warm-up (Figs. 4-5): WS ``mlp3``, SGD as above, lambda on the WS weights in {0, 1e-4, lambda*},
lambda* = 1.67 / sum_t lr_t: the paper's decay budget sum_t lr_t lambda over 100 ImageNet epochs
(1e-4 x (0.1 + 0.01 + 0.001) x 30 epochs x 5005 steps + ..., about 1.67) spread over our shorter run.
The effective learning rate of a WS unit is lr/std (paper Eq. (16)), averaged over the units of a
layer and recorded at every step. Fig. 4 decision: for lambda > 0, the first layer's mean effective
lr at the end of the first 10% of training exceeds its value after the first step, in every seed.
Fig. 5 decision: a plain (un-normalized, batch-norm) ``mlp3`` with an explicit linear warm-up from 0
to lr over the first 5% of steps and lambda = 1e-4 has effective lr lr/||W||^2 (the definition the
paper borrows for its plain ResNet); the Pearson correlation of the two first-layer curves over the
first 20% of training exceeds 0.9 in every seed.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from normtheory.regularizers import eps_shifted_l2
from normtheory.reproduce.data import load_digits_split
from normtheory.reproduce.models import NormLinear, build_model, normalized_weights
from normtheory.reproduce.training import slice_scale, train

__all__ = ["run_sweep", "run_eps_sensitivity", "run_warmup", "eps_shifted_penalty",
           "LAMBDAS", "EPS_TABLE3", "EPS_TABLE4", "sweep_decisions", "eps_decision",
           "warmup_decisions", "PAPER_DECAY_BUDGET"]

LAMBDAS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 0.0)
EPS_TABLE3 = 1e-3
EPS_TABLE4 = (1e-2, 1e-3, 1e-4, 1e-5)
OTHER_LAMBDA = 1e-4
MILESTONES = (0.3, 0.6, 0.9)
# sum over 100 epochs of lr_t * lambda for the paper's schedule, in units of lambda:
# (0.1 + 0.01 + 0.001) * 30 epochs * 5005 steps/epoch + 0.0001 * 10 * 5005 steps, times 1e-4.
PAPER_DECAY_BUDGET = 1e-4 * ((0.1 + 0.01 + 0.001) * 30 + 0.0001 * 10) * 5005


def eps_shifted_penalty(norm: str, weight: torch.Tensor, *, lam: float, eps: float) -> torch.Tensor:
    """The eps-shifted L2 of paper Eq. (25) (WN) / Eq. (26) (WS), summed over output units
    (:func:`normtheory.regularizers.eps_shifted_l2` with ``form=norm``, ``dim=0``)."""
    return eps_shifted_l2(weight, lam=lam, eps=eps, dim=0, form=norm)


def _init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, NormLinear):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def _optimizer(model: nn.Module, opt: str, lam: float, *, warmup_steps: int = 0):
    normalized = {id(w) for _, w in normalized_weights(model)}
    groups = {"norm": [], "other": [], "bias": []}
    for name, p in model.named_parameters():
        key = "norm" if id(p) in normalized else ("bias" if name.endswith("bias") else "other")
        groups[key].append(p)
    params = [{"params": groups["norm"], "weight_decay": lam},
              {"params": groups["other"], "weight_decay": OTHER_LAMBDA},
              {"params": groups["bias"], "weight_decay": 0.0}]
    params = [g for g in params if g["params"]]
    if opt == "sgd":
        return torch.optim.SGD(params, lr=0.1, momentum=0.9)
    if opt == "adam":
        return torch.optim.Adam(params, lr=1e-3)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {opt!r}")


def _schedule(optimizer, epochs: int):
    milestones = sorted({max(1, round(f * epochs)) for f in MILESTONES})
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)


def _one_run(norm: str, opt: str, lam: float, seed: int, *, epochs: int, eps: float | None,
             data) -> dict:
    torch.manual_seed(seed)
    model = build_model("mlp3", norm)
    _init(model)
    shifted = eps is not None
    optimizer = _optimizer(model, opt, 0.0 if shifted else lam)
    penalty = None
    if shifted:
        weights = normalized_weights(model)

        def penalty():
            return sum(eps_shifted_penalty(n, w, lam=lam, eps=eps) for n, w in weights)

    result = train(model, data, optimizer, epochs=epochs, batch_size=64, seed=seed,
                   scheduler=_schedule(optimizer, epochs), penalty=penalty)
    out = result.to_json()
    out.pop("history")
    out.update({"norm": norm, "optimizer": opt, "lambda": lam, "eps": eps, "seed": seed})
    return out


def _iterate(cells: list, progress) -> list:
    if progress:
        from tqdm import tqdm
        return tqdm(cells, desc="runs", unit="run")
    return cells


def run_sweep(*, seeds: int = 3, epochs: int = 30, lambdas=LAMBDAS, norms=("wn", "ws"),
              optimizers=("sgd", "adam"), eps: float = EPS_TABLE3, progress: bool = False) -> dict:
    """Tables II-III analogue: every (norm, optimizer, lambda, seed), plain and eps-shifted."""
    data = load_digits_split()
    cells = [(n, o, lam, s, e) for n in norms for o in optimizers for lam in lambdas
             for e in (None, eps) if not (e is not None and lam == 0) for s in range(seeds)]
    runs = [_one_run(n, o, lam, s, epochs=epochs, eps=e, data=data)
            for n, o, lam, s, e in _iterate(cells, progress)]
    result = {"experiment": "wd-sweep", "seeds": seeds, "epochs": epochs, "lambdas": list(lambdas),
              "eps": eps, "regularizer": "normtheory.regularizers.eps_shifted_l2", "runs": runs}
    result["decisions"] = sweep_decisions(runs)
    return result


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def sweep_decisions(runs: list[dict]) -> dict:
    """The computed answers to Table II/III's questions from a list of run records."""
    plain = [r for r in runs if r["eps"] is None]
    shifted = [r for r in runs if r["eps"] is not None]
    large = [r for r in plain if r["lambda"] >= 1e-2]
    fails = {o: sum(r["failed"] for r in plain if r["optimizer"] == o and r["lambda"] > 0)
             for o in ("sgd", "adam")}
    acc = {o: _mean([r["test_acc"] for r in plain if r["optimizer"] == o and r["lambda"] > 0])
           for o in ("sgd", "adam")}
    if fails["adam"] != fails["sgd"]:
        adam_worse = fails["adam"] > fails["sgd"]
    else:
        adam_worse = acc["adam"] is not None and acc["sgd"] is not None and acc["adam"] < acc["sgd"]
    shrink: dict = {}
    for r in plain:  # how far the norm/std was driven down: min over seeds, units and epochs
        if r.get("min_scale_ratio") is not None:
            key = f"{r['optimizer']}/{r['lambda']:g}"
            shrink[key] = min(shrink.get(key, 1.0), r["min_scale_ratio"])
    acc0 = {o: _mean([r["test_acc"] for r in plain if r["optimizer"] == o and r["lambda"] == 0])
            for o in ("sgd", "adam")}
    return {
        "large_lambda_fails": any(r["failed"] for r in large),
        "min_scale_ratio_plain": shrink,
        "mean_acc_lambda0_by_optimizer": acc0,
        "failures_plain": sum(r["failed"] for r in plain),
        "failures_plain_by_optimizer": fails,
        "mean_acc_plain_by_optimizer": acc,
        "adam_worse": bool(adam_worse),
        "failures_shifted": sum(r["failed"] for r in shifted),
        "shift_removes_all_failures": bool(shifted) and not any(r["failed"] for r in shifted),
        "runs_plain": len(plain), "runs_shifted": len(shifted),
    }


def run_eps_sensitivity(*, seeds: int = 3, epochs: int = 30, eps_values=EPS_TABLE4,
                        lam: float = 1e-4, progress: bool = False) -> dict:
    """Table IV analogue: WS + SGD at lambda = 1e-4, eps over the paper's range (and plain L2)."""
    data = load_digits_split()
    cells = [(e, s) for e in (None, *eps_values) for s in range(seeds)]
    runs = [_one_run("ws", "sgd", lam, s, epochs=epochs, eps=e, data=data)
            for e, s in _iterate(cells, progress)]
    result = {"experiment": "eps-sensitivity", "seeds": seeds, "epochs": epochs, "lambda": lam,
              "eps_values": list(eps_values), "regularizer": "normtheory.regularizers.eps_shifted_l2", "runs": runs}
    result["decisions"] = eps_decision(runs)
    return result


def eps_decision(runs: list[dict]) -> dict:
    """Range of per-eps mean accuracy against seed noise (eps > 0 only)."""
    by_eps: dict = {}
    for r in runs:
        if r["eps"] is not None:
            by_eps.setdefault(r["eps"], []).append(r["test_acc"])
    stats = {}
    for e, accs in sorted(by_eps.items(), reverse=True):
        ok = [a for a in accs if a is not None]
        stats[e] = {"mean": float(np.mean(ok)) if ok else None,
                    "std": float(np.std(ok, ddof=1)) if len(ok) > 1 else 0.0,
                    "failed": len(accs) - len(ok)}
    means = [s["mean"] for s in stats.values() if s["mean"] is not None]
    spread = float(max(means) - min(means)) if means else math.inf
    noise = float(np.mean([s["std"] for s in stats.values()])) if stats else 0.0
    failed = sum(s["failed"] for s in stats.values())
    plain = [r["test_acc"] for r in runs if r["eps"] is None and r["test_acc"] is not None]
    return {"per_eps": {repr(e): s for e, s in stats.items()}, "range_of_means": spread,
            "mean_seed_std": noise, "failures": failed,
            "plain_mean": float(np.mean(plain)) if plain else None,
            "eps_robust": failed == 0 and spread <= 2 * noise}


def _steps_per_epoch(n_train: int, batch: int = 64) -> int:
    return sum(1 for s in range(0, n_train, batch) if n_train - s >= 2)


def _warmup_run(norm: str, lam: float, seed: int, *, epochs: int, warmup_frac: float, data) -> list:
    torch.manual_seed(seed)
    model = build_model("mlp3", norm)
    _init(model)
    optimizer = _optimizer(model, "sgd", lam)
    steps_total = epochs * _steps_per_epoch(data.x_train.shape[0])
    warm = max(1, round(warmup_frac * steps_total)) if warmup_frac > 0 else 0
    milestones = [max(1, round(f * epochs)) * _steps_per_epoch(data.x_train.shape[0])
                  for f in MILESTONES]

    def factor(step):  # per-step LambdaLR factor: linear warm-up, then the step schedule
        f = 0.1 ** sum(step >= m for m in milestones)
        return f * min(1.0, (step + 1) / warm) if warm else f

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    first = next(m for m in model.modules() if isinstance(m, NormLinear))
    curve: list[float] = []

    def record(step):
        lr = optimizer.param_groups[0]["lr"]
        if norm == "none":  # lr / ||W||^2 per unit (BN-net definition the paper borrows)
            scale = slice_scale("wn", first.weight).square()
        else:  # lr / std per unit (paper Eq. (16))
            scale = slice_scale(norm, first.weight)
        curve.append(float((lr / scale).mean()))
        scheduler.step()

    result = train(model, data, optimizer, epochs=epochs, batch_size=64, seed=seed, on_step=record)
    if result.failed:
        raise RuntimeError(f"warm-up run failed: {result.failure}")
    return curve


def run_warmup(*, seeds: int = 3, epochs: int = 30, progress: bool = False) -> dict:
    """Figs. 4-5 analogue: effective lr of the first WS layer over training, against a warm-up."""
    data = load_digits_split()
    spe = _steps_per_epoch(data.x_train.shape[0])
    lr_sum = 0.1 * spe * sum(
        (min(b, epochs) - a) * 0.1 ** i
        for i, (a, b) in enumerate(zip([0] + [max(1, round(f * epochs)) for f in MILESTONES],
                                       [max(1, round(f * epochs)) for f in MILESTONES] + [epochs])))
    lam_star = PAPER_DECAY_BUDGET / lr_sum
    lams = (0.0, 1e-4, lam_star)
    cells = [("ws", lam, 0.0, s) for lam in lams for s in range(seeds)]
    cells += [("none", 1e-4, 0.05, s) for s in range(seeds)]
    curves: dict = {}
    for norm, lam, wf, s in _iterate(cells, progress):
        key = "plain+warmup" if norm == "none" else f"ws lambda={lam:.3g}"
        curves.setdefault(key, []).append(_warmup_run(norm, lam, s, epochs=epochs,
                                                      warmup_frac=wf, data=data))
    result = {"experiment": "warmup", "seeds": seeds, "epochs": epochs, "lambda_star": lam_star,
              "lambdas": list(lams), "steps": len(next(iter(curves.values()))[0]), "curves": curves}
    result["decisions"] = warmup_decisions(curves, lams)
    return result


def warmup_decisions(curves: dict, lams) -> dict:
    """Early rise of the effective lr (Fig. 4) and its match to an explicit warm-up (Fig. 5)."""
    out: dict = {}
    for lam in lams:
        if lam == 0:
            continue
        rows = curves[f"ws lambda={lam:.3g}"]
        rises, corr = [], []
        for i, c in enumerate(rows):
            c = np.asarray(c)
            t10 = max(1, len(c) // 10)
            rises.append(bool(c[t10] > c[0]))
            t20 = max(3, len(c) // 5)
            ref = np.asarray(curves["plain+warmup"][i])[:t20]
            corr.append(float(np.corrcoef(c[:t20], ref)[0, 1]))
        out[f"{lam:.3g}"] = {"rises_early_each_seed": rises, "rises_early": all(rises),
                             "corr_with_warmup": corr,
                             "matches_warmup": all(r > 0.9 for r in corr)}
    return out
