"""Paper: Fig. 1 (under-fitting without weight decay) and Fig. 2 (the effective learning rate with and
without decay), as seconds-long analogues decided in the run.

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``), Sec. 1 / Fig. 1 and Sec. 3.2 / Fig. 2.

The WS/WN-ResNet-50 ImageNet runs are out of reach; :func:`normtheory.wd_analogue.decay_sweep` trains
a one-layer WN net (and an unnormalized control) on a teacher task with and without decay, five
seeds, in about a second. Because the outcome of such an analogue can depend on where the weights
start against the decay's equilibrium, it runs in two regimes of the initial weight scale (3 and 1
times the 1/sqrt(d) init) and a part of a statement *holds* only when it holds in both. Decisions
use bootstrap intervals over seeds (:mod:`normtheory.reproduce.stats`): a part holds when the
interval lies wholly on the predicted side, fails when wholly on the other, else is undecided.
"""

from __future__ import annotations

import functools

import numpy as np

from normtheory.registry import PAPER, Evidence, Finding, Verdict, claim
from normtheory.reproduce.stats import ABOVE, BELOW, bootstrap_mean, side
from normtheory.wd_analogue import decay_sweep

__all__ = ["REGIMES", "sweeps", "decide_underfit", "decide_eff_lr", "SETTINGS"]

#: initial weight scale (times 1/sqrt(d)) of the two regimes
REGIMES = (3.0, 1.0)
SETTINGS = {"seeds": 5, "steps": 250, "lr": 1.0, "lam": 1e-2}

_ANALOGUE = ("a 10-input, 32-unit tanh layer with WN per unit and a fixed random head on 256 teacher-labelled "
             "Gaussian points (unnormalized control alongside), plain SGD lr 1, batch 16, 250 steps, lambda "
             "1e-2 vs 0, 5 seeds, float64, two initial weight scales; instead of WS/WN-ResNet-50 on ImageNet "
             "with momentum SGD, lambda 1e-4 vs 0, 100 epochs")


@functools.lru_cache(maxsize=4)
def _sweep(init_scale: float):
    return decay_sweep(init_scale=init_scale, **SETTINGS)


def sweeps(sweep=_sweep) -> dict:
    return {scale: sweep(scale) for scale in REGIMES}


def _part(values, threshold: float, predicted: str) -> tuple[str, dict]:
    iv = bootstrap_mean(list(values))
    s = side(iv, threshold)
    outcome = "holds" if s == predicted else ("fails" if s in (ABOVE, BELOW) else "undecided")
    return outcome, iv.to_json()


def _combine(parts: list[str]) -> Finding:
    if all(p == "holds" for p in parts):
        return Finding.SUPPORTS
    if all(p == "fails" for p in parts):
        return Finding.DOES_NOT_SUPPORT
    return Finding.INCONCLUSIVE


def decide_underfit(runs: dict) -> dict:
    """Per regime: training loss without decay minus with decay (per seed) for the normalized net
    (predicted above 0: under-fitting without decay) and the control (predicted not above 0: decay
    does not help an unnormalized net train). The regime's part holds when both do."""
    out, parts = {}, []
    for scale, r in runs.items():
        norm_part, norm_iv = _part(r.loss["normalized"]["0"] - r.loss["normalized"]["lam"], 0.0, ABOVE)
        ctrl_side = side(bootstrap_mean(list(r.loss["control"]["0"] - r.loss["control"]["lam"])), 0.0)
        ctrl_ok = ctrl_side != ABOVE
        part = norm_part if (norm_part != "holds" or ctrl_ok) else "undecided"
        out[str(scale)] = {"normalized_loss_gap": norm_iv, "control_side": ctrl_side,
                           "control_loss_gap": bootstrap_mean(list(r.loss["control"]["0"] - r.loss["control"]["lam"])).to_json(),
                           "part": part}
        parts.append(part)
    return {"regimes": out, "finding": _combine(parts).value}


def decide_eff_lr(runs: dict) -> dict:
    """Per regime (normalized net): (a) the log ratio of the final effective learning rate with decay to
    without is above 0; (b) with decay it has settled (over the second half it changes by less than a
    factor 2), while without decay it keeps falling (log of its value at mid-training over its final
    value above 0): the decay-free run is the control that behaves differently."""
    out, parts = {}, []
    for scale, r in runs.items():
        e0, e1 = r.eff_lr["normalized"]["0"], r.eff_lr["normalized"]["lam"]
        half = e0.shape[0] // 2
        a, a_iv = _part(np.log(e1[-1] / e0[-1]), 0.0, ABOVE)
        settled = bool(np.all(e1[half:].max(axis=0) / e1[half:].min(axis=0) < 2.0))
        falls, f_iv = _part(np.log(e0[half] / e0[-1]), 0.0, ABOVE)
        part = a if a != "holds" else (falls if settled else "undecided")
        out[str(scale)] = {"log_ratio_final": a_iv, "decayed_settled": settled, "undecayed_falls": f_iv, "part": part}
        parts.append(part)
    return {"regimes": out, "finding": _combine(parts).value}


def _draw(evidence: Evidence):
    from normtheory.figures import new_figure

    s = evidence.series
    fig = new_figure(9, 3.6)
    ax1, ax2 = fig.subplots(1, 2)
    for i, scale in enumerate(REGIMES):
        key = str(scale)
        ax1.semilogy(s["steps"], s[f"eff0_{key}"], f"C{2 * i}--", label=f"init x{scale:g}, lambda 0")
        ax1.semilogy(s["steps"], s[f"eff1_{key}"], f"C{2 * i}", label=f"init x{scale:g}, lambda 1e-2")
        ax2.plot(s["steps"], s[f"loss0_{key}"], f"C{2 * i}--", label=f"init x{scale:g}, lambda 0")
        ax2.plot(s["steps"], s[f"loss1_{key}"], f"C{2 * i}", label=f"init x{scale:g}, lambda 1e-2")
    ax1.set_xlabel("SGD step")
    ax1.set_ylabel("mean lr/||V_j||^2 (seed mean)")
    ax2.set_xlabel("SGD step")
    ax2.set_ylabel("training loss, WN net (seed mean)")
    ax1.legend(fontsize=6)
    ax2.legend(fontsize=6)
    fig.suptitle("Figs. 1-2 analogue: decay keeps the effective lr up; whether that trains better depends on the init",
                 fontsize=9)
    return fig


def _series(runs: dict) -> dict:
    out = {"steps": next(iter(runs.values())).steps_at}
    for scale, r in runs.items():
        key = str(scale)
        out[f"eff0_{key}"] = r.eff_lr["normalized"]["0"].mean(axis=1)
        out[f"eff1_{key}"] = r.eff_lr["normalized"]["lam"].mean(axis=1)
        out[f"loss0_{key}"] = r.loss_curve["normalized"]["0"].mean(axis=1)
        out[f"loss1_{key}"] = r.loss_curve["normalized"]["lam"].mean(axis=1)
    return out


def _fmt(iv: dict) -> str:
    return f"{iv['estimate']:+.3g} [{iv['low']:+.3g}, {iv['high']:+.3g}]"


@claim(
    "PAPER-fig1-underfit-analogue",
    document=PAPER,
    ref="Sec. 1, Fig. 1",
    statement="Setting the weight decay of the WS-equipped layers to 0 makes the network under-fit: its training "
              "accuracy drops markedly.",
    checked="In both initial-scale regimes, the WN net's final training loss without decay minus with decay has a "
            "bootstrap interval above 0 (under-fitting without decay), while for the unnormalized control the "
            "same gap is not above 0 (decay does not help it train). Supports if both regimes hold, does not "
            "support if both fail, else inconclusive (the outcome depends on the regime).",
    expect=Verdict.ANALOGUE,
    expect_finding=Finding.INCONCLUSIVE,
    figure=_draw,
)
def check_fig1_underfit_analogue() -> Evidence:
    runs = sweeps()
    found = decide_underfit(runs)
    return Evidence(
        verdict=Verdict.ANALOGUE,
        finding=Finding(found["finding"]),
        key="loss(lambda 0) - loss(lambda): " + "; ".join(
            f"init x{k}: WN {_fmt(v['normalized_loss_gap'])}, control {_fmt(v['control_loss_gap'])} -> {v['part']}"
            for k, v in found["regimes"].items()) + f" -> {found['finding']}",
        measured=found | {"settings": SETTINGS, "regimes_init_scale": list(REGIMES)},
        analogue=_ANALOGUE,
        series=_series(runs),
    )


@claim(
    "PAPER-fig2-eff-lr-analogue",
    document=PAPER,
    ref="Sec. 3.2, Fig. 2",
    statement="With weight decay the effective learning rate of the normalized layer is kept in a relatively large "
              "range, while without decay it becomes small.",
    checked="In both initial-scale regimes (WN net): the final effective lr lr/||V_j||^2 with decay exceeds the one "
            "without (interval of the per-seed log ratio above 0), the decayed one has settled (within a factor 2 "
            "over the second half of training) while the decay-free one is still falling (mid-training over final "
            "above 0). The 'which leads to a better optimized solution' part is PAPER-fig1-underfit-analogue's.",
    expect=Verdict.ANALOGUE,
    expect_finding=Finding.SUPPORTS,
)
def check_fig2_eff_lr_analogue() -> Evidence:
    runs = sweeps()
    found = decide_eff_lr(runs)
    return Evidence(
        verdict=Verdict.ANALOGUE,
        finding=Finding(found["finding"]),
        key="log eff-lr ratio (decay/no decay) at the end: " + "; ".join(
            f"init x{k}: {_fmt(v['log_ratio_final'])}, decayed settled {v['decayed_settled']}, undecayed falls "
            f"{_fmt(v['undecayed_falls'])} -> {v['part']}" for k, v in found["regimes"].items()) + f" -> {found['finding']}",
        measured=found | {"settings": SETTINGS, "regimes_init_scale": list(REGIMES)},
        analogue=_ANALOGUE,
    )
