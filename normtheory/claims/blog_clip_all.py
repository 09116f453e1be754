r"""Blog (beyond it): the rank-one spectral correction under Adam, against clipping every singular
value above the target.

Source: the blog (``000_c4f6666b093bc660.txt``), "Norm Scaling" (the spectral update
``W + u_1 v_1^T (sigma* - sigma_1)``) and "Findings: Scaling Effects on Spectral Norms". Beyond
the blog: the rank-one step only moves the top singular value; once an optimizer step lifts
``sigma_2`` above the target, the corrected ``sigma_1`` is ``sigma_2`` and stays above it. The
``clip="all"`` mode of :class:`normtheory.scaling.NormScaling` sets every singular value above the
target to it (from the eigendecomposition of the same Gram matrix).

The experiment: a small tanh MLP, float64, scaled orthogonal init (every singular value of each
layer equal to its target, so any step can lift ``sigma_2`` above it), full-batch Adam on a seeded
regression; after every step the weights are rescaled and ``sigma_1 / target`` of each layer is
read from ``torch.linalg.svdvals`` (float64, the exact reference). The rank-one step is fed the
exact top pair (float64 SVD) through :func:`normtheory.spectral.rank_one_update_`, so any drift
is the rank-one step's, not the estimator's; the library's default spectral mode (float32 Gram
estimator) is reported beside it.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from normtheory._threads import single_thread
from normtheory.registry import BLOG, Evidence, Verdict, claim, decide
from normtheory.roundoff import gamma
from normtheory.scaling import NormScaling, scaled_orthogonal_init_, weight_parameters
from normtheory.spectral import as_matrix, rank_one_update_

__all__ = ["SETUP", "rank_one_exact_", "clip_all_stepper", "rank_one_stepper", "default_stepper",
           "run_seed", "clip_study", "clip_evidence", "replay_clip_all", "MARGIN"]

SETUP = {"model": "MLP Linear(16,32)-tanh-Linear(32,32)-tanh-Linear(32,4), biases, scaled orthogonal init",
         "sizes": [16, 32, 32, 4], "dtype": "float64", "optimizer": "Adam", "lr": 1e-2, "steps": 12,
         "samples": 256, "seeds": [0, 1, 2, 3],
         "data": "x ~ N(0, I_16) and P ~ N(0, I)/4 (16x4) from torch.Generator seeded (seed, +1000); "
                 "y = sin(x P); full-batch MSE; module init and orthogonal init from a generator seeded seed"}

MARGIN = 1e-2  # "held at target" must fail by more than 1% (ten times the 1e-3 tracking target of issue 17)


def _tol(setup: dict) -> float:
    # per step, clip-all is an eigh of a float64 Gram matrix of order <= n and two products of
    # order n (each gamma(n) relative in sigma_1^2 or sigma_1), and svdvals reads the result to
    # about the same; nothing accumulates (each step resets the top values). c = 64 covers the
    # constants of the backward-stable eigh and SVD.
    return 64 * gamma(max(setup["sizes"]))


def rank_one_exact_(weights, targets) -> None:
    """In place: the blog's step ``W <- W + (t - sigma_1) u_1 v_1^T`` with the exact (float64 SVD)
    top pair of each weight's matrix view."""
    for W, t in zip(weights, targets):
        M = as_matrix(W.detach())
        U, S, Vh = torch.linalg.svd(M.double(), full_matrices=False)
        coeff = torch.tensor([t - float(S[0])], dtype=M.dtype)
        rank_one_update_([M], coeff, U[:, :1].mT.to(M.dtype), Vh[:1].to(M.dtype))


def rank_one_stepper(weights, targets) -> Callable[[], None]:
    return lambda: rank_one_exact_(weights, targets)


def clip_all_stepper(weights, targets) -> Callable[[], None]:
    return NormScaling(weights, "spectral", targets=targets, clip="all").step


def default_stepper(weights, targets) -> Callable[[], None]:
    return NormScaling(weights, "spectral", targets=targets).step


def _model_and_data(seed: int, setup: dict):
    dtype = getattr(torch, setup["dtype"])
    sizes = setup["sizes"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # nn.Linear's bias init draws from the global generator
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [nn.Linear(a, b, dtype=dtype)] + ([nn.Tanh()] if i < len(sizes) - 2 else [])
        model = nn.Sequential(*layers)
    scaled_orthogonal_init_(model, generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed + 1000)
    x = torch.randn(setup["samples"], sizes[0], generator=g, dtype=dtype)
    P = torch.randn(sizes[0], sizes[-1], generator=g, dtype=dtype) / 4
    return model, x, torch.sin(x @ P)


@single_thread()
def run_seed(seed: int, make_stepper: Callable, *, setup: dict = SETUP) -> list[float]:
    """Per Adam step, ``max over layers of sigma_1 / target`` after the rescaling step made by
    ``make_stepper(weights, targets)`` (targets: the spectral norms at init)."""
    model, x, y = _model_and_data(seed, setup)
    weights = weight_parameters(model)
    targets = [float(torch.linalg.svdvals(as_matrix(w.detach()))[0]) for w in weights]
    step = make_stepper(weights, targets)
    opt = torch.optim.Adam(model.parameters(), lr=setup["lr"])
    ratios = []
    for _ in range(setup["steps"]):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        step()
        with torch.no_grad():
            ratios.append(max(float(torch.linalg.svdvals(as_matrix(w))[0]) / t for w, t in zip(weights, targets)))
    return ratios


def _per_seed(seed: int, setup: dict, clip_all: Callable) -> dict:
    r1 = run_seed(seed, rank_one_stepper, setup=setup)
    ca = run_seed(seed, clip_all, setup=setup)
    return {"seed": seed, "rank_one_max_ratio": max(r1), "rank_one_final_ratio": r1[-1],
            "clip_all_max_dev": max(abs(r - 1) for r in ca)}


def clip_study(*, setup: dict = SETUP, clip_all: Callable = clip_all_stepper, with_default: bool = True) -> dict:
    """Every seed of ``setup``: the rank-one (exact pair) and clip-all per-seed maxima, and, when
    ``with_default``, the library's default spectral mode (reported, not decided on)."""
    rows = [_per_seed(s, setup, clip_all) for s in setup["seeds"]]
    out = {"setup": setup, "rows": rows}
    if with_default:
        out["default_mode_max_ratio"] = max(max(run_seed(s, default_stepper, setup=setup)) for s in setup["seeds"])
    return out


def replay_clip_all(evidence_json: dict) -> dict:
    """Re-run the counterexample seed of BLOG-rank1-vs-clip-all from its JSON evidence alone."""
    ce = evidence_json["counterexample"]
    return _per_seed(int(ce["seed"]), ce, clip_all_stepper)


def clip_evidence(found: dict) -> Evidence:
    setup, rows = found["setup"], found["rows"]
    tol = _tol(setup)
    r1 = [r["rank_one_max_ratio"] - 1 for r in rows]
    ca = max(r["clip_all_max_dev"] for r in rows)
    held, drifts = all(d <= tol for d in r1), all(d > MARGIN for d in r1)
    clip_ok = ca <= tol
    if held or drifts:
        verdict = decide(holds_as_stated=held, holds_corrected=clip_ok)
    else:  # some seeds drift, others do not (or drift by less than the margin): undecided
        verdict = Verdict.INCONCLUSIVE
    worst = max(rows, key=lambda r: r["rank_one_max_ratio"])
    counterexample = None
    if not held:
        counterexample = {**{k: v for k, v in setup.items() if k != "seeds"}, "seed": worst["seed"],
                          "result": worst}
    return Evidence(
        verdict=verdict,
        key=f"rank-one (exact pair): sigma_1/target up to {max(r1) + 1:.3f} (min over seeds {min(r1) + 1:.3f}) in "
            f"{setup['steps']} Adam steps; clip-all within {ca:.1g} (tol {tol:.1g})",
        measured={"per_seed": rows, "rank_one_min_excess": min(r1), "rank_one_max_excess": max(r1),
                  "clip_all_max_dev": ca, "margin": MARGIN,
                  "default_mode_max_ratio": found.get("default_mode_max_ratio")},
        tolerance=tol,
        tolerance_reason="clip-all per step: float64 eigh of a Gram matrix of order <= n and two products of order "
                         "n, read back by svdvals; 64 gamma(n), n = the largest layer size, nothing accumulates. "
                         f"Drift for the rank-one step must exceed the margin {MARGIN} on every seed",
        corrected="Under Adam the rank-one step W + (sigma* - sigma_1) u_1 v_1^T does not hold sigma_1 at the target: "
                  "once a step lifts sigma_2 above sigma*, the corrected sigma_1 is sigma_2 (exact top pair or not). "
                  "Clipping every singular value above sigma* to sigma* (NormScaling clip='all') holds it to round-off.",
        counterexample=counterexample)


@claim(
    "BLOG-rank1-vs-clip-all",
    document=BLOG,
    ref="Norm Scaling (spectral update W + u_1 v_1^T (sigma* - sigma_1)); Findings: Scaling Effects on Spectral Norms",
    statement="The blog reports that with spectral Norm Scaling the layers' spectral norms settle near their "
              "targets during training (average 0.8, the targets' mean), while noting that one update need not reach "
              "the target when sigma_2 exceeds it; read as: the rank-one update keeps sigma_1 near the target over "
              "training.",
    checked="Small tanh MLP (16-32-32-4, float64, scaled orthogonal init), 4 seeds, 12 full-batch Adam steps (lr "
            "1e-2), rescaled after each step; sigma_1/target of every layer from torch.linalg.svdvals. Rank-one step "
            "with the exact (SVD) top pair: held if every per-seed max of sigma_1/target - 1 is within 64 gamma(n); "
            "drifts if it exceeds 1e-2 on every seed (else inconclusive). Corrected form: NormScaling(clip='all') "
            "within 64 gamma(n) on every seed. The library's default spectral mode is reported.",
    expect=Verdict.CORRECTED,
    replay=replay_clip_all,
)
def check_rank1_vs_clip_all() -> Evidence:
    return clip_evidence(clip_study())
