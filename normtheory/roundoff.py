r"""Round-off constants and forward-error bounds: the one place every certificate and tolerance
takes them from.

Model (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Sec. 2.2 and 3.1): for
the basic operations ``fl(x op y) = (x op y)(1 + d)``, ``|d| <= u``, with the *unit round-off*
``u = eps / 2`` of the dtype (``2^-53`` for float64), provided no underflow or overflow occurs; an
underflow adds an absolute error of at most ``eta / 2`` (``eta`` = the smallest subnormal). A
product of ``n`` such factors is ``1 + theta_n`` with ``|theta_n| <= gamma_n = n u / (1 - n u)``
(Higham, Lemma 3.1), which gives the inner-product and matrix-product bounds
``|fl(A B) - A B| <= gamma_n |A| |B|`` entrywise for inner dimension ``n`` (Eq. 3.13).

The certificates of :mod:`normtheory.spectral` use these exact constants (with ``u``); the
exact-model tolerances of the claim checks (:func:`unit_norm_tolerance`, ...) use ``eps`` in
place of ``u`` (a factor 2 of slack) and are kept as they were.

Scaling by a power of two is exact in binary floating point unless it under- or overflows;
:func:`pow2_exponents` and :func:`ldexp_exact` scale a matrix so that its largest entry lies in
``[1/2, 1)`` before a certificate squares it (``1e-300`` and ``1e300`` matrices then neither
underflow nor overflow), and :func:`ldexp_outward` scales a bound back with the rounding of a
subnormal result directed outward.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["EPS64", "U64", "ETA64", "TINY64", "unit_roundoff", "gamma", "gamma_complex_dot",
           "pow2_exponents", "ldexp_exact", "ldexp_exact_", "ldexp_outward", "unit_norm_tolerance",
           "centered_tolerance", "sum_tolerance"]

EPS64 = float(np.finfo(np.float64).eps)        # 2^-52, the spacing of float64 at 1
U64 = EPS64 / 2                                # unit round-off of float64, 2^-53
TINY64 = float(np.finfo(np.float64).tiny)      # smallest normal float64, 2^-1022
ETA64 = math.ldexp(1.0, -1074)                 # smallest subnormal float64


def unit_roundoff(dtype: torch.dtype) -> float:
    """``u = eps/2`` of a floating (or complex: of its real part) torch dtype."""
    if not (dtype.is_floating_point or dtype.is_complex):
        raise TypeError(f"dtype must be a floating-point or complex dtype, got {dtype}")
    return float(torch.finfo(dtype).eps) / 2


def gamma(n: int, u: float = U64) -> float:
    r"""``gamma_n = n u / (1 - n u)`` (Higham, Lemma 3.1); raises when ``n u >= 1/2`` (the bound
    is then meaningless and every certificate using it must refuse)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    nu = int(n) * u
    if nu >= 0.5:
        raise ValueError(f"n = {n} is too large for a rounding bound with u = {u:g}")
    return nu / (1 - nu)


def gamma_complex_dot(n: int, u: float = U64) -> float:
    r"""Bound ``c`` with ``|fl(x^H y) - x^H y| <= c |x|^T |y|`` for complex vectors of length ``n``
    however the implementation orders the real operations: the real and imaginary parts are each
    sums of ``2n`` real products (error ``<= gamma_{2n}`` times ``sum |a_r b_r| + |a_i b_i| <=
    |x|^T|y|``), so ``c = sqrt(2) gamma_{2n}`` (rounded up)."""
    return math.sqrt(2.0) * gamma(2 * n, u) * (1 + 4 * u)


def pow2_exponents(amax: torch.Tensor) -> torch.Tensor:
    """Per-entry integer exponents ``e`` with ``amax * 2^-e`` in ``[1/2, 1)`` (0 where amax is 0)."""
    _, e = torch.frexp(amax)
    return torch.where(amax > 0, e, torch.zeros_like(e))


def ldexp_exact(x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """``x * 2^e`` for integer tensors ``e`` broadcastable to ``x``; exact whenever the result is a
    normal number (a subnormal result is rounded, see :func:`ldexp_outward`). The factor ``2^e``
    is formed on the small tensor ``e``; when it is not itself a normal float (``|e|`` beyond the
    exponent range, e.g. ``2^1074``) the scaling is done in two half-steps."""
    e = e.to(torch.int64)
    real = x.real.dtype if x.is_complex() else x.dtype
    info = torch.finfo(real)
    one = torch.ones((), dtype=real, device=x.device)
    lo, hi = math.log2(info.tiny), math.log2(info.max)
    if bool(((e > lo) & (e < hi)).all()):
        return x * torch.ldexp(one, e.to(real))
    half = torch.div(e, 2, rounding_mode="floor")
    return x * torch.ldexp(one, half.to(real)) * torch.ldexp(one, (e - half).to(real))


def ldexp_exact_(x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """In-place :func:`ldexp_exact` (``x`` is overwritten and returned): no extra copy."""
    e = e.to(torch.int64)
    real = x.real.dtype if x.is_complex() else x.dtype
    info = torch.finfo(real)
    one = torch.ones((), dtype=real, device=x.device)
    if bool(((e > math.log2(info.tiny)) & (e < math.log2(info.max))).all()):
        return x.mul_(torch.ldexp(one, e.to(real)))
    half = torch.div(e, 2, rounding_mode="floor")
    return x.mul_(torch.ldexp(one, half.to(real))).mul_(torch.ldexp(one, (e - half).to(real)))


def ldexp_outward(x: torch.Tensor, e: torch.Tensor, *, up: bool) -> torch.Tensor:
    """Non-negative bound ``x * 2^e`` rounded outward: where the product is subnormal (inexact) it
    is moved one ulp up (``up=True``, an upper bound) or down (a lower bound); an overflow gives
    ``inf`` for an upper bound and the largest finite float for a lower bound."""
    y = ldexp_exact(x, e)
    tiny = torch.finfo(y.dtype).tiny
    big = torch.finfo(y.dtype).max
    direction = torch.full_like(y, math.inf if up else 0.0)
    y = torch.where((y < tiny) & (y > 0) | ((y == 0) & (x > 0) & up), torch.nextafter(y, direction), y)
    if not up:
        y = torch.where(torch.isinf(y), torch.full_like(y, big), y)
    return y


# --------------------------------------------------------- tolerances of the exact-model checks


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
