"""Theorem 1 with Adam (normtheory.claims.paper_theorem1_adam): the span test passes without decay and
fails with it, and the refuted counterexample replays from its JSON record (a tampered record gives
other numbers). Test names carry the claim id (``pytest -k PAPER_thm1_adam``)."""

from __future__ import annotations

import copy
import json
import math

from normtheory.claims import paper_theorem1_adam as adam

# Replays are bit-identical today (the span test solves by QR, the runs are single-threaded); 1e-9
# relative leaves room for another BLAS build's round-off and is far below any change a tampered
# record makes (>= 1e-3 relative in these tests).
REPLAY_RTOL = 1e-9


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        math.isclose(a[k], b[k], rel_tol=REPLAY_RTOL, abs_tol=1e-300) if isinstance(a[k], float) else a[k] == b[k]
        for k in a)


def test_PAPER_thm1_adam_span_test_can_pass_and_fails_with_decay():
    # without decay the decay-free run itself is a solution: residuals at round-off
    assert adam.adam_span_residuals(steps=10, lam=0.0)["max_residual"] < 1e-12
    assert adam.adam_span_residuals(steps=10, lam=0.1)["first_step_residual"] > 1e-4


def test_PAPER_thm1_adam_replay_from_json_and_tampered_record_fails():
    record = json.loads(json.dumps(adam.check_thm1_adam().to_json()))  # what `verify --json` writes
    expected = record["counterexample"]["reproduces"]
    assert _same(adam.replay_thm1_adam(record), expected)
    changed = copy.deepcopy(record)
    changed["counterexample"]["optimizer"]["lr"] = 0.02
    assert not _same(adam.replay_thm1_adam(changed), expected)
    data = copy.deepcopy(record)  # the data themselves, not a seed, drive the replay
    data["counterexample"]["model"]["x"][0][0] += 0.5
    assert not _same(adam.replay_thm1_adam(data), expected)
