"""The HTML verdict report (normtheory.html_report): written files, and the pages as a person sees them.

The browser tests render the index and claim pages in headless Chromium (Debian's ``chromium``
package, driven by Playwright; ``.ci/run`` installs both) and assert on what is visible: the table
rows, the filters, the figure actually loaded (``naturalWidth > 0``), no console errors, and no
request leaving ``file://`` (the report must work offline). Each of those checks is shown to fail
on a deliberately broken report. Without Chromium or Playwright they are skipped with the reason.

Set ``NORMTHEORY_SCREENSHOT_DIR`` to also write the screenshots there (the README's image is
``docs/images/html-report-index.png`` made this way).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from normtheory import report
from normtheory._io import OutputPathError
from normtheory.claims import get_claims
from normtheory.html_report import GENERATOR, write_html_report
from normtheory.registry import PAPER, Claim, Evidence, Source, Verdict

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# One fast claim of each kind that renders differently: confirmed, corrected (with a figure),
# refuted (with a counterexample), inconclusive (with a figure).
REAL_IDS = ["PAPER-ws-cwn", "PAPER-dynamic-decay", "PAPER-thm1-adam", "PAPER-eps-gains-vs-selection"]
HOSTILE = '<img src="x" onerror="console.error(\'escaped?\')"><script>console.error("injected")</script>'


def _synthetic(claim_id: str, statement: str, check) -> Claim:
    return Claim(id=claim_id, source=Source(PAPER, "Eq. (0)"), statement=statement,
                 checked="nothing; a synthetic claim of the report's tests", check=check,
                 expect=Verdict.CONFIRMED)


@pytest.fixture(scope="module")
def results() -> list[report.ClaimResult]:
    def hostile_check():
        return Evidence(Verdict.CONFIRMED, key=f"key with markup {HOSTILE}")

    def failing_check():
        raise RuntimeError("the check broke")

    def differing_check():
        return Evidence(Verdict.REFUTED, key="err 0.5", counterexample={"seed": 0})

    extra = [_synthetic("TEST-hostile-text", f"A statement quoting markup: {HOSTILE}", hostile_check),
             _synthetic("TEST-raises", "A check that raises.", failing_check),
             _synthetic("TEST-differs", "A verdict that differs from its record.", differing_check)]
    return report.run_claims(get_claims(REAL_IDS) + extra)


@pytest.fixture(scope="module")
def figures_dir(results, tmp_path_factory) -> Path:
    """A figures folder as `normtheory figures` writes it, for the claims here that draw one."""
    from normtheory.figures import save_figure

    out = tmp_path_factory.mktemp("figures")
    for r in results:
        if r.claim.figure is not None and r.evidence is not None:
            save_figure(r.claim.figure(r.evidence), out / f"{r.claim.id}.png")
    return out


@pytest.fixture(scope="module")
def report_dir(results, figures_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "html"
    write_html_report(results, out, figures_dir=figures_dir)
    return out


# ------------------------------------------------------------------------------ written files


def test_writes_an_index_a_page_per_claim_and_the_static_files(report_dir, results):
    assert (report_dir / "index.html").is_file()
    for r in results:
        assert (report_dir / "claims" / f"{r.claim.id}.html").is_file()
    assert (report_dir / "static" / "report.css").stat().st_size > 0
    assert (report_dir / "static" / "report.js").stat().st_size > 0


def test_no_asset_comes_from_the_network(report_dir):
    for path in report_dir.rglob("*"):
        if path.suffix in (".html", ".css", ".js"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path
            assert "@import" not in text and "url(http" not in text, path


def test_text_is_escaped_not_markup(report_dir):
    page = (report_dir / "claims" / "TEST-hostile-text.html").read_text(encoding="utf-8")
    index = (report_dir / "index.html").read_text(encoding="utf-8")
    for text in (page, index):
        assert "<script>console" not in text and "&lt;script&gt;" in text


def test_rows_not_as_recorded_are_marked(report_dir):
    index = (report_dir / "index.html").read_text(encoding="utf-8")
    marked = re.findall(r'<tr [^>]*class="unexpected"[^>]*>\s*<td><a href="claims/([^"]+)\.html"', index)
    assert sorted(marked) == ["TEST-differs", "TEST-raises"]
    assert "2 not as recorded" in index


def test_corrected_and_refuted_claims_set_their_correction_apart(report_dir):
    def aside(claim_id):
        text = (report_dir / "claims" / f"{claim_id}.html").read_text(encoding="utf-8")
        found = re.search(r'<aside class="correction".*?</aside>', text, flags=re.S)
        return found.group(0) if found else None

    assert "Corrected statement" in aside("PAPER-dynamic-decay")
    assert "Counterexample" in aside("PAPER-thm1-adam")
    assert aside("PAPER-ws-cwn") is None


def test_figures_are_copied_from_the_figures_dir_and_say_so(report_dir, figures_dir):
    copied = report_dir / "figures" / "PAPER-dynamic-decay.png"
    assert copied.read_bytes() == (figures_dir / "PAPER-dynamic-decay.png").read_bytes()
    page = (report_dir / "claims" / "PAPER-dynamic-decay.html").read_text(encoding="utf-8")
    assert "not by this run" in page


def test_without_a_figures_dir_the_figure_is_drawn_from_this_run(results, tmp_path):
    write_html_report(results, tmp_path / "r", figures_dir=None)
    drawn = tmp_path / "r" / "figures" / "PAPER-dynamic-decay.png"
    assert drawn.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Drawn from this run" in (tmp_path / "r" / "claims" / "PAPER-dynamic-decay.html").read_text()


def test_links_to_the_proof_script_and_tests_resolve(report_dir):
    page = report_dir / "claims" / "PAPER-dynamic-decay.html"
    hrefs = re.findall(r'href="([^"#]+)"', page.read_text(encoding="utf-8"))
    targets = [(page.parent / h).resolve() for h in hrefs if not h.endswith(".css")]
    assert all(t.exists() for t in targets), [t for t in targets if not t.exists()]
    assert any(t.parent.name == "tests" for t in targets)


def test_refuses_a_folder_that_is_not_a_report_and_replaces_an_earlier_one(results, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(OutputPathError, match="not empty"):
        write_html_report(results[:1], foreign, figures_dir=None)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    earlier = tmp_path / "earlier"
    write_html_report(results[:1], earlier, figures_dir=None)
    write_html_report(results[:2], earlier, figures_dir=None)
    assert GENERATOR in (earlier / "index.html").read_text(encoding="utf-8")
    assert (earlier / "claims" / f"{results[1].claim.id}.html").is_file()


def test_refuses_a_figures_dir_that_is_not_a_folder(results, tmp_path):
    with pytest.raises(OutputPathError, match="figures_dir"):
        write_html_report(results[:1], tmp_path / "r", figures_dir=tmp_path / "absent")
    assert not (tmp_path / "r").exists()


# ----------------------------------------------------------------------------- in the browser


@dataclass
class Seen:
    """What one page showed: console errors, uncaught exceptions, requests that left file://."""

    console_errors: list = field(default_factory=list)
    outside_requests: list = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.console_errors and not self.outside_requests


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run does this)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                         "(pip install playwright; it is in the test extra)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def open_page(browser, path: Path):
    """Open ``path``; returns (page, Seen) with console errors and outside requests recorded."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    seen = Seen()
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda err: seen.console_errors.append(str(err)))

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            seen.outside_requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, seen


def visible_rows(page) -> list[str]:
    return [row.inner_text().split("\t")[0].strip()
            for row in page.locator("#verdicts tbody tr").all() if row.is_visible()]


def figure_loaded(page) -> bool:
    img = page.locator("#figure img")
    return img.count() == 1 and img.evaluate("i => i.complete && i.naturalWidth > 0")


def _screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    extra = os.environ.get("NORMTHEORY_SCREENSHOT_DIR")
    if extra:
        shutil.copyfile(path, Path(extra) / name)
    return path


def test_index_shows_every_row_and_filters_them(browser, report_dir, results, tmp_path):
    page, seen = open_page(browser, report_dir / "index.html")
    assert visible_rows(page) == [r.claim.id for r in results]
    assert page.locator("#shown").inner_text() == f"{len(results)} of {len(results)} claims shown"
    _screenshot(page, tmp_path, "html-report-index.png")
    page.select_option("select[data-filter=verdict]", "corrected")
    assert visible_rows(page) == ["PAPER-dynamic-decay"]
    page.select_option("select[data-filter=verdict]", "")
    page.select_option("select[data-filter=kind]", "refuted")
    assert visible_rows(page) == ["PAPER-thm1-adam"]
    page.select_option("select[data-filter=kind]", "")
    page.select_option("select[data-filter=document]", "paper")
    assert len(visible_rows(page)) == len(results)  # all of them are the paper's
    assert page.get_by_text("error", exact=True).count() >= 1  # the raising check is shown as such
    assert seen.clean, seen


def test_claim_page_shows_statement_correction_and_a_loaded_figure(browser, report_dir, tmp_path):
    page, seen = open_page(browser, report_dir / "claims" / "PAPER-dynamic-decay.html")
    for section in ("Place", "Statement as made", "Statement checked", "Corrected statement",
                    "Evidence", "Figure", "Proof and tests"):
        assert page.get_by_role("heading", name=section).is_visible(), section
    assert page.locator("aside.correction").is_visible()
    assert figure_loaded(page)
    _screenshot(page, tmp_path, "html-report-claim.png")
    assert seen.clean, seen


def test_hostile_text_shows_as_text_and_runs_nothing(browser, report_dir):
    page, seen = open_page(browser, report_dir / "claims" / "TEST-hostile-text.html")
    assert "<script>" in page.locator("#statement").inner_text()
    assert seen.clean, seen


def test_the_browser_checks_catch_a_broken_report(browser, report_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(report_dir, broken)
    (broken / "figures" / "PAPER-dynamic-decay.png").unlink()          # a figure that did not arrive
    page, _ = open_page(browser, broken / "claims" / "PAPER-dynamic-decay.html")
    assert not figure_loaded(page)
    index = broken / "index.html"                                       # a script error, a CDN asset
    index.write_text(index.read_text().replace(
        "</body>", '<script>undefinedFunction()</script><link rel="stylesheet" '
                   'href="https://cdn.example.invalid/x.css"></body>'))
    page, seen = open_page(browser, index)
    assert seen.console_errors and seen.outside_requests
    (broken / "static" / "report.js").write_text("")                    # filters that do nothing
    page, _ = open_page(browser, index)
    page.select_option("select[data-filter=verdict]", "corrected")
    assert len(visible_rows(page)) != 1
