"""``normtheory``: verify the claims, list them, draw the figures, run the harness.

Subcommands ``verify``, ``claims`` and ``figures`` live here. Larger tools bring their own
subcommand: a module listed in ``PLUGIN_COMMANDS`` defines ``add_arguments(parser)`` and
``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from normtheory import report

PLUGIN_COMMANDS = {
    "bench": ("normtheory.harness.cli", "GPU harness: spectral-norm estimation on ResNet layers"),
    "reproduce": ("normtheory.reproduce.cli", "small real-data analogues of the documents' experiments"),
    "audit": ("normtheory.audit", "certified per-layer spectral norms of a PyTorch model"),
}


def _write_markdown(path: Path, table: str) -> None:
    """Write the Markdown table, replacing only the marked block when the file has one."""
    if path.exists():
        text = path.read_text()
        begin, end = text.find(report.MARKDOWN_BEGIN), text.find(report.MARKDOWN_END)
        if begin != -1 and end > begin:
            path.write_text(text[:begin] + table + text[end + len(report.MARKDOWN_END):])
            return
    path.write_text(table + "\n")


def cmd_verify(args) -> int:
    from normtheory.claims import get_claims

    claims = get_claims(args.only)
    if not claims:
        print("no claims are registered: the installation is broken", file=sys.stderr)
        return 1

    def progress(c):
        if not args.quiet:
            print(f"checking {c.id} ...", file=sys.stderr, flush=True)

    results = report.run_claims(claims, progress=progress)
    print(report.format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(results), indent=1) + "\n")
    if args.markdown:
        _write_markdown(Path(args.markdown), report.to_markdown(results))
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


def cmd_claims(args) -> int:
    from normtheory.claims import all_claims

    for c in all_claims():
        print(f"{c.id}\t{c.source}\t{c.statement}")
    return 0


def cmd_figures(args) -> int:
    from normtheory.figures import write_figures

    written = write_figures(Path(args.out), args.only,
                            progress=lambda name: print(f"drawing {name} ...", file=sys.stderr))
    for path in written:
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="normtheory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verify", help="run every claim's check and print the verdict table")
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these claims")
    p.add_argument("--json", metavar="PATH", help="write the full report as JSON")
    p.add_argument("--markdown", metavar="PATH",
                   help="write the verdict table as Markdown (replaces the marked block if present)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("claims", help="list the claims")
    p.set_defaults(func=cmd_claims)

    p = sub.add_parser("figures", help="regenerate the figures (deterministic)")
    p.add_argument("--out", default="figures", help="output folder (default: ./figures)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="draw only these figures")
    p.set_defaults(func=cmd_figures)

    for name, (module_name, help_text) in PLUGIN_COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name is not None and (module_name + ".").startswith(err.name + "."):
                continue  # that tool is not part of this checkout yet
            raise
        p = sub.add_parser(name, help=help_text)
        module.add_arguments(p)
        p.set_defaults(func=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
