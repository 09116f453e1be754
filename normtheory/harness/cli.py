"""``normtheory bench <experiment> [--arch resnet34|resnet50] [--device cuda|cpu] [--quick] [--json PATH]``.

Experiments: accuracy (1: error vs steps, with the rate; 2: steps to 1e-3/1e-6 vs the gap),
bandwidth (3), certify (4), training (5), conv (6), or ``all`` (every one, one JSON file).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from normtheory.harness.resnet import ARCHS

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser) -> None:
    from normtheory.harness.experiments import EXPERIMENTS

    parser.add_argument("experiment", choices=sorted(EXPERIMENTS) + ["all"])
    parser.add_argument("--arch", choices=sorted(ARCHS), default="resnet50")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--quick", action="store_true", help="reduced size (width-8 network), seconds on a CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="write the results here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(experiment: str, *, arch="resnet50", device=None, quick=False, seed=0, progress=True) -> dict:
    """Run one experiment (or ``"all"``) and return the JSON-able record."""
    import torch

    from normtheory.harness.experiments import EXPERIMENTS, Config, config_dict, run_experiment
    from normtheory.harness.timing import environment

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda but no CUDA device is available")
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {sorted(ARCHS)}, got {arch!r}")
    cfg = Config(arch=arch, device=device, quick=quick, seed=seed, progress=progress)
    names = sorted(EXPERIMENTS) if experiment == "all" else [experiment]
    results, seconds = {}, {}
    for name in names:
        t0 = time.perf_counter()
        results[name] = run_experiment(name, cfg)
        seconds[name] = time.perf_counter() - t0
    return {"experiment": experiment, "environment": environment(device), "settings": config_dict(cfg),
            "wall_seconds": seconds, "results": results}


def main(args) -> int:
    try:
        record = run(args.experiment, arch=args.arch, device=args.device, quick=args.quick,
                     seed=args.seed, progress=not args.no_progress)
    except ValueError as err:
        print(f"normtheory bench: {err}", file=sys.stderr)
        return 2
    from normtheory.harness.report import summary

    print(summary(record))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path}", file=sys.stderr)
    return 0
