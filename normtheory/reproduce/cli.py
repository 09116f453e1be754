"""``normtheory reproduce NAME [--seeds N] [--quick] [--json PATH]``: run one small analogue.

Names: ``norm-scaling``, ``scaling-cost`` (blog); ``wd-sweep``, ``eps-sensitivity``, ``warmup``
(paper). ``--quick`` runs the reduced form that ``normtheory verify`` uses; without it the full
protocol of the module docstrings runs. The JSON goes to ``--json`` (default: print a summary only);
the committed full results live in ``reproduce/results/NAME.json`` (``--save`` writes there).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from normtheory.reproduce import RESULTS_DIR, experiments

__all__ = ["add_arguments", "main"]


def add_arguments(parser) -> None:
    parser.add_argument("name", choices=sorted(experiments.EXPERIMENTS),
                        help="which analogue to run")
    parser.add_argument("--seeds", type=int, default=None,
                        help="number of seeds (default: the protocol's, 3 full / 2 quick)")
    parser.add_argument("--quick", action="store_true", help="the reduced form used by verify")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--save", action="store_true",
                        help=f"write the results to {RESULTS_DIR}/NAME.json")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args) -> int:
    if args.seeds is not None and args.seeds < 1:
        print(f"--seeds must be >= 1, got {args.seeds}", file=sys.stderr)
        return 2
    try:
        result = experiments.run(args.name, quick=args.quick, seeds=args.seeds,
                                 progress=not args.no_progress)
    except ImportError as err:
        print(str(err), file=sys.stderr)
        return 2
    text = experiments.dumps(result)
    if args.json:
        Path(args.json).write_text(text)
    if args.save:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{args.name}.json").write_text(text)
    print(json.dumps(result["decisions"], indent=1, sort_keys=True))
    return 0
