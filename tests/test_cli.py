"""The command line: verify's table/JSON/Markdown and exit status, claims, figures, the README table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from normtheory import cli, report
from normtheory.claims import all_claims
from normtheory.registry import LECTURE, Claim, Evidence, Source, Verdict

ROOT = Path(__file__).resolve().parent.parent
FAST_ID = "L5-bn-eps"


def test_hypothesis_profile_is_ours():
    name = settings.get_current_profile_name()
    assert name in ("ci", "thorough")
    if name == "ci":  # whether or not CI=true made hypothesis load its built-in 'ci' first
        assert settings().max_examples == 40 and settings().derandomize and settings().deadline is None


def test_verify_json_shape(tmp_path, capsys):
    out = tmp_path / "out.json"
    assert cli.main(["verify", "--quiet", "--only", FAST_ID, "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert set(doc) == {"claims", "environment"}
    (entry,) = doc["claims"]
    assert {"id", "source", "statement", "checked", "verdict", "evidence"} <= set(entry)
    assert entry["id"] == FAST_ID and set(entry["source"]) >= {"file", "ref"}
    assert entry["verdict"] in {v.value for v in Verdict}
    assert "torch" in doc["environment"]
    assert FAST_ID in capsys.readouterr().out


def test_verify_markdown_replaces_only_the_marked_block(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"before\n{report.MARKDOWN_BEGIN}\nold\n{report.MARKDOWN_END}\nafter\n")
    assert cli.main(["verify", "--quiet", "--only", FAST_ID, "--markdown", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert f"| {FAST_ID} |" in text


def _fake(check, expect=Verdict.CONFIRMED):
    return Claim(id="L5-fake", source=Source(LECTURE, "nowhere"), statement="s", checked="c",
                 check=check, expect=expect)


@pytest.mark.parametrize("claim, code", [
    (_fake(lambda: Evidence(verdict=Verdict.CONFIRMED, key="fine")), 0),
    (_fake(lambda: 1 / 0), 1),  # a check that errors
    (_fake(lambda: Evidence(verdict=Verdict.CONFIRMED, key="k"), expect=Verdict.REFUTED), 1),  # unexpected
])
def test_verify_exit_status(monkeypatch, claim, code, capsys):
    monkeypatch.setattr(cli, "_claims_by_id", lambda: {claim.id: claim})
    assert cli.main(["verify", "--quiet"]) == code


FIG_IDS = ("L5-ics-outlier", "L5-ics-gd-rate")  # two fast claim figures (a few seconds each)


def test_figures_reproduce_the_committed_bytes(tmp_path):
    """Regeneration gives the committed figures/ byte for byte (numbers rounded to 6 digits)."""
    assert cli.main(["figures", "--out", str(tmp_path), "--only", *FIG_IDS]) == 0
    for fid in FIG_IDS:
        for ext in ("png", "json"):
            assert (tmp_path / f"{fid}.{ext}").read_bytes() == (ROOT / "figures" / f"{fid}.{ext}").read_bytes(), \
                f"figures/{fid}.{ext} differs: regenerate with `normtheory figures`"


def test_figure_data_are_rounded_to_stated_digits():
    from normtheory import figures

    data = {"a": 0.1 + 0.2, "b": [1 / 3, 2.0, 7], "c": np.array([np.pi, 1e-300]), "s": "text", "t": True}
    r = figures.rounded(data)
    assert r["a"] == 0.3 and r["b"] == [0.333333, 2.0, 7] and r["s"] == "text" and r["t"] is True
    assert r["c"].tolist() == [3.14159, 1e-300]
    # last-digit round-off (what differs between machines) disappears; the broken variant (no rounding) keeps it
    assert figures.figure_json({"x": 0.1 + 0.2}) == figures.figure_json({"x": 0.3})
    assert json.dumps({"x": 0.1 + 0.2}) != json.dumps({"x": 0.3})


def _run(argv, capsys):
    code = cli.main(argv)
    return code, capsys.readouterr()


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _forbid_work(monkeypatch):
    """Any check or figure job running makes the test fail: errors must be found before the work."""
    def no(*a, **k):
        raise AssertionError("the work started before the user error was reported")

    monkeypatch.setattr(report, "run_claims", no)
    monkeypatch.setattr(cli, "write_figures", no)


@pytest.mark.parametrize("argv, message", [
    (["verify", "--only", "NOPE-1"], "unknown claim id 'NOPE-1'"),
    (["verify", "--only", FAST_ID.lower()], f"case-sensitive, did you mean '{FAST_ID}'"),
    (["verify", "--only", FAST_ID, "L5-nope"], "unknown claim id 'L5-nope'"),
    (["figures", "--only", "nope"], "unknown figure 'nope'"),
    (["figures", "--only", "l5-euler"], "did you mean 'L5-euler'"),
    (["figures", "--out", "pyproject.toml"], "--out: pyproject.toml exists and is not a folder"),
    (["verify", "--json", "tests"], "--json: tests is a directory"),
    (["verify", "--json", "no/such/folder/x.json"], "--json: folder no/such/folder does not exist"),
    (["verify", "--markdown", "pyproject.toml"], "needs exactly one begin and one end marker"),
    (["verify", "--markdown", "tests"], "--markdown: tests is a directory"),
    (["claims", "--show", "paper-thm1"], "did you mean 'PAPER-thm1'"),
    (["replay", "NOPE"], "unknown claim id"),
    (["replay", "L5-euler"], "has no replay"),
    (["replay", "PAPER-thm1-schedule", "--json", "no-such.json"], "no such file"),
    (["replay", "PAPER-thm1-schedule", "--json", "pyproject.toml"], "not a verify --json file"),
    (["audit", "x:y", "--json", "tests"], "--json: tests is a directory"),
    (["bench", "accuracy", "--json", "no/such/folder/x.json"], "does not exist"),
    (["verify", "--bogus"], "unrecognized arguments"),
    (["nope"], "invalid choice"),
])
def test_user_errors_are_one_line_and_exit_2(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    _forbid_work(monkeypatch)
    try:
        code, out = _run(argv, capsys)
    except SystemExit as stop:  # argparse's own errors
        code, out = stop.code, capsys.readouterr()
    assert code == 2
    assert message in _one_line_error(out.err)


def test_cli_user_error_in_a_subprocess_has_no_traceback():
    done = subprocess.run([sys.executable, "-m", "normtheory", "verify", "--only", "nope"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and _one_line_error(done.stderr).startswith("normtheory verify: error:")


@pytest.mark.parametrize("text", [
    "no markers at all\n",
    f"{report.MARKDOWN_END}\nreversed\n{report.MARKDOWN_BEGIN}\n",
    f"{report.MARKDOWN_BEGIN}\nonly the begin marker\n",
    f"{report.MARKDOWN_BEGIN}\n{report.MARKDOWN_END}\n{report.MARKDOWN_BEGIN}\n{report.MARKDOWN_END}\n",
])
def test_markdown_without_both_markers_in_order_is_refused_untouched(tmp_path, text, capsys, monkeypatch):
    page = tmp_path / "README.md"
    page.write_text(text)
    _forbid_work(monkeypatch)
    code, out = _run(["verify", "--quiet", "--only", FAST_ID, "--markdown", str(page)], capsys)
    assert code == 2 and "not touching it" in _one_line_error(out.err)
    assert page.read_text() == text


def test_markdown_new_file_is_created(tmp_path):
    page = tmp_path / "new.md"
    assert cli.main(["verify", "--quiet", "--only", FAST_ID, "--markdown", str(page)]) == 0
    text = page.read_text()
    assert text.startswith(report.MARKDOWN_BEGIN) and f"| {FAST_ID} |" in text


def test_replace_marked_block_broken_variant():
    """The old rule (replace when find() says begin < end, else rewrite the whole file) loses text."""
    text = f"keep\n{report.MARKDOWN_END}\n{report.MARKDOWN_BEGIN}\nkeep too\n"
    with pytest.raises(cli.UsageError, match="end marker comes before"):
        cli.replace_marked_block(text, "TABLE")
    begin, end = text.find(report.MARKDOWN_BEGIN), text.find(report.MARKDOWN_END)
    old_rule = text[:begin] + "TABLE" + text[end:] if begin != -1 and end > begin else "TABLE\n"
    assert "keep" not in old_rule


# ----------------------------------------------------------------------- one hop: claims, replay


def test_claims_by_equation_number_finds_ranges(capsys):
    code, out = _run(["claims", "--ref", "Eq. (18)"], capsys)
    ids = [line.split("\t")[0] for line in out.out.splitlines()]
    assert code == 0 and "PAPER-thm1" in ids  # cited as "Eqs. (17)-(20)"
    assert cli.ref_matches("Eq. (16)", "Eq. (16)") and not cli.ref_matches("Eq. (16)", "Eq. (161)")
    assert not cli.ref_matches("Eq. (16)", "Eqs. (14)-(15)") and cli.ref_matches("eq. (15)", "Eqs. (14)-(15)")
    assert cli.ref_matches("a wrinkle", 'slide "A Wrinkle" (BN before the activation)')


def test_claims_by_document(capsys):
    code, out = _run(["claims", "--document", "lecture"], capsys)
    ids = [line.split("\t")[0] for line in out.out.splitlines()]
    assert code == 0 and ids and all(i.startswith("L5-") for i in ids)
    assert {c.id for c in all_claims() if c.source.document.key == "lecture"} == set(ids)


def test_claims_no_match_exits_1(capsys):
    code, out = _run(["claims", "--ref", "Eq. (999)"], capsys)
    assert code == 1 and out.out == ""


def test_claims_show_prints_every_link_with_paths(capsys):
    code, out = _run(["claims", "--show", "PAPER-thm1"], capsys)
    assert code == 0
    fields = dict(line.split(":", 1) for line in out.out.splitlines() if not line.startswith("  "))
    assert fields["check"].strip().startswith("normtheory/claims/paper_theorem1.py:")
    path, line = fields["check"].strip().split(":")
    assert "PAPER-thm1" in (ROOT / path).read_text().splitlines()[int(line) - 1 + 1]  # the @claim( line, then its id
    assert fields["figure"].strip() == "figures/PAPER-thm1.png"
    tests = [line.strip() for line in out.out.splitlines() if line.startswith("  ")]
    assert tests and all("::test_" in t and "PAPER_thm1" in t for t in tests)
    assert not any("PAPER_thm1_schedule" in t for t in tests)  # a longer id's tests are not this claim's


def test_replay_from_a_verify_json_file(tmp_path, capsys, monkeypatch):
    """replay reads the evidence from the file and hands it to the claim's replay function."""
    seen = {}

    def fake_replay(evidence):
        seen.update(evidence)
        return {"gap": 0.25, "inner": {"steps": 3}}

    fake = Claim(id="PAPER-fake", source=Source(LECTURE, "nowhere"), statement="s", checked="c",
                 check=lambda: 1 / 0, expect=Verdict.REFUTED, replay=fake_replay)
    monkeypatch.setattr(cli, "_claims_by_id", lambda: {fake.id: fake})
    evidence = {"key": "k", "counterexample": {"seed": 4}}
    doc = {"claims": [{"id": "PAPER-fake", "verdict": "refuted", "evidence": evidence}], "environment": {}}
    path = tmp_path / "v.json"
    path.write_text(json.dumps(doc))
    code, out = _run(["replay", "PAPER-fake", "--json", str(path)], capsys)
    assert code == 0 and seen == evidence
    assert "gap = 0.25" in out.out and "inner.steps = 3" in out.out
    doc["claims"][0]["verdict"] = "confirmed"  # nothing to replay for a confirmed claim
    path.write_text(json.dumps(doc))
    code, out = _run(["replay", "PAPER-fake", "--json", str(path)], capsys)
    assert code == 2 and "is confirmed" in _one_line_error(out.err)


def test_cli_imports_its_tools_plainly():
    source = (ROOT / "normtheory" / "cli.py").read_text() + (ROOT / "normtheory" / "figures.py").read_text()
    assert "importlib" not in source and "import_module" not in source
    assert "normtheory.claims" not in (ROOT / "normtheory" / "figures.py").read_text()  # no upward import


def test_console_entry_point_lists_claims():
    done = subprocess.run([sys.executable, "-m", "normtheory", "claims"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and FAST_ID in done.stdout


def test_readme_verdict_table_is_current():
    """The README's table is generated; it must list every claim with its recorded verdict (which
    test_claims_registry checks against the computed one)."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index(report.MARKDOWN_BEGIN):text.index(report.MARKDOWN_END)]
    rows = dict(re.findall(r"^\| (\S+) \| [^|]*(?:\\\|[^|]*)* \| (\w+)", block, flags=re.M))
    rows.pop("id", None)  # the header row
    expected = {c.id: c.expect.value for c in all_claims()}
    assert rows == expected, "regenerate with: normtheory verify --markdown README.md"


def test_verify_html_writes_the_report(tmp_path):
    out = tmp_path / "report"
    assert cli.main(["verify", "--quiet", "--only", FAST_ID, "--html", str(out)]) == 0
    assert FAST_ID in (out / "index.html").read_text()
    assert (out / "claims" / f"{FAST_ID}.html").is_file()


def test_verify_html_refuses_a_foreign_folder_before_the_run(tmp_path, capsys):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"not a report")
    assert cli.main(["verify", "--quiet", "--only", FAST_ID, "--html", str(foreign)]) == 2
    assert (foreign / "holiday.jpg").read_bytes() == b"not a report"
