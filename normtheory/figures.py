"""Figure jobs and their deterministic output.

A figure job draws one matplotlib figure and returns it together with the data it was drawn from.
``normtheory figures`` runs the jobs and writes ``NAME.png`` and ``NAME.json`` into the output
folder, each atomically (:mod:`normtheory._io`: an interrupted run leaves the old file, never a
truncated one).

Deterministic on any machine of the same kind. The same code on two machines can differ in the
last digits of a float (summation order in BLAS and vectorised reductions, fused multiply-adds).
So every number that is written or plotted is first rounded to :data:`SIGNIFICANT_DIGITS` = 6
significant digits (:func:`rounded`): the round-off differences seen between machines were in the
last 2-4 of float64's 16 digits, and 6 digits is still finer than a figure can show (a 1000-pixel
axis resolves 3-4 digits) or a JSON reader needs. A value whose 7th digit straddles a rounding
boundary can still round differently; that needs a difference of ~1e-6 relative, far above the
round-off meant here. Beyond that: the backend is Agg, PNG metadata that would vary (the
matplotlib version string) is dropped, and the JSON is written with sorted keys.

Jobs come from two places, both handed in by the caller (this module imports neither, so it sits
below the claims and the tools): :func:`claim_figure_jobs` makes one job per claim that declares a
``figure`` builder (drawn from its evidence, rounded), and tools register functions with
:func:`register_figure` (figures drawn from stored results, e.g. the GPU harness's JSON), listed by
:func:`registered_figure_jobs`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from normtheory._io import atomic_write_bytes, atomic_write_text

__all__ = ["SIGNIFICANT_DIGITS", "FigureJob", "register_figure", "registered_figure_jobs",
           "claim_figure_jobs", "rounded", "save_figure", "write_figures", "new_figure"]

#: Significant digits kept in what figures plot and write (see the module docstring for why 6).
SIGNIFICANT_DIGITS = 6

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


def registered_figure_jobs() -> list[FigureJob]:
    """The jobs registered with :func:`register_figure` so far, by name."""
    return [FigureJob(name, func) for name, func in sorted(_EXTRA_JOBS.items())]


def new_figure(width: float = 6.4, height: float = 4.2):
    """A fresh Agg figure (no pyplot state, so nothing leaks between jobs)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _round_float(x: float, digits: int) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")  # correctly rounded decimal, the same on every machine


def rounded(value: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """``value`` with every float rounded to ``digits`` significant digits, recursively through
    dicts, lists, tuples, numpy arrays and torch tensors (arrays come back as arrays of their own
    dtype and shape; ints, bools, strings and enums are left alone)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return _round_float(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(rounded(v, digits) for v in value) if type(value) in (list, tuple) else value
    import numpy as np

    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        if not np.issubdtype(value.dtype, np.floating):
            return value
        flat = [_round_float(float(x), digits) for x in np.asarray(value).ravel()]
        out = np.array(flat, dtype=value.dtype).reshape(np.shape(value))
        return out if isinstance(value, np.ndarray) else out[()]
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return value
    if isinstance(value, torch.Tensor) and value.dtype.is_floating_point:
        return torch.from_numpy(rounded(value.detach().cpu().double().numpy(), digits)).to(value.dtype)
    return value


def claim_figure_jobs(claims: Iterable) -> list[FigureJob]:
    """One job per claim with a ``figure`` builder: run the check, round its numbers
    (:func:`rounded`), draw from the rounded evidence, and keep the rounded data beside it."""
    from normtheory.registry import _jsonable

    jobs = []
    for c in claims:
        if c.figure is None:
            continue

        def build(c=c):
            evidence = c.run()
            evidence = dataclasses.replace(evidence, measured=rounded(evidence.measured),
                                           series=rounded(evidence.series))
            return c.figure(evidence), _jsonable({"claim": c.id, "verdict": evidence.verdict,
                                                  "measured": evidence.measured,
                                                  "series": evidence.series})

        jobs.append(FigureJob(c.id, build))
    return jobs


def save_figure(fig, path: Path) -> None:
    """Write ``fig`` as PNG, atomically, with no metadata that varies between runs."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())


def figure_json(data: Any) -> str:
    """The JSON text written beside a figure: rounded numbers, sorted keys."""
    from normtheory.registry import _jsonable

    return json.dumps(_jsonable(rounded(data)), indent=1, sort_keys=True) + "\n"


def write_figures(out_dir: Path, jobs: list[FigureJob], progress=None) -> list[Path]:
    """Run ``jobs`` and write ``NAME.png`` + ``NAME.json`` into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for job in jobs:
        if progress is not None:
            progress(job.name)
        fig, data = job.build()
        png = out_dir / f"{job.name}.png"
        save_figure(fig, png)
        atomic_write_text(out_dir / f"{job.name}.json", figure_json(data))
        written.append(png)
    return written
