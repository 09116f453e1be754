r"""A certified bracket on the largest singular value of an explicit matrix (float64).

Method: repeated squaring of the Gram matrix with a forward-error account.

Let :math:`G = W^H W` (or :math:`W W^H`, whichever is smaller, of order :math:`k`) and
:math:`\sigma_1^2 = \lVert G \rVert_2`. For a symmetric :math:`T`, :math:`\lVert T\rVert_2^2 =
\lVert T^2\rVert_2` and :math:`\lVert T\rVert_2 \le \lVert T\rVert_F`, so squaring :math:`J` times gives
:math:`\lVert G\rVert_2 \le \lVert G^{2^J}\rVert_F^{2^{-J}}`, an upper bound whose overestimate is at
most :math:`r^{2^{-J-1}}` (:math:`r` the rank) and falls like the :math:`2^J`-th power of the spectral
gap. Rounding is accounted for with the standard bound for a computed product
(Higham, *Accuracy and Stability*, Sec. 3.5): :math:`|\mathrm{fl}(AB) - AB| \le \gamma_n |A||B|`
entrywise, :math:`\gamma_n = nu/(1-nu)`, and :math:`\lVert\,|T|^2\rVert_2 \le \lVert T\rVert_F^2`. With
:math:`T_{j+1} = \mathrm{fl}(T_j^2)/c_{j+1}` (:math:`c` a power of two, so the scaling is exact),

.. math::  \lVert T_j\rVert_2 \le \sqrt{c_{j+1}\lVert T_{j+1}\rVert_2 + \gamma_k \lVert T_j\rVert_F^2},

and :math:`\lVert G\rVert_2 \le c_0\lVert T_0\rVert_2 + \gamma_L\lVert W\rVert_F^2` for the rounded
Gram matrix (inner dimension :math:`L`). Unwinding from :math:`\lVert T_J\rVert_2 \le
\lVert T_J\rVert_F` gives a rigorous upper bound (we use eps for u, a factor 2 of slack, and inflate
every computed norm by its own rounding bound). The lower bound is the Rayleigh quotient
:math:`\lVert W x\rVert/\lVert x\rVert` of the dominant column :math:`x` of :math:`T_J`, decreased by
the rounding bound of the product :math:`Wx`; any :math:`x` gives a valid lower bound, and this one
converges like :math:`(\sigma_2/\sigma_1)^{2^{J+1}}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

EPS64 = float(torch.finfo(torch.float64).eps)
_TINY = float(torch.finfo(torch.float64).tiny)


def _gamma(n: int) -> float:
    """gamma_n with eps in place of the unit roundoff (a factor 2 of slack)."""
    nu = n * EPS64
    if nu >= 0.5:
        raise ValueError(f"matrix too large for the rounding account (n = {n})")
    return nu / (1 - nu)


@dataclass(frozen=True)
class SigmaBracket:
    """A certified interval ``lower <= sigma_1 <= upper`` and how it was obtained."""

    lower: float
    upper: float
    method: str
    iterations: int = 0

    @property
    def estimate(self) -> float:
        return 0.5 * (self.lower + self.upper)

    @property
    def rel_width(self) -> float:
        return (self.upper - self.lower) / self.lower if self.lower > 0 else math.inf

    def to_json(self) -> dict:
        return {"lower": self.lower, "upper": self.upper, "rel_width": self.rel_width,
                "method": self.method, "iterations": self.iterations}


def _up(x: float, n_ops: int = 1) -> float:
    """Inflate a computed non-negative scalar by the rounding of the n_ops operations that made it."""
    return x * (1 + 2 * n_ops * EPS64) + _TINY


def _symmetric(t: torch.Tensor) -> torch.Tensor:
    """Copy the upper triangle onto the lower one: exactly Hermitian, each entry a computed one."""
    upper = torch.triu(t, diagonal=1)
    return upper + upper.mH + torch.diag_embed(torch.diagonal(t).real.to(t.dtype))


def sigma_bracket(w: torch.Tensor, *, rtol: float = 1e-6, max_squarings: int = 40) -> SigmaBracket:
    """Certified bracket on sigma_1 of a 2-D matrix (see the module docstring for the method).

    Args:
        w: a 2-D real or complex floating matrix with finite entries (converted to float64).
        rtol: stop once ``(upper - lower) / lower <= rtol``.
        max_squarings: at most this many squarings (the bracket returned is valid whenever it stops).
    """
    if w.ndim != 2:
        raise ValueError(f"w must be 2-D, got shape {tuple(w.shape)}")
    dtype = torch.complex128 if w.is_complex() else torch.float64
    w = w.detach().to(dtype)
    if not bool(torch.isfinite(w).all()):
        raise ValueError("w contains NaN or Inf")
    m, n = w.shape
    peak = float(w.abs().max())
    if peak == 0.0:
        return SigmaBracket(0.0, 0.0, "zero matrix", 0)
    # Scale by a power of two (exact) so that squares neither overflow nor underflow.
    scale = 2.0 ** math.floor(math.log2(peak))
    w = w / scale
    a = w if m <= n else w.mH          # a: (k, L), Gram = a a^H of order k = min(m, n)
    k, inner = a.shape
    gram = _symmetric(a @ a.mH)
    fro2 = _up(float(torch.linalg.vector_norm(w)) ** 2, m * n + 2)
    delta0 = _gamma(inner + 2) * fro2 + k * _TINY   # ||G - gram||_2
    gk = _gamma(k + 2)
    cs: list[float] = []     # c_j: the power of two T_j was divided by
    frob: list[float] = []   # upper bounds on ||T_j||_F (normalized)
    t = gram
    lower, upper, it = 0.0, math.inf, 0
    for it in range(max_squarings + 1):
        f_raw = float(torch.linalg.vector_norm(t))
        if f_raw == 0.0:     # cannot happen for a non-zero w (gram has trace fro2 > 0) but be safe
            break
        c = 2.0 ** math.floor(math.log2(f_raw))
        t = t / c
        cs.append(c)
        frob.append(_up(f_raw / c, k * k + 2))
        # Upper bound: unwind from ||T_J||_2 <= ||T_J||_F.
        u = frob[-1]
        for j in range(len(frob) - 2, -1, -1):
            u = math.sqrt(_up(cs[j + 1] * u + gk * frob[j] ** 2 + k * _TINY, 4))
        g_upper = _up(cs[0] * u + delta0, 3)
        upper = _up(math.sqrt(g_upper), 1)
        # Lower bound: Rayleigh quotient of the dominant column, minus the product's rounding bound.
        col = int(torch.linalg.vector_norm(t, dim=0).argmax())
        x = t[:, col]
        y = a.mH @ x                                  # ||a^H x|| = ||W x'|| for the matching x'
        err = _gamma(k + 2) * float(torch.linalg.vector_norm(a.mH.abs() @ x.abs()))
        x_norm = _up(float(torch.linalg.vector_norm(x)), k + 2)
        y_norm = float(torch.linalg.vector_norm(y)) / (1 + 2 * (inner + 2) * EPS64)
        lower = max(lower, max(y_norm - _up(err, inner + 2), 0.0) / x_norm)
        if lower > 0 and upper - lower <= rtol * lower:
            break
        if it < max_squarings:
            t = _symmetric(t @ t)
    return SigmaBracket(lower * scale, upper * scale, "Gram squaring (certified)", it)
