"""Paper analogues: the lambda sweep (Tables II-III), eps sensitivity (Table IV), implicit warm-up
(Figs. 4-5), on the digits data with WN/WS MLPs.

Protocol (fixed before the recorded runs; the regime was chosen from pilot runs, see below)
---------------------------------------------------------------------------------------------
Model: ``mlp3`` (64-128-128-128-10, no biases) whose three hidden layers are WN or WS (per output
unit) followed by batch norm and ReLU; the classifier layer is plain. float32 throughout. Weights
start from Kaiming-normal init with ``mode="fan_out"`` (the paper's default init).

Optimizers (paper Sec. 6.1): SGD with momentum 0.9, lr 0.1; Adam with lr 1e-3 and default betas.
Batch 64. Weight decay: coupled L2 (``weight_decay`` of torch's SGD/Adam, the gradient of
lambda/2 ||W||^2, the paper's Eq. (8)) on the normalized weights; the batch-norm gains and the
classifier weight at 1e-4, batch-norm biases at 0 (paper Sec. 6.1).

Sweep (Tables II-III, :func:`run_sweep`): constant learning rate. The paper's failures happen
within its first learning-rate phase (Fig. 6: overflow after ~50k of the 150k iterations at lr 0.1),
so the analogue runs that phase only; pilot runs with the paper's step schedule showed every
collapsed run recovering after the first lr drop. lambda on the normalized weights in
{0, 1e-2, 1, 10}: the paper's grid (1e-5..1e-2) cannot drive ||W|| to 0 in ~10^2 steps, so the
grid extends to lr*lambda = 1 (SGD). Table III: the same grid (lambda > 0) with the eps-shifted
regularizer of Eq. (25) (WN) / Eq. (26) (WS) added to the loss instead of the coupled L2, eps = 1e-3
(the value the paper's Table IV finds best), :func:`normtheory.regularizers.eps_shifted_l2`.

Eps sensitivity (Table IV, :func:`run_eps_sensitivity`): WS, SGD, constant lr, lambda = 0.1 (pilot
runs: plain L2 still trains there, and it drives the std well below its initial 0.125, so the
larger eps values can act; whether they do is measured, as ``min_scale_ratio``), eps in {1e-2, 1e-3, 1e-4, 1e-5}.

Warm-up (Figs. 4-5, :func:`run_warmup`): WS ``mlp3``, SGD, the paper's step schedule (lr x 0.1 at
30%, 60%, 90% of the epochs), lambda on the WS weights in {0, lambda*}, lambda* = 1.67 / sum_t lr_t:
the paper's decay budget sum_t lr_t lambda over 100 ImageNet epochs (1e-4 x (0.1 + 0.01 + 0.001) x
30 epochs x 5005 steps + ..., about 1.67) spread over our shorter run. The effective learning rate
of a WS unit is lr/std (paper Eq. (16)), averaged over the units of the first layer and recorded at
every step. Reference (Fig. 5): a plain ``mlp3`` *with batch norm* (so that its hidden weights are
scale-invariant, like the paper's plain BN ResNet) under an explicit linear warm-up from 0 to lr over
the first 5% of steps and lambda = 1e-4; its effective lr is lr/||W||^2 per unit (the definition the
paper borrows). A run that diverges is recorded as diverged with its curve up to that step.

Every run records what it measured (final and per-epoch accuracy, divergence, how far the
normalized weights shrank); the claims (:mod:`normtheory.claims.paper_analogues`) decide.
"""

from __future__ import annotations

import torch
from torch import nn

from normtheory.regularizers import eps_shifted_l2
from normtheory.reproduce.data import load_digits_split
from normtheory.reproduce.models import NormLinear, build_model, normalized_weights
from normtheory.reproduce.runner import run_cells
from normtheory.reproduce.training import slice_scale, train

__all__ = ["run_sweep", "run_eps_sensitivity", "run_warmup", "sweep_run", "warmup_run",
           "eps_shifted_penalty", "sweep_grid", "LAMBDAS", "EPS_TABLE3", "EPS_TABLE4",
           "LAMBDA_TABLE4", "PAPER_DECAY_BUDGET", "lambda_star"]

LAMBDAS = (0.0, 1e-2, 1.0, 10.0)
EPS_TABLE3 = 1e-3
EPS_TABLE4 = (1e-2, 1e-3, 1e-4, 1e-5)
LAMBDA_TABLE4 = 0.1
OTHER_LAMBDA = 1e-4
MILESTONES = (0.3, 0.6, 0.9)
WARMUP_FRACTION = 0.05
# sum over 100 epochs of lr_t * lambda for the paper's schedule, in units of lambda:
# (0.1 + 0.01 + 0.001) * 30 epochs * 5005 steps + 0.0001 * 10 * 5005 steps, times 1e-4.
PAPER_DECAY_BUDGET = 1e-4 * ((0.1 + 0.01 + 0.001) * 30 + 0.0001 * 10) * 5005


def eps_shifted_penalty(norm: str, weight: torch.Tensor, *, lam: float, eps: float) -> torch.Tensor:
    """The eps-shifted L2 of paper Eq. (25) (WN) / Eq. (26) (WS), summed over output units
    (:func:`normtheory.regularizers.eps_shifted_l2` with ``form=norm``, ``dim=0``)."""
    return eps_shifted_l2(weight, lam=lam, eps=eps, dim=0, form=norm)


def _init(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, NormLinear):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def _optimizer(model: nn.Module, opt: str, lam: float, *, watched=None):
    normalized = {id(w) for _, w in (watched if watched is not None else normalized_weights(model))}
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


def sweep_run(*, norm: str, optimizer: str, lam: float, eps: float | None, seed: int,
              epochs: int) -> dict:
    """One constant-lr run: coupled L2 ``lam`` (``eps is None``) or the eps-shifted regularizer."""
    data = load_digits_split()
    torch.manual_seed(seed)
    model = build_model("mlp3", norm)
    _init(model)
    shifted = eps is not None
    opt = _optimizer(model, optimizer, 0.0 if shifted else lam)
    penalty = None
    if shifted:
        weights = normalized_weights(model)

        def penalty():
            return sum(eps_shifted_penalty(n, w, lam=lam, eps=eps) for n, w in weights)

    result = train(model, data, opt, epochs=epochs, batch_size=64, seed=seed, penalty=penalty)
    out = result.to_json()
    out["test_acc_by_epoch"] = [row["test_acc"] for row in out.pop("history")]
    out.update({"norm": norm, "optimizer": optimizer, "lambda": lam, "eps": eps, "seed": seed})
    return out


def sweep_grid(*, norms=("wn", "ws"), optimizers=("sgd", "adam"), lambdas=LAMBDAS,
               eps: float = EPS_TABLE3) -> list[tuple]:
    """(norm, optimizer, lambda, eps or None) for every plain cell and every shifted lambda > 0."""
    return [(n, o, lam, e) for n in norms for o in optimizers for lam in lambdas
            for e in (None, eps) if not (e is not None and lam == 0)]


def run_sweep(*, configs, seeds: int, epochs: int, jobs: int = 1, threads: int = 1,
              progress: bool = False) -> dict:
    """Tables II-III analogue: every (config, seed) of ``configs`` (see :func:`sweep_grid`)."""
    cells = [{"norm": n, "optimizer": o, "lam": lam, "eps": e, "seed": s, "epochs": epochs}
             for n, o, lam, e in configs for s in range(seeds)]
    runs = run_cells(sweep_run, cells, jobs=jobs, threads=threads, progress=progress)
    return {"experiment": "wd-sweep", "seeds": seeds, "epochs": epochs,
            "configs": [list(c) for c in configs], "lr_schedule": "constant",
            "regularizer": "normtheory.regularizers.eps_shifted_l2", "runs": runs}


def run_eps_sensitivity(*, seeds: int, epochs: int, eps_values=EPS_TABLE4,
                        lam: float = LAMBDA_TABLE4, jobs: int = 1, threads: int = 1,
                        progress: bool = False) -> dict:
    """Table IV analogue: WS + SGD at ``lam``, eps over the paper's range."""
    cells = [{"norm": "ws", "optimizer": "sgd", "lam": lam, "eps": e, "seed": s, "epochs": epochs}
             for e in eps_values for s in range(seeds)]
    runs = run_cells(sweep_run, cells, jobs=jobs, threads=threads, progress=progress)
    return {"experiment": "eps-sensitivity", "seeds": seeds, "epochs": epochs, "lambda": lam,
            "eps_values": list(eps_values), "lr_schedule": "constant",
            "regularizer": "normtheory.regularizers.eps_shifted_l2", "runs": runs}


def _steps_per_epoch(n_train: int, batch: int = 64) -> int:
    return sum(1 for s in range(0, n_train, batch) if n_train - s >= 2)


def _epoch_milestones(epochs: int) -> list[int]:
    return [max(1, round(f * epochs)) for f in MILESTONES]


def lambda_star(epochs: int, n_train: int) -> float:
    """The lambda whose decay budget sum_t lr_t lambda over ``epochs`` (step schedule, lr 0.1)
    equals the paper's 100-epoch budget :data:`PAPER_DECAY_BUDGET`."""
    spe = _steps_per_epoch(n_train)
    bounds = [0] + _epoch_milestones(epochs) + [epochs]
    lr_sum = 0.1 * spe * sum((min(b, epochs) - min(a, epochs)) * 0.1 ** i
                             for i, (a, b) in enumerate(zip(bounds, bounds[1:])))
    return PAPER_DECAY_BUDGET / lr_sum


def warmup_run(*, kind: str, lam: float, seed: int, epochs: int) -> dict:
    """Per-step effective lr of the first hidden layer: ``kind`` "ws" (lr/std, no warm-up) or
    "plain+warmup" (batch-norm MLP, lr/||W||^2 under a linear warm-up)."""
    if kind not in ("ws", "plain+warmup"):
        raise ValueError(f"kind must be 'ws' or 'plain+warmup', got {kind!r}")
    data = load_digits_split()
    torch.manual_seed(seed)
    norm = "ws" if kind == "ws" else "none"
    model = build_model("mlp3", norm, batch_norm=True)
    _init(model)
    hidden = [m for m in model.modules() if isinstance(m, NormLinear)][:-1]  # not the classifier
    watched = [(norm, m.weight) for m in hidden]
    optimizer = _optimizer(model, "sgd", lam, watched=watched)
    spe = _steps_per_epoch(data.x_train.shape[0])
    steps_total = epochs * spe
    warm = max(1, round(WARMUP_FRACTION * steps_total)) if kind == "plain+warmup" else 0
    milestones = [m * spe for m in _epoch_milestones(epochs)]

    def factor(step):  # per-step LambdaLR factor: linear warm-up, then the step schedule
        f = 0.1 ** sum(step >= m for m in milestones)
        return f * min(1.0, (step + 1) / warm) if warm else f

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    first = hidden[0]
    curve: list[float] = []

    def record(step):
        lr = optimizer.param_groups[0]["lr"]
        if kind == "plain+warmup":  # lr / ||W||^2 per unit (BN-net definition the paper borrows)
            scale = slice_scale("wn", first.weight).square()
        else:  # lr / std per unit (paper Eq. (16))
            scale = slice_scale("ws", first.weight)
        curve.append(float((lr / scale).mean()))
        scheduler.step()

    result = train(model, data, optimizer, epochs=epochs, batch_size=64, seed=seed, on_step=record)
    return {"kind": kind, "lambda": lam, "seed": seed, "diverged": result.diverged,
            "failure": result.failure, "test_acc": result.test_acc, "curve": curve}


def run_warmup(*, seeds: int, epochs: int, jobs: int = 1, threads: int = 1,
               progress: bool = False) -> dict:
    """Figs. 4-5 analogue: WS at lambda 0 (control) and lambda*, and the plain warm-up reference."""
    lam_star = lambda_star(epochs, load_digits_split().x_train.shape[0])
    configs = [("ws", 0.0), ("ws", lam_star), ("plain+warmup", 1e-4)]
    cells = [{"kind": k, "lam": lam, "seed": s, "epochs": epochs}
             for k, lam in configs for s in range(seeds)]
    runs = run_cells(warmup_run, cells, jobs=jobs, threads=threads, progress=progress)
    return {"experiment": "warmup", "seeds": seeds, "epochs": epochs, "lambda_star": lam_star,
            "steps_per_epoch": _steps_per_epoch(load_digits_split().x_train.shape[0]),
            "warmup_fraction": WARMUP_FRACTION, "runs": runs}
