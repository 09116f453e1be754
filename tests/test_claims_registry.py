"""The registry itself: every claim is well formed, runs, gives the verdict recorded with it, agrees
with its own evidence and with the README, and no two claims decide the same statement."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from normtheory import report

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


ROOT = Path(__file__).resolve().parent.parent

# Claims whose key figure holds wall-clock ratios measured in the run (never the same twice): the
# README row must match in id, source and verdict; the numbers are the run's that made the README.
WALL_CLOCK_KEYS = {"BLOG-ns-cost"}


def _readme_rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = text[text.index(report.MARKDOWN_BEGIN):text.index(report.MARKDOWN_END)]
    return {line.split(" | ", 1)[0].removeprefix("| "): line
            for line in block.splitlines() if line.startswith("| ") and not line.startswith("| id |")}


_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?%?")


def _numbers(value) -> list[float]:
    """Every number in a JSON-like value (strings included: keys often hold formatted numbers)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, str):
        return [_as_float(t) for t in _NUMBER.findall(value)]
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _numbers(k) + _numbers(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _numbers(v)]
    return []


def _as_float(token: str) -> float:
    return float(token[:-1]) / 100 if token.endswith("%") else float(token)


def _unbacked_figures(text: str, evidence_json: dict, context: str) -> list[str]:
    """Figures in ``text`` that neither the evidence measured nor the claim's own wording contains.

    A figure is backed when some number of the evidence (or of the statement/checked text, which
    carry the protocol's parameters) agrees with it to the precision it is written with. Small
    integers (<= 10: exponents, counts of terms, "rank one") are structure, not measurements.
    """
    pool = _numbers(evidence_json) + _numbers(context)
    unbacked = []
    for token in _NUMBER.findall(text):
        x = _as_float(token)
        if x == int(x) and abs(x) <= 10 and not token.endswith("%"):
            continue
        digits = len(re.sub(r"[^0-9]", "", token.split("e")[0].split("E")[0].lstrip("-+0.")))
        rel = 0.5 * 10.0 ** (1 - max(digits, 1))  # half a unit in the last written digit
        if not any(math.isclose(x, y, rel_tol=rel, abs_tol=0.0) or
                   (token.endswith("%") and math.isclose(100 * x, y, rel_tol=rel)) for y in pool):
            unbacked.append(token)
    return unbacked


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_verdict_matches_expectation(c):
    """One run of each check serves every per-claim test (checks take seconds each)."""
    evidence = c.run()
    # verdict and, for analogues, the finding: an analogue that stops supporting its claim fails
    assert c.outcome_as_expected(evidence), (evidence.verdict, evidence.finding, evidence.to_json())
    assert c.source.ref and c.statement and c.checked
    # the README shows this run's row, key figure included (not only the verdict column)
    result = report.ClaimResult(c, evidence, None, 0.0)
    (computed,) = report.to_markdown([result]).splitlines()[4:5]
    readme = _readme_rows().get(c.id)
    if c.id in WALL_CLOCK_KEYS:  # same id, source and verdict; the timings are this machine's, this run's
        assert readme is not None and readme.split(" | ")[:3] == computed.split(" | ")[:3], \
            "regenerate with: normtheory verify --markdown README.md"
    else:
        assert readme == computed, "regenerate with: normtheory verify --markdown README.md"
    # a corrected statement may not quote a figure its own evidence does not contain
    if evidence.corrected:
        unbacked = _unbacked_figures(evidence.corrected, evidence.to_json(),
                                     c.statement + " " + c.checked)
        assert not unbacked, f"corrected text quotes {unbacked}, which the evidence does not measure"


def test_unbacked_figures_catches_a_contradicting_correction():
    """The case the review found: a corrected text saying 5% while the evidence measured 15.25%."""
    evidence = {"measured": {"underestimate": 0.1525}}
    assert _unbacked_figures("within 5% at Adam lr 1e-3", evidence, "Adam lr 1e-3") == ["5%"]
    assert _unbacked_figures("within 15.25% at Adam lr 1e-3", evidence, "Adam lr 1e-3") == []


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


# Pairs of distinct claims today reach a similarity of 0.62 (BLOG-frobenius-rank-single/-deep, which
# read one sentence for a single matrix and for a deep product); a restated statement scores > 0.8.
_SAME_STATEMENT = 0.75


def _duplicates(claims) -> list[tuple[str, str]]:
    import difflib

    found = []
    for i, a in enumerate(claims):
        for b in claims[i + 1:]:
            same_place = _normalized(a.source.ref) == _normalized(b.source.ref)
            ratio = difflib.SequenceMatcher(None, _normalized(a.statement),
                                            _normalized(b.statement)).ratio()
            if (same_place and _normalized(a.statement) == _normalized(b.statement)) \
                    or _normalized(a.checked) == _normalized(b.checked) or ratio > _SAME_STATEMENT:
                found.append((a.id, b.id))
    return found


def test_no_two_claims_decide_the_same_statement():
    """One claim per statement: two claims must state and check different things."""
    assert _duplicates(CLAIMS) == []


def test_duplicate_detection_catches_a_restated_claim():
    from dataclasses import replace

    c = CLAIMS[0]
    restated = replace(c, id=c.id + "-again", statement=c.statement.rstrip(".") + ", as measured.")
    assert _duplicates([c, restated]) == [(c.id, restated.id)]


def test_conformance_claims_cite_the_library_documentation():
    """A CONF- claim checks third-party code against its own documentation, not a source document."""
    from normtheory.registry import TORCH_DOCS

    for c in CLAIMS:
        if c.id.startswith("CONF-"):
            assert c.source.document is TORCH_DOCS, c.id


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


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_was_rederived_independently(c):
    """Each verdict was predicted by someone who read only the document's passage; a difference was
    resolved and the resolution recorded."""
    from normtheory.claims import rederivation

    record = rederivation(c.id)
    assert record is not None, f"{c.id} has no independent re-derivation record"
    assert record["reread"] and record["independent_derivation"] and record["resolution"]
    predicted = str(record["independent_verdict"]).split()[0].strip(":,;(")
    if record["agrees"]:
        assert predicted == c.expect.value, (predicted, c.expect.value)


def test_rederivation_records_name_only_registered_claims():
    from normtheory.claims import _rederivations

    assert set(_rederivations()) <= {c.id for c in CLAIMS}
