"""Round-off bounds shared by the exact-model checks (float64).

Each bound is a standard forward-error bound (Higham, "Accuracy and Stability of Numerical
Algorithms", ch. 3-4): a sum of n terms has relative error at most gamma_n ~ n u with unit
roundoff u = eps / 2; we use eps in place of u throughout, a factor 2 of slack.
"""

from __future__ import annotations

import numpy as np

EPS64 = float(np.finfo(np.float64).eps)


def unit_norm_tolerance(n: int) -> float:
    """|N(alpha v) - N(v)|_inf for v/||v|| over slices of n entries.

    Each entry of v/||v|| carries relative error <= (n + 3) u: the n-term sum of squares, the
    square root, the division, and the scaling alpha*v. Entries of unit-norm slices are <= 1, so
    the difference of two such results is <= 2 (n + 3) eps.
    """
    return 2 * (n + 3) * EPS64


def centered_tolerance(n_sum: int, n_stat: int, kappa: float) -> float:
    """|z(x') - z(x)|_inf for a centered-and-scaled output z = (x - mean) / spread.

    ``n_sum`` is the number of terms rounded into each entry of x before centering (1 for a stored
    weight, d + 1 for a matmul over d inputs), ``n_stat`` the number of entries the mean and the
    spread run over, and ``kappa = max|x| / spread`` the cancellation factor. Centering leaves an
    absolute error <= (n_sum + n_stat + 2) u max|x| in each deviation, a relative error
    (n_sum + n_stat + 2) u kappa with respect to the spread; outputs have |z| <= sqrt(n_stat), and
    the spread inherits the same relative error plus n_stat u from its sum of squares. So
    |dz| <= (n_sum + n_stat + 2) u kappa (1 + sqrt(n_stat)) + n_stat^1.5 u per side, two sides.
    """
    n = n_sum + n_stat + 2
    return 2 * (n * kappa * (1 + np.sqrt(n_stat)) + n_stat**1.5) * EPS64


def sum_tolerance(n_terms: int, magnitude: float) -> float:
    """|computed - exact| for a quantity formed by at most ``n_terms`` roundings of terms whose
    absolute values add up to ``magnitude`` (the forward-error bound gamma_n * sum|terms|)."""
    return n_terms * EPS64 * magnitude
