"""Run the cells of an analogue (config x seed) with joblib, identically for any number of jobs.

Each cell is one independent training run: a top-level function and its keyword arguments (which
include the seed). :func:`run_cells` hands the cells to ``joblib.Parallel(n_jobs=jobs)``; inside
every job the torch intra-op thread count is set to ``threads`` (default 1) and restored afterwards,
and the run seeds its own generators from its ``seed`` argument, so a cell's result depends only on
its arguments and ``threads``, never on which worker ran it, in what order, or how many ran at
once. joblib's backends (``loky`` processes here; Dask or Ray through
``joblib.parallel_config(backend=...)``) carry the same sweep to a cluster.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from joblib import Parallel, delayed

__all__ = ["run_cells", "check_jobs"]


def check_jobs(jobs: Any, name: str = "jobs") -> int:
    """``jobs`` as an int >= 1 (joblib's negative counts are not accepted: results must not depend
    on the machine's core count only through the scheduling)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"{name} must be an int >= 1, got {jobs!r}")
    return jobs


def _one(fn: Callable[..., dict], kwargs: dict, threads: int) -> dict:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return fn(**kwargs)
    finally:
        torch.set_num_threads(before)


def run_cells(fn: Callable[..., dict], cells: Sequence[dict], *, jobs: int = 1, threads: int = 1,
              progress: bool = False, desc: str = "runs") -> list[dict]:
    """``[fn(**cell) for cell in cells]``, computed by ``jobs`` joblib workers, in cell order."""
    check_jobs(jobs)
    check_jobs(threads, "threads")
    tasks = (delayed(_one)(fn, dict(c), threads) for c in cells)
    # n_jobs=1 runs in this process (no worker start-up: verify's in-run forms)
    results = Parallel(n_jobs=jobs, return_as="generator")(tasks)
    if progress:
        from tqdm import tqdm
        results = tqdm(results, total=len(cells), desc=desc, unit="run")
    return list(results)
