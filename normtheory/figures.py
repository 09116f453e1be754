"""Figure jobs and their deterministic output.

A figure job draws one matplotlib figure and returns it together with the data it was drawn from.
``normtheory figures`` runs every job and writes ``NAME.png`` and ``NAME.json`` into the output
folder. The same inputs give the same bytes: checks use fixed seeds, PNG metadata that would vary
(the matplotlib version string) is dropped, the backend is Agg, and the JSON is written with sorted
keys.

Jobs come from two places: every claim that declares a ``figure`` builder (drawn from its
evidence), and functions registered with :func:`register_figure` in the modules listed in
``FIGURE_MODULES`` (figures drawn from stored results, e.g. the GPU harness's JSON).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["FigureJob", "register_figure", "figure_jobs", "save_figure", "write_figures", "new_figure"]

# Modules that register figure jobs of their own; imported when present.
FIGURE_MODULES = ("normtheory.harness.figures", "normtheory.reproduce.figures")

_EXTRA_JOBS: dict[str, Callable[[], tuple[Any, dict]]] = {}


@dataclass(frozen=True)
class FigureJob:
    name: str
    build: Callable[[], tuple[Any, dict]]  # -> (matplotlib Figure, data it was drawn from)


def register_figure(name: str):
    """Register ``func() -> (Figure, data)`` as the figure job ``name``."""

    def register(func):
        if name in _EXTRA_JOBS:
            raise ValueError(f"figure {name!r} is registered twice")
        _EXTRA_JOBS[name] = func
        return func

    return register


def new_figure(width: float = 6.4, height: float = 4.2):
    """A fresh Agg figure (no pyplot state, so nothing leaks between jobs)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def figure_jobs() -> list[FigureJob]:
    from normtheory.claims import all_claims
    from normtheory.registry import _jsonable

    jobs = []
    for c in all_claims():
        if c.figure is None:
            continue

        def build(c=c):
            evidence = c.run()
            return c.figure(evidence), _jsonable({"claim": c.id, "verdict": evidence.verdict,
                                                  "measured": evidence.measured,
                                                  "series": evidence.series})

        jobs.append(FigureJob(c.id, build))
    for module in FIGURE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name is None or not (module + ".").startswith(err.name + "."):
                raise  # a real import error inside the module, not an absent tool
    jobs += [FigureJob(name, func) for name, func in sorted(_EXTRA_JOBS.items())]
    return jobs


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` as PNG with no metadata that varies between runs."""
    fig.savefig(path, format="png", metadata={"Software": None})


def write_figures(out_dir: Path, names: list[str] | None = None, progress=None) -> list[Path]:
    """Run the figure jobs (all, or those named) and write PNG + JSON into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = figure_jobs()
    if names is not None:
        known = {j.name for j in jobs}
        unknown = sorted(set(names) - known)
        if unknown:
            raise KeyError(f"unknown figure(s): {', '.join(unknown)}")
        jobs = [j for j in jobs if j.name in names]
    written = []
    for job in jobs:
        if progress is not None:
            progress(job.name)
        fig, data = job.build()
        png = out_dir / f"{job.name}.png"
        save_figure(fig, png)
        (out_dir / f"{job.name}.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        written.append(png)
    return written
