"""The paper analogues' decision functions on synthetic run records, each against a deliberately
broken variant (a decision that ignores the control, a bootstrap that ignores the seeds, a failure
rule on a knife-edge threshold)."""

from __future__ import annotations

import math

import pytest

from normtheory.claims import paper_analogues as pa
from normtheory.reproduce.stats import Interval

TRAINS, COLLAPSES = [0.90, 0.93, 0.95, 0.95], [0.05, 0.02, 0.10, 0.08]


def _sweep_run(norm, opt, lam, eps, seed, accs, diverged=False, ratio=0.5):
    return {"norm": norm, "optimizer": opt, "lambda": lam, "eps": eps, "seed": seed,
            "diverged": diverged, "test_acc_by_epoch": accs, "min_scale_ratio": ratio}


def _sweep(cells, seeds=4):
    """cells: {(norm, opt, lam, eps): per-seed final accuracy list}"""
    runs = [_sweep_run(*c, s, [a, a]) for c, accs in cells.items() for s, a in zip(range(seeds), accs)]
    return {"seeds": seeds, "epochs": 2, "runs": runs}


BASE = {("wn", "sgd", 0.0, None): TRAINS, ("wn", "sgd", 10.0, None): COLLAPSES,
        ("wn", "adam", 1e-2, None): COLLAPSES, ("wn", "adam", 0.0, None): TRAINS,
        ("wn", "sgd", 10.0, 1e-3): TRAINS, ("wn", "adam", 1e-2, 1e-3): TRAINS}


def test_PAPER_table2_analogue_follows_the_numbers():
    assert pa.decide_table2(_sweep(BASE))["finding"] == "supports"
    adam_trains = {**BASE, **{("wn", "adam", 1e-2, None): TRAINS}}
    assert pa.decide_table2(_sweep(adam_trains))["finding"] == "does not support"
    nothing_fails = {c: TRAINS for c in BASE}
    assert pa.decide_table2(_sweep(nothing_fails))["finding"] == "does not support"


def test_PAPER_table2_analogue_fails_without_a_training_control():
    # lambda = 0 collapses too: the failure is not caused by the decay
    no_control = {**BASE, **{("wn", "sgd", 0.0, None): COLLAPSES, ("wn", "adam", 0.0, None): COLLAPSES}}
    d = pa.decide_table2(_sweep(no_control))
    assert d["large_lambda_fails"] != "holds" and d["finding"] != "supports"


def test_PAPER_table2_analogue_diverged_runs_count_as_failed():
    res = _sweep({**BASE, **{("wn", "sgd", 10.0, None): TRAINS}})
    for r in res["runs"]:
        if r["lambda"] == 10.0 and r["eps"] is None:
            r["diverged"] = True
    assert pa.decide_table2(res)["large_lambda_fails"] == "holds"


def test_PAPER_table2_analogue_failure_rule_is_robust_where_a_broken_knife_threshold_flips():
    """The old rule (norm ratio below 1e-3) flipped between 8.7e-4 and 1.4e-3; the score rule
    does not move when every accuracy moves by 0.02 (10 test images)."""
    res = _sweep(BASE)
    shifted = {**res, "runs": [dict(r, test_acc_by_epoch=[a + 0.02 for a in r["test_acc_by_epoch"]])
                               for r in res["runs"]]}
    assert pa.decide_table2(res) ["finding"] == pa.decide_table2(shifted)["finding"]
    # broken variant: a threshold sitting on the observed values flips under the same perturbation
    knife = 0.94
    before = [sum(r["test_acc_by_epoch"]) / 2 < knife for r in res["runs"]]
    after = [sum(r["test_acc_by_epoch"]) / 2 < knife for r in shifted["runs"]]
    assert before != after


def test_PAPER_table3_analogue_fails_when_the_shift_fails_like_its_control():
    assert pa.decide_table3(_sweep(BASE))["finding"] == "supports"
    # the shifted regularizer fails where plain L2 fails: does not support
    eps_fails = {**BASE, **{("wn", "sgd", 10.0, 1e-3): COLLAPSES}}
    d = pa.decide_table3(_sweep(eps_fails))
    assert d["finding"] == "does not support" and d["failing_controls"] == 2
    # plain L2 never fails: nothing shown (the old check said "supports" here)
    no_control = {c: TRAINS for c in BASE}
    d = pa.decide_table3(_sweep(no_control))
    assert d["failing_controls"] == 0 and d["finding"] == "inconclusive"


def _eps(scores_by_eps, ratios_by_eps, seeds=4):
    runs = [{"eps": e, "seed": s, "diverged": False, "test_acc_by_epoch": [scores_by_eps[e][s]] * 2,
             "min_scale_ratio": ratios_by_eps[e][s]} for e in scores_by_eps for s in range(seeds)]
    return {"seeds": seeds, "epochs": 2, "lambda": 0.1, "runs": runs}


FLAT = {1e-2: [0.90, 0.91, 0.92, 0.90], 1e-5: [0.905, 0.91, 0.915, 0.9]}
ACTS = {1e-2: [0.2, 0.25, 0.22, 0.21], 1e-5: [0.01, 0.02, 0.015, 0.012]}


def test_PAPER_table4_analogue_follows_the_numbers():
    assert pa.decide_table4(_eps(FLAT, ACTS))["finding"] == "supports"
    far = {1e-2: [0.80, 0.81, 0.80, 0.82], 1e-5: FLAT[1e-5]}
    assert pa.decide_table4(_eps(far, ACTS))["finding"] == "does not support"
    # eps does not act (same weights for every eps): robustness to it is not tested
    idle = {1e-2: ACTS[1e-5], 1e-5: ACTS[1e-5]}
    assert pa.decide_table4(_eps(FLAT, idle))["finding"] == "inconclusive"


def test_PAPER_table4_analogue_noisy_is_inconclusive_a_broken_seedless_bootstrap_is_not(monkeypatch):
    noisy = {1e-2: [0.95, 0.85, 0.96, 0.86], 1e-5: [0.86, 0.95, 0.87, 0.94]}
    assert pa.decide_table4(_eps(noisy, ACTS))["finding"] == "inconclusive"

    def seedless(rows, statistic, **kw):  # broken: no resampling of seeds
        import numpy as np
        v = float(statistic(np.asarray(rows)))
        return Interval(v, v, v, len(rows), 0.95)

    monkeypatch.setattr(pa, "bootstrap_statistic", seedless)
    assert pa.decide_table4(_eps(noisy, ACTS))["finding"] != "inconclusive"


def _warm(rise_ws, rise_0, corr_noise=0.0, seeds=3, steps=100):
    runs = []
    for s in range(seeds):
        ramp = [min(1.0, (t + 1) / 10) for t in range(steps)]
        ws = [math.exp(rise_ws * min(1.0, t / 10)) * (1 + corr_noise * ((t * 7 + s) % 5 - 2))
              for t in range(steps)]
        ws0 = [math.exp(rise_0 * min(1.0, t / 10)) for t in range(steps)]
        runs += [{"kind": "ws", "lambda": 0.5, "seed": s, "diverged": False, "curve": ws},
                 {"kind": "ws", "lambda": 0.0, "seed": s, "diverged": False, "curve": ws0},
                 {"kind": "plain+warmup", "lambda": 1e-4, "seed": s, "diverged": False,
                  "curve": ramp}]
    return {"seeds": seeds, "epochs": 5, "steps_per_epoch": steps // 5, "lambda_star": 0.5,
            "runs": runs}


def test_PAPER_warmup_analogue_follows_the_numbers_and_fails_when_the_control_rises():
    assert pa.decide_warmup(_warm(1.0, -0.5))["finding"] == "supports"
    assert pa.decide_warmup(_warm(-1.0, -0.5))["finding"] == "does not support"
    # broken variant of the data: the control rises as much -> the rise is not the decay's doing
    d = pa.decide_warmup(_warm(1.0, 1.0))
    assert d["rises"] != "holds" and d["finding"] != "supports"


def test_PAPER_warmup_analogue_diverged_runs_are_an_outcome_not_a_crash():
    res = _warm(1.0, -0.5)
    res["runs"][2] = dict(res["runs"][2], diverged=True, curve=res["runs"][2]["curve"][:5])
    d = pa.decide_warmup(res)
    assert d["diverged_runs"] == 1 and d["finding"] == "inconclusive"
