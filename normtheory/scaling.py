r"""Norm Scaling (the blog's post-step weight rescaling) and its scaled orthogonal initialisation.

For a weight viewed as a matrix ``W_k`` of shape ``d_k x d_{k-1}`` (conv kernels ``(out, in, kh,
kw)`` reshaped to ``out x in*kh*kw``, :func:`normtheory.spectral.as_matrix`):

* init: ``W_k = sqrt(d_k / d_{k-1}) Q`` with ``Q`` orthogonal (orthonormal rows or columns), so
  ``||W_k||_2 = sqrt(d_k/d_{k-1})`` and ``||W_k||_F = sqrt(min(d_k, d_{k-1}) d_k / d_{k-1})``;
* Frobenius scaling, after every optimizer step: ``W_k <- W_k * target_k / ||W_k||_F``;
* spectral scaling, after every optimizer step: ``W_k <- W_k + (target_k - sigma) u v^T`` with
  ``(sigma, u, v)`` from power iteration on ``W_k^T W_k`` (:func:`normtheory.spectral.rank_one_correction`).

Targets default to the norms at construction (the blog stores them right after the init).

Usage::

    scaled_orthogonal_init_(model)
    scaler = NormScaling(model, mode="spectral")
    for x, y in data:
        loss = ...; opt.zero_grad(); loss.backward(); opt.step()
        scaler.step()
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from normtheory._validation import check_int_at_least, check_open_unit, check_tensor
from normtheory.spectral import as_matrix, power_iteration, spectral_norm_reference

__all__ = ["scaled_orthogonal_", "scaled_orthogonal_init_", "weight_parameters", "NormScaling"]

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def scaled_orthogonal_(weight: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""In place: ``weight <- sqrt(d_k/d_{k-1}) Q``, ``Q`` a (semi-)orthogonal ``d_k x d_{k-1}``
    matrix (``torch.nn.init.orthogonal_``), ``d_{k-1} = in * prod(kernel)`` for conv kernels."""
    if not isinstance(weight, torch.Tensor) or not weight.dtype.is_floating_point or weight.ndim < 2:
        raise ValueError("weight must be a floating tensor with ndim >= 2 (its values are overwritten)")
    rows, cols = weight.shape[0], weight[0].numel()
    with torch.no_grad():
        nn.init.orthogonal_(weight, generator=generator)
        weight.mul_(math.sqrt(rows / cols))
    return weight


def weight_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The weights of every Linear / Conv1d/2d/3d layer of ``model``, in module order."""
    return [m.weight for m in model.modules() if isinstance(m, _LAYERS)]


def scaled_orthogonal_init_(model: nn.Module, *, generator: torch.Generator | None = None) -> nn.Module:
    """Apply :func:`scaled_orthogonal_` to every Linear/Conv weight of ``model``; returns it."""
    for w in weight_parameters(model):
        scaled_orthogonal_(w, generator=generator)
    return model


class NormScaling:
    r"""Post-step Norm Scaling for any optimizer: call :meth:`step` after ``optimizer.step()``.

    Args:
        params_or_model: an ``nn.Module`` (its Linear/Conv weights) or an iterable of weight
            tensors (each with ``ndim >= 2``).
        mode: ``"frobenius"`` or ``"spectral"``.
        targets: per-weight targets (> 0); default: the current Frobenius norms, or the current
            spectral norms (float64 Lanczos reference) of the matrix views.
        iters: fixed number of power steps per :meth:`step` (warm-started; no host sync, fastest
            on a GPU). Otherwise ``rtol`` (default ``1e-4``): iterate until the residual
            ``||W^T u - sigma v|| <= rtol sigma`` (at most ``max_iters``).
        generator: for the initial random vectors.

    Same-shape weights (same dtype and device) form one group whose matrices are stacked into a
    ``(b, m, n)`` batch and handled by one batched power iteration; each group's right vectors are
    kept between steps (warm start). After a spectral step with residual ``rho`` and compression
    norm ``f`` (see :func:`normtheory.spectral.correction_bounds`),
    ``target <= sigma_1(W) <= max(target, f) + rho``; :attr:`last_residuals` holds ``rho``.
    """

    def __init__(self, params_or_model, mode: str = "spectral", *, targets=None,
                 iters: int | None = None, rtol: float | None = None, max_iters: int = 100,
                 generator: torch.Generator | None = None) -> None:
        if mode not in ("frobenius", "spectral"):
            raise ValueError(f"mode must be 'frobenius' or 'spectral', got {mode!r}")
        if isinstance(params_or_model, nn.Module):
            weights = weight_parameters(params_or_model)
        elif isinstance(params_or_model, Iterable):
            weights = list(params_or_model)
        else:
            raise TypeError("params_or_model must be an nn.Module or an iterable of tensors")
        if not weights:
            raise ValueError("no weights to scale")
        for i, w in enumerate(weights):
            check_tensor(w, f"weights[{i}]", min_ndim=2)
        if iters is not None and rtol is not None:
            raise ValueError("give at most one of iters or rtol")
        if iters is not None:
            check_int_at_least(iters, "iters", 1)
        else:
            rtol = 1e-4 if rtol is None else check_open_unit(rtol, "rtol")
        check_int_at_least(max_iters, "max_iters", 1)
        self.mode, self.iters, self.rtol, self.max_iters = mode, iters, rtol, max_iters
        self.weights = weights
        if targets is None:
            targets = [float(torch.linalg.matrix_norm(as_matrix(w.detach()).double()))
                       if mode == "frobenius" else float(spectral_norm_reference(as_matrix(w.detach())))
                       for w in weights]
        targets = [float(t) for t in targets]
        if len(targets) != len(weights):
            raise ValueError(f"targets has {len(targets)} entries for {len(weights)} weights")
        if any(not math.isfinite(t) or t <= 0 for t in targets):
            raise ValueError("every target must be finite and > 0 (a zero weight has no direction)")
        self.targets = targets
        groups: dict = {}
        for i, w in enumerate(weights):
            groups.setdefault((tuple(w.shape), w.dtype, w.device), []).append(i)
        self._groups = []
        for (shape, dtype, device), idx in groups.items():
            n = math.prod(shape[1:])
            v = torch.randn(len(idx), n, dtype=dtype, device=device, generator=generator) \
                if mode == "spectral" else None
            t = torch.tensor([targets[i] for i in idx], dtype=dtype, device=device)
            self._groups.append({"idx": idx, "shape": shape, "v": v, "t": t})
        self.last_residuals: list = [None] * len(weights)  # 0-d tensors (no host sync)
        self.last_iterations = 0

    def current_norms(self) -> list[float]:
        """The current norm (Frobenius or spectral, per mode) of every weight's matrix view."""
        if self.mode == "frobenius":
            return [float(torch.linalg.matrix_norm(as_matrix(w.detach()).double())) for w in self.weights]
        return [float(spectral_norm_reference(as_matrix(w.detach()))) for w in self.weights]

    @torch.no_grad()
    def step(self) -> None:
        """Rescale every weight in place (call after ``optimizer.step()``)."""
        iterations = 0
        for g in self._groups:
            ws = [self.weights[i] for i in g["idx"]]
            mats = torch.stack([w.detach().reshape(w.shape[0], -1) for w in ws])
            if self.mode == "frobenius":
                norms = torch.linalg.matrix_norm(mats)
                if not bool(torch.isfinite(norms).all() & (norms > 0).all()):
                    raise ValueError("a weight is zero, NaN or Inf: cannot rescale its Frobenius norm")
                factors = (g["t"] / norms).unbind()
                torch._foreach_mul_(ws, list(factors))
                continue
            res = power_iteration(mats, iters=self.iters, rtol=None if self.iters else self.rtol,
                                  max_iters=self.max_iters, v0=g["v"])
            if bool((res.sigma == 0).any()):
                raise ValueError("a weight is zero: it has no top singular direction to rescale")
            g["v"] = res.v
            iterations = max(iterations, res.iterations)
            delta = (g["t"] - res.sigma)[:, None, None] * (res.u[:, :, None] * res.v[:, None, :])
            torch._foreach_add_(ws, [d.reshape(g["shape"]) for d in delta.unbind()])
            for j, i in enumerate(g["idx"]):
                self.last_residuals[i] = res.residual[j]
        self.last_iterations = iterations
