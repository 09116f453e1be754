"""Conformance: torch's spectral_norm parametrization checked against torch's own documentation.

Source: :data:`normtheory.registry.TORCH_DOCS`, the docstring of
``torch.nn.utils.parametrizations.spectral_norm`` (``W / sigma(W)``, ``sigma`` approximated by
``n_power_iterations`` power-method steps each time the weight is accessed in training mode, continued
from the previous vectors; weights of more than 2 dims reshaped). CONF-torch-spectral-norm compares
torch's weight with an independent implementation of exactly that procedure
(:func:`documented_power_method`) and measures what the approximation does to sigma_1(W_SN) (the
blog's Norm Scaling relies on the same estimate). Every property is a function of the implementation,
so the tests show it fails on a broken variant.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from normtheory.registry import TORCH_DOCS, Evidence, Verdict, claim, decide
from normtheory.roundoff import EPS64

__all__ = ["SN_PROTOCOL", "torch_spectral_norm", "documented_power_method", "spectral_norm_drift",
           "spectral_norm_runs", "spectral_norm_evidence"]

def _true_sigma(mat: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(mat.detach().to(torch.float64), ord=2))


Apply = Callable[[nn.Module, int], nn.Module]


def torch_spectral_norm(layer: nn.Module, n_power_iterations: int) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer, n_power_iterations=n_power_iterations)


def documented_power_method(W_mat: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
                            n_power_iterations: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The procedure torch's docstring describes, written independently: ``n_power_iterations``
    steps u <- W v / ||W v||, v <- W^T u / ||W^T u|| continued from the previous (u, v), then
    sigma = u^T W v and the normalized weight W / sigma."""
    for _ in range(n_power_iterations):
        u = W_mat @ v
        u = u / torch.linalg.vector_norm(u)
        v = W_mat.T @ u
        v = v / torch.linalg.vector_norm(v)
    return u, v, u @ (W_mat @ v)


def spectral_norm_drift(make_layer: Callable[[], nn.Module], x: torch.Tensor, *, n_power_iterations: int,
                        apply: Apply = torch_spectral_norm, steps: int = 30, lr: float = 0.05,
                        seed: int = 0) -> dict:
    """Train ``apply(make_layer(), k)`` (float64, Adam, regression to a fixed random target); at
    every training forward compare the weight it used with :func:`documented_power_method` run
    from the vectors the previous access left, check that an eval-mode access changes nothing,
    and record sigma_1 of the normalized weight (>= 1 when the estimate is a Rayleigh value)."""
    torch.manual_seed(seed)
    layer = apply(make_layer(), n_power_iterations)
    par = layer.parametrizations.weight
    with torch.no_grad():
        target = torch.randn_like(layer(x)) * 3
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    conformance, eval_change, normalized = [], [], []
    for _ in range(steps):
        state = par[0]
        u0, v0 = getattr(state, "_u", None), getattr(state, "_v", None)
        u0 = None if u0 is None else u0.detach().clone()
        v0 = None if v0 is None else v0.detach().clone()
        W_mat = par.original.detach().reshape(par.original.shape[0], -1).clone()
        opt.zero_grad()
        with parametrize.cached():  # one access: the weight this training forward uses
            used = layer.weight
            loss = (layer(x) - target).square().mean()
        used_mat = used.detach().reshape(W_mat.shape[0], -1)
        if u0 is None:
            conformance.append(float("inf"))  # no power-method state: not the documented procedure
        else:
            _, _, sigma = documented_power_method(W_mat, u0, v0, n_power_iterations)
            conformance.append(float((used_mat - W_mat / sigma).abs().max() / used_mat.abs().max()))
        with torch.no_grad():
            layer.eval()
            eval_change.append(float((layer.weight.reshape(used_mat.shape) - used_mat).abs().max()))
            layer.train()
        normalized.append(_true_sigma(used_mat))
        loss.backward()
        opt.step()
    normalized = np.array(normalized)
    return {"conformance_max_rel_err": max(conformance), "eval_access_max_change": max(eval_change),
            "normalized_sigma_max": float(normalized.max()), "normalized_sigma_min": float(normalized.min()),
            "normalized_sigma_last": float(normalized[-1]), "series_normalized_sigma": normalized.tolist()}


SN_PROTOCOL = {"layers": {"linear": "nn.Linear(24, 16), float64", "conv2d": "nn.Conv2d(3, 8, 3, padding=1), float64"},
               "data": "x_linear (32 x 24) then x_conv (4 x 3 x 8 x 8) standard normal from "
                       "torch.Generator().manual_seed(7); target 3 x standard normal like the output, "
                       "after torch.manual_seed(0) and the layer's construction",
               "loss": "mean squared error", "optimizer": {"name": "Adam", "lr": 0.05}, "steps": 30,
               "n_power_iterations": [1, 5], "seed": 0}


def spectral_norm_runs(n_iters=(1, 5), apply: Apply = torch_spectral_norm, steps: int = 30) -> dict:
    g = torch.Generator().manual_seed(7)
    x_lin = torch.randn(32, 24, generator=g, dtype=torch.float64)
    x_conv = torch.randn(4, 3, 8, 8, generator=g, dtype=torch.float64)
    makers = {"linear": (lambda: nn.Linear(24, 16, dtype=torch.float64), x_lin),
              "conv2d": (lambda: nn.Conv2d(3, 8, 3, padding=1, dtype=torch.float64), x_conv)}
    return {f"{name}_k{k}": spectral_norm_drift(make, x, n_power_iterations=k, apply=apply, steps=steps)
            for name, (make, x) in makers.items() for k in n_iters}


def _draw_sn(evidence: Evidence):
    from normtheory.figures import new_figure

    fig = new_figure()
    ax = fig.add_subplot()
    for i, (name, series) in enumerate(sorted(evidence.series.items())):
        ax.semilogy(np.maximum(np.array(series), 1e-17), color=f"C{i}", label=name)
    ax.set_xlabel("training step (Adam)")
    ax.set_ylabel("sigma_1(W / sigma_hat) - 1")
    ax.set_title("torch spectral_norm: the normalized weight's true sigma_1 exceeds 1", fontsize=10)
    ax.legend(fontsize=8)
    return fig


# Round-off of the comparison: both sides run the same k power steps (n-term dot products, a norm,
# a division; n <= 27 columns, m <= 16 rows), sigma and the division: relative error per step
# <= c (m + n) eps with c = 64 covering the few operations, k <= 5 steps.
_SN_TOL = 64 * 5 * (16 + 27) * EPS64


def spectral_norm_evidence(runs: dict) -> Evidence:
    """The decision for CONF-torch-spectral-norm from the runs of :func:`spectral_norm_runs`."""
    conforms = all(r["conformance_max_rel_err"] <= _SN_TOL for r in runs.values())
    eval_fixed = all(r["eval_access_max_change"] == 0.0 for r in runs.values())
    # consequence of the documented procedure: sigma = u^T W v with u = W v'/||W v'||, v the next
    # iterate, equals ||W^T u|| <= sigma_1 (Cauchy-Schwarz), so sigma_1(W / sigma) >= 1
    one_sided = all(r["normalized_sigma_min"] >= 1 - _SN_TOL for r in runs.values())
    series = {name: (np.array(r.pop("series_normalized_sigma")) - 1).tolist() for name, r in runs.items()}
    worst = max(runs, key=lambda n: runs[n]["normalized_sigma_max"])
    return Evidence(
        verdict=decide(holds_as_stated=conforms and eval_fixed and one_sided),
        key=f"torch = documented power method to {max(r['conformance_max_rel_err'] for r in runs.values()):.1g} "
            f"rel. in {len(runs)} runs; eval access changes nothing; sigma_1(W_SN) in "
            f"[{min(r['normalized_sigma_min'] for r in runs.values()):.4g}, "
            f"{runs[worst]['normalized_sigma_max']:.4g}] ({worst})",
        measured={"runs": runs, "conforms": conforms, "eval_access_fixed": eval_fixed, "one_sided": one_sided,
                  "protocol": SN_PROTOCOL},
        tolerance=_SN_TOL,
        tolerance_reason="64 k (m + n) eps, k <= 5 power steps, m + n <= 43: round-off of the same "
                         "power steps computed twice (torch's and ours)",
        counterexample=None if conforms and eval_fixed and one_sided else {**SN_PROTOCOL, "runs": runs},
        series=series,
    )


@claim(
    "CONF-torch-spectral-norm",
    document=TORCH_DOCS,
    ref="torch.nn.utils.parametrizations.spectral_norm docstring (W_SN = W / sigma(W); sigma "
        "approximated by one power-method iteration each time the weight is accessed; notes: "
        "n_power_iterations steps in training mode, vectors estimated rather than resampled, "
        "weights of more than 2 dims reshaped to 2-D)",
    statement="spectral_norm divides W by sigma(W), its spectral norm, approximated by n_power_iterations "
              "(default 1) power-method steps each time the weight is accessed in training mode, "
              "continuing from the previous vectors; conv weights are reshaped to out x (in kh kw).",
    checked="Along Adam runs (float64, lr 0.05, 30 steps) of Linear(24->16) and Conv2d(3->8, 3x3) with 1 and "
            "5 power iterations: torch's normalized weight equals W / sigma from an independent "
            "implementation of the documented procedure (continued from torch's stored vectors) to "
            "64 k (m+n) eps relative; an eval-mode access changes nothing; and, as the procedure implies "
            "(sigma = ||W^T u|| <= sigma_1), sigma_1(W_SN) >= 1 at every step. How far above 1 the "
            "approximation leaves it is measured and reported.",
    expect=Verdict.CONFIRMED,
    figure=_draw_sn,
)
def check_torch_spectral_norm() -> Evidence:
    return spectral_norm_evidence(spectral_norm_runs())
