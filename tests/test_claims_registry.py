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
    # verdict and, for analogues, the finding: an analogue that stops supporting its claim fails
    assert c.outcome_as_expected(evidence), (evidence.verdict, evidence.finding, evidence.to_json())
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
    ({"verdict": "analogue", "key": "k", "analogue": "digits"}, "finding"),
    ({"verdict": "confirmed", "key": "k", "finding": "supports"}, "finding"),
    ({"verdict": "confirmed", "key": "k", "recorded": {"command": "c", "code_version": "v",
                                                        "date": "d"}}, "machine"),
    ({"verdict": "confirmed", "key": "k", "recorded": {"command": "c", "code_version": "v",
                                                        "date": "d", "machine": "m"}}, "recorded"),
    ({"verdict": "confirmed", "key": "k", "tolerance": 1e-12}, "reason"),
])
def test_evidence_requires_what_its_verdict_needs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Evidence(**kwargs)


def test_analogue_outcome_compares_the_finding():
    """A broken comparison that looks only at the verdict would pass an analogue that flipped."""
    from normtheory.registry import Claim, Finding, Source

    c = Claim("BLOG-x", Source(BLOG, "p"), "s", "c", lambda: None, Verdict.ANALOGUE,
              expect_finding=Finding.SUPPORTS)
    flipped = Evidence(verdict="analogue", key="k", analogue="a", finding="does not support")
    same = Evidence(verdict="analogue", key="k", analogue="a", finding="supports")
    assert not c.outcome_as_expected(flipped)
    assert c.outcome_as_expected(same)
