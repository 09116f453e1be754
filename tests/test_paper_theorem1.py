"""Theorem 1 (plain SGD), its listed schedule and momentum (Adam: test_paper_theorem1_adam.py): properties, broken variants, and
replay of the corrected/refuted counterexamples from their JSON record.

Shorter runs than the registered claims. Test names carry the claim id (``pytest -k PAPER_thm1_momentum``)."""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from normtheory import dynamics
from normtheory.claims import paper_theorem1 as theorem1

# Replays are bit-identical today (the span test solves by QR, the runs are single-threaded); 1e-9
# relative leaves room for another BLAS build's round-off and is far below any change a tampered
# record makes (>= 1e-3 relative in these tests).
REPLAY_RTOL = 1e-9


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        math.isclose(a[k], b[k], rel_tol=REPLAY_RTOL, abs_tol=1e-300) if isinstance(a[k], float) else a[k] == b[k]
        for k in a)


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), lr=st.floats(0.01, 0.1), lam=st.floats(0.0, 0.05))
def test_PAPER_thm1_schedule_reproduces_decay(seed, lr, lam):
    found = theorem1.theorem1_gaps(steps=40, lr=lr, lam=lam, seed=seed)
    assert found["max_gap"] <= found["tolerance"]


def test_PAPER_thm1_fails_with_constant_lr():
    const = theorem1.theorem1_gaps(lambda lr, lam: (lambda t: 1.0), steps=60)
    assert const["max_gap"] > const["tolerance"]


def test_PAPER_thm1_schedule_listed_sequence_fails():
    listed = theorem1.theorem1_gaps(theorem1.paper_listed_factor, steps=60)
    assert listed["max_gap"] > listed["tolerance"]


def test_PAPER_thm1_momentum_derived_schedule_holds_and_the_papers_fails():
    assert theorem1.momentum_gaps(steps=60, use="derived")["max_gap"] <= theorem1.momentum_gaps(steps=60)["tolerance"]
    bad = theorem1.momentum_gaps(steps=60, use="paper")
    assert bad["max_gap"] > bad["tolerance"]


def test_PAPER_thm1_momentum_regime_scan_holds_and_fails_for_a_sign_blind_builder():
    assert theorem1.momentum_regime_scan(steps=2000)["consistent"]

    def sign_blind(steps, **kw):  # a builder that never reports c_t <= 0
        return dataclasses_replace(dynamics.momentum_multipliers(steps, **kw))

    assert not theorem1.momentum_regime_scan(steps=2000, multipliers=sign_blind)["consistent"]


def dataclasses_replace(schedule):
    import dataclasses

    return dataclasses.replace(schedule, valid=True, first_nonpositive=None)


def test_PAPER_thm1_lr_lambda_overflow_is_an_error_not_inf():
    with pytest.raises(OverflowError):
        dynamics.theorem1_lr_lambda(lr=0.5, lam=1.0)(5000)


@pytest.mark.parametrize("claim_check, replay, tamper", [
    pytest.param(theorem1.check_thm1_schedule, theorem1.replay_thm1_schedule, ("optimizer", "weight_decay", 0.07),
                 marks=pytest.mark.slow),
    pytest.param(theorem1.check_thm1_momentum, theorem1.replay_thm1_momentum, ("optimizer", "momentum", 0.8),
                 marks=pytest.mark.slow),
], ids=["PAPER_thm1_schedule", "PAPER_thm1_momentum"])
def test_PAPER_thm1_replay_from_json(claim_check, replay, tamper):
    record = json.loads(json.dumps(claim_check().to_json()))  # what `verify --json` writes
    expected = record["counterexample"]["reproduces"]
    assert _same(replay(record), expected)
    changed = copy.deepcopy(record)
    group, key, value = tamper
    changed["counterexample"][group][key] = value
    assert not _same(replay(changed), expected)
    data = copy.deepcopy(record)  # the data themselves, not a seed, drive the replay
    data["counterexample"]["model"]["x"][0][0] += 0.5
    assert not _same(replay(data), expected)


def test_PAPER_thm1_schedule_replay_short_record():
    # the full-length replay runs under -m slow; a 40-step record exercises the same code quickly
    record = {"counterexample": {**theorem1._sgd_record(), "steps": 40}}
    found = theorem1.replay_thm1_schedule(record)
    assert found["listed_gap"] > found["tolerance"] >= found["corrected_gap"]
    record["counterexample"]["optimizer"]["weight_decay"] = 0.02
    assert not _same(theorem1.replay_thm1_schedule(record), found)


def test_PAPER_thm1_momentum_replay_short_record():
    record = {"counterexample": {**theorem1._sgd_record(lam=theorem1.LAM_MOMENTUM, momentum=theorem1.MOMENTUM), "steps": 40,
                                 "above_edge": {"lr": 1.0, "lam": 2 * (1 - 0.9**0.5) ** 2, "steps": 2000}}}
    found = theorem1.replay_thm1_momentum(record)
    assert found["paper_schedule_gap"] > found["tolerance"] >= found["derived_schedule_gap"]
    assert found["above_edge_first_nonpositive"] is not None
