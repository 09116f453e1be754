"""Blog analogues: Norm Scaling on the digits (accuracy, spectral norms, spread, rank) and its cost.

Protocol (fixed before running; nothing was tuned after seeing results)
---------------------------------------------------------------------------
Models: bias-free ``mlp3`` and ``mlp5`` (hidden width 128) and ``cnn`` (two 3x3 convolutions with
16 and 32 channels, max-pool, linear head), no normalization layers, float32. Every weight starts
from the blog's scaled orthogonal init (orthogonal times sqrt(d_out/d_in)), in all three conditions.
Training as in the blog, shortened: Adam, lr 1e-3, no weight decay, batch 64, cross-entropy, lr x 0.1
at 30% and 60% of the epochs (the blog: epochs 60 and 120 of 200); 30 epochs in the full form.
Conditions: no scaling; Frobenius Norm Scaling; spectral Norm Scaling, both applied to every weight
(convolution kernels viewed as out x in*kh*kw) after each optimizer step, targets = the norms after
the init. The spectral step uses 20 warm-started power-iteration steps per layer
(:class:`LoopNormScaling`, the same definitions as :class:`normtheory.scaling.NormScaling`, which
was too slow on this CPU to train with; see its docstring).

Measured: test/train accuracy and loss at the end; every weight's spectral norm (exact, float64 SVD)
after every epoch; at the end each weight's entry standard deviation, stable rank
||W||_F^2/sigma_1^2 and effective rank exp(entropy of sigma_i/sum sigma) (Roy & Vetterli).

Decisions (per model, means over seeds; "supports" when it holds for every model):
* spectral-norm ordering: mean over layers of the final sigma_1, spectral < Frobenius < none
  (blog: 0.8 < 7.8 < 35.4 on its depth-5 MLP);
* spread ordering: the across-layer standard deviation of sigma_1, averaged over the last half of
  the epochs, spectral < Frobenius < none (blog: ~0.02 < ~3.7 < ~18.4 over its last 100 epochs);
* rank: mean stable rank with spectral scaling > with Frobenius scaling (the blog's argument that a
  spectral constraint leaves room for higher rank, unlike a Frobenius one);
* accuracy: Frobenius scaling's mean test accuracy > no scaling's (true in all four of the blog's
  models); and, on the MLPs, spectral scaling has the smallest generalization gap
  (final test loss - train loss), the blog's "stability" finding.

Cost (``scaling-cost``): median wall time of one full training step (forward, backward, Adam,
scaling) for ``mlp5`` at widths 128 and 512, as a ratio to the unscaled step measured in the same
run, interleaved round-robin: Frobenius scaling, our spectral scaling (:class:`LoopNormScaling`,
20 warm-started iterations), ``normtheory.scaling.NormScaling(iters=20)`` where present
("library"), and the blog's estimator
(500 power-iteration steps per layer from a fresh random vector every step, then the rank-one
correction). The blog reports spectral runs taking 400-1500% longer, i.e. ratios 5-16.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import torch
from torch import nn

from normtheory.reproduce.data import load_digits_split
from normtheory.reproduce.models import build_model, weight_matrices
from normtheory.reproduce.training import train

__all__ = ["run_norm_scaling", "run_scaling_cost", "blog_spectral_step", "norm_scaling_decisions",
           "cost_decisions", "matrix_stats", "CONDITIONS", "BLOG_COST_RATIO"]

CONDITIONS = ("none", "frobenius", "spectral")
BLOG_COST_RATIO = (5.0, 16.0)  # 400% .. 1500% longer
MILESTONES = (0.3, 0.6)
SPECTRAL_ITERS = 20


def _as_matrix(w: torch.Tensor) -> torch.Tensor:
    return w.detach().reshape(w.shape[0], -1)


def _scaled_orthogonal_(model: nn.Module) -> str:
    try:
        from normtheory.scaling import scaled_orthogonal_
    except ImportError:
        scaled_orthogonal_ = None
    for w in weight_matrices(model):
        if scaled_orthogonal_ is not None:
            scaled_orthogonal_(w)
        else:  # stop-gap until normtheory.scaling lands: same definition
            with torch.no_grad():
                nn.init.orthogonal_(w)
                m = _as_matrix(w)
                w.mul_(math.sqrt(m.shape[0] / m.shape[1]))
    return "normtheory.scaling" if scaled_orthogonal_ is not None else "local fallback"


class LoopNormScaling:
    """Norm Scaling as the training runs here use it: Frobenius rescaling, or the spectral rank-one
    correction with ``iters`` warm-started power-iteration steps per layer (one matrix at a time).

    Same definitions as :class:`normtheory.scaling.NormScaling` (targets = the norms at
    construction). It exists because that class's batched power iteration runs ``torch.bmm`` on
    (b, n, n) x (b, n, 1), which took ~24 ms per call on this 2-core CPU against ~0.3 ms for the
    per-matrix products (a whole spectral step ~1 s instead of ~2 ms), too slow for 27 training runs.
    ``tests/test_reproduce.py`` checks that both give the same step.
    """

    def __init__(self, weights, mode: str, *, iters: int = SPECTRAL_ITERS):
        if mode not in ("frobenius", "spectral"):
            raise ValueError(f"mode must be 'frobenius' or 'spectral', got {mode!r}")
        self.weights, self.mode, self.iters = list(weights), mode, iters
        self.targets = [float(torch.linalg.matrix_norm(_as_matrix(w).double(),
                                                       "fro" if mode == "frobenius" else 2))
                        for w in self.weights]
        # Start vectors are drawn at the first step (global RNG), as in the run that produced
        # reproduce/results/norm-scaling.json, and warm-started afterwards.
        self.v = [None] * len(self.weights)

    @torch.no_grad()
    def step(self):
        for i, (w, t) in enumerate(zip(self.weights, self.targets)):
            m = _as_matrix(w)
            if self.mode == "frobenius":
                w.mul_(t / torch.linalg.matrix_norm(m))
                continue
            v = self.v[i] if self.v[i] is not None else torch.randn(m.shape[1], dtype=m.dtype)
            for _ in range(self.iters):
                v = m.T @ (m @ v)
                v = v / torch.linalg.vector_norm(v)
            u = m @ v
            sigma = torch.linalg.vector_norm(u)
            self.v[i] = v
            w.add_(((t - sigma) * torch.outer(u / sigma, v)).reshape(w.shape))


def _scaler(model: nn.Module, mode: str):
    return LoopNormScaling(weight_matrices(model), mode), f"LoopNormScaling(iters={SPECTRAL_ITERS})"


def _library_scaler(weights, mode: str):
    """normtheory.scaling.NormScaling with the same fixed iteration count, or None if absent."""
    try:
        from normtheory.scaling import NormScaling
    except ImportError:
        return None
    return NormScaling(weights, mode=mode, iters=SPECTRAL_ITERS)


@torch.no_grad()
def blog_spectral_step(weights, targets, *, iters: int = 500, generator=None) -> None:
    """The blog's spectral Norm Scaling step: per layer, ``iters`` power-iteration steps on W^T W
    from a fresh random vector, sigma_1 = ||W v||, u = W v / sigma_1, then
    W <- W + (target - sigma_1) u v^T. (Reference for the cost comparison.)"""
    for w, t in zip(weights, targets):
        m = _as_matrix(w)
        v = torch.randn(m.shape[1], dtype=m.dtype, generator=generator)
        for _ in range(iters):
            v = m.T @ (m @ v)
            v = v / torch.linalg.vector_norm(v)
        u = m @ v
        sigma = torch.linalg.vector_norm(u)
        w.add_(((t - sigma) * torch.outer(u / sigma, v)).reshape(w.shape))


def matrix_stats(w: torch.Tensor) -> dict:
    """sigma_1 (exact), entry std, stable rank, effective rank of the (out x rest) view."""
    m = _as_matrix(w).double()
    s = torch.linalg.svdvals(m)
    p = s / s.sum()
    p = p[p > 0]
    return {"sigma1": float(s[0]), "std": float(m.std()),
            "stable_rank": float(s.square().sum() / s[0] ** 2),
            "effective_rank": float(torch.exp(-(p * p.log()).sum()))}


def _one_run(model_name: str, condition: str, seed: int, *, epochs: int, data) -> dict:
    torch.manual_seed(seed)
    model = build_model(model_name, "none")
    init_impl = _scaled_orthogonal_(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    milestones = sorted({max(1, round(f * epochs)) for f in MILESTONES})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    scaling_impl = None
    post = None
    if condition != "none":
        scaler, scaling_impl = _scaler(model, condition)
        post = scaler.step
    weights = weight_matrices(model)

    def on_epoch(epoch, row):
        row["sigma1"] = [matrix_stats(w)["sigma1"] for w in weights]

    result = train(model, data, optimizer, epochs=epochs, batch_size=64, seed=seed,
                   scheduler=scheduler, post_step=post, on_epoch=on_epoch)
    if result.failed:
        raise RuntimeError(f"{model_name}/{condition}/seed {seed} failed: {result.failure}")
    out = result.to_json()
    out["sigma1_by_epoch"] = [row.pop("sigma1") for row in out["history"]]
    out["final"] = [matrix_stats(w) for w in weights]
    out.update({"model": model_name, "condition": condition, "seed": seed,
                "init": init_impl, "scaling": scaling_impl})
    return out


def run_norm_scaling(*, seeds: int = 3, epochs: int = 30, models=("mlp3", "mlp5", "cnn"),
                     conditions=CONDITIONS, progress: bool = False) -> dict:
    data = load_digits_split()
    cells = [(m, c, s) for m in models for c in conditions for s in range(seeds)]
    if progress:
        from tqdm import tqdm
        cells = tqdm(cells, desc="runs", unit="run")
    runs = [_one_run(m, c, s, epochs=epochs, data=data) for m, c, s in cells]
    result = {"experiment": "norm-scaling", "seeds": seeds, "epochs": epochs,
              "models": list(models), "runs": runs}
    result["decisions"] = norm_scaling_decisions(runs)
    return result


def _ordered(values: dict, order) -> bool:
    return all(values[a] < values[b] for a, b in zip(order, order[1:]))


def norm_scaling_decisions(runs: list[dict]) -> dict:
    """Per-model summaries (mean and std over seeds) and the blog's orderings, from run records."""
    per_model: dict = {}
    for model in sorted({r["model"] for r in runs}):
        rows = {c: [r for r in runs if r["model"] == model and r["condition"] == c]
                for c in CONDITIONS}
        if any(not v for v in rows.values()):
            continue

        def stat(c, f):
            vals = [f(r) for r in rows[c]]
            return {"mean": float(np.mean(vals)),
                    "std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0}

        def spread(r):  # across-layer std of sigma_1, averaged over the last half of the epochs
            ep = r["sigma1_by_epoch"]
            return float(np.mean([np.std(e) for e in ep[len(ep) // 2:]]))

        s = {c: {"test_acc": stat(c, lambda r: r["test_acc"]),
                 "gap": stat(c, lambda r: r["test_loss"] - r["train_loss"]),
                 "mean_sigma1": stat(c, lambda r: np.mean([f["sigma1"] for f in r["final"]])),
                 "sigma1_spread": stat(c, spread),
                 "weight_std": stat(c, lambda r: np.mean([f["std"] for f in r["final"]])),
                 "stable_rank": stat(c, lambda r: np.mean([f["stable_rank"] for f in r["final"]])),
                 "effective_rank": stat(c, lambda r: np.mean([f["effective_rank"]
                                                              for f in r["final"]]))}
             for c in CONDITIONS}
        m = {k: {c: s[c][k]["mean"] for c in CONDITIONS} for k in s["none"]}
        per_model[model] = {
            "stats": s,
            "sigma_order_holds": _ordered(m["mean_sigma1"], ("spectral", "frobenius", "none")),
            "spectral_lowest_sigma": min(m["mean_sigma1"], key=m["mean_sigma1"].get) == "spectral",
            "spread_order_holds": _ordered(m["sigma1_spread"], ("spectral", "frobenius", "none")),
            "rank_spectral_gt_frobenius": m["stable_rank"]["spectral"] > m["stable_rank"]["frobenius"],
            "frobenius_beats_none": m["test_acc"]["frobenius"] > m["test_acc"]["none"],
            "spectral_smallest_gap": min(m["gap"], key=m["gap"].get) == "spectral",
        }
    mlps = [k for k in per_model if k.startswith("mlp")]
    return {"per_model": per_model,
            "sigma_order": all(v["sigma_order_holds"] for v in per_model.values()),
            "spectral_lowest_sigma": all(v["spectral_lowest_sigma"] for v in per_model.values()),
            "spread_order": all(v["spread_order_holds"] for v in per_model.values()),
            "rank_spectral_gt_frobenius": all(v["rank_spectral_gt_frobenius"]
                                              for v in per_model.values()),
            "frobenius_beats_none": all(v["frobenius_beats_none"] for v in per_model.values()),
            "spectral_smallest_gap_mlps": all(per_model[k]["spectral_smallest_gap"] for k in mlps)}


def _time_steps(width: int, variant: str, steps: int, data, seed: int = 0) -> list[float]:
    torch.manual_seed(seed)
    model = build_model("mlp5", "none", width)
    _scaled_orthogonal_(model)
    weights = weight_matrices(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    post = None
    if variant in ("frobenius", "spectral"):
        post = _scaler(model, variant)[0].step
    elif variant == "library":
        post = _library_scaler(weights, "spectral").step
    elif variant == "blog500":
        targets = [float(torch.linalg.matrix_norm(_as_matrix(w).double(), 2)) for w in weights]
        gen = torch.Generator().manual_seed(seed)

        def post():
            blog_spectral_step(weights, targets, iters=500, generator=gen)

    g = torch.Generator().manual_seed(seed)
    times = []
    for i in range(steps + 2):
        idx = torch.randint(0, data.x_train.shape[0], (64,), generator=g)
        t0 = time.perf_counter()
        loss = nn.functional.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if post is not None:
            post()
        if i >= 2:  # the first two steps warm up allocators and lazy init
            times.append(time.perf_counter() - t0)
    return times


def run_scaling_cost(*, widths=(128, 512), steps: int = 20, repeats: int = 5,
                     progress: bool = False) -> dict:
    """Per-step time ratios to the unscaled step, measured interleaved in the same run."""
    data = load_digits_split()
    variants = ("none", "frobenius", "spectral", "blog500")
    if _library_scaler([torch.ones(2, 2)], "frobenius") is not None:
        variants += ("library",)
    cells = [(w, r) for w in widths for r in range(repeats)]
    if progress:
        from tqdm import tqdm
        cells = tqdm(cells, desc="timing rounds", unit="round")
    times: dict = {w: {v: [] for v in variants} for w in widths}
    for w, r in cells:
        for v in variants:  # round-robin: every variant sees the same machine load on average
            times[w][v] += _time_steps(w, v, steps, data, seed=r)
    med = {w: {v: statistics.median(t) for v, t in tv.items()} for w, tv in times.items()}
    ratios = {w: {v: med[w][v] / med[w]["none"] for v in variants} for w in widths}
    result = {"experiment": "scaling-cost", "widths": list(widths), "steps": steps,
              "repeats": repeats, "median_step_seconds": med, "ratio_to_unscaled": ratios,
              "threads": torch.get_num_threads(),
              "scaling": _scaler(build_model("mlp3"), "spectral")[1],
              "library_spectral_iters": SPECTRAL_ITERS if "library" in variants else None}
    result["decisions"] = cost_decisions(ratios)
    return result


def cost_decisions(ratios: dict) -> dict:
    lo, hi = BLOG_COST_RATIO
    lib = {str(w): r["library"] for w, r in ratios.items() if "library" in r}
    return {
        "library_ratio": lib,
        "blog500_in_blog_range": {str(w): lo <= r["blog500"] <= hi for w, r in ratios.items()},
        "ours_cheaper_than_blog500": all(r["spectral"] < r["blog500"] for r in ratios.values()),
        "ours_in_blog_range": {str(w): lo <= r["spectral"] <= hi for w, r in ratios.items()},
    }
