"""The named analogues, their quick and full forms, and their JSON.

The quick forms keep each protocol but shrink it (fewer epochs, seeds, grid points) so that each runs
in a few seconds on 2 CPU cores; they exercise the whole pipeline and are what ``normtheory verify``
runs. The decisions the claims report are recomputed from the committed full-run JSON.
"""

from __future__ import annotations

import json
from functools import lru_cache

import torch

from normtheory._threads import single_thread

from normtheory.reproduce import RESULTS_DIR

__all__ = ["EXPERIMENTS", "run", "dumps", "load_results", "quick"]


def _norm_scaling(quick, seeds, progress):
    from normtheory.reproduce.norm_scaling import run_norm_scaling
    if quick:
        return run_norm_scaling(seeds=seeds or 2, epochs=2, models=("mlp3",), progress=progress)
    return run_norm_scaling(seeds=seeds or 3, epochs=30, progress=progress)


def _scaling_cost(quick, seeds, progress):
    from normtheory.reproduce.norm_scaling import run_scaling_cost
    if quick:
        return run_scaling_cost(widths=(128,), steps=4, repeats=seeds or 2, progress=progress)
    return run_scaling_cost(widths=(128, 512), steps=20, repeats=seeds or 5, progress=progress)


def _wd_sweep(quick, seeds, progress):
    from normtheory.reproduce.weight_decay import run_sweep
    if quick:
        return run_sweep(seeds=seeds or 1, epochs=2, lambdas=(1e-1, 0.0), progress=progress)
    return run_sweep(seeds=seeds or 3, epochs=30, progress=progress)


def _eps_sensitivity(quick, seeds, progress):
    from normtheory.reproduce.weight_decay import run_eps_sensitivity
    if quick:
        return run_eps_sensitivity(seeds=seeds or 2, epochs=2, eps_values=(1e-2, 1e-5),
                                   progress=progress)
    return run_eps_sensitivity(seeds=seeds or 3, epochs=30, progress=progress)


def _warmup(quick, seeds, progress):
    from normtheory.reproduce.weight_decay import run_warmup
    if quick:
        return run_warmup(seeds=seeds or 1, epochs=3, progress=progress)
    return run_warmup(seeds=seeds or 3, epochs=30, progress=progress)


EXPERIMENTS = {"norm-scaling": _norm_scaling, "scaling-cost": _scaling_cost,
               "wd-sweep": _wd_sweep, "eps-sensitivity": _eps_sensitivity, "warmup": _warmup}


def run(name: str, *, quick: bool = False, seeds: int | None = None, progress: bool = False) -> dict:
    """Run the analogue ``name`` (deterministic per seed; timings excepted)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ValueError(f"seeds must be an int >= 1, got {seeds!r}")
    # one thread: the same reductions every run, and no spin-wait stalls on a shared machine
    # (the committed full results were produced with 2 threads; see their "threads"/torch)
    with single_thread():
        result = EXPERIMENTS[name](quick, seeds, progress)
    result["form"] = "quick" if quick else "full"
    result["torch"] = torch.__version__
    return result


def dumps(result: dict) -> str:
    """Deterministic JSON text (sorted keys; inf/nan written as strings)."""
    from normtheory.registry import _jsonable
    return json.dumps(_jsonable(result), indent=1, sort_keys=True) + "\n"


def load_results(name: str) -> dict | None:
    """The committed full-run results for ``name``, or None when absent (e.g. a wheel install)."""
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def quick(name: str) -> str:
    """The quick form's JSON text, computed once per process (several claims share a run)."""
    return dumps(run(name, quick=True))
