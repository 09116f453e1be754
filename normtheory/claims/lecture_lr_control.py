r"""Lecture 5: "the explicit learning rate gives you surprisingly little control over the effective
learning rate".

Source: the lecture slides (``002_cd849d122e313ad8.txt``), slide "Implicit Learning Rate Decay"
(after the schedule :math:`\hat\alpha_k = \hat\alpha_0/\sqrt{1 + k/k_0}`).

Derivation (the slides' recursion, made exact for a constant :math:`\lVert\nabla J(\hat w)\rVert
= G`): :math:`s = \lVert w\rVert^2` obeys :math:`s_{k+1} = s_k + \alpha^2 G^2 / s_k`, so
:math:`s_{k+1}^2 = s_k^2 + 2\alpha^2 G^2 + \alpha^4 G^4/s_k^2 \ge s_k^2 + 2\alpha^2G^2` and the
effective learning rate :math:`\alpha / s_k \le \alpha/\sqrt{s_0^2 + 2\alpha^2 G^2 k} <
1/(G\sqrt{2k})`: for :math:`k \gg k_0 = s_0^2/(2\alpha^2G^2)` it tends to :math:`1/(G\sqrt{2k})`,
whatever :math:`\alpha`. Checked on the exact model :math:`J = \mathrm{atan2}(w_2, w_1)` (G = 1,
:func:`normtheory.toy_models.atan2_run`), the one L5-sqrt-decay uses.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from normtheory.registry import LECTURE, Evidence, Verdict, claim, decide
from normtheory.toy_models import atan2_run

__all__ = ["effective_lr_path", "lr_control_study", "lr_control_evidence"]

LR_SETUP = {"alphas": [0.1, 1.0, 10.0], "steps": 20_000, "w0": [1.0, 0.0], "grad_norm": 1.0}


def effective_lr_path(alpha: float, *, steps: int, w0, run: Callable = atan2_run) -> np.ndarray:
    """alpha / ||w_k||^2 for k = 0..steps, SGD on atan2 (the slides' effective learning rate)."""
    w = run(np.asarray(w0, dtype=float), lr=alpha, steps=steps)
    return alpha / np.einsum("ki,ki->k", w, w)


def lr_control_study(*, setup: dict = LR_SETUP, run: Callable = atan2_run) -> dict:
    """Effective learning rate after ``steps`` for each alpha, its spread across alphas against
    the spread of alpha (as log ratios), and its ratio to the alpha-free asymptote 1/(G sqrt(2k))."""
    k, G = setup["steps"], setup["grad_norm"]
    paths = [effective_lr_path(a, steps=k, w0=setup["w0"], run=run) for a in setup["alphas"]]
    eff = [float(p[-1]) for p in paths]
    ks = np.unique(np.geomspace(1, k, 60).astype(int))
    asym = 1 / (G * math.sqrt(2 * k))
    s0 = float(np.dot(setup["w0"], setup["w0"]))
    return {"setup": setup, "effective_lr": eff, "asymptote": asym,
            "k0": [s0 ** 2 / (2 * a ** 2 * G ** 2) for a in setup["alphas"]],
            "log_spread_effective": math.log(max(eff) / min(eff)),
            "log_spread_alpha": math.log(max(setup["alphas"]) / min(setup["alphas"])),
            "max_ratio_to_asymptote": max(e / asym for e in eff), "min_ratio_to_asymptote": min(e / asym for e in eff),
            "series": {"ks": ks.tolist(), "effective_lr": [p[ks].tolist() for p in paths]}}


_CONTROL = 0.01  # "little control": a 100x change of alpha moves the effective LR by < 1% of that in log terms


def lr_control_evidence(found: dict) -> Evidence:
    elasticity = found["log_spread_effective"] / found["log_spread_alpha"]
    # derived bound alpha/s_k < 1/(G sqrt(2k)): every ratio to the asymptote is below 1
    below = found["max_ratio_to_asymptote"] < 1
    near = found["min_ratio_to_asymptote"] > 1 - _CONTROL
    ok = elasticity <= _CONTROL and below and near
    return Evidence(verdict=decide(holds_as_stated=ok),
                    counterexample=None if ok else {"model": "J = atan2(w2, w1), plain SGD", "dtype": "float64",
                                                    "setup": found["setup"],
                                                    "result": {"effective_lr": found["effective_lr"], "elasticity": elasticity}},
                    key=f"alpha from {min(found['setup']['alphas'])} to {max(found['setup']['alphas'])} (x100): effective LR "
                        "after 20000 steps " + ", ".join(f"{e:.5f}" for e in found["effective_lr"])
                        + f" (asymptote 1/sqrt(2k) = {found['asymptote']:.5f}); elasticity {elasticity:.1g}",
                    measured={**{k: v for k, v in found.items() if k != "series"}, "elasticity": elasticity},
                    series=found["series"], tolerance=_CONTROL,
                    tolerance_reason="'surprisingly little control' read as: the effective LR's log spread is under 1% of "
                                     "alpha's (an elasticity below 0.01) and within 1% of the alpha-free asymptote; the "
                                     "derived bound alpha/s_k < 1/(G sqrt(2k)) must hold strictly")


def _draw_lr_control(evidence: Evidence):
    from normtheory.figures import new_figure

    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    ks = np.array(evidence.series["ks"])
    for i, (alpha, path) in enumerate(zip(evidence.measured["setup"]["alphas"], evidence.series["effective_lr"])):
        # alpha and 1/alpha give the same curve on this model from ||w_0|| = 1 (s/alpha obeys one recursion
        # from 1/alpha, and one step maps 1/alpha and alpha to the same value): distinct styles show both
        ax.loglog(ks, path, ("-", "--", ":")[i % 3], color=f"C{i}", lw=4 - i, alpha=0.8, label=f"alpha = {alpha:g}")
    ax.loglog(ks, 1 / (evidence.measured["setup"]["grad_norm"] * np.sqrt(2 * ks)), "k-.", lw=1, label="1/(G sqrt(2k))")
    ax.set_xlabel("step k")
    ax.set_ylabel("effective LR alpha/||w_k||^2")
    ax.legend(fontsize=8)
    fig.suptitle("Scale-invariant loss (atan2, G = 1): alpha sets only the start")
    return fig


@claim(
    "L5-lr-little-control",
    document=LECTURE,
    ref="slide \"Implicit Learning Rate Decay\" (after the effective learning rate schedule)",
    statement="With scale-invariant weights, the explicit learning rate hyperparameter alpha gives surprisingly little "
              "control over the effective learning rate.",
    checked="Exact model J = atan2(w2, w1) (||grad J(w_hat)|| = 1, ||w_0|| = 1, float64, plain SGD): after 20000 steps "
            "the effective learning rate alpha/||w_k||^2 for alpha = 0.1, 1, 10 lies below the alpha-free value "
            "1/(G sqrt(2k)) (derived bound) and within 1% of it, so a 100x change of alpha changes it by under 1% "
            "of that in log terms (elasticity < 0.01). Holds once k >> k0 = ||w_0||^4/(2 alpha^2 G^2) (reported; "
            "k0 = 50 for alpha = 0.1). Without normalization the effective learning rate would be alpha itself.",
    expect=Verdict.CONFIRMED,
    figure=_draw_lr_control,
)
def check_lr_little_control() -> Evidence:
    return lr_control_evidence(lr_control_study())
