"""``normtheory``: verify the claims, find them, replay them, draw the figures, run the tools.

Subcommands: ``verify``, ``claims``, ``replay``, ``figures`` (here) and ``bench``, ``reproduce``,
``audit`` (each tool's module defines ``add_arguments(parser)`` and ``main(args) -> int``).

User errors (an unknown claim id, an output path that cannot be written, a Markdown file without
its markers, a bad argument) are one line on stderr and exit status 2, argparse's convention, and
are found before any work starts. Every file is written atomically (:mod:`normtheory._io`).
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import json
import re
import sys
from pathlib import Path

from normtheory import audit, html_report, report
from normtheory._io import OutputPathError, atomic_write_text, check_output_dir, check_output_file
from normtheory.claims import all_claims, claim_tests
from normtheory.figures import claim_figure_jobs, registered_figure_jobs, write_figures
from normtheory.harness import cli as harness_cli
from normtheory.harness import figures as _harness_figures  # noqa: F401  (registers its figure jobs)
from normtheory.registry import BLOG, LECTURE, PAPER, TORCH_DOCS, Claim, Verdict
from normtheory.reproduce import cli as reproduce_cli
from normtheory.reproduce import figures as _reproduce_figures  # noqa: F401  (registers its figure jobs)

__all__ = ["main", "build_parser", "UsageError", "TOOLS", "DOCUMENTS"]

ROOT = Path(__file__).resolve().parent.parent  # the source checkout (tests/, proofs/, figures/)

#: The tools that bring their own subcommand: name -> (module, help).
TOOLS = {
    "bench": (harness_cli, "GPU harness: spectral-norm estimation on ResNet layers"),
    "reproduce": (reproduce_cli, "small real-data analogues of the documents' experiments"),
    "audit": (audit, "certified per-layer spectral norms of a PyTorch model"),
}

DOCUMENTS = {d.key: d for d in (BLOG, PAPER, LECTURE, TORCH_DOCS)}

#: Verdicts whose evidence holds a replayable counterexample.
REPLAYABLE = (Verdict.CORRECTED.value, Verdict.REFUTED.value)


class UsageError(Exception):
    """A mistake in the command line or its files: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block): ``normtheory verify: error: ...``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


# --------------------------------------------------------------------------------- claim ids


def _claims_by_id() -> dict[str, Claim]:
    return {c.id: c for c in all_claims()}


def _unknown_id_message(name: str, known, what: str = "claim id") -> str:
    """'unknown claim id X' with the id meant when only the case differs, or close matches."""
    same_case = [k for k in known if k.lower() == name.lower()]
    if same_case:
        return f"unknown {what} {name!r}: ids are case-sensitive, did you mean {same_case[0]!r}?"
    close = difflib.get_close_matches(name, list(known), n=3)
    listing = "`normtheory claims`" if what == "claim id" else f"the {len(known)} known"
    hint = f"; did you mean {', '.join(close)}?" if close else f"; see {listing}"
    return f"unknown {what} {name!r}{hint}"


def _resolve_ids(ids: list[str] | None, known: dict, what: str = "claim id") -> list:
    if ids is None:
        return list(known.values())
    for name in ids:
        if name not in known:
            raise UsageError(_unknown_id_message(name, known, what))
    return [known[name] for name in dict.fromkeys(ids)]


# ------------------------------------------------------------------------------------ verify


def replace_marked_block(text: str, block: str) -> str:
    """``text`` with the part from :data:`report.MARKDOWN_BEGIN` to :data:`report.MARKDOWN_END`
    (both included) replaced by ``block``. Refuses (``UsageError``) unless each marker occurs
    exactly once and in that order: anything else would lose the file's own text."""
    begin, end = report.MARKDOWN_BEGIN, report.MARKDOWN_END
    counts = (text.count(begin), text.count(end))
    if counts != (1, 1):
        raise UsageError(f"needs exactly one begin and one end marker, found {counts[0]} and {counts[1]} "
                         f"(the markers are {begin!r} and {end!r})")
    i, j = text.index(begin), text.index(end)
    if j < i:
        raise UsageError("the end marker comes before the begin marker")
    return text[:i] + block + text[j + len(end):]


def _markdown_page(path: Path, block: str) -> str:
    """The Markdown file's new text: ``block`` alone for a new file, else the file with its marked
    block replaced (refused, naming the file, when the markers are not as they must be)."""
    check_output_file(path, "--markdown")
    if not path.exists():
        return block + "\n"
    try:
        return replace_marked_block(path.read_text(encoding="utf-8"), block)
    except UsageError as err:
        raise UsageError(f"--markdown {path}: {err}; not touching it") from None


def cmd_verify(args) -> int:
    claims = _resolve_ids(args.only, _claims_by_id())
    if not claims:
        print("no claims are registered: the installation is broken", file=sys.stderr)
        return 1
    if args.json:
        check_output_file(args.json, "--json")
    if args.markdown:
        _markdown_page(Path(args.markdown), "")  # refuse before the run, not after it
    if args.html:
        html_report.check_report_dir(Path(args.html))

    def progress(c):
        if not args.quiet:
            print(f"checking {c.id} ...", file=sys.stderr, flush=True)

    results = report.run_claims(claims, progress=progress)
    print(report.format_table(results))
    if args.json:
        atomic_write_text(args.json, json.dumps(report.to_json(results), indent=1) + "\n")
    if args.markdown:  # read again: the file may have been edited during the run
        atomic_write_text(args.markdown, _markdown_page(Path(args.markdown), report.to_markdown(results)))
    if args.html:
        committed = ROOT / "figures"  # the checkout's committed figures (absent in an installed wheel)
        index = html_report.write_html_report(results, Path(args.html),
                                              figures_dir=committed if committed.is_dir() else None)
        print(f"HTML report: {index}", file=sys.stderr)
    errors = [r for r in results if r.evidence is None]
    unexpected = [r for r in results if r.evidence is not None and not r.as_expected]
    counts = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    print(f"\n{len(results)} claims: {summary}")
    for r in errors:
        print(f"\nERROR in {r.claim.id}:\n{r.error}", file=sys.stderr)
    for r in unexpected:
        print(f"UNEXPECTED verdict for {r.claim.id}: {r.outcome}, recorded expectation "
              f"{r.expected_outcome}", file=sys.stderr)
    return 1 if errors or unexpected else 0


# ------------------------------------------------------------------------------------ claims


def _equation_numbers(text: str) -> set[int]:
    """Equation numbers a place names: ``Eq. (16)`` -> {16}; ``Eqs. (17)-(20)`` -> {17..20}."""
    if not re.search(r"\beqs?\b", text, flags=re.I):
        return set()
    numbers = set()
    for a, b in re.findall(r"\((\d+)\)\s*[-\u2013]\s*\((\d+)\)", text):
        numbers.update(range(int(a), int(b) + 1))
    numbers.update(int(n) for n in re.findall(r"\((\d+)\)", text))
    return numbers


def ref_matches(query: str, ref: str) -> bool:
    """Whether a claim's place ``ref`` answers ``query``: equation numbers by value (``Eq. (18)``
    finds ``Eqs. (17)-(20)``), anything else as a case-insensitive substring."""
    wanted = _equation_numbers(query)
    if wanted:
        return wanted <= _equation_numbers(ref)
    squash = lambda s: " ".join(s.lower().split())  # noqa: E731
    return squash(query) in squash(ref)


def _where(func) -> str:
    """``file:line`` of a function, relative to the checkout when inside it."""
    path = Path(inspect.getsourcefile(func)).resolve()
    line = inspect.getsourcelines(func)[1]
    try:
        path = path.relative_to(ROOT)
    except ValueError:
        pass
    return f"{path}:{line}"


def show_claim(c: Claim, other_ids=()) -> str:
    """Everything about one claim, one field a line, with paths (what ``claims --show`` prints)."""
    def path_line(rel: str | None) -> str:
        if rel is None:
            return "none"
        return rel if (ROOT / rel).exists() else f"{rel} (missing in this checkout)"

    tests = claim_tests(c.id, other_ids) if (ROOT / "tests").is_dir() else None
    lines = [
        f"id:        {c.id}",
        f"source:    {c.source.document.file} ({c.source.document.key}), {c.source.ref}",
        f"statement: {c.statement}",
        f"checked:   {c.checked}",
        f"expect:    {c.expect.value}" + (f" ({c.expect_finding.value})" if c.expect_finding else ""),
        f"check:     {_where(c.check)}",
        f"proof:     {path_line(c.proof)}",
        f"figure:    {path_line(f'figures/{c.id}.png') if c.figure is not None else 'none'}",
        f"replay:    {_where(c.replay) if c.replay is not None else 'none'}",
    ]
    if tests is None:
        lines.append("tests:     (no tests/ folder: not a source checkout)")
    else:
        lines.append(f"tests:     {len(tests)}" + ("" if tests else " (none named after this claim)"))
        lines += [f"  {t}" for t in tests]
    return "\n".join(lines)


def cmd_claims(args) -> int:
    known = _claims_by_id()
    if args.show:
        (c,) = _resolve_ids([args.show], known)
        print(show_claim(c, known))
        return 0
    chosen = list(known.values())
    if args.document:
        chosen = [c for c in chosen if c.source.document.key == args.document]
    if args.ref:
        chosen = [c for c in chosen if ref_matches(args.ref, c.source.ref)]
    for c in chosen:
        print(f"{c.id}\t{c.source}\t{c.statement}")
    if not chosen:
        print("no claim matches", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------------------------ replay


def _evidence_from_file(path: Path, claim_id: str) -> tuple[str, dict]:
    """(verdict, evidence JSON) of ``claim_id`` in a ``verify --json`` file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--json {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"--json {path}: not a verify --json file ({type(err).__name__}: {err})") from None
    entries = doc.get("claims") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"--json {path}: not a verify --json file (no 'claims' list)")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("id") == claim_id:
            return str(entry.get("verdict")), entry.get("evidence") or {}
    raise UsageError(f"--json {path} holds no result for {claim_id}")


def format_numbers(numbers: dict, prefix: str = "") -> list[str]:
    """``name = value`` lines of a (nested) dict of key numbers, floats with 6 significant digits."""
    lines = []
    for name, value in numbers.items():
        if isinstance(value, dict):
            lines += format_numbers(value, f"{prefix}{name}.")
        elif isinstance(value, float):
            lines.append(f"{prefix}{name} = {value:.6g}")
        else:
            lines.append(f"{prefix}{name} = {value}")
    return lines


def cmd_replay(args) -> int:
    (c,) = _resolve_ids([args.id], _claims_by_id())
    if c.replay is None:
        raise UsageError(f"{c.id} has no replay (only corrected and refuted claims carry a replayable "
                         "counterexample)")
    if args.json:
        verdict, evidence = _evidence_from_file(Path(args.json), c.id)
        origin = f"from {args.json}"
    else:
        found = c.run()
        verdict, evidence = found.verdict.value, found.to_json()
        origin = "computed in this run"
    if verdict not in REPLAYABLE:
        raise UsageError(f"{c.id} is {verdict}: only corrected and refuted claims have a counterexample to replay")
    numbers = c.replay(evidence)
    print(f"{c.id} ({verdict}): counterexample {origin}, replayed from its JSON evidence alone")
    for line in format_numbers(numbers):
        print(f"  {line}")
    return 0


# ----------------------------------------------------------------------------------- figures


def _figure_jobs():
    return claim_figure_jobs(all_claims()) + registered_figure_jobs()


def cmd_figures(args) -> int:
    out = check_output_dir(args.out, "--out")
    jobs = _figure_jobs()
    if args.only is not None:
        jobs = _resolve_ids(args.only, {j.name: j for j in jobs}, what="figure")
    written = write_figures(out, jobs, progress=lambda name: print(f"drawing {name} ...", file=sys.stderr))
    for path in written:
        print(path)
    return 0


# ------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="normtheory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verify", help="run every claim's check and print the verdict table")
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these claims")
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON")
    p.add_argument("--html", metavar="DIR",
                   help="write a static HTML report: the filterable verdict table and a page per claim")
    p.add_argument("--markdown", metavar="PATH",
                   help="write the verdict table as Markdown: a new file, or the marked block of an "
                        "existing one (refused when the file lacks the two markers)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("claims", help="list or find the claims; --show one with its check, tests, proof, figure")
    p.add_argument("--document", choices=sorted(DOCUMENTS), help="only claims about this document")
    p.add_argument("--ref", metavar="PLACE",
                   help='only claims about this place, e.g. "Eq. (16)" (equation numbers match ranges), '
                        '"Theorem 1", "slide \\"A Wrinkle\\""')
    p.add_argument("--show", metavar="ID", help="print everything about one claim, with paths")
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser("replay", help="re-run a corrected or refuted claim's counterexample from its JSON evidence")
    p.add_argument("id", metavar="ID")
    p.add_argument("--json", metavar="PATH",
                   help="a `normtheory verify --json` file to take the evidence from (default: run the check)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("figures", help="regenerate the figures (deterministic)")
    p.add_argument("--out", default="figures", help="output folder (default: ./figures)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="draw only these figures")
    p.set_defaults(func=cmd_figures)

    for name, (module, help_text) in TOOLS.items():
        p = sub.add_parser(name, help=help_text)
        module.add_arguments(p)
        p.set_defaults(func=module.main, output_options=("json", "markdown"))
    return parser


def _check_tool_outputs(args) -> None:
    """A tool's ``--json``/``--markdown`` output paths, checked before the tool's (long) run."""
    for option in getattr(args, "output_options", ()):
        value = getattr(args, option, None)
        if value:
            check_output_file(value, f"--{option}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_tool_outputs(args)
        return args.func(args)
    except (UsageError, OutputPathError) as err:
        print(f"normtheory {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a file removed under us: the old file is intact (atomic writes)
        print(f"normtheory {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
