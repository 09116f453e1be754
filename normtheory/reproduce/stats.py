r"""Statistics over seeds: bootstrap intervals and where an interval lies against a threshold.

Every analogue decides from a handful of seeds. The effect (a mean over seeds of a per-seed
quantity, e.g. the paired difference of two conditions' final accuracies) is reported with a
percentile bootstrap interval: resample the seeds with replacement ``n_boot`` times, take the mean
of each resample, and return the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles. Seeds are the
unit of resampling, so the interval reflects run-to-run variation and nothing else; with ``n``
seeds it never extends beyond ``[min, max]`` of the per-seed values. The bootstrap's own random
numbers come from a fixed ``numpy`` generator, so an interval is a deterministic function of the
per-seed values.

:func:`side` says whether an interval lies above, below or across a threshold; the claims turn that
into a finding (``normtheory.claims.*_analogues``), so the decision rule lives with the claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Interval", "bootstrap_mean", "bootstrap_statistic", "side", "ABOVE", "BELOW", "STRADDLES"]

ABOVE, BELOW, STRADDLES = "above", "below", "straddles"


@dataclass(frozen=True)
class Interval:
    """``estimate`` (the mean over the ``n`` seeds) and its bootstrap interval ``[low, high]``."""

    estimate: float
    low: float
    high: float
    n: int
    level: float

    def to_json(self) -> dict:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "n": self.n,
                "level": self.level}

    def __str__(self) -> str:
        return f"{self.estimate:.3g} [{self.low:.3g}, {self.high:.3g}]"


def bootstrap_mean(values: Sequence[float], *, level: float = 0.95, n_boot: int = 4000,
                   seed: int = 0) -> Interval:
    """Mean of ``values`` (one per seed) with its percentile bootstrap interval over seeds.

    Raises ``ValueError`` for an empty or non-finite input, or ``level`` outside (0, 1).
    """
    try:
        x = np.asarray(list(values), dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"values must be a sequence of per-seed numbers: {err}") from None
    if x.ndim != 1 or x.size == 0:
        raise ValueError("values must be a non-empty sequence of per-seed numbers")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"values must be finite, got {x.tolist()}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 100:
        raise ValueError(f"n_boot must be an int >= 100, got {n_boot!r}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    # the quantiles of a mean of the same numbers can differ from min/max by round-off only;
    # clip so that identical per-seed values give a degenerate interval exactly at that value
    lo, hi = max(float(lo), float(x.min())), min(float(hi), float(x.max()))
    return Interval(float(x.mean()), lo, hi, int(x.size), float(level))


def bootstrap_statistic(rows: Sequence[Sequence[float]], statistic, *, level: float = 0.95,
                        n_boot: int = 4000, seed: int = 0) -> Interval:
    """``statistic`` of an ``(n_seeds, k)`` table (one row per seed, e.g. one column per eps) with
    its percentile bootstrap interval, resampling whole rows (seeds) with replacement.

    ``statistic`` maps an ``(m, k)`` array to a float; ``estimate`` is its value on the table."""
    x = np.asarray(rows, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("rows must be a non-empty (n_seeds, k) table")
    if not np.all(np.isfinite(x)):
        raise ValueError("rows must be finite")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 100:
        raise ValueError(f"n_boot must be an int >= 100, got {n_boot!r}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.shape[0], size=(n_boot, x.shape[0]))
    values = np.array([float(statistic(x[i])) for i in idx])
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(statistic(x)), float(lo), float(hi), int(x.shape[0]), float(level))


def side(interval: Interval, threshold: float) -> str:
    """``"above"`` if the whole interval exceeds ``threshold``, ``"below"`` if it lies wholly
    under it, otherwise ``"straddles"`` (an endpoint on the threshold counts as straddling)."""
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    if interval.low > threshold:
        return ABOVE
    if interval.high < threshold:
        return BELOW
    return STRADDLES
