"""``normtheory reproduce``: run, record and check the small analogues.

Usage::

    normtheory reproduce NAME [--inrun] [--jobs N] [--json PATH] [--save]
    normtheory reproduce --check [NAME] [--jobs N]

``NAME`` is one of ``norm-scaling``, ``scaling-cost`` (blog); ``wd-sweep``, ``eps-sensitivity``,
``warmup`` (paper). Without ``--inrun`` the full protocol runs (seeds x configs in ``--jobs``
joblib workers; the result is the same for every N). ``--save`` records a full run in
``normtheory/reproduce/results/NAME.json`` with its provenance, atomically. ``--json PATH`` writes
the result (refusing to overwrite an existing file). The decisions printed are the claims' own
(``normtheory.claims.blog_analogues`` / ``paper_analogues``).

``--check`` reruns every full analogue (or ``NAME``) and compares each claim's decision on the fresh
run with its decision on the recorded run; it prints one line per differing decision and exits 1
when any differs, or when a record is missing or stale (made by code that has changed since).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from normtheory import provenance
from normtheory._io import atomic_write_text
from normtheory.reproduce import experiments

__all__ = ["add_arguments", "main", "decisions", "check"]


def add_arguments(parser) -> None:
    parser.add_argument("name", nargs="?", choices=sorted(experiments.EXPERIMENTS),
                        help="which analogue to run (all of them with --check)")
    parser.add_argument("--inrun", action="store_true",
                        help="the reduced form that normtheory verify computes")
    parser.add_argument("--jobs", type=int, default=1,
                        help="joblib workers for the seeds x configs (default 1)")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON (a new file)")
    parser.add_argument("--save", action="store_true",
                        help="record the full run with its provenance (package results folder)")
    parser.add_argument("--check", action="store_true",
                        help="rerun the full analogues and compare decisions with the records")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _decision_table() -> dict:
    from normtheory.claims.blog_analogues import DECISIONS as blog
    from normtheory.claims.paper_analogues import DECISIONS as paper
    return {**blog, **paper}


def decisions(name: str, result: dict) -> dict[str, str]:
    """claim id -> finding, for every analogue claim decided from experiment ``name``."""
    return {cid: decide(result)["finding"] for cid, (exp, decide) in _decision_table().items()
            if exp == name}


def check(names, *, jobs: int, progress: bool, out=None) -> list[str]:
    """Rerun the full forms of ``names``; the lines describing every differing decision."""
    out = sys.stdout if out is None else out
    differing = []
    for name in names:
        rec, prov = experiments.recorded(name)  # stale or missing: raises before the long run
        t0 = time.perf_counter()
        fresh = experiments.run(name, form="full", jobs=jobs, progress=progress)
        now, then = decisions(name, fresh), decisions(name, rec)
        for cid in sorted(now):
            if now[cid] != then[cid]:
                differing.append(f"{cid} ({name}): recorded {then[cid]!r} ({prov['date']}), "
                                 f"now {now[cid]!r}")
        print(f"{name}: {len(now)} decisions, {sum(now[c] != then[c] for c in now)} differ "
              f"({time.perf_counter() - t0:.0f} s)", file=out, flush=True)
    return differing


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 2


def main(args) -> int:
    if isinstance(args.jobs, bool) or args.jobs < 1:
        return _fail(f"--jobs must be >= 1, got {args.jobs}")
    if args.check:
        if args.save or args.json or args.inrun:
            return _fail("--check takes no --save, --json or --inrun")
        names = [args.name] if args.name else sorted(experiments.EXPERIMENTS)
        t0 = time.perf_counter()
        try:
            differing = check(names, jobs=args.jobs, progress=not args.no_progress)
        except provenance.RecordError as err:
            print(str(err), file=sys.stderr)
            return 1
        for line in differing:
            print(f"DIFFERS: {line}", file=sys.stderr)
        print(f"checked {len(names)} analogues with --jobs {args.jobs} in "
              f"{time.perf_counter() - t0:.0f} s: "
              f"{'all decisions as recorded' if not differing else f'{len(differing)} differ'}")
        return 1 if differing else 0
    if args.name is None:
        return _fail("name the analogue to run (or use --check)")
    if args.save and args.inrun:
        return _fail("--save records full runs only (drop --inrun)")
    if args.json and Path(args.json).exists():
        return _fail(f"--json: {args.json} exists; not overwriting it")
    version = experiments.code_version(args.name)  # before the run: see experiments.save
    try:
        result = experiments.run(args.name, form="inrun" if args.inrun else "full",
                                 jobs=args.jobs, progress=not args.no_progress)
    except ImportError as err:
        return _fail(str(err))
    if args.json:
        atomic_write_text(args.json, experiments.dumps(result))
    if args.save:
        try:
            prov = experiments.save(args.name, result, jobs=args.jobs, version=version)
        except provenance.RecordError as err:
            print(str(err), file=sys.stderr)
            return 1
        print(f"recorded {experiments.record_path(args.name)} (code {prov['code_version'][:12]})")
    for cid, found in decisions(args.name, result).items():
        print(f"{cid}: {found}")
    return 0
