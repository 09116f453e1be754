"""normtheory.claims.lecture_lr_control: the property holds for plain SGD on the scale-invariant
model and FAILS when the weights are renormalized each step (then alpha is the effective LR)."""

from __future__ import annotations

import functools

from normtheory.claims import lecture_lr_control as lc
from normtheory.registry import Verdict
from normtheory.toy_models import atan2_run

_FAST = {**lc.LR_SETUP, "steps": 5000}


def test_L5_lr_little_control_confirmed():
    found = lc.lr_control_study(setup=_FAST)
    assert lc.lr_control_evidence(found).verdict is Verdict.CONFIRMED
    assert found["max_ratio_to_asymptote"] < 1


def test_L5_lr_little_control_fails_with_explicit_normalization():
    # broken for this purpose: renormalizing w to unit norm after each step (the slide's remedy)
    run = functools.partial(atan2_run, project=True)
    ev = lc.lr_control_evidence(lc.lr_control_study(setup=_FAST, run=run))
    assert ev.verdict is Verdict.REFUTED
    assert ev.measured["elasticity"] > 0.99


def test_L5_lr_little_control_fails_too_early():
    # before k >> k0 (k0 = 50 for alpha = 0.1) alpha still controls the effective LR
    ev = lc.lr_control_evidence(lc.lr_control_study(setup={**lc.LR_SETUP, "steps": 20}))
    assert ev.verdict is Verdict.REFUTED


# ------------------------------------------------------------------------ L5-per-unit-lr

_SHORT = {**lc.PER_UNIT_SETUP, "steps": 20}


def test_L5_per_unit_lr_confirmed():
    found = lc.per_unit_run(_SHORT)
    assert lc.per_unit_evidence(found).verdict is Verdict.CONFIRMED
    assert found["spearman_movement_vs_lr"] == -1.0


def test_L5_per_unit_lr_fails_with_weight_decay():
    # broken for this purpose: coupled weight decay shrinks w each step, so the norm no longer records
    # the movement
    found = lc.per_unit_run({**_SHORT, "weight_decay": 0.05})
    ev = lc.per_unit_evidence(found)
    assert ev.verdict is Verdict.REFUTED
    assert ev.counterexample["setup"]["weight_decay"] == 0.05
