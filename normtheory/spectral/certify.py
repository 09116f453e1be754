r"""The one certificate of ``sigma_1``: batched Gram squaring (lower bound) and Cholesky (upper
bound), per-matrix fallback, power-of-two scaling first. Every bracket in the package comes from
:func:`certify_brackets`.

For each matrix (complex ones through their exact real embedding, see :mod:`._input`) take the
tall orientation ``M`` (``p x k``, ``p >= k``) and scale it by ``2^-e`` so that its largest entry
lies in ``[1/2, 1)`` (exact; :mod:`normtheory.roundoff`). Then, with ``u`` the unit round-off of
float64 and ``gamma_n = n u / (1 - n u)``:

1. **Lower bound.** ``G = fl(M^T M)``; ``Q = G / tr G`` is squared ``s`` times in float32
   (normalised by its trace each time), so ``Q ~ G^(2^s)`` is dominated by the top eigenvector,
   and ``x`` is its largest column, refined by two float64 power steps ``x <- G x``. *Any* ``x``
   gives ``sigma_1 >= ||M x|| / ||x||``; round-off is removed rigorously:
   ``|fl(M x) - M x| <= gamma_k |M| |x|`` (Higham Eq. 3.13) and ``|| |M| |x| || <= ||M||_F ||x||``,
   every computed 2-norm is within ``gamma_{len+2}`` of the true one, and products of tiny entries
   may underflow by at most ``eta`` (the smallest subnormal) each.
2. **Upper bound.** With ``c = fl((lower (1 + rtol/2))^2)`` try a Cholesky factorisation of
   ``A = fl(c I - G)``. If it runs to completion, ``A + dA`` is positive semidefinite with
   ``||dA||_2 <= gamma_{k+1}/(1 - gamma_{k+1}) tr(A)`` (Demmel 1989; Rump, BIT 46, 2006, Thm 2.3),
   ``||fl(M^T M) - M^T M||_2 <= gamma_p ||M||_F^2 + k p eta`` and forming ``A`` rounds its diagonal
   by ``u (c + max g_ii)``; so ``sigma_1^2 <= c + e_1 + e_2 + e_3`` and the square root, inflated
   by its own rounding, is a rigorous upper bound.
3. **Fallback, per matrix.** Where the Cholesky test fails (the squared vector was not good
   enough, or the margins exceed ``rtol``), ``x`` is taken from a float64 symmetric eigensolver of
   ``G`` and the Cholesky test is retried with margins ``rtol 2^j / 2``; where every try fails the
   upper bound is ``||M||_F`` (rigorous, not ``certified``).

``certified`` is ``upper - lower <= rtol * lower`` (or an exactly zero matrix) -- it is computed
from the bracket, never assumed, and the bracket is rigorous whether or not it is certified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from normtheory._validation import check_int_at_least, check_open_unit
from normtheory.roundoff import ETA64, U64, gamma, ldexp_exact, ldexp_exact_, ldexp_outward, pow2_exponents
from normtheory.spectral._input import check_matrix, real_embedding, tall

__all__ = ["SpectralBracket", "certify_brackets", "certify_upper_bound", "spectral_norm_bracket",
           "dominant_gram_vector", "DEFAULT_SQUARINGS"]

DEFAULT_SQUARINGS = 14  # 2^14 effective power steps on G: (0.994)^(2^15) ~ 1e-85 (ResNet gaps)


@dataclass
class SpectralBracket:
    r"""``lower <= sigma_1 <= upper``, rigorous (float64 round-off included), per matrix.

    Attributes:
        lower, upper: float64 tensors, 0-d for one matrix or ``(b,)`` for a batch.
        certified: ``upper - lower <= rtol * lower`` (bool tensor of the same shape).
        rtol: the requested relative width.
        iterations: Cholesky tests run in all (the fast one counts one per matrix).
        method: how the bracket was obtained (free text for reports).
        fallback: indices of the matrices redone by the eigensolver fallback.
    """

    lower: torch.Tensor
    upper: torch.Tensor
    certified: torch.Tensor
    rtol: float
    iterations: int = 0
    method: str = "Gram squaring + Cholesky (certified)"
    fallback: list[int] = field(default_factory=list)

    @property
    def estimate(self) -> torch.Tensor:
        return (self.lower + self.upper) / 2

    @property
    def rel_width(self) -> torch.Tensor:
        """``(upper - lower) / lower`` (inf where lower is 0 and upper is not, 0 for a zero matrix)."""
        width = self.upper - self.lower
        return torch.where(width == 0, torch.zeros_like(width), width / self.lower)

    def __getitem__(self, i: int) -> "SpectralBracket":
        return SpectralBracket(self.lower[i], self.upper[i], self.certified[i], self.rtol,
                               self.iterations, self.method, [0] if i in self.fallback else [])

    def to_json(self) -> dict:
        def plain(t):
            return t.tolist() if isinstance(t, torch.Tensor) else t
        return {"lower": plain(self.lower), "upper": plain(self.upper),
                "rel_width": plain(self.rel_width), "certified": plain(self.certified),
                "rtol": self.rtol, "method": self.method, "iterations": self.iterations}


def _prepare(W: torch.Tensor) -> torch.Tensor:
    """Real tall view of one matrix (complex: its exact real embedding, a copy); no dtype change
    and no copy for a real matrix: the bucket's stack is the one copy, converted to float64 once."""
    W = W.detach()
    return tall(real_embedding(W.to(torch.complex128)) if W.is_complex() else W)


def _rayleigh_lower(M: torch.Tensor, x: torch.Tensor, fro_up: torch.Tensor) -> torch.Tensor:
    """Rigorous ``sigma_1 >= ||M x|| / ||x||`` for ``(b, p, k)`` scaled ``M``, ``(b, k)`` float64
    ``x`` and ``fro_up >= ||M||_F`` (see the module docstring, step 1)."""
    b, p, k = M.shape
    y = torch.linalg.vector_norm(torch.bmm(M, x.unsqueeze(-1)).squeeze(-1), dim=-1)
    xn = torch.linalg.vector_norm(x, dim=-1) * (1 + gamma(k + 2))   # >= ||x||
    y_true = y / (1 + gamma(p + 2)) - p * k * ETA64                  # <= ||fl(M x)||
    err = (gamma(k) * fro_up + k * ETA64) * xn                       # >= ||fl(M x) - M x||
    low = torch.where(xn > 0, (y_true - err) / xn, torch.zeros_like(xn))
    return (low * (1 - 4 * U64)).clamp_min(0)  # 4u: the subtractions and the division above


def _cholesky_upper(G: torch.Tensor, c: torch.Tensor, fro_up: torch.Tensor, p: int):
    """Upper bounds ``sigma_1 <= sqrt(c + e1 + e2 + e3)`` where the Cholesky test of
    ``fl(c I - G)`` passes (module docstring, step 2); returns (upper, passed)."""
    k = G.shape[-1]
    A = -G
    A.diagonal(dim1=-2, dim2=-1).add_(c.unsqueeze(-1))
    _, info = torch.linalg.cholesky_ex(A)
    e1 = gamma(p) * fro_up ** 2 * (1 + 4 * U64) + k * p * ETA64
    e2 = U64 * (c + G.diagonal(dim1=-2, dim2=-1).amax(-1))
    tr = A.diagonal(dim1=-2, dim2=-1).clamp_min(0).sum(-1) * (1 + gamma(k + 1))
    g = gamma(k + 1)
    e3 = g / (1 - g) * tr
    total = c + e1 + e2 + e3                      # 3 additions of non-negative terms: gamma_3
    upper = torch.sqrt(total * (1 + gamma(3))) * (1 + 4 * U64)  # sqrt and the two products
    return upper, (info == 0) & (c > 0)


def _frobenius_up(M: torch.Tensor) -> torch.Tensor:
    p, k = M.shape[-2:]
    return torch.linalg.matrix_norm(M) * (1 + gamma(p * k + 2)) + math.sqrt(p * k) * ETA64


def dominant_gram_vector(G: torch.Tensor, squarings: int, *, dtype: torch.dtype = torch.float32,
                         refine: int = 2) -> torch.Tensor:
    r"""Unit estimates ``(b, k)`` of the top eigenvectors of a ``(b, k, k)`` PSD stack: the
    dominant column of ``(G / tr G)^(2^s)`` (squared in ``dtype``, renormalised by the trace after
    each squaring, entries below ``eps^2`` zeroed so that no subnormals slow the products), then
    ``refine`` power steps with ``G`` in its own dtype. ``2^s`` effective power steps for ``s``
    products; no host synchronisation. The one Gram-squaring kernel: the certificate's lower
    bound and Norm Scaling's default estimator both use it."""
    tiny = torch.finfo(dtype).tiny
    floor = torch.finfo(dtype).eps ** 2
    Q = G.to(dtype)
    Q = Q / Q.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(tiny)[:, None, None]
    for _ in range(squarings):
        Q = torch.bmm(Q, Q)
        Q = Q / Q.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(tiny)[:, None, None]
        Q = Q.masked_fill_(Q.abs() < floor, 0)
    j = Q.diagonal(dim1=-2, dim2=-1).argmax(-1)
    x = torch.gather(Q, 2, j[:, None, None].expand(-1, Q.shape[1], 1)).squeeze(-1).to(G.dtype)
    for _ in range(refine):
        x = torch.bmm(G, x.unsqueeze(-1)).squeeze(-1)
        x = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(torch.finfo(G.dtype).tiny)
    return x


def _squared_vector(G: torch.Tensor, squarings: int) -> torch.Tensor:
    """The certificate's vector: float32 squarings, two float64 refinement steps."""
    return dominant_gram_vector(G, squarings, dtype=torch.float32, refine=2)


def _certify_bucket(M: torch.Tensor, rtol: float, squarings: int, max_tries: int):
    """``(b, p, k)`` float64 tall, already scaled stack -> (lower, upper, tries, fallback mask)."""
    b, p, k = M.shape
    G = torch.bmm(M.mT, M)
    fro = _frobenius_up(M)
    lower = _rayleigh_lower(M, _squared_vector(G, squarings), fro)
    upper, ok = _cholesky_upper(G, (lower * (1 + rtol / 2)) ** 2, fro, p)
    tries = b
    redo = ~ok
    if bool(redo.any()):  # per-matrix fallback: eigensolver vector, widening margins
        idx = redo.nonzero().squeeze(-1)
        Gf, Mf, ff = G[idx], M[idx], fro[idx]
        x = torch.linalg.eigh(Gf)[1][..., -1]
        lo = torch.maximum(_rayleigh_lower(Mf, x, ff), lower[idx])
        up = ff.clone()
        pending = torch.ones(len(idx), dtype=torch.bool, device=M.device)
        for j in range(max_tries):
            c = (lo * (1 + rtol * 2.0 ** j / 2)) ** 2
            cand, passed = _cholesky_upper(Gf, c, ff, p)
            tries += int(pending.sum())
            take = pending & passed
            up = torch.where(take, torch.minimum(cand, ff), up)
            pending = pending & ~passed
            if not bool(pending.any()) or float(c.max()) > float(ff.max()) ** 2:
                break
        lower[idx], upper[idx], ok[idx] = lo, up, False
        upper = torch.where(ok, torch.minimum(upper, fro), upper)
    else:
        upper = torch.minimum(upper, fro)
    return lower, upper, tries, redo


@torch.no_grad()
def certify_brackets(mats, *, rtol: float = 1e-6, squarings: int = DEFAULT_SQUARINGS,
                     max_tries: int = 40, method: str | None = None) -> SpectralBracket:
    r"""Certified ``sigma_1`` brackets of a sequence of matrices (any shapes, real or complex).

    Matrices are converted to float64 (complex: their real embedding), turned tall, scaled by a
    power of two, bucketed by shape and certified with batched matmuls and one batched Cholesky per
    bucket on their device (module docstring). ``rtol`` in (0, 1): target relative width;
    ``squarings >= 0`` (float32 squarings of the Gram matrix); ``max_tries >= 1`` Cholesky tests
    with widening margins in the fallback. Returns a batched :class:`SpectralBracket` ``(len,)``.
    Inputs are validated here (one host sync per matrix); internal callers pass checked tensors.
    """
    mats = list(mats)
    if not mats:
        raise ValueError("mats is empty")
    check_open_unit(rtol, "rtol")
    check_int_at_least(squarings, "squarings", 0)
    check_int_at_least(max_tries, "max_tries", 1)
    for i, W in enumerate(mats):
        check_matrix(W, f"mats[{i}]", ndim=2)
    return _certify(mats, rtol=rtol, squarings=squarings, max_tries=max_tries, method=method)


@torch.no_grad()
def _certify(mats, *, rtol: float, squarings: int = DEFAULT_SQUARINGS, max_tries: int = 40,
             method: str | None = None) -> SpectralBracket:
    """:func:`certify_brackets` for inputs its caller has already checked (one check per matrix)."""
    prepared = [_prepare(W) for W in mats]
    n = len(prepared)
    dev = prepared[0].device
    lower = torch.zeros(n, dtype=torch.float64, device=dev)
    upper = torch.zeros(n, dtype=torch.float64, device=dev)
    buckets: dict = {}
    for i, M in enumerate(prepared):
        buckets.setdefault((tuple(M.shape), M.device), []).append(i)
    tries, fallback = 0, []
    for idx in buckets.values():
        Ms = torch.stack([prepared[i] for i in idx]).to(torch.float64)   # the one copy
        amax = torch.maximum(Ms.amax(dim=(1, 2)), -Ms.amin(dim=(1, 2)))
        nonzero = (amax > 0).nonzero().squeeze(-1)   # an exactly zero matrix keeps [0, 0]
        if len(nonzero) == 0:
            continue
        if len(nonzero) < len(idx):
            Ms = Ms[nonzero]
        e = pow2_exponents(amax[nonzero])
        lo, up, t, redo = _certify_bucket(ldexp_exact_(Ms, -e[:, None, None]), rtol, squarings, max_tries)
        where = torch.tensor(idx, device=dev)[nonzero]
        lower[where] = ldexp_outward(lo, e, up=False).to(dev)
        upper[where] = ldexp_outward(up, e, up=True).to(dev)
        tries += t
        fallback += [idx[int(nonzero[j])] for j in redo.nonzero().squeeze(-1).tolist()]
    certified = ((upper - lower) <= rtol * lower) | (upper == 0)
    return SpectralBracket(lower, upper, certified, rtol, tries,
                           method or "Gram squaring + Cholesky (certified)", sorted(fallback))


def spectral_norm_bracket(W: torch.Tensor, *, rtol: float = 1e-6, max_tries: int = 40) -> SpectralBracket:
    r"""A rigorous bracket ``lower <= sigma_1 <= upper`` for ``(m, n)`` or ``(b, m, n)`` ``W`` (real
    or complex): :func:`certify_brackets` on its matrices; fields are 0-d for a single matrix."""
    W = check_matrix(W, "W", ndim=(2, 3))
    br = certify_brackets(list(W) if W.ndim == 3 else [W], rtol=rtol, max_tries=max_tries)
    return br if W.ndim == 3 else br[0]


def certify_upper_bound(W: torch.Tensor, t: float) -> float | None:
    r"""A rigorous upper bound ``>= sigma_1(W)`` close to ``t`` (``W`` one real or complex matrix),
    or None when the Cholesky test of ``t^2 I - W^H W`` fails (``t`` below ``sigma_1``, or within
    the round-off margin of it). Same scaling and bounds as :func:`certify_brackets`, step 2."""
    W = check_matrix(W, "W", ndim=2)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise ValueError(f"t must be a finite number >= 0, got {t!r}")
    M = _prepare(W).to(torch.float64).unsqueeze(0)
    amax = M.abs().amax(dim=(1, 2))
    if float(amax) == 0:
        return 0.0
    e = pow2_exponents(amax)
    Ms = ldexp_exact(M, -e[:, None, None])
    ts = ldexp_exact(torch.tensor([float(t)], dtype=torch.float64), -e)
    up, ok = _cholesky_upper(torch.bmm(Ms.mT, Ms), ts ** 2, _frobenius_up(Ms), Ms.shape[1])
    if not bool(ok[0]):
        return None
    return float(ldexp_outward(up, e, up=True)[0])
