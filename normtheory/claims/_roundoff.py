"""Re-export of :mod:`normtheory.roundoff` (the one module of round-off constants and bounds);
kept so that ``from normtheory.claims._roundoff import EPS64, ...`` goes on working."""

from __future__ import annotations

from normtheory.roundoff import (EPS64, ETA64, TINY64, U64, centered_tolerance, gamma,  # noqa: F401
                                 sum_tolerance, unit_norm_tolerance, unit_roundoff)

__all__ = ["EPS64", "U64", "TINY64", "ETA64", "gamma", "unit_roundoff", "unit_norm_tolerance",
           "centered_tolerance", "sum_tolerance"]
