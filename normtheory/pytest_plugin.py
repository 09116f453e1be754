"""A pytest plugin that runs the registered claims as test items.

Enabled with ``pytest --normtheory`` (the plugin is registered through the ``pytest11`` entry point,
so installing normtheory is enough) or loaded explicitly with ``pytest -p normtheory.pytest_plugin
--normtheory``. Without ``--normtheory`` it only registers its markers and its option: nothing is
imported and nothing is collected.

Each claim becomes one item:

* node id: the claim id (``PAPER-thm1``), so ``-k PAPER-thm1`` and ``--deselect`` work on it;
* markers: ``normtheory``; the document (``blog``, ``paper``, ``lecture``, ``torch_docs``); the kind,
  i.e. the verdict recorded with the claim (``confirmed``, ``corrected``, ``refuted``, ``analogue``,
  ``inconclusive``), so ``-m "paper and corrected"`` selects the paper's corrected claims;
* outcome: it fails when the check raises, or when the computed verdict (and, for an analogue, its
  finding) differs from the recorded one (:meth:`normtheory.registry.Claim.outcome_as_expected`);
* report: the verdict and the key figure are attached to the test report (a section shown with
  ``-rA`` or on failure, the ``normtheory`` attribute that ``pytest-xdist`` carries to the controller,
  and ``<properties>`` in ``--junitxml``), and listed in the terminal summary.

Collection is deterministic (:func:`normtheory.claims.all_claims` orders claims by module and
registration), which ``pytest-xdist`` needs: every worker must collect the same list.
"""

from __future__ import annotations

import inspect
import traceback
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ClaimItem", "ClaimOutcomeError", "DOCUMENT_MARKERS", "KIND_MARKERS"]

#: marker name for each document key (a marker name cannot hold '-').
DOCUMENT_MARKERS = {"blog": "blog", "paper": "paper", "lecture": "lecture", "torch-docs": "torch_docs"}
#: the kinds: the verdicts a claim can record as its expectation.
KIND_MARKERS = ("confirmed", "corrected", "refuted", "analogue", "inconclusive")

_OPTION = "normtheory"
_REPORT_ATTR = "normtheory"  # name of the dict attached to each call-phase TestReport


class ClaimOutcomeError(AssertionError):
    """The check ran, and its verdict (or an analogue's finding) is not the recorded one."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("normtheory", "normtheory claims")
    group.addoption(f"--{_OPTION}", action="store_true", default=False,
                    help="collect every registered normtheory claim as a test item (node id = claim "
                         "id; markers: normtheory, the document, the recorded verdict)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "normtheory: a normtheory claim collected by --normtheory")
    for key, name in DOCUMENT_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: a normtheory claim about the {key} document")
    for kind in KIND_MARKERS:
        config.addinivalue_line("markers", f"{kind}: a normtheory claim whose recorded verdict is {kind}")


class ClaimItem(pytest.Item):
    """One registered claim, run as a test (see the module docstring)."""

    def __init__(self, *, claim, **kwargs) -> None:
        super().__init__(**kwargs)
        self.claim = claim
        self.evidence = None
        self.add_marker("normtheory")
        self.add_marker(DOCUMENT_MARKERS[claim.source.document.key])
        self.add_marker(claim.expect.value)

    def runtest(self) -> None:
        evidence = self.claim.run()  # an exception here fails the item with its traceback
        self.evidence = evidence
        self.user_properties += [("verdict", _outcome(evidence)), ("expected", _expected(self.claim)),
                                 ("key", evidence.key)]
        if not self.claim.outcome_as_expected(evidence):
            raise ClaimOutcomeError(f"{self.claim.id}: verdict {_outcome(evidence)}, recorded "
                                    f"expectation {_expected(self.claim)}; key figure: {evidence.key}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimOutcomeError):
            return str(excinfo.value)  # the verdict mismatch says it all; the traceback is ours
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        check = inspect.unwrap(self.claim.check)
        try:
            path = Path(inspect.getsourcefile(check))
            line = inspect.getsourcelines(check)[1] - 1
        except (OSError, TypeError):  # no source (a frozen or zipped install)
            path, line = self.path, None
        return path, line, f"{self.claim.id} ({self.claim.source})"


def _outcome(evidence) -> str:
    return evidence.verdict.value + (f" ({evidence.finding.value})" if evidence.finding else "")


def _expected(claim) -> str:
    return claim.expect.value + (f" ({claim.expect_finding.value})" if claim.expect_finding else "")


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, which happens in this same hook
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    if not config.getoption(_OPTION):
        return
    from normtheory import claims as claim_registry

    all_claims = claim_registry.all_claims

    taken = {item.nodeid for item in items}
    try:
        claims = [ClaimItem.from_parent(session, name=c.id, nodeid=c.id, claim=c) for c in all_claims()]
    except Exception:  # a claim module that does not import: a collection error, not a crash
        config.hook.pytest_collectreport(report=pytest.CollectReport(
            nodeid="normtheory", outcome="failed", longrepr=traceback.format_exc(), result=[]))
        return
    clashes = [item.nodeid for item in claims if item.nodeid in taken]
    if clashes:
        raise pytest.UsageError(f"--normtheory: claim id(s) {', '.join(clashes)} clash with collected tests")
    # announced like any collected node, so that the terminal's "collected N items" counts them
    config.hook.pytest_collectreport(report=pytest.CollectReport(
        nodeid="normtheory", outcome="passed", longrepr=None, result=claims))
    items.extend(claims)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    if not isinstance(item, ClaimItem) or call.when != "call":
        return
    report = outcome.get_result()
    info: dict[str, Any] = {"id": item.claim.id, "expected": _expected(item.claim)}
    if item.evidence is None:
        info.update(verdict="error", key=call.excinfo.exconly().splitlines()[0] if call.excinfo else "")
    else:
        info.update(verdict=_outcome(item.evidence), key=item.evidence.key)
    setattr(report, _REPORT_ATTR, info)  # plain strings: pytest-xdist serialises it to the controller
    report.sections.append(("normtheory", f"{info['id']}: verdict {info['verdict']} (recorded "
                                          f"{info['expected']}); key figure: {info['key']}"))


def pytest_report_teststatus(report, config):
    info = getattr(report, _REPORT_ATTR, None)
    if info is None or report.when != "call" or not report.passed:
        return None
    return "passed", ".", (f"PASSED ({info['verdict']})", {"green": True})


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    rows = [getattr(r, _REPORT_ATTR) for key in ("passed", "failed")
            for r in terminalreporter.stats.get(key, ()) if getattr(r, _REPORT_ATTR, None)]
    if not rows:
        return
    rows.sort(key=lambda info: info["id"])
    terminalreporter.section("normtheory verdicts")
    width = max(len(info["id"]) for info in rows)
    vwidth = max(len(info["verdict"]) for info in rows)
    for info in rows:
        mark = "" if info["verdict"] == info["expected"] else f"   [recorded: {info['expected']}]"
        terminalreporter.write_line(f"{info['id'].ljust(width)}  {info['verdict'].ljust(vwidth)}  "
                                    f"{info['key']}{mark}")
