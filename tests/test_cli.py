"""The command line: verify's table/JSON/Markdown and exit status, claims, figures, the README table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

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
    import normtheory.claims

    monkeypatch.setattr(normtheory.claims, "get_claims", lambda ids=None: [claim])
    assert cli.main(["verify", "--quiet"]) == code


def test_unknown_claim_id_is_an_error():
    with pytest.raises(KeyError, match="unknown claim"):
        cli.main(["verify", "--only", "NOPE-1"])


def test_figures_are_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert cli.main(["figures", "--out", str(out), "--only", FAST_ID]) == 0
    for name in (f"{FAST_ID}.png", f"{FAST_ID}.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


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
