r"""Accurate (not certified) ``sigma_1`` for tests and references, and the analysis bracket of the
rank-one correction. Both scale by a power of two first and treat complex input through conjugate
transposes / the exact real embedding."""

from __future__ import annotations

import numpy as np
import torch

from normtheory.roundoff import ldexp_exact, pow2_exponents
from normtheory.spectral._input import check_matrix, real_embedding

__all__ = ["spectral_norm_reference", "correction_bounds"]


def _top_sigma(M: np.ndarray) -> float:
    """``||M v||`` for the top eigenvector ``v`` of the smaller Gram matrix of a real float64 ``M``
    (largest entry near 1): dense symmetric eigensolver up to order 1024, ARPACK Lanczos above."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    m, n = M.shape
    A = M if n <= m else M.T  # work with the smaller Gram matrix, k x k
    k = A.shape[1]
    if k <= 1024:
        # full symmetric eigensolver (LAPACK syevd): cheap at this size, unlike the subset (MRRR)
        # driver, which is slow and can return no pair on exactly clustered spectra
        At = torch.from_numpy(A)
        x = torch.linalg.eigh(At.T @ At)[1][:, -1].numpy()
    else:
        op = LinearOperator((k, k), matvec=lambda y: A.T @ (A @ y), dtype=np.float64)
        start = np.random.default_rng(0).standard_normal(k)  # deterministic ARPACK start
        x = eigsh(op, k=1, which="LA", v0=start, tol=0)[1][:, 0]
    return float(np.linalg.norm(A @ x) / np.linalg.norm(x))


def spectral_norm_reference(W: torch.Tensor) -> torch.Tensor:
    r"""Accurate ``sigma_1`` (float64) of ``(m, n)`` or ``(b, m, n)`` ``W`` (real or complex)
    without a full SVD: each matrix is scaled by ``2^-e`` (exact), the top eigenvector ``v`` of its
    smaller Gram matrix comes from a dense symmetric eigensolver (order <= 1024) or Lanczos, and
    ``||W v||`` (a Rayleigh value, at most ``sigma_1`` up to round-off) is scaled back. For a
    *certified* value use :func:`normtheory.spectral.spectral_norm_bracket`."""
    W = check_matrix(W, "W", ndim=(2, 3))
    M = W.detach().to("cpu", torch.complex128 if W.is_complex() else torch.float64)
    M = real_embedding(M.reshape((-1,) + tuple(M.shape[-2:])))
    e = pow2_exponents(M.abs().amax(dim=(1, 2)))
    Ms = ldexp_exact(M, -e[:, None, None]).numpy()
    out = torch.tensor([_top_sigma(A) if A.any() else 0.0 for A in Ms], dtype=torch.float64)
    out = ldexp_exact(out, e)
    return out if W.ndim == 3 else out[0]


def correction_bounds(W: torch.Tensor, target: float, v: torch.Tensor) -> dict:
    r"""Bracket on ``sigma_1`` of the rank-one-corrected ``(m, n)`` matrix built from unit ``v``.

    With ``s = ||W v||``, ``u = W v / s``, ``rho = ||W^H u - s v||`` and
    ``f = ||(I - u u^H) W (I - v v^H)||_2`` (computed exactly here by SVD: an analysis tool),
    returns ``{"lower": max(target, f), "upper": ||[[target, rho], [0, f]]||_2, "rho", "f",
    "sigma"}``. Proof sketch (proofs/blog_rank_one.py): in orthonormal bases starting with ``u``
    and ``v``, ``W' = [[target, r^H], [0, F]]`` with ``r = W^H u - s v`` (orthogonal to ``v``) and
    ``F`` the compression with norm ``f``; the norm of this block matrix is at least that of each
    diagonal block and at most that of the 2x2 matrix of block norms.
    """
    W = check_matrix(W, "W", ndim=2).detach()
    dt = torch.complex128 if W.is_complex() or v.is_complex() else torch.float64
    W = W.to(dt)
    v = check_matrix(v, "v", ndim=1).detach().to(dt)
    v = v / torch.linalg.vector_norm(v)
    s = torch.linalg.vector_norm(W @ v)
    if s == 0:
        raise ValueError("W v = 0: v is in the null space")
    u = W @ v / s
    rho = float(torch.linalg.vector_norm(W.mH @ u - s * v))
    P = torch.eye(W.shape[0], dtype=dt) - torch.outer(u, u.conj())
    Q = torch.eye(W.shape[1], dtype=dt) - torch.outer(v, v.conj())
    f = float(torch.linalg.matrix_norm(P @ W @ Q, ord=2))
    block = torch.tensor([[target, rho], [0.0, f]], dtype=torch.float64)
    return {"lower": max(target, f), "upper": float(torch.linalg.matrix_norm(block, ord=2)),
            "rho": rho, "f": f, "sigma": float(s)}
