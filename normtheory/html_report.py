"""The static HTML verdict report: an index with the verdict table and one page per claim.

``write_html_report(results, out_dir, figures_dir=...)`` writes::

    out_dir/index.html          the verdict table, filterable by document, verdict and kind
    out_dir/claims/ID.html      place, statement as made, statement checked, evidence, figure,
                                links to the check, the proof script and the tests; a corrected
                                statement or counterexample set apart
    out_dir/figures/ID.png      each claim's figure (copied, or drawn from this run's evidence)
    out_dir/static/report.css, report.js

Built with jinja2 (autoescape on: statements and evidence are text, never markup) from the
templates in ``normtheory/report_templates`` (package data). No asset comes from the network: the
style sheet and the filter script are written beside the pages, so the report works offline and
from ``file://``. *Kind* is the verdict recorded with the claim (its expectation), *verdict* the one
this run computed; a row where they differ is marked.

Figures: ``figures_dir/ID.png`` is copied when present (the committed figures drawn by
``normtheory figures``; the caption says so, since they were not drawn by this run); otherwise a
claim with a figure builder gets its figure drawn from this run's evidence (numbers rounded as in
:mod:`normtheory.figures`).

Every file is written atomically (:mod:`normtheory._io`). An existing ``out_dir`` is refused
unless it is empty or holds an earlier normtheory report (its ``index.html`` names the generator),
so a mistyped folder is never filled or overwritten.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import inspect
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from normtheory import report
from normtheory._io import OutputPathError, atomic_write_bytes, atomic_write_text, check_output_dir

__all__ = ["GENERATOR", "write_html_report", "check_report_dir", "claim_page_name"]

#: Written into every page's ``<meta name="generator">``; marks a folder as a normtheory report.
GENERATOR = "normtheory verify --html"

_TEMPLATES = "report_templates"
_STATIC = ("report.css", "report.js")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MAX_VALUE_CHARS = 240  # a measured array longer than this is cut in the table (the JSON has it all)


@dataclasses.dataclass(frozen=True)
class _Link:
    text: str
    href: str | None
    missing: str | None = None


def claim_page_name(claim_id: str) -> str:
    """``ID.html``; refuses an id that is not a plain file name (ids are ``DOC-topic``)."""
    if not _SAFE_ID.match(claim_id):
        raise ValueError(f"claim id {claim_id!r} cannot name a file of the report")
    return f"{claim_id}.html"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("normtheory", _TEMPLATES),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env


def check_report_dir(out_dir: Path) -> Path:
    """``out_dir`` can take the report: a new or empty folder, or an earlier report's (its
    ``index.html`` names :data:`GENERATOR`). Raises :class:`OutputPathError` naming ``--html``
    otherwise; creates nothing (so that ``verify`` can refuse before its run)."""
    out_dir = check_output_dir(out_dir, "--html")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        index = out_dir / "index.html"
        try:
            earlier = f'content="{GENERATOR}"' in index.read_text(encoding="utf-8", errors="replace")
        except OSError:
            earlier = False
        if not earlier:
            raise OutputPathError(f"--html: folder {out_dir} is not empty and holds no earlier "
                                  "normtheory report; give a new or empty folder")
    return out_dir


def _source_root() -> Path | None:
    """The source checkout holding this package (with ``proofs/`` or ``tests/``), if any."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "proofs").is_dir() or (root / "tests").is_dir() else None


def _link(rel: str, root: Path | None, page_dir: Path, line: int | None = None) -> _Link:
    """A link from a page in ``page_dir`` to ``root/rel`` (relative, so the report can move with
    the checkout), or plain text saying why there is none."""
    text = rel if line is None else f"{rel}:{line}"
    if Path(rel).is_absolute():  # the check of an installed package: link to it where it is
        path = Path(rel)
    elif root is None:
        return _Link(text, None, "not in this installation: no source checkout")
    else:
        path = root / rel.split("::")[0]
    if not path.exists():
        return _Link(text, None, "missing in this checkout")
    return _Link(text, Path(os.path.relpath(path, page_dir)).as_posix())


def _source_of(func, root: Path | None) -> tuple[str | None, int | None]:
    """(file, first line) of ``func``: relative to ``root`` when inside it, else absolute."""
    try:
        path = Path(inspect.getsourcefile(inspect.unwrap(func))).resolve()
        line = inspect.getsourcelines(inspect.unwrap(func))[1]
    except (OSError, TypeError):
        return None, None
    if root is not None and path.is_relative_to(root):
        return path.relative_to(root).as_posix(), line
    return str(path), line


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value)
        return text if len(text) <= _MAX_VALUE_CHARS else text[:_MAX_VALUE_CHARS] + " ... (cut; see --json)"
    return str(value)


def _flatten(values: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for name, value in values.items():
        if isinstance(value, dict) and value:
            rows += _flatten(value, f"{prefix}{name}.")
        else:
            rows.append((f"{prefix}{name}", _format_value(value)))
    return rows


def _figure(result: report.ClaimResult, figures_dir: Path | None, out_figures: Path) -> tuple[str | None, str]:
    """Put the claim's figure into ``out_figures``; returns (file name, caption) or (None, '')."""
    name = f"{result.claim.id}.png"
    if figures_dir is not None and (Path(figures_dir) / name).is_file():
        atomic_write_bytes(out_figures / name, (Path(figures_dir) / name).read_bytes())
        return name, (f"Copied from {Path(figures_dir) / name}, drawn by `normtheory figures` (not by "
                      "this run; regenerate with that command).")
    if result.claim.figure is None or result.evidence is None:
        return None, ""
    from normtheory.figures import rounded, save_figure

    evidence = dataclasses.replace(result.evidence, measured=rounded(result.evidence.measured),
                                   series=rounded(result.evidence.series))
    save_figure(result.claim.figure(evidence), out_figures / name)
    return name, "Drawn from this run's evidence."


def _claim_context(result: report.ClaimResult, *, root: Path | None, page_dir: Path,
                   figure: tuple[str | None, str], tests: list[str] | None) -> dict[str, Any]:
    c, ev = result.claim, result.evidence
    evidence_json = ev.to_json() if ev is not None else {}
    check_file, check_line = _source_of(c.check, root)
    return {
        "id": c.id, "verdict": result.verdict, "outcome": result.outcome,
        "expected": result.expected_outcome, "as_expected": result.as_expected,
        "seconds": f"{result.seconds:.3g}",
        "document_title": c.source.document.title, "document_file": c.source.document.file,
        "ref": c.source.ref, "statement": c.statement, "checked": c.checked,
        "corrected": ev.corrected if ev is not None else None,
        "counterexample": (json.dumps(evidence_json["counterexample"], indent=1)
                           if ev is not None and ev.counterexample else None),
        "replayable": c.replay is not None,
        "error": result.error, "key": ev.key if ev is not None else "",
        "analogue": ev.analogue if ev is not None else None,
        "finding": ev.finding.value if ev is not None and ev.finding is not None else None,
        "tolerance": f"{ev.tolerance:.3g}" if ev is not None and ev.tolerance is not None else None,
        "tolerance_reason": ev.tolerance_reason if ev is not None else None,
        "recorded": sorted(ev.recorded.items()) if ev is not None and ev.recorded else None,
        "measured": _flatten(evidence_json.get("measured", {})),
        "figure": figure[0], "figure_origin": figure[1],
        "check": _link(check_file, root, page_dir, check_line) if check_file
        else _Link(c.check.__qualname__, None, "no source file"),
        "proof": _link(c.proof, root, page_dir) if c.proof else None,
        "tests": None if tests is None else [_link(t, root, page_dir) for t in tests],
    }


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""


def _index_rows(results: list[report.ClaimResult]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        key = r.evidence.key if r.evidence is not None else _last_line(r.error)
        rows.append({"id": r.claim.id, "page": claim_page_name(r.claim.id),
                     "document": r.claim.source.document.key, "ref": r.claim.source.ref,
                     "verdict": r.verdict, "outcome": r.outcome, "kind": r.claim.expect.value,
                     "expected": r.expected_outcome, "as_expected": r.as_expected,
                     "key": key})
    return rows


def write_html_report(results: list[report.ClaimResult], out_dir: Path, *,
                      figures_dir: Path | None = None) -> Path:
    """Write the static report of ``results`` into ``out_dir``; returns the index's path.

    Args:
        results: from :func:`normtheory.report.run_claims`.
        out_dir: a new or empty folder, or one holding an earlier report (its files are replaced).
        figures_dir: where ``ID.png`` figures are copied from (``figures/`` of the checkout);
            ``None`` draws each claim's figure from this run's evidence instead.

    Raises:
        OutputPathError: ``out_dir`` cannot be written, or is a non-empty folder that is not a
            report.  ValueError: a claim id that cannot be a file name.
    """
    out_dir = check_report_dir(Path(out_dir))
    if figures_dir is not None and not Path(figures_dir).is_dir():
        raise OutputPathError(f"figures_dir: {figures_dir} is not a folder")
    for r in results:
        claim_page_name(r.claim.id)  # refuse a bad id before writing anything
    pages, figures, static = out_dir / "claims", out_dir / "figures", out_dir / "static"
    for folder in (out_dir, pages, figures, static):
        folder.mkdir(parents=True, exist_ok=True)
    env = _environment()
    root = _source_root()
    generated = (f"generated {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC} by "
                 f"normtheory {_version()}")
    common = {"generator": GENERATOR, "generated": generated}
    all_ids = [r.claim.id for r in results]
    for r in results:
        tests = None
        if root is not None and (root / "tests").is_dir():
            from normtheory.claims import claim_tests

            tests = claim_tests(r.claim.id, all_ids, tests_dir=root / "tests")
        context = _claim_context(r, root=root, page_dir=pages, figure=_figure(r, figures_dir, figures),
                                 tests=tests)
        html = env.get_template("claim.html").render(c=context, static="../static", home="../index.html",
                                                      **common)
        atomic_write_text(pages / claim_page_name(r.claim.id), html)
    rows = _index_rows(results)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    filters = [{"name": "document", "label": "document", "values": sorted({row["document"] for row in rows})},
               {"name": "verdict", "label": "verdict (this run)", "values": sorted({row["verdict"] for row in rows})},
               {"name": "kind", "label": "kind (recorded verdict)", "values": sorted({row["kind"] for row in rows})}]
    environment = sorted(report.environment().items())
    html = env.get_template("index.html").render(
        rows=rows, counts=sorted(counts.items()), unexpected=sum(not row["as_expected"] for row in rows),
        filters=filters, environment=environment, static="static", home="index.html", **common)
    for name in _STATIC:
        atomic_write_bytes(static / name, resources.files("normtheory").joinpath(_TEMPLATES, name).read_bytes())
    return atomic_write_text(out_dir / "index.html", html)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("normtheory")
    except PackageNotFoundError:
        return "(not installed)"
