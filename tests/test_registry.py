"""normtheory.registry on its own (no claim module imported): decide, Evidence's rules and JSON,
Claim.run and the @claim decorator. Fast, so that mutation testing can run it for every mutant of
registry.py; tests/test_claims_registry.py checks the registered claims themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from normtheory import registry
from normtheory.registry import (BLOG, LECTURE, PAPER, TORCH_DOCS, Claim, Evidence, Finding, Source, Verdict,
                                 _jsonable, claim, decide)

PROV = {"command": "normtheory reproduce x", "code_version": "abc", "date": "2026-01-01", "machine": "m"}


@pytest.fixture
def empty_registry(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", {})
    return registry._REGISTRY


def test_documents_and_sources():
    assert [d.key for d in (BLOG, PAPER, LECTURE, TORCH_DOCS)] == ["blog", "paper", "lecture", "torch-docs"]
    assert BLOG.file.startswith("000_") and PAPER.file.startswith("001_") and LECTURE.file.startswith("002_")
    s = Source(PAPER, "Eq. (16)")
    assert str(s) == f"{PAPER.file} Eq. (16)"
    assert s.to_json() == {"file": PAPER.file, "ref": "Eq. (16)", "title": PAPER.title}


def test_verdict_and_finding_words():
    assert [str(v) for v in Verdict] == ["confirmed", "corrected", "refuted", "analogue", "inconclusive"]
    assert [str(f) for f in Finding] == ["supports", "does not support", "inconclusive"]
    assert registry.PROVENANCE_FIELDS == ("command", "code_version", "date", "machine")


@pytest.mark.parametrize("as_stated, corrected, verdict", [
    (True, None, Verdict.CONFIRMED), (True, False, Verdict.CONFIRMED), (True, True, Verdict.CONFIRMED),
    (False, True, Verdict.CORRECTED), (False, False, Verdict.REFUTED), (False, None, Verdict.REFUTED),
])
def test_decide_table(as_stated, corrected, verdict):
    assert decide(holds_as_stated=as_stated, holds_corrected=corrected) is verdict


def test_jsonable_converts_every_kind():
    value = {1: (np.float64(0.5), np.arange(3)), "t": torch.tensor([1.5, 2.0]), "v": Verdict.REFUTED,
             "bad": [math.inf, -math.inf, math.nan], "ok": [1, "s", None, True]}
    out = _jsonable(value)
    assert out == {"1": [0.5, [0, 1, 2]], "t": [1.5, 2.0], "v": "refuted", "bad": ["inf", "-inf", "nan"],
                   "ok": [1, "s", None, True]}
    assert isinstance(out["1"], list) and isinstance(out["t"][0], float)


def test_evidence_normalises_its_words():
    e = Evidence(verdict="analogue", key="k", analogue="a", finding="supports")
    assert e.verdict is Verdict.ANALOGUE and e.finding is Finding.SUPPORTS
    assert Evidence(verdict="confirmed", key="k").finding is None


@pytest.mark.parametrize("kwargs", [
    {"verdict": "confirmed", "key": "k"},
    {"verdict": "corrected", "key": "k", "corrected": "c"},
    {"verdict": "refuted", "key": "k", "counterexample": {"seed": 0}},
    {"verdict": "analogue", "key": "k", "analogue": "a", "finding": "inconclusive"},
    {"verdict": "inconclusive", "key": "k"},
    {"verdict": "confirmed", "key": "recorded 3", "recorded": PROV},
    {"verdict": "confirmed", "key": "k", "tolerance": 1e-12, "tolerance_reason": "why"},
])
def test_evidence_accepts_what_it_needs(kwargs):
    Evidence(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"verdict": "corrected", "key": "k"}, "corrected statement"),
    ({"verdict": "corrected", "key": "k", "corrected": ""}, "corrected statement"),
    ({"verdict": "refuted", "key": "k"}, "counterexample"),
    ({"verdict": "refuted", "key": "k", "counterexample": {}}, "counterexample"),
    ({"verdict": "analogue", "key": "k", "finding": "supports"}, "analogue's description"),
    ({"verdict": "analogue", "key": "k", "analogue": "a"}, "finding"),
    ({"verdict": "refuted", "key": "k", "counterexample": {"s": 0}, "finding": "supports"}, "only an analogue"),
    ({"verdict": "confirmed", "key": "recorded", "recorded": {**PROV, "date": ""}}, "provenance .*date"),
    ({"verdict": "confirmed", "key": "recorded", "recorded": {"command": "c"}},
     "provenance \\(code_version, date, machine\\)"),
    ({"verdict": "confirmed", "key": "k", "recorded": PROV}, "must say 'recorded'"),
    ({"verdict": "confirmed", "key": "k", "tolerance": 1e-12}, "tolerance needs its reason"),
    ({"verdict": "confirmed", "key": "k", "tolerance": 0.0, "tolerance_reason": ""}, "tolerance needs its reason"),
    ({"verdict": "nonsense", "key": "k"}, "nonsense"),
])
def test_evidence_refuses_what_its_verdict_lacks(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Evidence(**kwargs)


def test_evidence_to_json_holds_exactly_the_given_fields():
    e = Evidence(verdict="refuted", key="k", measured={"x": np.float64(2.0)}, tolerance=0.5,
                 tolerance_reason="r", counterexample={"seed": np.int64(3)}, series={"s": [1]})
    assert e.to_json() == {"key": "k", "measured": {"x": 2.0}, "tolerance": 0.5, "tolerance_reason": "r",
                           "counterexample": {"seed": 3}}
    a = Evidence(verdict="analogue", key="recorded k", analogue="a", finding="supports", recorded=PROV,
                 corrected=None)
    assert a.to_json() == {"key": "recorded k", "measured": {}, "analogue": "a", "finding": "supports",
                           "recorded": PROV}
    c = Evidence(verdict="corrected", key="k", corrected="fixed", tolerance=0.0, tolerance_reason="exact")
    assert c.to_json() == {"key": "k", "measured": {}, "tolerance": 0.0, "tolerance_reason": "exact",
                           "corrected": "fixed"}


def _claim(check, expect=Verdict.CONFIRMED, finding=None):
    return Claim("L5-x", Source(LECTURE, "p"), "s", "c", check, Verdict(expect),
                 expect_finding=None if finding is None else Finding(finding))


def test_outcome_as_expected():
    ok = Evidence(verdict="confirmed", key="k")
    assert _claim(None).outcome_as_expected(ok)
    assert not _claim(None, expect="refuted").outcome_as_expected(ok)
    analogue = _claim(None, expect="analogue", finding="supports")
    assert analogue.outcome_as_expected(Evidence(verdict="analogue", key="k", analogue="a", finding="supports"))
    assert not analogue.outcome_as_expected(Evidence(verdict="analogue", key="k", analogue="a",
                                                     finding="inconclusive"))


def test_claim_run_on_one_thread_and_restores():
    before = torch.get_num_threads()
    seen = []

    def check():
        seen.append(torch.get_num_threads())
        return Evidence(verdict="confirmed", key="k")

    torch.set_num_threads(2)
    try:
        evidence = _claim(check).run()
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert evidence.verdict is Verdict.CONFIRMED


def test_claim_run_refuses_a_check_that_returns_something_else():
    with pytest.raises(TypeError, match="claim L5-x: check returned dict, not Evidence"):
        _claim(lambda: {"verdict": "confirmed"}).run()


def test_claim_decorator_registers_normalised_fields(empty_registry):
    def replay(ev):
        return {}

    def draw(ev):
        return None

    @claim("PAPER-t", document=PAPER, ref="Eq. (1)", statement="  a\n   b  ", checked="c\n d", expect="refuted",
           proof="proofs/x.py", replay=replay, figure=draw)
    def check():
        return Evidence(verdict="confirmed", key="k")

    assert check().verdict is Verdict.CONFIRMED  # the decorator returns the check itself
    (c,) = registry.registered_claims()
    assert (c.id, c.statement, c.checked, c.expect, c.proof, c.replay, c.check) == \
        ("PAPER-t", "a b", "c d", Verdict.REFUTED, "proofs/x.py", replay, check)
    assert c.source == Source(PAPER, "Eq. (1)") and c.figure is draw and c.expect_finding is None
    registry.registered_claims().clear()  # a copy: clearing it leaves the registry as it was
    assert len(registry.registered_claims()) == 1


def test_claim_decorator_keeps_registration_order_and_findings(empty_registry):
    for i in range(3):
        claim(f"BLOG-{i}", document=BLOG, ref="r", statement="s", checked="c", expect="analogue",
              expect_finding="does not support")(lambda: None)
    claims = registry.registered_claims()
    assert [c.id for c in claims] == ["BLOG-0", "BLOG-1", "BLOG-2"]
    assert all(c.expect_finding is Finding.DOES_NOT_SUPPORT for c in claims)


@pytest.mark.parametrize("kwargs, match", [
    ({"expect": "analogue"}, "records its expected finding"),
    ({"expect": "confirmed", "expect_finding": "supports"}, "only an analogue claim"),
])
def test_claim_decorator_refuses_inconsistent_findings(empty_registry, kwargs, match):
    with pytest.raises(ValueError, match=match):
        claim("L5-y", document=LECTURE, ref="r", statement="s", checked="c", **kwargs)(lambda: None)
    assert registry.registered_claims() == []


def test_claim_ids_are_registered_once(empty_registry):
    claim("L5-z", document=LECTURE, ref="r", statement="s", checked="c", expect="confirmed")(lambda: None)
    with pytest.raises(ValueError, match="'L5-z' is registered twice"):
        claim("L5-z", document=LECTURE, ref="r", statement="s", checked="c", expect="confirmed")(lambda: None)
    assert len(registry.registered_claims()) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"verdict": "analogue", "key": "k", "analogue": "a"},
     "Evidence: an 'analogue' verdict needs its finding (supports, does not support, inconclusive), and only "
     "an analogue has one"),
    ({"verdict": "confirmed", "key": "k", "recorded": {"command": "c"}},
     "Evidence: recorded results need their provenance (code_version, date, machine)"),
    ({"verdict": "confirmed", "key": "k", "recorded": PROV},
     "Evidence: the key of a recorded result must say 'recorded' where its recorded numbers are shown"),
    ({"verdict": "confirmed", "key": "k", "tolerance": 1.0}, "Evidence: a tolerance needs its reason (tolerance_reason)"),
    ({"verdict": "corrected", "key": "k"}, "Evidence: a 'corrected' verdict needs the corrected statement"),
    ({"verdict": "refuted", "key": "k"}, "Evidence: a 'refuted' verdict needs its counterexample"),
    ({"verdict": "analogue", "key": "k", "finding": "supports"},
     "Evidence: an 'analogue' verdict needs the analogue's description"),
])
def test_evidence_messages_exactly(kwargs, message):
    with pytest.raises(ValueError) as caught:
        Evidence(**kwargs)
    assert str(caught.value) == message


def test_claim_decorator_messages_exactly(empty_registry):
    with pytest.raises(ValueError) as caught:
        claim("L5-m", document=LECTURE, ref="r", statement="s", checked="c", expect="analogue")(lambda: None)
    assert str(caught.value) == ("claim L5-m: an analogue claim records its expected finding (expect_finding), "
                                 "and only an analogue claim has one")
