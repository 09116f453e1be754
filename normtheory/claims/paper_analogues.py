"""Paper: Tables II-IV and the implicit warm-up (Figs. 4-5), as small analogues on the digits.

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``), Sec. 3.2, 4.2, 6.2, 6.3; Tables II-IV;
Figs. 4-5.

The paper's ImageNet ResNet-50 runs are out of reach; :mod:`normtheory.reproduce.weight_decay`
runs WN/WS MLPs on digits in float32 (its docstring fixes the protocol). Each check computes the
analogue's in-run form and decides here, from per-seed numbers with bootstrap intervals over seeds
(:mod:`normtheory.claims._analogue`); the recorded full run is decided by the same function and
shown beside it, labelled ``recorded`` with its provenance.

A run has *failed* when it diverged (NaN/Inf, or a norm/std of exactly 0: the paper's float
overflow) or its test accuracy averaged over the last half of its epochs is below
:data:`FAIL_ACC` = 0.5. Chance is 0.1 and every lambda = 0 pilot run exceeded 0.9, while the
collapsed runs sat between 0 and 0.3: the threshold is far from both groups, and a configuration
counts as failing (or training) only when the interval of its mean score over seeds lies wholly
below (above) it. (An earlier rule, a unit's norm below 1e-3 of its initial value, sat between the
values one run reached with one and with two torch threads.)
"""

from __future__ import annotations

import math

import numpy as np

from normtheory.claims._analogue import (HOLDS, FAILS, UNDECIDED, all_of, analogue_evidence,
                                         any_of, ci, interval_json, paired, part)
from normtheory.registry import PAPER, Finding, Verdict, claim
from normtheory.reproduce.stats import ABOVE, BELOW, bootstrap_statistic

__all__ = ["decide_table2", "decide_table3", "decide_table4", "decide_warmup", "DECISIONS",
           "FAIL_ACC", "EPS_MARGIN", "CORR_MATCH"]

FAIL_ACC = 0.5
#: Table IV: "changes little" = the range of the per-eps mean accuracies below 0.02 (10 of the
#: 500 test images); the paper's Table IV spans 0.3 points of top-1 over the same eps range.
EPS_MARGIN = 0.02
#: Fig. 5: "closely matching" = correlation of the two effective-lr curves above 0.9.
CORR_MATCH = 0.9

_DIFF = ("digits (1,797 8x8 images) instead of ImageNet; a 3-hidden-layer WN/WS MLP (width 128, "
         "batch norm after each normalized layer) instead of WN/WS-ResNet-50; a few epochs "
         "(~20 steps each) instead of 100 ImageNet epochs (~500k steps); float32 on CPU")


def _f(x: float) -> str:
    return f"{x:.3g}"


def _iv(d: dict) -> str:
    return f"{_f(d['estimate'])} [{_f(d['low'])}, {_f(d['high'])}]"


def _finding(outcome: str) -> str:
    return {HOLDS: Finding.SUPPORTS, FAILS: Finding.DOES_NOT_SUPPORT,
            UNDECIDED: Finding.INCONCLUSIVE}[outcome].value


def _score(r: dict) -> float:
    """Test accuracy over the last half of the epochs; 0 for a diverged run (it failed)."""
    if r["diverged"]:
        return 0.0
    accs = r["test_acc_by_epoch"]
    return float(np.mean(accs[len(accs) // 2:]))


def _cfg(r: dict) -> tuple:
    return (r["norm"], r["optimizer"], float(r["lambda"]), r["eps"])


def _label(c: tuple) -> str:
    n, o, lam, eps = c
    return f"{n}/{o}/{lam:g}/" + ("L2" if eps is None else f"eps{eps:g}")


def _configs(result: dict) -> dict:
    """config -> {"score": interval, "state": failing|training|undecided, "diverged": count}."""
    by: dict = {}
    for r in result["runs"]:
        by.setdefault(_cfg(r), {})[r["seed"]] = r
    out = {}
    for c, runs in by.items():
        iv = ci([_score(r) for r in runs.values()])
        p = part(iv, FAIL_ACC, predicted=BELOW)  # holds = failing
        out[c] = {"score": interval_json(iv), "diverged": sum(r["diverged"] for r in runs.values()),
                  "state": {HOLDS: "failing", FAILS: "training", UNDECIDED: "undecided"}[p]}
    return out


def _protocol(result: dict) -> dict:
    return {"seeds": result["seeds"], "epochs": result["epochs"]}


def decide_table2(result: dict) -> dict:
    """(A) some WN/WS configuration with lambda > 0 fails while the same one at lambda = 0 trains,
    and (B) every Adam configuration with lambda > 0 fails; both to support."""
    cfg = _configs(result)
    plain = {c: v for c, v in cfg.items() if c[3] is None}
    large = {c: v for c, v in plain.items() if c[2] > 0}
    parts_a = []
    for c, v in large.items():
        control = plain.get((c[0], c[1], 0.0, None))
        if v["state"] == "failing":
            parts_a.append(HOLDS if control and control["state"] == "training" else UNDECIDED)
        else:
            parts_a.append(FAILS if v["state"] == "training" else UNDECIDED)
    adam = [v["state"] for c, v in large.items() if c[1] == "adam"]
    b = all_of({"failing": HOLDS, "training": FAILS}.get(s, UNDECIDED) for s in adam)
    a = any_of(parts_a)
    return {"protocol": _protocol(result), "fail_acc": FAIL_ACC,
            "configs": {_label(c): v for c, v in plain.items()},
            "not_failing": sum(v["state"] != "failing" for v in plain.values()),
            "large_lambda_fails": a, "adam_fails_unless_0": b, "finding": _finding(all_of([a, b]))}


def _describe_configs(configs: dict, states=("failing",)) -> str:
    return ", ".join(f"{k} {_iv(v['score'])}" for k, v in configs.items() if v["state"] in states)


def _describe_table2(d: dict) -> str:
    adam = {k: v for k, v in d["configs"].items() if "/adam/" in k and not k.split("/")[2] == "0"}
    return (f"failing (score interval below {_f(d['fail_acc'])}): "
            f"{_describe_configs(d['configs']) or 'none'}; {d['not_failing']} other configs; Adam "
            f"lambda > 0: {_describe_configs(adam, ('training', 'undecided', 'failing'))}; large "
            f"lambda fails: {d['large_lambda_fails']}, Adam fails unless 0: "
            f"{d['adam_fails_unless_0']}")


def _describe_table3(d: dict) -> str:
    pairs = []
    for k, v in d["configs"].items():
        if k.endswith("/L2"):
            shifted = [s for s in d["configs"] if s.startswith(k[:-2] + "eps")]
            if v["state"] == "failing" or any(d["configs"][s]["state"] == "failing" for s in shifted):
                pairs += [f"{k} {_iv(v['score'])} vs {s} {_iv(d['configs'][s]['score'])}"
                          for s in shifted]
    return (f"where L2 or the shift fails (score interval below {_f(d['fail_acc'])}): "
            f"{'; '.join(pairs) or 'nowhere'}; {d['failing_controls']} failing L2 controls")


def decide_table3(result: dict) -> dict:
    """Where plain L2 fails (the control), the eps-shifted run of the same configuration must train;
    no eps-shifted configuration may fail. No failing control: inconclusive."""
    cfg = _configs(result)
    shifted = {c: v for c, v in cfg.items() if c[3] is not None}
    parts = []
    controls = 0
    for c, v in shifted.items():
        control = cfg.get((c[0], c[1], c[2], None))
        controls += bool(control and control["state"] == "failing")
        if v["state"] == "failing":
            parts.append(FAILS)
        elif control and control["state"] == "failing":
            parts.append(HOLDS if v["state"] == "training" else UNDECIDED)
        elif v["state"] == "undecided":
            parts.append(UNDECIDED)
    outcome = all_of(parts) if (controls or FAILS in parts) else UNDECIDED
    return {"protocol": _protocol(result), "fail_acc": FAIL_ACC,
            "configs": {_label(c): v for c, v in cfg.items() if c[2] > 0},
            "failing_controls": controls, "finding": _finding(outcome)}


def decide_table4(result: dict) -> dict:
    """No eps-shifted run fails, eps acts (min std ratio larger for the largest eps than for the
    smallest), and the range of the per-eps mean scores has an interval wholly below EPS_MARGIN."""
    eps_values = sorted({r["eps"] for r in result["runs"] if r["eps"] is not None}, reverse=True)
    seeds = sorted({r["seed"] for r in result["runs"]})
    table = {(r["eps"], r["seed"]): r for r in result["runs"]}
    scores = [[_score(table[(e, s)]) for e in eps_values] for s in seeds]
    spread = bootstrap_statistic(scores, lambda x: float(np.ptp(x.mean(axis=0))))
    fails = [part(ci(col), FAIL_ACC, predicted=ABOVE) for col in np.asarray(scores).T]
    ratio = {e: {s: math.log(table[(e, s)]["min_scale_ratio"]) for s in seeds}
             for e in (eps_values[0], eps_values[-1])}
    acts = ci(paired(ratio[eps_values[0]], ratio[eps_values[-1]]))
    robust = part(spread, EPS_MARGIN, predicted=BELOW)
    if FAILS in fails:
        outcome = FAILS
    elif part(acts, 0.0) != HOLDS or UNDECIDED in fails:
        outcome = UNDECIDED  # eps does not (measurably) act: robustness to it is not tested
    else:
        outcome = robust
    return {"protocol": _protocol(result), "lambda": result["lambda"], "margin": EPS_MARGIN,
            "mean_score_by_eps": {f"{e:g}": float(np.mean([row[i] for row in scores]))
                                  for i, e in enumerate(eps_values)},
            "range_of_means": interval_json(spread),
            "log_min_std_ratio_largest_minus_smallest_eps": interval_json(acts),
            "finding": _finding(outcome)}


def _describe_table4(d: dict) -> str:
    means = ", ".join(f"eps {e} {_f(v)}" for e, v in d["mean_score_by_eps"].items())
    return (f"lambda {_f(d['lambda'])}: score {means}; range {_iv(d['range_of_means'])} vs "
            f"margin {_f(d['margin'])}; eps acts (log min-std ratio, largest - smallest eps) "
            f"{_iv(d['log_min_std_ratio_largest_minus_smallest_eps'])}")


def _curves(result: dict, kind: str, lam: float | None) -> dict:
    return {r["seed"]: (np.asarray(r["curve"]), r["diverged"]) for r in result["runs"]
            if r["kind"] == kind and (lam is None or math.isclose(r["lambda"], lam))}


def decide_warmup(result: dict) -> dict:
    """Fig. 4: the WS effective lr at 10% of training over its first value (log ratio) rises, and
    more than at lambda = 0 (control); Fig. 5: its correlation over the first 20% with the plain
    warm-up reference is above CORR_MATCH, and above the lambda = 0 curve's. Both to support."""
    steps = result["epochs"] * result["steps_per_epoch"]
    t10, t20 = max(1, steps // 10), max(3, steps // 5)
    ws = _curves(result, "ws", result["lambda_star"])
    ws0 = _curves(result, "ws", 0.0)
    ref = _curves(result, "plain+warmup", None)
    short = [s for group in (ws, ws0, ref) for s, (c, _) in group.items() if len(c) <= t20]
    out = {"protocol": _protocol(result), "lambda_star": result["lambda_star"],
           "corr_match": CORR_MATCH, "rise_at_percent": 10, "corr_over_percent": 20,
           "diverged_runs": len(short)}
    if short:  # a run diverged before 20% of training: the curves cannot be compared
        out.update({"rises": UNDECIDED, "matches": UNDECIDED, "finding": _finding(UNDECIDED)})
        return out

    def rise(group):
        return {s: math.log(c[t10] / c[0]) for s, (c, _) in group.items()}

    def corr(group):
        return {s: float(np.corrcoef(c[:t20], ref[s][0][:t20])[0, 1]) for s, (c, _) in group.items()}

    r, r0 = rise(ws), rise(ws0)
    k, k0 = corr(ws), corr(ws0)
    iv_r, iv_rd = ci(r.values()), ci(paired(r, r0))
    iv_k, iv_kd = ci(k.values()), ci(paired(k, k0))
    rises = all_of([part(iv_r, 0.0), part(iv_rd, 0.0)])
    matches = all_of([part(iv_k, CORR_MATCH), part(iv_kd, 0.0)])
    out.update({"log_rise": interval_json(iv_r), "log_rise_minus_control": interval_json(iv_rd),
                "corr": interval_json(iv_k), "corr_minus_control": interval_json(iv_kd),
                "rises": rises, "matches": matches, "finding": _finding(all_of([rises, matches]))})
    return out


def _describe_warmup(d: dict) -> str:
    if "corr" not in d:
        return f"{d['diverged_runs']} runs diverged before {d['corr_over_percent']}% of training"
    return (f"lambda* {_f(d['lambda_star'])}: log rise at {d['rise_at_percent']}% "
            f"{_iv(d['log_rise'])} (minus lambda=0 {_iv(d['log_rise_minus_control'])}); corr with "
            f"warm-up over {d['corr_over_percent']}% "
            f"{_iv(d['corr'])} vs {_f(d['corr_match'])} (minus lambda=0 "
            f"{_iv(d['corr_minus_control'])})")


@claim(
    "PAPER-table2-analogue",
    document=PAPER,
    ref="Table II; Sec. 4.2",
    statement="With WN or WS, a too-large weight decay drives ||W|| toward 0, the effective learning "
              "rate explodes and training fails by float overflow; Adam fails unless lambda = 0.",
    checked="Digits analogue in float32, constant lr (the paper's failures occur in its first lr "
            "phase): a configuration fails when its mean over seeds of the last-half test "
            "accuracy (0 if diverged) has a bootstrap interval wholly below 0.5; supported when "
            "some WN/WS configuration with lambda > 0 fails while the same one at lambda = 0 "
            "trains, and every Adam configuration with lambda > 0 fails.",
    expect=Verdict.ANALOGUE,
    expect_finding=Finding.DOES_NOT_SUPPORT,
)
def check_table2():
    return analogue_evidence(
        "wd-sweep", decide_table2,
        describe=_describe_table2,
        analogue=_DIFF + "; lambda grid extended to lr*lambda = 1 (fewer steps, less total decay)")


@claim(
    "PAPER-table3-analogue",
    document=PAPER,
    ref="Table III; Sec. 6.2",
    statement="With the eps-shifted L2 regularizer there is no failed training for any lambda or "
              "optimizer.",
    checked="Digits analogue: in each configuration where plain L2 fails (the control: score "
            "interval wholly below 0.5), the eps-shifted regularizer (Eq. 25 WN, Eq. 26 WS, "
            "eps = 1e-3) must train (interval wholly above), and no eps-shifted configuration may "
            "fail; without a failing control the analogue shows nothing (inconclusive).",
    expect=Verdict.ANALOGUE,
    expect_finding=Finding.DOES_NOT_SUPPORT,
)
def check_table3():
    return analogue_evidence(
        "wd-sweep", decide_table3,
        describe=_describe_table3,
        analogue=_DIFF)


@claim(
    "PAPER-table4-analogue",
    document=PAPER,
    ref="Table IV; Sec. 6.3",
    statement="The choice of eps (1e-2 .. 1e-5) is robust: WS-ResNet-50's accuracy changes little.",
    checked="Digits analogue (WS, SGD, constant lr, lambda = 0.1, where the decay shrinks the "
            "std): no eps-shifted configuration fails, eps measurably acts (log min std ratio, "
            "largest minus smallest eps, interval above 0; otherwise inconclusive), and the "
            "range of the per-eps mean scores has a bootstrap interval wholly below 0.02.",
    expect=Verdict.ANALOGUE,
    expect_finding=Finding.INCONCLUSIVE,
)
def check_table4():
    return analogue_evidence("eps-sensitivity", decide_table4, describe=_describe_table4,
                             analogue=_DIFF)


@claim(
    "PAPER-warmup-analogue",
    document=PAPER,
    ref="Figs. 4-5; Sec. 3.2",
    statement="With WS and weight decay, the effective learning rate rises over the first epochs "
              "(an implicit warm-up), closely matching a plain network trained with explicit warm-up.",
    checked="Digits analogue (WS mlp3, SGD, step schedule, lambda* matching the paper's total decay "
            "budget; control lambda = 0): the log ratio of the first layer's mean lr/std at 10% "
            "of training to its first value has an interval above 0 and above the control's "
            "(Fig. 4), and its correlation over the first 20% with a plain batch-norm net's "
            "lr/||W||^2 under explicit linear warm-up has an interval above 0.9 and above the "
            "control's (Fig. 5); both to support.",
    expect=Verdict.ANALOGUE,
    expect_finding=Finding.DOES_NOT_SUPPORT,
)
def check_warmup():
    return analogue_evidence("warmup", decide_warmup, describe=_describe_warmup,
                             analogue=_DIFF + "; effective lr measured on the first hidden layer")


#: claim id -> (analogue name, decision function): what ``normtheory reproduce --check`` compares.
DECISIONS = {
    "PAPER-table2-analogue": ("wd-sweep", decide_table2),
    "PAPER-table3-analogue": ("wd-sweep", decide_table3),
    "PAPER-table4-analogue": ("eps-sensitivity", decide_table4),
    "PAPER-warmup-analogue": ("warmup", decide_warmup),
}
