r"""The one power iteration (a matrix, a batch of matrices, or any linear operator given by its
mat-vec and adjoint) and the one rank-one correction.

Notation: ``W`` is ``m x n`` (or a batch ``b x m x n``), real or complex, with singular values
``sigma_1 >= sigma_2 >= ... >= 0``. One step on the Gram operator ``W^H W`` is

    u = W v / ||W v||,    sigma = ||W v||,    w = W^H u,    r = w - sigma v,    v <- w / ||w||.

With ``v`` a unit vector ``sigma = ||W v|| <= sigma_1`` (a lower bound), and ``x = (u, v)/sqrt(2)``
is an approximate eigenvector of ``[[0, W], [W^H, 0]]`` with residual ``||r||/sqrt(2)``: some
singular value (not necessarily ``sigma_1``) lies within ``||r||/sqrt(2)`` of ``sigma``. A start
vector orthogonal to ``v_1`` converges to ``sigma_2``, so a small residual never certifies
``sigma_1`` (:func:`normtheory.spectral.spectral_norm_bracket` does). After ``k`` steps
``tan theta_k <= (sigma_2/sigma_1)^(2k) tan theta_0`` for the angle to ``v_1``: at the gaps of
trained networks (``sigma_2/sigma_1`` 0.99-0.999) that is hundreds to thousands of steps, which is
why Norm Scaling's default estimator squares the Gram matrix instead (:mod:`normtheory.scaling`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from normtheory._validation import check_int_at_least, check_open_unit, check_tensor
from normtheory.roundoff import ldexp_exact, pow2_exponents
from normtheory.spectral._input import check_matrix

__all__ = ["PowerIterationResult", "LinearOperator", "power_iteration", "power_steps", "bmv", "rank_one_update_",
           "rank_one_correction", "randn_on", "blog_power_iteration"]


@dataclass
class PowerIterationResult:
    """Output of :func:`power_iteration` (batched fields have a leading batch dimension).

    Attributes:
        sigma: ``||W v||`` for the final unit ``v``; always ``<= sigma_1`` (up to round-off).
        u, v: the final left/right vectors, unit norm (``u = W v / sigma``).
        iterations: number of power steps taken (the same for every matrix of a batch).
        residual: ``||W^H u - sigma v||`` per matrix.
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


@dataclass
class LinearOperator:
    """A linear map given by functions on batches: ``forward(x)`` maps ``(b, *in_shape)`` to
    ``(b, *out_shape)`` and ``adjoint(y)`` back (the exact adjoint, e.g. a transposed conv or
    autograd's vector-Jacobian product). ``batch`` is ``b``."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    adjoint: Callable[[torch.Tensor], torch.Tensor]
    in_shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device | str = "cpu"
    batch: int = 1


def randn_on(shape, *, dtype, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """Standard normal draws on ``device`` from ``generator`` wherever the generator lives (a CPU
    generator for a CUDA tensor draws on the CPU and copies: same numbers on every device)."""
    gen_device = generator.device if generator is not None else torch.device(device)
    x = torch.randn(shape, dtype=dtype, device=gen_device, generator=generator)
    return x.to(device)


def _norm(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(x.flatten(1), dim=-1)


def _unit(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = _norm(x)
    shape = (-1,) + (1,) * (x.ndim - 1)
    return x / torch.where(n > 0, n, torch.ones_like(n)).reshape(shape), n


def bmv(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Batched mat-vec ``(b, m, n) x (b, n) -> (b, m)``: one bmm on an accelerator; on the CPU a
    loop of ``mv``, where bmm with one column is far slower (measured, torch 2.x)."""
    if A.device.type != "cpu" or A.shape[0] == 1:
        return torch.bmm(A, x.unsqueeze(-1)).squeeze(-1)
    return torch.stack([a @ y for a, y in zip(A, x)])


def power_steps(M: torch.Tensor, v: torch.Tensor, steps: int):
    """``steps`` plain steps ``u = W v/||W v||, v = W^H u/||W^H u||`` on a ``(b, m, n)`` stack from
    unit ``(b, n)`` ``v``; returns ``(sigma, u, v)`` with ``sigma = ||W^H u|| = u^H W v`` for the
    returned pair. No checks and no host synchronisation: the hot-path kernel for callers that
    validated at construction (:class:`normtheory.multilayer.PowerSweep`, Norm Scaling)."""
    Mh = M.mH
    for _ in range(steps):
        u, _ = _unit(bmv(M, v))
        v, sigma = _unit(bmv(Mh, u))
    return sigma, u, v


def _matrix_operator(M: torch.Tensor) -> LinearOperator:
    return LinearOperator(lambda v: bmv(M, v), lambda u: bmv(M.mH, u), (M.shape[2],), M.dtype,
                          M.device, M.shape[0])


def _iterate(op: LinearOperator, v: torch.Tensor, zero: torch.Tensor, *, limit: int, tol: float,
             fixed: bool, generator) -> tuple:
    """The loop; ``v`` unit ``(b, *in_shape)``; ``zero`` marks exactly zero operators."""
    restarts, k = 0, 0
    bshape = (-1,) + (1,) * (v.ndim - 1)
    while True:
        u, sigma = _unit(op.forward(v))
        # a start vector in the null space of a nonzero W; later iterates lie in W's row space,
        # so W v != 0 after the first step and the check (a host sync on a GPU) runs only at k = 0
        lost = (sigma == 0) & ~zero
        if k == 0 and bool(lost.any()):
            if restarts > 10:
                raise RuntimeError("power_iteration: start vectors keep falling in the null space")
            restarts += 1
            fresh = _unit(randn_on(v.shape, dtype=v.dtype, device=v.device, generator=generator))[0]
            v = torch.where(lost.reshape(bshape), fresh, v)
            continue
        w = op.adjoint(u)
        residual = _norm(w - sigma.reshape(bshape).to(w.dtype) * v)
        converged = (residual <= tol * sigma) | zero
        if k >= limit or (not fixed and bool(converged.all())):
            return sigma, u, v, k, residual, converged
        v = torch.where(zero.reshape(bshape), v, _unit(w)[0])
        k += 1


def power_iteration(W, *, iters: int | None = None, rtol: float | None = None,
                    max_iters: int = 10_000, v0: torch.Tensor | None = None,
                    generator: torch.Generator | None = None) -> PowerIterationResult:
    r"""Estimate ``sigma_1`` and its singular vectors by power iteration on ``W^H W``.

    Args:
        W: ``(m, n)`` or batched ``(b, m, n)`` finite floating or complex tensor (not modified),
            or a :class:`LinearOperator` (then vectors have shape ``(batch, *in_shape)``).
            Matrices whose largest entry lies outside ``[2^-250, 2^250]`` (float64; the square
            root of the range for other dtypes, quartered) are scaled by a power of two first
            (exact), so ``1e-300`` and ``1e300`` matrices neither under- nor overflow.
        iters: run exactly this many steps (>= 1). Exactly one of ``iters`` / ``rtol``.
        rtol: run until ``||W^H u - sigma v|| <= rtol * sigma`` for every matrix, at most
            ``max_iters`` steps; ``0 < rtol < 1``. The error of ``sigma`` is then about
            ``rtol^2 sigma_1^2 / (sigma_1 - sigma_2)`` when it converged to the top pair.
        v0: warm start ``(n,)`` or ``(b, n)`` (operator: ``(batch, *in_shape)``); random if None.
        generator: torch generator for the random start (and restarts), on any device.

    Returns:
        :class:`PowerIterationResult`. Gradients do not flow (computed under ``no_grad``).
    """
    if (iters is None) == (rtol is None):
        raise ValueError("give exactly one of iters or rtol")
    if iters is not None:
        check_int_at_least(iters, "iters", 1)
    else:
        check_open_unit(rtol, "rtol")
        check_int_at_least(max_iters, "max_iters", 1)
    if isinstance(W, LinearOperator):
        op, batched, scale_e = W, True, None
        b, shape = W.batch, (W.batch,) + tuple(W.in_shape)
        zero = torch.zeros(b, dtype=torch.bool, device=W.device)
        dtype = W.dtype
    else:
        W = check_matrix(W, "W", ndim=(2, 3))
        batched = W.ndim == 3
        M = W.detach() if batched else W.detach().unsqueeze(0)
        amax = M.abs().amax(dim=(1, 2))
        zero = amax == 0
        emax = int(math.log2(torch.finfo(M.dtype).max)) // 4
        scale_e = None
        if bool(((amax > 0) & ((amax < 2.0 ** -emax) | (amax > 2.0 ** emax))).any()):
            scale_e = pow2_exponents(amax)
            M = ldexp_exact(M, -scale_e[:, None, None])
        op = _matrix_operator(M)
        b, shape, dtype = M.shape[0], (M.shape[0], M.shape[2]), M.dtype
    with torch.no_grad():
        if v0 is None:
            v = randn_on(shape, dtype=dtype, device=op.device, generator=generator)
        else:
            v0 = check_tensor(v0, "v0")
            if v0.numel() != math.prod(shape) or (not batched and v0.ndim != 1) or \
                    (batched and not isinstance(W, LinearOperator) and v0.ndim != 2):
                raise ValueError(f"v0 has shape {tuple(v0.shape)}, expected "
                                 f"{shape if batched else shape[1:]}")
            v = v0.detach().to(dtype).reshape(shape).clone()
        v, vnorm = _unit(v)
        if bool((vnorm == 0).any()):
            raise ValueError("v0 contains a zero vector")
        tol = rtol if rtol is not None else math.sqrt(torch.finfo(dtype).eps)
        sigma, u, v, k, residual, converged = _iterate(
            op, v, zero, limit=iters if iters is not None else max_iters, tol=tol,
            fixed=iters is not None, generator=generator)
        if scale_e is not None:
            sigma, residual = ldexp_exact(sigma, scale_e), ldexp_exact(residual, scale_e)
        if not bool(torch.isfinite(sigma).all()):
            raise FloatingPointError("power_iteration: sigma_1 exceeds the dtype's range")
    squeeze = (lambda t: t) if batched else (lambda t: t.squeeze(0))
    return PowerIterationResult(sigma=squeeze(sigma), u=squeeze(u), v=squeeze(v), iterations=k,
                                residual=squeeze(residual),
                                residual_bound=squeeze(residual / math.sqrt(2.0)),
                                converged=squeeze(converged))


def rank_one_update_(mats, coeff: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> None:
    r"""In place, for each ``i``: ``mats[i] += coeff[i] u[i] v[i]^H`` without forming the dense
    outer product (BLAS ``ger``: ``addr_``). ``mats`` is a ``(b, m, n)`` tensor or a list of
    tensors whose ``(m, n)`` matrix views share storage with them (e.g. model weights); no host
    synchronisation. The one rank-one correction of the package (the blog's spectral step is
    ``coeff = target - sigma``)."""
    scaled = coeff.to(u.dtype).unsqueeze(-1) * u
    vc = v.conj() if v.is_complex() else v
    for i, W in enumerate(mats):
        view = W.view(W.shape[0], -1)
        view.addr_(scaled[i], vc[i])


def _check_target(target, batch: int | None) -> torch.Tensor:
    if isinstance(target, bool) or (isinstance(target, torch.Tensor) and target.dtype == torch.bool):
        raise TypeError(f"target must be a number or a float tensor, got {target!r}")
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
    r"""The blog's spectral step ``W + (target - sigma) u v^H`` (a new tensor; ``W`` is unchanged).

    With the exact top pair, the singular values of the result are ``{target, sigma_2, ...}``, so
    its spectral norm is ``max(target, sigma_2)`` (not ``target`` when ``sigma_2 > target``). With
    approximate vectors from power iteration (``u = W v / ||W v||``, ``sigma = ||W v||``) the result
    ``W'`` satisfies ``W' v = target u`` exactly, and (see :func:`correction_bounds`)
    ``max(target, f) <= sigma_1(W') <= max(target, f) + rho``, ``rho = ||W^H u - sigma v||``,
    ``f = ||(I - u u^H) W (I - v v^H)||_2``.

    Args:
        W: ``(m, n)`` or ``(b, m, n)``; reshape conv kernels with :func:`as_matrix` first.
        target: ``> 0``, scalar or ``(b,)``.
        u, v: use this pair (both unit, checked) with ``sigma = u^H W v``.
        iters, rtol, max_iters, generator: passed to :func:`power_iteration` (``rtol=1e-10`` if
            neither is given); ``v`` alone is its warm start.
    """
    W = check_matrix(W, "W", ndim=(2, 3))
    t = _check_target(target, W.shape[0] if W.ndim == 3 else None)
    if u is not None and v is not None:
        u, v = check_tensor(u, "u").to(W.dtype), check_tensor(v, "v").to(W.dtype)
        if u.shape != W.shape[:-1] or v.shape != W.shape[:-2] + W.shape[-1:]:
            raise ValueError(f"u, v have shapes {tuple(u.shape)}, {tuple(v.shape)}; W is {tuple(W.shape)}")
        for name, x in (("u", u), ("v", v)):
            n = torch.linalg.vector_norm(x, dim=-1).double()
            if bool(((n - 1).abs() > 8 * x.shape[-1] * torch.finfo(x.dtype).eps).any()):
                raise ValueError(f"{name} must have unit norm (got norms {n.tolist()})")
        sigma = torch.einsum("...m,...mn,...n->...", u.conj(), W.detach(), v).real
    else:
        if u is not None:
            raise ValueError("give u together with v (or v alone as a warm start)")
        if iters is None and rtol is None:
            rtol = 1e-10
        res = power_iteration(W, iters=iters, rtol=rtol, max_iters=max_iters, v0=v, generator=generator)
        if bool((res.sigma == 0).any()):
            raise ValueError("W is zero: it has no top singular direction to rescale")
        u, v, sigma = res.u, res.v, res.sigma
    out = W.detach().clone() if W.ndim == 3 else W.detach().clone().unsqueeze(0)
    coeff = (t.to(W.device) - sigma.double()).reshape(-1)
    rank_one_update_(out, coeff, u.reshape(out.shape[0], -1), v.reshape(out.shape[0], -1))
    return out if W.ndim == 3 else out[0]


def blog_power_iteration(W: torch.Tensor, iters: int = 500,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """The blog's method as described: ``iters`` steps of ``v <- W^T W v / ||W^T W v||`` from a
    random ``v`` on the weight's matrix view, then ``sigma = ||W v||`` (the same iterates as
    :func:`power_iteration` with ``iters``; kept as the baseline)."""
    from normtheory.spectral._input import as_matrix
    check_int_at_least(iters, "iters", 1)
    return power_iteration(as_matrix(W), iters=iters, generator=generator).sigma
