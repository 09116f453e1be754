"""The registry itself: every claim is well formed, runs, and gives the verdict recorded with it."""

from __future__ import annotations

import pytest

from normtheory.claims import all_claims
from normtheory.registry import BLOG, LECTURE, PAPER, Evidence, Verdict, decide

CLAIMS = all_claims()


def test_registry_is_not_empty():
    assert CLAIMS, "no claims registered"


def test_ids_are_unique_and_prefixed():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    prefixes = {BLOG: "BLOG-", PAPER: "PAPER-", LECTURE: "L5-"}
    for c in CLAIMS:
        if c.id.startswith("CONF-"):  # conformance checks of third-party code
            continue
        assert c.id.startswith(prefixes[c.source.document]), c.id


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_verdict_matches_expectation(c):
    evidence = c.run()
    assert evidence.verdict is c.expect, evidence.to_json()
    assert c.source.ref and c.statement and c.checked


def test_decide():
    assert decide(holds_as_stated=True) is Verdict.CONFIRMED
    assert decide(holds_as_stated=False, holds_corrected=True) is Verdict.CORRECTED
    assert decide(holds_as_stated=False, holds_corrected=False) is Verdict.REFUTED
    assert decide(holds_as_stated=False) is Verdict.REFUTED


@pytest.mark.parametrize("kwargs, match", [
    ({"verdict": "corrected", "key": "k"}, "corrected statement"),
    ({"verdict": "refuted", "key": "k"}, "counterexample"),
    ({"verdict": "analogue", "key": "k"}, "analogue"),
    ({"verdict": "confirmed", "key": "k", "tolerance": 1e-12}, "reason"),
])
def test_evidence_requires_what_its_verdict_needs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Evidence(**kwargs)
