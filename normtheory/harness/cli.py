"""``normtheory bench <experiment> [--arch resnet34|resnet50] [--device cuda|cpu] [--quick] [--json PATH]``.

Experiments: accuracy (1: error vs steps, with the rate; 2: steps to 1e-3/1e-6 vs the gap),
bandwidth (3), certify (4), training (5), conv (6), spectral (the core against torch/scipy/the
blog, :mod:`normtheory.harness.spectral_bench`), or ``all`` (every one, one JSON file).
``spectral`` without ``--quick`` writes ``bench/results/spectral-<device>-<arch>.json`` unless
``--json`` says otherwise. The output path is checked before any work; the file is written
atomically (a temporary file in the same folder, then renamed).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from normtheory.harness.resnet import ARCHS
from normtheory._io import atomic_write_text

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
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads for the run (recorded in the JSON; default: torch's)")


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
    env = environment(device)  # before the experiments: the settings they ran under (TF32 included)
    results, seconds = {}, {}
    for name in names:
        t0 = time.perf_counter()
        results[name] = run_experiment(name, cfg)
        seconds[name] = time.perf_counter() - t0
    return {"experiment": experiment, "environment": env, "settings": config_dict(cfg),
            "wall_seconds": seconds, "results": results}


def _output_path(args) -> Path | None:
    if args.json:
        return Path(args.json)
    if args.experiment == "spectral" and not args.quick:
        return Path("bench") / "results" / f"spectral-{args.device or 'auto'}-{args.arch}.json"
    return None


def _check_writable(path: Path) -> None:
    if path.exists() and path.is_dir():
        raise ValueError(f"--json {path} is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--json {path}: folder {parent} is not writable")


def write_json_atomic(path: Path, record: dict) -> None:
    """The bench record as sorted, indented JSON, written atomically (:mod:`normtheory._io`)."""
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True) + "\n")


def main(args) -> int:
    path = _output_path(args)
    if not 0 <= args.seed < 2**63:
        print(f"normtheory bench: --seed must lie in [0, 2^63), got {args.seed}", file=sys.stderr)
        return 2
    if args.threads is not None and args.threads < 1:
        print(f"normtheory bench: --threads must be >= 1, got {args.threads}", file=sys.stderr)
        return 2
    try:
        if path is not None:
            _check_writable(path)
        if args.threads is not None:
            import torch
            torch.set_num_threads(args.threads)
        record = run(args.experiment, arch=args.arch, device=args.device, quick=args.quick,
                     seed=args.seed, progress=not args.no_progress)
    except (ValueError, OSError) as err:
        print(f"normtheory bench: {err}", file=sys.stderr)
        return 2
    from normtheory.harness.report import summary

    print(summary(record))
    if path is not None:
        write_json_atomic(path, record)
        print(f"wrote {path}", file=sys.stderr)
    return 0
