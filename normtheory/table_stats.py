r"""How much a reported gain can come from picking the best of several runs.

A table that reports, for a method with a free hyper-parameter, the best of ``k`` settings against
one run of the reference inflates the method's gain even when the hyper-parameter does nothing.
With run-to-run noise i.i.d. and continuous (the null: every setting and the reference are draws
of one distribution),

* the best of ``k`` beats the single reference with probability ``k / (k + 1)`` (among ``k + 1``
  exchangeable draws, each is the largest with probability ``1 / (k + 1)``);
* for Gaussian noise of standard deviation ``sigma`` the expected gain is
  ``sigma * E[max of k standard normals]`` (0.846 sigma for ``k = 3``, 1.029 sigma for ``k = 4``).

:func:`sign_test_pvalue` turns the count of positive gains over independent rows into the
probability of at least that many under the null, with the per-row probability above (``1/2``
when nothing was selected).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.stats

from normtheory._validation import check_int_at_least

__all__ = ["expected_max_normal", "best_of_beats_single", "sign_test_pvalue", "SelectionEffect",
           "selection_effect"]


def expected_max_normal(k: int) -> float:
    r"""``E[max(Z_1..Z_k)]`` for i.i.d. standard normals: ``int z k phi(z) Phi(z)^(k-1) dz``
    (quadrature to ~1e-12; 0 for ``k = 1``, ``1/sqrt(pi)`` for ``k = 2``)."""
    check_int_at_least(k, "k", 1)
    f = lambda z: z * k * scipy.stats.norm.pdf(z) * scipy.stats.norm.cdf(z) ** (k - 1)  # noqa: E731
    value, _ = scipy.integrate.quad(f, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)
    return float(value)


def best_of_beats_single(k: int) -> float:
    """P(best of ``k`` draws > one more draw) for i.i.d. continuous draws: ``k / (k + 1)``."""
    check_int_at_least(k, "k", 1)
    return k / (k + 1)


def sign_test_pvalue(positives: int, rows: int, *, p_null: float = 0.5) -> float:
    """P(at least ``positives`` of ``rows`` independent rows are positive) when each is positive
    with probability ``p_null``: the binomial upper tail."""
    check_int_at_least(rows, "rows", 1)
    check_int_at_least(positives, "positives", 0)
    if positives > rows:
        raise ValueError(f"positives ({positives}) cannot exceed rows ({rows})")
    if not 0 < p_null < 1:
        raise ValueError(f"p_null must lie in (0, 1), got {p_null}")
    return float(scipy.stats.binom.sf(positives - 1, rows, p_null))


@dataclass(frozen=True)
class SelectionEffect:
    """The null's prediction for gains reported as best-of-``k`` against one reference run.

    Attributes:
        k: settings the best was picked from.
        sigma: run-to-run standard deviation used.
        expected_gain: ``sigma * E[max of k] `` (the reference's expected value is 0).
        p_positive: ``k / (k + 1)``.
        positives, rows: observed positive gains and rows.
        p_value_selected: sign-test p-value with ``p_positive`` (selection accounted for).
        p_value_naive: the same with 1/2 (as if nothing had been selected).
        above_expected: rows whose gain exceeds ``expected_gain``.
    """

    k: int
    sigma: float
    expected_gain: float
    p_positive: float
    positives: int
    rows: int
    p_value_selected: float
    p_value_naive: float
    above_expected: int


def selection_effect(gains, *, k: int, sigma: float) -> SelectionEffect:
    """Compare observed gains (best of ``k`` minus one reference run, one per independent row)
    with what picking the best of ``k`` gives when the setting has no effect."""
    g = np.asarray(list(gains), dtype=np.float64)
    if g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g)):
        raise ValueError("gains must be a non-empty sequence of finite numbers")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite number, got {sigma}")
    expected = sigma * expected_max_normal(k)
    positives = int((g > 0).sum())
    return SelectionEffect(k=k, sigma=float(sigma), expected_gain=expected,
                           p_positive=best_of_beats_single(k), positives=positives, rows=int(g.size),
                           p_value_selected=sign_test_pvalue(positives, g.size, p_null=best_of_beats_single(k)),
                           p_value_naive=sign_test_pvalue(positives, g.size),
                           above_expected=int((g > expected).sum()))
