"""Blog analogues: Norm Scaling on the digits (accuracy, spectral norms, spread, rank) and its cost.

Protocol (fixed before running; nothing was tuned after seeing results)
---------------------------------------------------------------------------
Models: bias-free ``mlp3`` and ``mlp5`` (hidden width 128) and ``cnn`` (two 3x3 convolutions with
16 and 32 channels, max-pool, linear head), no normalization layers, float32. Every weight starts
from the blog's scaled orthogonal init (:func:`normtheory.scaling.scaled_orthogonal_`, orthogonal
times sqrt(d_out/d_in)), in all three conditions. Training as in the blog, shortened: Adam, lr 1e-3,
no weight decay, batch 64, cross-entropy, lr x 0.1 at 30% and 60% of the epochs (the blog: epochs
60 and 120 of 200). Conditions: no scaling; Frobenius Norm Scaling; spectral Norm Scaling, both by
:class:`normtheory.scaling.NormScaling` on every weight (convolution kernels viewed as
out x in*kh*kw) after each optimizer step, targets = the norms after the init; the spectral step
uses ``iters=20`` warm-started power-iteration steps per layer.

Measured per run: final test/train accuracy and loss; every weight's exact spectral norm (float64
SVD) after every epoch; at the end each weight's entry standard deviation, stable rank
||W||_F^2/sigma_1^2 and effective rank exp(entropy of sigma_i/sum sigma) (Roy & Vetterli).
How these numbers decide the blog's statements is the claims' business
(:mod:`normtheory.claims.blog_analogues`).

Cost (``scaling-cost``): wall time of one training step (forward, backward, Adam, scaling) of
``mlp5``, as a ratio to the unscaled step measured in the same run. Variants, interleaved
round-robin within every round so that all see the same machine load: ``none``; ``frobenius`` and
``library`` (:class:`normtheory.scaling.NormScaling`, Frobenius and spectral with ``iters=20``
warm-started power steps, as in the training runs); ``library_default`` (``NormScaling`` spectral
with its default estimator);
``blog500``, the blog's estimator (:func:`blog_spectral_step`: 500 power-iteration steps per layer
from a fresh random vector at every step, then the rank-one correction). Each round gives one
ratio of medians per variant, and the claim bootstraps over rounds. The blog reports spectral runs
taking 400-1500% longer, i.e. ratios 5-16.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from torch import nn

from normtheory.reproduce.data import load_digits_split
from normtheory.reproduce.models import build_model, weight_matrices
from normtheory.reproduce.runner import run_cells
from normtheory.reproduce.training import train
from normtheory.scaling import NormScaling, scaled_orthogonal_

__all__ = ["run_norm_scaling", "run_scaling_cost", "norm_scaling_run", "blog_spectral_step",
           "matrix_stats", "CONDITIONS", "COST_VARIANTS", "SPECTRAL_ITERS", "BLOG_ITERS"]

CONDITIONS = ("none", "frobenius", "spectral")
COST_VARIANTS = ("none", "frobenius", "library", "library_default", "blog500")
MILESTONES = (0.3, 0.6)
SPECTRAL_ITERS = 20
BLOG_ITERS = 500


def _as_matrix(w: torch.Tensor) -> torch.Tensor:
    return w.detach().reshape(w.shape[0], -1)


def _init(weights, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for w in weights:
        scaled_orthogonal_(w, generator=gen)


def _scaler(weights, mode: str, seed: int) -> NormScaling:
    return NormScaling(weights, mode=mode, iters=SPECTRAL_ITERS,
                       generator=torch.Generator().manual_seed(20_000 + seed))


@torch.no_grad()
def blog_spectral_step(weights, targets, *, iters: int = BLOG_ITERS, generator=None) -> None:
    """The blog's spectral Norm Scaling step: per layer, ``iters`` power-iteration steps on W^T W
    from a fresh random vector, sigma_1 = ||W v||, u = W v / sigma_1, then
    W <- W + (target - sigma_1) u v^T.

    A bare loop of two mat-vecs and a normalisation per iteration (the blog's method at its
    cheapest), not :func:`normtheory.spectral.power_iteration`, whose per-iteration residual and
    checks would inflate the cost attributed to the blog's method."""
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


def norm_scaling_run(*, model: str, condition: str, seed: int, epochs: int) -> dict:
    """One training run of the protocol (module docstring); deterministic given its arguments and
    the torch thread count."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    data = load_digits_split()
    torch.manual_seed(seed)
    net = build_model(model, "none")
    weights = weight_matrices(net)
    _init(weights, seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    milestones = sorted({max(1, round(f * epochs)) for f in MILESTONES})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    post = None if condition == "none" else _scaler(weights, condition, seed).step

    def on_epoch(epoch, row):
        row["sigma1"] = [matrix_stats(w)["sigma1"] for w in weights]

    result = train(net, data, optimizer, epochs=epochs, batch_size=64, seed=seed,
                   scheduler=scheduler, post_step=post, on_epoch=on_epoch)
    out = result.to_json()
    out["sigma1_by_epoch"] = [row.pop("sigma1") for row in out["history"]]
    out.pop("history")
    out["final"] = [matrix_stats(w) for w in weights]
    out.update({"model": model, "condition": condition, "seed": seed,
                "scaling": None if condition == "none" else
                f"normtheory.scaling.NormScaling(mode={condition!r}, iters={SPECTRAL_ITERS})"})
    return out


def run_norm_scaling(*, seeds: int, epochs: int, models=("mlp3", "mlp5", "cnn"),
                     conditions=CONDITIONS, jobs: int = 1, threads: int = 1,
                     progress: bool = False) -> dict:
    """Every (model, condition, seed) run of the protocol, through :func:`run_cells`."""
    cells = [{"model": m, "condition": c, "seed": s, "epochs": epochs}
             for m in models for c in conditions for s in range(seeds)]
    runs = run_cells(norm_scaling_run, cells, jobs=jobs, threads=threads, progress=progress)
    return {"experiment": "norm-scaling", "seeds": seeds, "epochs": epochs,
            "models": list(models), "conditions": list(conditions), "runs": runs}


def _post_step(variant: str, weights, seed: int):
    if variant == "none":
        return None
    if variant in ("frobenius", "library"):
        return _scaler(weights, "frobenius" if variant == "frobenius" else "spectral", seed).step
    if variant == "library_default":
        return NormScaling(weights, mode="spectral",
                           generator=torch.Generator().manual_seed(20_000 + seed)).step
    targets = [float(torch.linalg.matrix_norm(_as_matrix(w).double(), 2)) for w in weights]
    gen = torch.Generator().manual_seed(seed)
    return lambda: blog_spectral_step(weights, targets, iters=BLOG_ITERS, generator=gen)


def _time_steps(width: int, variant: str, steps: int, data, seed: int) -> list[float]:
    torch.manual_seed(seed)
    net = build_model("mlp5", "none", width)
    weights = weight_matrices(net)
    _init(weights, seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    post = _post_step(variant, weights, seed)
    g = torch.Generator().manual_seed(seed)
    times = []
    for i in range(steps + 1):
        idx = torch.randint(0, data.x_train.shape[0], (64,), generator=g)
        t0 = time.perf_counter()
        loss = nn.functional.cross_entropy(net(data.x_train[idx]), data.y_train[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if post is not None:
            post()
        if i >= 1:  # the first step warms up allocators and lazy init
            times.append(time.perf_counter() - t0)
    return times


def run_scaling_cost(*, widths=(128,), steps: int = 10, rounds: int = 5, threads: int = 1,
                     progress: bool = False) -> dict:
    """Per-round ratios of median step times to the unscaled step, interleaved in one process
    (never in parallel workers: concurrent jobs would time each other's load)."""
    data = load_digits_split()
    cells = [(w, r) for w in widths for r in range(rounds)]
    if progress:
        from tqdm import tqdm
        cells = tqdm(cells, desc="timing rounds", unit="round")
    ratios: dict = {str(w): {v: [] for v in COST_VARIANTS} for w in widths}
    medians: dict = {str(w): {v: [] for v in COST_VARIANTS} for w in widths}
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for w, r in cells:
            med = {v: statistics.median(_time_steps(w, v, steps, data, seed=r)) for v in COST_VARIANTS}
            for v in COST_VARIANTS:
                medians[str(w)][v].append(med[v])
                ratios[str(w)][v].append(med[v] / med["none"])
    finally:
        torch.set_num_threads(before)
    return {"experiment": "scaling-cost", "widths": list(widths), "steps": steps,
            "rounds": rounds, "threads": threads, "median_step_seconds": medians,
            "ratio_to_unscaled": ratios, "variants": {
                "none": "no scaling",
                "frobenius": f"normtheory.scaling.NormScaling(mode='frobenius')",
                "library": f"normtheory.scaling.NormScaling(mode='spectral', iters={SPECTRAL_ITERS})",
                "library_default": "normtheory.scaling.NormScaling(mode='spectral') (its default "
                                   "estimator)",
                "blog500": f"reproduce.norm_scaling.blog_spectral_step(iters={BLOG_ITERS}, fresh "
                           "random start each step)"}}
