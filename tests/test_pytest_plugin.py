"""The pytest plugin (normtheory.pytest_plugin): claims as test items, run through pytester.

Fake claims registered by the test project's conftest stand for the three outcomes (a verdict as
recorded, a verdict that differs, a check that raises), so that the plugin is shown to fail an
item exactly when it must; one real, fast claim runs beside them. The fakes are registered into a
copy of the registry that is restored afterwards.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from normtheory import registry
from normtheory.claims import all_claims

pytest_plugins = "pytester"

REAL = "PAPER-ws-cwn"  # a fast confirmed claim about the paper

FAKES = '''
from normtheory.registry import BLOG, PAPER, Evidence, Verdict, claim

@claim("FAKE-holds", document=PAPER, ref="Eq. (0)", statement="s", checked="c", expect="confirmed")
def _holds():
    return Evidence(Verdict.CONFIRMED, key="err 1e-16 (tol 1e-12)")

@claim("FAKE-flips", document=BLOG, ref="Sec. 0", statement="s", checked="c", expect="confirmed")
def _flips():
    return Evidence(Verdict.REFUTED, key="err 0.5 (tol 1e-12)", counterexample={"seed": 0})

@claim("FAKE-raises", document=PAPER, ref="Eq. (0)", statement="s", checked="c", expect="corrected")
def _raises():
    raise RuntimeError("boom in the check")
'''


@pytest.fixture(scope="module")
def _claim_modules_imported():
    """Every claim module imported before pytester snapshots sys.modules (a module-scoped fixture
    is set up before the function-scoped pytester): its restore then keeps them, and no later
    import registers a claim twice."""
    all_claims()


@pytest.fixture
def project(_claim_modules_imported, pytester, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    pytester.makeconftest(FAKES)
    return pytester


def test_without_the_option_no_claim_is_collected(project):
    result = project.runpytest("--collect-only", "-q")
    assert "FAKE-holds" not in result.stdout.str() and REAL not in result.stdout.str()


def test_every_claim_is_an_item_named_by_its_id_in_registry_order(project):
    result = project.runpytest("--normtheory", "--collect-only", "-q")
    ids = [line for line in result.stdout.lines if re.fullmatch(r"[A-Z][A-Za-z0-9]*-[\w.-]+", line)]
    assert ids == [c.id for c in all_claims()]  # the fakes (registered by the inner run) first
    assert ids[:3] == ["FAKE-holds", "FAKE-flips", "FAKE-raises"] and REAL in ids


def test_items_fail_exactly_when_the_verdict_differs_or_the_check_raises(project):
    result = project.runpytest("--normtheory", "-k", f"FAKE or {REAL}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "FAKE-flips: verdict refuted, recorded expectation confirmed; key figure: err 0.5" in out
    assert "boom in the check" in out
    # the verdict table at the end carries every item's key figure
    assert "normtheory verdicts" in out and "err 1e-16 (tol 1e-12)" in out
    assert "[recorded: confirmed]" in out


def test_markers_select_by_document_and_kind(project):
    result = project.runpytest("--normtheory", "-m", "paper and confirmed", "--collect-only", "-q")
    collected = [line for line in result.stdout.lines if re.fullmatch(r"[A-Z][A-Za-z0-9]*-[\w.-]+", line)]
    assert "FAKE-holds" in collected and REAL in collected
    assert "FAKE-flips" not in collected and "FAKE-raises" not in collected  # blog; corrected
    assert all(c.startswith(("FAKE", "PAPER")) for c in collected)


def test_junitxml_carries_the_verdict_and_key(project):
    project.runpytest("--normtheory", "-k", "FAKE-holds or FAKE-flips", "--junitxml=out.xml")
    cases = {c.get("name"): c for c in ET.parse(project.path / "out.xml").getroot().iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["FAKE-flips"].iter("property")}
    assert props == {"verdict": "refuted", "expected": "confirmed", "key": "err 0.5 (tol 1e-12)"}
    assert cases["FAKE-flips"].find("failure") is not None
    assert cases["FAKE-holds"].find("failure") is None


def test_a_claim_module_that_fails_to_import_is_a_collection_error(project, monkeypatch):
    import normtheory.claims

    def broken():
        raise AttributeError("module 'normtheory.jacobians' has no attribute 'gone'")

    monkeypatch.setattr(normtheory.claims, "all_claims", broken)
    result = project.runpytest("--normtheory")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting normtheory*", "*has no attribute 'gone'*",
                                 "*1 error during collection*"])


def test_verbose_status_names_the_verdict(project):
    result = project.runpytest("--normtheory", "-k", "FAKE-holds", "-v")
    result.stdout.fnmatch_lines(["*FAKE-holds PASSED (confirmed)*"])


def test_loading_by_name_beside_the_entry_point_is_fine(project):
    result = project.runpytest("-p", "normtheory.pytest_plugin", "--normtheory", "-k", "FAKE-holds")
    result.assert_outcomes(passed=1)


@pytest.mark.slow  # three fresh interpreters import torch and every claim: ~50 s on 2 busy cores
def test_xdist_collects_the_same_items_on_every_worker_and_reports_verdicts(project):
    pytest.importorskip("xdist")
    result = project.runpytest_subprocess("--normtheory", "-n", "2", "-k", f"FAKE or {REAL}",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "normtheory verdicts" in out and "err 1e-16 (tol 1e-12)" in out  # crossed from the workers
    assert "Different tests were collected" not in out
