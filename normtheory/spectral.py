r"""Spectral norms: power iteration, a Lanczos reference, a certified bracket, the rank-one
correction, and operator norms of 2-D convolutions.

Notation: ``W`` is an ``m x n`` matrix (or a batch ``b x m x n``) with singular values
``sigma_1 >= sigma_2 >= ... >= 0`` and singular pairs ``(u_i, v_i)``.

Power iteration on the Gram matrix ``W^T W`` (what the blog describes) repeats

    u = W v / ||W v||,    sigma = ||W v||,    r = W^T u - sigma v,    v <- W^T u / ||W^T u||.

With ``v`` a unit vector, ``sigma = ||W v|| <= sigma_1`` always (a *lower* bound), and the pair
``x = (u, v)/sqrt(2)`` is an approximate eigenvector of the symmetric matrix ``[[0, W], [W^T, 0]]``
with residual ``||r||/sqrt(2)``; so some singular value lies within ``||r||/sqrt(2)`` of ``sigma``
(Weyl/Bauer-Fike for symmetric matrices). That singular value need *not* be ``sigma_1`` (a start
vector orthogonal to ``v_1`` converges to ``sigma_2``), so a small residual alone never certifies
``sigma_1``; :func:`spectral_norm_bracket` does, with a rigorous upper bound. With the angle
``theta_k`` between ``v`` and ``v_1`` after ``k`` steps, ``tan theta_k <= (sigma_2/sigma_1)^(2k)
tan theta_0`` and ``sigma_1^2 - sigma^2 <= (sigma_1^2 - sigma_min^2) sin^2 theta_k``.

Exactly repeated top singular values (``sigma_1 = sigma_2``) are not a failure: ``v`` converges into
the top singular subspace and the residual goes to zero, so "converged" is then true and honest.
A start vector in the null space (rank-deficient ``W``) gives ``W v = 0`` although ``W != 0``: the
iteration restarts that matrix from a fresh random vector instead of reporting ``sigma = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from normtheory._validation import check_int_at_least, check_open_unit, check_tensor

__all__ = [
    "PowerIterationResult",
    "power_iteration",
    "spectral_norm_reference",
    "SpectralBracket",
    "spectral_norm_bracket",
    "certify_upper_bound",
    "rank_one_correction",
    "correction_bounds",
    "as_matrix",
    "ConvNormResult",
    "conv2d_operator_norm",
    "conv2d_dense_matrix",
]

_EPS64 = float(np.finfo(np.float64).eps)
_U64 = _EPS64 / 2  # unit round-off of float64


@dataclass
class PowerIterationResult:
    """Output of :func:`power_iteration` (batched fields have a leading batch dimension).

    Attributes:
        sigma: ``||W v||`` for the final unit ``v``; always ``<= sigma_1`` (up to round-off).
        u, v: the final left/right vectors, unit norm (``u = W v / sigma``).
        iterations: number of power steps taken (the same for every matrix of a batch).
        residual: ``||W^T u - sigma v||`` per matrix.
        residual_bound: ``residual / sqrt(2)``: some singular value of ``W`` (not necessarily
            ``sigma_1``) lies within this distance of ``sigma``.
        converged: ``residual <= rtol * sigma`` (``rtol`` the requested one, or ``sqrt(eps)`` of
            the dtype for a fixed iteration count), and true for an exactly zero matrix.
    """

    sigma: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    iterations: int
    residual: torch.Tensor
    residual_bound: torch.Tensor
    converged: torch.Tensor


def _unit(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return x / torch.where(norm > 0, norm, torch.ones_like(norm)), norm.squeeze(-1)


def power_iteration(W: torch.Tensor, *, iters: int | None = None, rtol: float | None = None,
                    max_iters: int = 10_000, v0: torch.Tensor | None = None,
                    generator: torch.Generator | None = None) -> PowerIterationResult:
    r"""Estimate ``sigma_1`` and its singular vectors by power iteration on ``W^T W``.

    Args:
        W: ``(m, n)`` or batched ``(b, m, n)`` finite floating tensor (not modified).
        iters: run exactly this many steps (>= 1). Exactly one of ``iters`` / ``rtol``.
        rtol: run until ``||W^T u - sigma v|| <= rtol * sigma`` for every matrix, at most
            ``max_iters`` steps; ``0 < rtol < 1``. The error of ``sigma`` is then about
            ``rtol^2 sigma_1^2 / (sigma_1 - sigma_2)`` when it converged to the top pair.
        v0: warm start ``(n,)`` or ``(b, n)`` (e.g. the previous step's ``v``); random if None.
        generator: torch generator for the random start (and restarts).

    Returns:
        :class:`PowerIterationResult`. Gradients do not flow (computed under ``no_grad``).
    """
    W = check_tensor(W, "W", ndim=(2, 3))
    if (iters is None) == (rtol is None):
        raise ValueError("give exactly one of iters or rtol")
    if iters is not None:
        check_int_at_least(iters, "iters", 1)
    else:
        check_open_unit(rtol, "rtol")
        check_int_at_least(max_iters, "max_iters", 1)
    batched = W.ndim == 3
    with torch.no_grad():
        M = W.detach() if batched else W.detach().unsqueeze(0)
        b, m, n = M.shape
        if v0 is None:
            v = torch.randn(b, n, dtype=M.dtype, device=M.device, generator=generator)
        else:
            v0 = check_tensor(v0, "v0", ndim=(1, 2))
            if v0.shape[-1] != n or (v0.ndim == 2 and v0.shape[0] != b) or (v0.ndim == 1 and batched):
                raise ValueError(f"v0 has shape {tuple(v0.shape)}, expected ({b}, {n})" if batched
                                 else f"v0 has shape {tuple(v0.shape)}, expected ({n},)")
            v = v0.detach().to(M.dtype).reshape(b, n).clone()
        v, vnorm = _unit(v)
        if bool((vnorm == 0).any()):
            raise ValueError("v0 contains a zero vector")
        fro = torch.linalg.matrix_norm(M)
        zero = fro == 0
        tol = rtol if rtol is not None else math.sqrt(torch.finfo(M.dtype).eps)
        limit = iters if iters is not None else max_iters
        restarts = 0
        k = 0
        while True:
            u, sigma = _unit(torch.bmm(M, v.unsqueeze(-1)).squeeze(-1))
            # a start vector in the null space of a nonzero W; later iterates lie in W's row space,
            # so W v != 0 after the first step and the check (a host sync on a GPU) runs only at k = 0
            lost = (sigma == 0) & ~zero
            if k == 0 and bool(lost.any()):
                if restarts > 10:
                    raise RuntimeError("power_iteration: start vectors keep falling in the null space")
                restarts += 1
                fresh = torch.randn(b, n, dtype=M.dtype, device=M.device, generator=generator)
                v = torch.where(lost.unsqueeze(-1), _unit(fresh)[0], v)
                continue
            w = torch.bmm(M.transpose(1, 2), u.unsqueeze(-1)).squeeze(-1)
            residual = torch.linalg.vector_norm(w - sigma.unsqueeze(-1) * v, dim=-1)
            converged = (residual <= tol * sigma) | zero
            if k >= limit or (iters is None and bool(converged.all())):
                break
            v = torch.where(zero.unsqueeze(-1), v, _unit(w)[0])
            k += 1
        if not bool(torch.isfinite(sigma).all()):
            raise FloatingPointError("power_iteration: overflow (sigma is not finite); rescale W")
    squeeze = (lambda t: t) if batched else (lambda t: t.squeeze(0))
    return PowerIterationResult(sigma=squeeze(sigma), u=squeeze(u), v=squeeze(v), iterations=k,
                                residual=squeeze(residual),
                                residual_bound=squeeze(residual / math.sqrt(2.0)),
                                converged=squeeze(converged))


def _as_numpy64(W: torch.Tensor) -> np.ndarray:
    return W.detach().to("cpu", torch.float64).numpy()


def _top_pair_np(M: np.ndarray) -> tuple[float, np.ndarray]:
    """(sigma_1 estimate, unit right vector) of a float64 matrix: dense eigh of the Gram matrix for
    small sizes, Lanczos (ARPACK ``eigsh``) on the operator ``x -> M^T (M x)`` for large ones."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    m, n = M.shape
    A = M if n <= m else M.T  # work with the smaller Gram matrix, k x k
    k = A.shape[1]
    if k <= 1024:
        # full symmetric eigensolver (torch/LAPACK syevd): cheap at this size, unlike LAPACK's
        # subset (MRRR) driver, which is slow and can return no pair on exactly clustered spectra
        At = torch.from_numpy(A)
        x = torch.linalg.eigh(At.T @ At)[1][:, -1].numpy()
    else:
        op = LinearOperator((k, k), matvec=lambda y: A.T @ (A @ y), dtype=np.float64)
        start = np.random.default_rng(0).standard_normal(k)  # deterministic ARPACK start
        _, vecs = eigsh(op, k=1, which="LA", v0=start, tol=0)
        x = vecs[:, 0]
    v = x if n <= m else M.T @ x  # right vector of M (from the left one when m < n)
    if not np.any(v):
        return 0.0, np.eye(n)[0]
    v = v / np.linalg.norm(v)
    return float(np.linalg.norm(M @ v)), v


def spectral_norm_reference(W: torch.Tensor) -> torch.Tensor:
    r"""Accurate ``sigma_1`` (float64) of ``(m, n)`` or ``(b, m, n)`` ``W`` without a full SVD.

    The top eigenvector ``v`` of ``W^T W`` comes from a dense symmetric eigensolver of the smaller Gram matrix
    (``min(m, n) <= 1024``) or from Lanczos (ARPACK, residual tolerance at machine
    precision); the value returned is ``||W v||``, which is a lower bound on ``sigma_1`` and
    matches it to a few ulps times the dimension when ``v`` is accurate. Cost: one Gram product
    plus a partial eigensolve (small) or O(iterations) mat-vecs (large), against the
    ``O(m n min(m, n))`` with a large constant of ``torch.linalg.svdvals``. For a *certified*
    value use :func:`spectral_norm_bracket`.
    """
    W = check_tensor(W, "W", ndim=(2, 3))
    mats = _as_numpy64(W).reshape((-1,) + tuple(W.shape[-2:]))
    out = torch.tensor([_top_pair_np(M)[0] for M in mats], dtype=torch.float64)
    return out if W.ndim == 3 else out[0]


@dataclass
class SpectralBracket:
    """``lower <= sigma_1 <= upper`` (rigorous, float64 round-off included).

    ``certified`` is ``(upper - lower) <= rtol * lower``; ``iterations`` counts Cholesky tests.
    """

    lower: torch.Tensor
    upper: torch.Tensor
    iterations: int
    certified: torch.Tensor
    rtol: float


def _gamma(k: int) -> float:
    return k * _U64 / (1 - k * _U64)


def certify_upper_bound(W: torch.Tensor, t: float) -> float | None:
    r"""Return a rigorous upper bound ``>= sigma_1(W)`` close to ``t``, or None if ``t`` cannot be
    certified (``t`` too small, or too close to ``sigma_1`` for the round-off margin).

    Method (float64 throughout; ``W`` is first scaled by a power of two, which is exact, so that
    no underflow/overflow occurs). Let ``k = min(m, n)``, ``p = max(m, n)`` and ``G^`` the computed
    ``k x k`` Gram matrix. Then

    1. ``||G^ - G||_2 <= gamma_p || |W|^T |W| ||_2 <= gamma_p ||W||_F^2 =: e1``
       (Higham, *Accuracy and Stability*, Eq. 3.13; ``gamma_j = j u / (1 - j u)``);
    2. ``A^ = fl(c I - G^)`` with ``c = fl(t^2) <= t^2 (1 + u)`` differs from ``c I - G^`` by a
       diagonal of size at most ``e2 = u (c + max_i g^_ii)``;
    3. if floating-point Cholesky of ``A^`` runs to completion, ``A^ + dA`` is positive definite
       with ``||dA||_2 <= gamma_{k+1} / (1 - gamma_{k+1}) tr(A^) =: e3`` (Demmel 1989; Rump,
       "Verification of positive definiteness", BIT 46, 2006, Thm 2.3 without underflow).

    Hence ``lambda_max(G) < c + e1 + e2 + e3`` and ``sigma_1 < sqrt(c + e1 + e2 + e3)``; the
    returned value adds ``4u`` relative for the final additions and square root (each rounds by at
    most ``u``).
    """
    M = torch.as_tensor(_as_numpy64(W))
    m, n = M.shape
    if m < n:
        M = M.T
    p, k = M.shape
    amax = float(M.abs().max())
    if amax == 0:
        return 0.0 if t >= 0 else None
    e = math.frexp(amax)[1]
    M = torch.ldexp(M, torch.tensor(-e, dtype=torch.float64))  # exact scaling by 2^-e
    ts = math.ldexp(t, -e)
    G = M.T @ M
    c = ts * ts
    if not math.isfinite(c) or c == 0:
        return None
    A = -G
    A.diagonal().add_(c)
    _, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0:
        return None
    fro2 = float(torch.linalg.matrix_norm(M) ** 2) * (1 + 2 * _gamma(p))  # upper bound on ||M||_F^2
    e1 = _gamma(p) * fro2
    e2 = _U64 * (c + float(G.diagonal().max()))
    tr = float(A.diagonal().clamp_min(0).sum()) * (1 + _gamma(k))
    g = _gamma(k + 1)
    e3 = g / (1 - g) * tr
    bound = math.sqrt(c * (1 + _U64) + e1 + e2 + e3) * (1 + 4 * _U64)
    return math.ldexp(bound, e)


def spectral_norm_bracket(W: torch.Tensor, *, rtol: float = 1e-6, max_tries: int = 60) -> SpectralBracket:
    r"""A rigorous bracket ``lower <= sigma_1 <= upper`` for ``(m, n)`` or ``(b, m, n)`` ``W``.

    ``lower = ||W v|| (1 - gamma_{n+2})`` for the reference vector ``v`` (a Rayleigh quotient, so a
    true lower bound once the round-off of the norm is removed). ``upper`` is the smallest of
    ``lower (1 + rtol 2^j / 2)``, ``j = 0, 1, ...``, that :func:`certify_upper_bound` accepts (at
    most ``max_tries``), else the Frobenius bound ``||W||_F (1 + gamma_{mn})``. The bracket meets
    ``(upper - lower) <= rtol * lower`` unless the round-off margin of the certificate (about
    ``k^2 u`` relative) exceeds ``rtol`` or the reference missed ``sigma_1``; ``certified`` says.
    """
    W = check_tensor(W, "W", ndim=(2, 3))
    check_open_unit(rtol, "rtol")
    check_int_at_least(max_tries, "max_tries", 1)
    mats = _as_numpy64(W).reshape((-1,) + tuple(W.shape[-2:]))
    lows, ups, tries = [], [], 0
    for M in mats:
        s, _ = _top_pair_np(M)
        n = M.shape[1]
        lower = s * (1 - 2 * _gamma(n + 2))
        upper = None
        if s == 0:
            upper = 0.0 if not M.any() else None
        for j in range(max_tries if upper is None else 0):
            tries += 1
            upper = certify_upper_bound(torch.from_numpy(M), lower * (1 + rtol * 2.0 ** j / 2))
            if upper is not None:
                break
        if upper is None:
            upper = float(np.linalg.norm(M)) * (1 + _gamma(M.size + 2))
        lows.append(max(lower, 0.0))
        ups.append(upper)
    lo = torch.tensor(lows, dtype=torch.float64)
    up = torch.tensor(ups, dtype=torch.float64)
    cert = (up - lo) <= rtol * lo
    cert = cert | (up == 0)
    if W.ndim == 2:
        lo, up, cert = lo[0], up[0], cert[0]
    return SpectralBracket(lower=lo, upper=up, iterations=tries, certified=cert, rtol=rtol)


def _check_target(target, batch: int | None) -> torch.Tensor:
    t = torch.as_tensor(target, dtype=torch.float64)
    if t.ndim > 1 or (t.ndim == 1 and batch is None) or (t.ndim == 1 and t.shape[0] != batch):
        raise ValueError(f"target has shape {tuple(t.shape)}; expected a scalar or ({batch},)")
    if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
        raise ValueError(f"target must be finite and > 0, got {target}")
    return t


def rank_one_correction(W: torch.Tensor, target, *, u: torch.Tensor | None = None,
                        v: torch.Tensor | None = None, iters: int | None = None,
                        rtol: float | None = None, max_iters: int = 10_000,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    r"""The blog's spectral step ``W + (target - sigma) u v^T`` (a new tensor; ``W`` is unchanged).

    With the exact top pair, the singular values of the result are ``{target, sigma_2, ...}``, so
    its spectral norm is ``max(target, sigma_2)`` (not ``target`` when ``sigma_2 > target``) and its
    squared Frobenius norm is ``||W||_F^2 - sigma_1^2 + target^2``. With approximate vectors from
    power iteration (``u = W v / ||W v||``, ``sigma = ||W v||``) the result ``W'`` satisfies
    ``W' v = target u`` exactly, and (see :func:`correction_bounds`)
    ``max(target, f) <= sigma_1(W') <= ||[[target, rho], [0, f]]||_2 <= max(target, f) + rho``,
    ``rho = ||W^T u - sigma v||``, ``f = ||(I - u u^T) W (I - v v^T)||_2``.

    Args:
        W: ``(m, n)`` or ``(b, m, n)``; reshape conv kernels with :func:`as_matrix` first.
        target: ``> 0``, scalar or ``(b,)``.
        u, v: use this pair (both unit) with ``sigma = u^T W v`` instead of power iteration.
        iters, rtol, max_iters, generator: passed to :func:`power_iteration` (``rtol=1e-10`` if
            neither is given); ``v`` alone is its warm start.
    """
    W = check_tensor(W, "W", ndim=(2, 3))
    t = _check_target(target, W.shape[0] if W.ndim == 3 else None).to(W.dtype).to(W.device)
    if u is not None and v is not None:
        u = check_tensor(u, "u").to(W.dtype)
        v = check_tensor(v, "v").to(W.dtype)
        sigma = torch.einsum("...m,...mn,...n->...", u, W.detach(), v)
    else:
        if u is not None:
            raise ValueError("give u together with v (or v alone as a warm start)")
        if iters is None and rtol is None:
            rtol = 1e-10
        res = power_iteration(W, iters=iters, rtol=rtol, max_iters=max_iters, v0=v, generator=generator)
        if bool((res.sigma == 0).any()):
            raise ValueError("W is zero: it has no top singular direction to rescale")
        u, v, sigma = res.u, res.v, res.sigma
    scale = (t - sigma).unsqueeze(-1).unsqueeze(-1) if W.ndim == 3 else (t - sigma)
    return W + scale * (u.unsqueeze(-1) * v.unsqueeze(-2))


def correction_bounds(W: torch.Tensor, target: float, v: torch.Tensor) -> dict:
    r"""Bracket on ``sigma_1`` of the rank-one-corrected ``(m, n)`` matrix built from unit ``v``.

    With ``s = ||W v||``, ``u = W v / s``, ``rho = ||W^T u - s v||`` and
    ``f = ||(I - u u^T) W (I - v v^T)||_2`` (computed exactly here by SVD: this is an analysis
    tool), returns ``{"lower": max(target, f), "upper": ||[[target, rho], [0, f]]||_2, "rho",
    "f"}``. Proof sketch (proofs/blog_rank_one.py): in orthonormal bases starting with ``u`` and
    ``v``, ``W' = [[target, r^T], [0, F]]`` with ``r = W^T u - s v`` (orthogonal to ``v``) and
    ``F`` the compression with norm ``f``; the norm of this block matrix is at least that of each
    diagonal block and at most that of the 2x2 matrix of block norms.
    """
    W = check_tensor(W, "W", ndim=2).detach().double()
    v = check_tensor(v, "v", ndim=1).detach().double()
    v = v / torch.linalg.vector_norm(v)
    s = torch.linalg.vector_norm(W @ v)
    if s == 0:
        raise ValueError("W v = 0: v is in the null space")
    u = W @ v / s
    rho = float(torch.linalg.vector_norm(W.T @ u - s * v))
    P = torch.eye(W.shape[0], dtype=W.dtype) - torch.outer(u, u)
    Q = torch.eye(W.shape[1], dtype=W.dtype) - torch.outer(v, v)
    f = float(torch.linalg.matrix_norm(P @ W @ Q, ord=2))
    block = torch.tensor([[target, rho], [0.0, f]], dtype=torch.float64)
    return {"lower": max(target, f), "upper": float(torch.linalg.matrix_norm(block, ord=2)),
            "rho": rho, "f": f, "sigma": float(s)}


def as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """View a Linear ``(out, in)`` or conv ``(out, in, *kernel)`` weight as ``(out, in*prod(kernel))``
    (the blog's reshaping; a view when possible, never a copy of a 2-D weight)."""
    weight = check_tensor(weight, "weight")
    if weight.ndim < 2:
        raise ValueError(f"weight must have at least 2 dimensions, got shape {tuple(weight.shape)}")
    return weight if weight.ndim == 2 else weight.reshape(weight.shape[0], -1)


@dataclass
class ConvNormResult:
    """Operator norm of a conv2d map on a given input size: ``lower <= norm <= upper``.

    ``sigma`` is the estimate (exact for the FFT method), ``method`` is ``"fft"`` or
    ``"power"``; ``converged`` whether the bracket is within ``rtol``, or, for power iteration,
    whether its residual test passed; ``upper_bounds`` lists the bounds that were combined.
    """

    sigma: float
    lower: float
    upper: float
    method: str
    iterations: int
    converged: bool
    upper_bounds: dict


def _pair(x, name):
    if isinstance(x, int) and not isinstance(x, bool):
        return (x, x)
    if isinstance(x, tuple) and len(x) == 2 and all(isinstance(i, int) for i in x):
        return x
    raise TypeError(f"{name} must be an int or a pair of ints, got {x!r}")


def _circular_norm(weight: torch.Tensor, size: tuple[int, int], dilation) -> float:
    """max over the 2-D DFT frequencies of ||K(omega)||_2 for the kernel laid on a torus."""
    out_c, in_c, kh, kw = weight.shape
    n1, n2 = size
    K = torch.zeros(out_c, in_c, n1, n2, dtype=torch.float64)
    for i in range(kh):
        for j in range(kw):
            K[:, :, (i * dilation[0]) % n1, (j * dilation[1]) % n2] += weight[:, :, i, j].double()
    Kf = torch.fft.fft2(K).permute(2, 3, 0, 1)
    return float(torch.linalg.matrix_norm(Kf, ord=2).max())


def conv2d_operator_norm(weight: torch.Tensor, input_size, *, stride=1, padding=0, dilation=1,
                         padding_mode: str = "zeros", rtol: float = 1e-6, max_iters: int = 2000,
                         generator: torch.Generator | None = None) -> ConvNormResult:
    r"""Operator 2-norm of ``x -> conv2d(x, weight, stride, padding, dilation)`` on inputs of
    spatial size ``input_size`` (the layer's Lipschitz constant, batch-independent).

    * ``padding_mode="circular"``, stride 1, ``2 padding = dilation (k - 1)``: the map is a
      circular convolution, block-diagonalised by the 2-D DFT (Sedghi, Gupta, Long 2019), so its
      norm is ``max_omega ||K(omega)||_2`` over the ``n1 n2`` frequencies of the kernel laid on
      the torus -- computed exactly (SVDs of ``out x in`` complex matrices).
    * otherwise (zero padding, any stride): power iteration on ``A^T A`` with the true adjoint
      ``A^T = conv_transpose2d(., weight, stride, padding, output_padding, dilation)`` whose
      ``output_padding`` restores the input size (needed for stride 2 on even sizes), run to
      residual ``rtol``; the estimate is a lower bound. Upper bounds: the circular norm on the
      padded grid ``n + 2 padding`` (the zero-padded map is a crop of it composed with an
      embedding, and striding is a further crop) and ``sqrt(ceil(kh/s) ceil(kw/s)) ||W_mat||_2``
      (each input pixel enters at most that many patches); the smaller one, inflated by
      ``1 + 64 eps (log2(n1 n2) + in + out)`` for FFT/SVD round-off, is ``upper``.
    """
    weight = check_tensor(weight, "weight", ndim=4).detach()
    n1, n2 = _pair(input_size, "input_size")
    s, p, d = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    if min(n1, n2, *s, *d) < 1 or min(p) < 0:
        raise ValueError("input_size, stride, dilation must be >= 1 and padding >= 0")
    if padding_mode not in ("zeros", "circular"):
        raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {padding_mode!r}")
    check_open_unit(rtol, "rtol")
    out_c, in_c, kh, kw = weight.shape
    W64 = weight.double()
    inflate = 1 + 64 * _EPS64 * (math.log2(max(n1 * n2, 2)) + in_c + out_c)
    if padding_mode == "circular":
        if s != (1, 1) or 2 * p[0] != d[0] * (kh - 1) or 2 * p[1] != d[1] * (kw - 1):
            raise ValueError("circular padding is exact here only for stride 1 and "
                             "2*padding = dilation*(kernel-1) (a true circular convolution)")
        sigma = _circular_norm(W64, (n1, n2), d)
        return ConvNormResult(sigma, sigma / inflate, sigma * inflate, "fft", 0, True, {"fft": sigma})
    o1 = (n1 + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    o2 = (n2 + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    if o1 < 1 or o2 < 1:
        raise ValueError("input_size is smaller than the (dilated) kernel: the output is empty")
    op = (n1 - ((o1 - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + 1),
          n2 - ((o2 - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + 1))

    def A(x):
        return F.conv2d(x, W64, stride=s, padding=p, dilation=d)

    def AT(y):
        return F.conv_transpose2d(y, W64, stride=s, padding=p, output_padding=op, dilation=d)

    x = torch.randn(1, in_c, n1, n2, dtype=torch.float64, generator=generator)
    x = x / torch.linalg.vector_norm(x)
    sigma, converged, k = 0.0, False, 0
    for k in range(1, max_iters + 1):
        y = A(x)
        sigma = float(torch.linalg.vector_norm(y))
        if sigma == 0:
            if not W64.any():
                converged = True
                break
            x = torch.randn(x.shape, dtype=torch.float64, generator=generator)
            x = x / torch.linalg.vector_norm(x)
            continue
        z = AT(y / sigma)
        resid = float(torch.linalg.vector_norm(z - sigma * x))
        x = z / torch.linalg.vector_norm(z)
        if resid <= rtol * sigma:
            converged = True
            break
    bounds = {"im2col": math.sqrt(math.ceil(kh / s[0]) * math.ceil(kw / s[1]))
              * float(torch.linalg.matrix_norm(W64.reshape(out_c, -1), ord=2))}
    N1, N2 = n1 + 2 * p[0], n2 + 2 * p[1]
    if N1 >= d[0] * (kh - 1) + 1 and N2 >= d[1] * (kw - 1) + 1:
        bounds["circular_padded"] = _circular_norm(W64, (N1, N2), d)
    upper = min(bounds.values()) * inflate
    lower = sigma * (1 - 64 * _EPS64 * (in_c * kh * kw + 4))
    return ConvNormResult(sigma, lower, max(upper, sigma), "power", k, converged, bounds)


def conv2d_dense_matrix(weight: torch.Tensor, input_size, *, stride=1, padding=0, dilation=1,
                        padding_mode: str = "zeros") -> torch.Tensor:
    """The dense float64 matrix of the conv2d map (columns = images of basis inputs); for tests
    and tiny sizes only (``in * n1 * n2`` forward passes)."""
    weight = check_tensor(weight, "weight", ndim=4).detach().double()
    n1, n2 = _pair(input_size, "input_size")
    in_c = weight.shape[1]
    basis = torch.eye(in_c * n1 * n2, dtype=torch.float64).reshape(-1, in_c, n1, n2)
    conv = torch.nn.Conv2d(in_c, weight.shape[0], weight.shape[2:], stride=stride, padding=padding,
                           dilation=dilation, padding_mode=padding_mode, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(weight)
        out = conv(basis)
    return out.reshape(out.shape[0], -1).T
