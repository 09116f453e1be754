"""normtheory.claims.blog_reported_numbers: the water-filling bound agrees with a general solver and
the decision FAILS (turns consistent) on plausible broken variants; the refuted claim replays from
its JSON evidence and a tampered record gives other numbers."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from normtheory.claims import blog_reported_numbers as br
from normtheory.registry import Verdict


def _json(evidence) -> dict:
    return json.loads(json.dumps(evidence.to_json(), allow_nan=False))


def _cases(**kw):
    return {k: br.consistency_case(w, **kw) for k, w in br.ARCHITECTURES.items()}


def test_BLOG_reported_spectral_numbers_refuted():
    ev = br.reported_evidence(_cases())
    assert ev.verdict is Verdict.REFUTED
    assert all(c["min_spread_at_reported_mean"] > 0.2 for c in ev.measured["cases"].values())


@pytest.mark.parametrize("mean", [0.81, 0.85, 1.3])
def test_BLOG_reported_spectral_numbers_water_filling_matches_a_solver(mean):
    f = np.array(br.layer_targets(br.ARCHITECTURES["5 weight matrices"]))
    ref = minimize(lambda x: x.var(), f + 0.1, method="SLSQP", bounds=[(a, None) for a in f],
                   constraints=[{"type": "eq", "fun": lambda x: x.mean() - mean}], options={"ftol": 1e-14})
    # SLSQP stops at ftol 1e-14 on the variance: a spread of ~1e-7 is its zero
    assert br.min_spread_given_mean(f, mean) == pytest.approx(math.sqrt(ref.fun), rel=1e-5, abs=1e-6)


def test_BLOG_reported_spectral_numbers_infeasible_mean_is_none():
    assert br.min_spread_given_mean([1.0, 2.0], 1.0) is None


def test_BLOG_reported_spectral_numbers_fails_without_the_floors():
    # broken: the targets ignored (any spread is possible at any mean): the figures would look consistent
    ev = br.reported_evidence(_cases(spread=lambda floors, mean: 0.0))
    assert ev.verdict is Verdict.CONFIRMED


def test_BLOG_reported_spectral_numbers_fails_with_the_level_started_at_the_mean():
    # broken water-filling (the level searched only above the mean): it under-reports the spread
    def from_mean(floors, mean):
        f = np.asarray(floors)
        if mean < f.mean():
            return None
        return float(np.maximum(f, mean).std())

    cases = _cases(spread=from_mean)
    assert min(c["min_spread_at_reported_mean"] for c in cases.values()) < 0.15


def test_BLOG_reported_spectral_numbers_replay_reproduces_and_detects_tampering():
    ev = _json(br.reported_evidence(_cases()))
    assert br.replay_reported_spectral_numbers(ev) == pytest.approx(ev["counterexample"]["result"], rel=1e-12)
    bad = copy.deepcopy(ev)
    bad["counterexample"]["reported"]["mean_spectral_norm_epoch_199"] = 0.95
    assert br.replay_reported_spectral_numbers(bad) != pytest.approx(ev["counterexample"]["result"], rel=1e-3)
