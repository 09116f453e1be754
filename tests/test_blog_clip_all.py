"""normtheory.claims.blog_clip_all: the rank-one step drifts above target under Adam while clip-all
holds it; a clip-all that clips only the top value (a plausible bug) FAILS the clip-all half; the
corrected claim replays from its JSON evidence, and a tampered counterexample gives other numbers.
Test names carry the claim id."""

from __future__ import annotations

import copy

import pytest
import torch

from normtheory.claims import blog_clip_all as bc
from normtheory.registry import Verdict, registered_claims
from _evidence import as_json as _json

_SMALL = {**bc.SETUP, "seeds": [0, 1], "steps": 6}


@pytest.fixture(scope="module")
def small_evidence():
    return bc.clip_evidence(bc.clip_study(setup=_SMALL, with_default=False))


def test_BLOG_rank1_vs_clip_all_registered_as_corrected_with_replay():
    (c,) = [c for c in registered_claims() if c.id == "BLOG-rank1-vs-clip-all"]
    assert c.expect is Verdict.CORRECTED and c.replay is bc.replay_clip_all


def test_BLOG_rank1_vs_clip_all_property(small_evidence):
    m = small_evidence.measured
    assert small_evidence.verdict is Verdict.CORRECTED
    assert m["rank_one_min_excess"] > bc.MARGIN          # every seed drifts above target
    assert m["clip_all_max_dev"] <= small_evidence.tolerance
    assert small_evidence.counterexample["seed"] in _SMALL["seeds"]


def test_BLOG_rank1_vs_clip_all_rank_one_step_sets_sigma1_when_sigma2_below_target():
    # the rank-one step itself is right on a single matrix whose sigma_2 < target: the drift is
    # training's lifting of sigma_2, not a bad update
    g = torch.Generator().manual_seed(0)
    U, _ = torch.linalg.qr(torch.randn(6, 4, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    W = U @ torch.diag(torch.tensor([3.0, 0.5, 0.4, 0.1], dtype=torch.float64)) @ V.T
    bc.rank_one_exact_([W], [1.0])
    assert float(torch.linalg.svdvals(W)[0]) == pytest.approx(1.0, abs=bc._tol(bc.SETUP))


def test_BLOG_rank1_vs_clip_all_broken_top_only_clip_fails():
    # a clip-all that clips only the top singular value is the rank-one step again: the
    # clip-all half must fail, and the verdict cannot be corrected
    ev = bc.clip_evidence(bc.clip_study(setup=_SMALL, clip_all=bc.rank_one_stepper, with_default=False))
    assert ev.measured["clip_all_max_dev"] > bc.MARGIN
    assert ev.verdict is Verdict.REFUTED


def test_BLOG_rank1_vs_clip_all_replay_reproduces_and_detects_tampering(small_evidence):
    ev = _json(small_evidence)
    again = bc.replay_clip_all(ev)
    assert again == pytest.approx(ev["counterexample"]["result"], rel=1e-12, abs=1e-15)
    bad = copy.deepcopy(ev)
    bad["counterexample"]["lr"] *= 2
    assert bc.replay_clip_all(bad)["rank_one_max_ratio"] != pytest.approx(
        ev["counterexample"]["result"]["rank_one_max_ratio"], rel=1e-6)
