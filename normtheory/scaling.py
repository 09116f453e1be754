r"""Norm Scaling (the blog's post-step weight rescaling) and its scaled orthogonal initialisation.

For a weight viewed as a matrix ``W_k`` of shape ``d_k x d_{k-1}`` (conv kernels ``(out, in, kh,
kw)`` reshaped to ``out x in*kh*kw``, :func:`normtheory.spectral.as_matrix`):

* init: ``W_k = sqrt(d_k / d_{k-1}) Q`` with ``Q`` orthogonal (orthonormal rows or columns), so
  ``||W_k||_2 = sqrt(d_k/d_{k-1})`` and ``||W_k||_F = sqrt(min(d_k, d_{k-1}) d_k / d_{k-1})``;
* Frobenius scaling, after every optimizer step: ``W_k <- W_k * target_k / ||W_k||_F``;
* spectral scaling, after every optimizer step: ``W_k <- W_k + (target_k - sigma) u v^T`` with
  ``(sigma, u, v)`` an estimate of the top singular triple (the blog's rank-one correction,
  :func:`normtheory.spectral.rank_one_update_`), or, with ``clip="all"``, every singular value
  above the target set to it (beyond the blog: its correction cannot hold ``sigma_1`` at the target
  once ``sigma_2`` exceeds it).

The default spectral estimator is a *cold* Gram squaring per step (:func:`top_right_vectors`):
after an Adam step the top of each layer's spectrum is a near-degenerate cluster and the previous
step's vector (the direction just corrected) is no longer the top one, so warm-started power steps
track ``sigma_1`` poorly; squaring the Gram matrix ``s`` times is ``2^s`` power steps for ``s``
matmuls and its Rayleigh value is accurate even inside a cluster.

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

from normtheory._validation import check_int_at_least, check_open_unit
from normtheory.spectral import as_matrix, spectral_norm_reference
from normtheory.spectral._input import check_matrix
from normtheory.spectral.certify import certify_brackets, dominant_gram_vector
from normtheory.spectral.power import (_iterate, _matrix_operator, _unit, power_steps, randn_on,
                                       rank_one_update_)

__all__ = ["scaled_orthogonal_", "scaled_orthogonal_init_", "weight_parameters", "NormScaling",
           "top_right_vectors"]

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def scaled_orthogonal_(weight: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""In place: ``weight <- sqrt(d_k/d_{k-1}) Q``, ``Q`` a (semi-)orthogonal ``d_k x d_{k-1}``
    matrix (``torch.nn.init.orthogonal_``), ``d_{k-1} = in * prod(kernel)`` for conv kernels."""
    if not isinstance(weight, torch.Tensor) or not weight.dtype.is_floating_point or weight.ndim < 2:
        raise ValueError("weight must be a floating tensor with ndim >= 2 (its values are overwritten)")
    rows, cols = weight.shape[0], weight[0].numel()
    with torch.no_grad():
        if generator is not None and generator.device != weight.device:
            # nn.init draws on the weight's device; a generator elsewhere (a CPU generator for a
            # CUDA model) would fail there: draw on the generator's device and copy
            tmp = torch.empty(weight.shape, dtype=weight.dtype, device=generator.device)
            nn.init.orthogonal_(tmp, generator=generator)
            weight.copy_(tmp)
        else:
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


def top_right_vectors(mats, *, squarings: int = 9, dtype=torch.float32) -> torch.Tensor:
    r"""Top right singular vector estimates ``(b, n)`` of ``b`` matrices ``(m, n)`` (a list of
    views or a stack) by cold Gram squaring: ``G = M^T M`` or ``M M^T`` (the smaller, formed one
    matrix at a time, no stacked copy of the weights), ``Q = (G/tr G)^(2^s)`` in ``dtype`` with a
    trace normalisation after each squaring, the dominant column of ``Q`` refined by one product
    with ``G``, and mapped to the right side by ``M^T`` when ``G`` was the left Gram matrix. No
    host synchronisation. The error of the Rayleigh value ``||M v||`` relative to ``sigma_1`` is
    at most about ``max_i r_i^(2^(s+1)) (1 - r_i)`` for ``r_i = (sigma_i/sigma_1)^2`` (and the
    rounding of ``dtype``). That maximum is at most ``1 / (e 2^(s+1))`` relative in ``sigma_1^2``, half
    of it in ``sigma_1``: ``s = 9`` (the default) gives <= 1.8e-4 at any gap, inside the 1e-3
    tracking target with room for float32 rounding."""
    mats = list(mats)
    m, n = mats[0].shape
    left = m < n                     # Gram of the smaller side: k x k, k = min(m, n)
    k = min(m, n)
    G = torch.empty(len(mats), k, k, dtype=mats[0].dtype, device=mats[0].device)
    for i, M in enumerate(mats):
        torch.matmul(M, M.mT, out=G[i]) if left else torch.matmul(M.mT, M, out=G[i])
    x = dominant_gram_vector(G, squarings, dtype=dtype, refine=1)
    if left:
        x = torch.stack([M.mT @ y for M, y in zip(mats, x)])
    return _unit(x)[0]


class NormScaling:
    r"""Post-step Norm Scaling for any optimizer: call :meth:`step` after ``optimizer.step()``.

    Args:
        params_or_model: an ``nn.Module`` (its Linear/Conv weights) or a list/tuple of real
            weight tensors (each with ``ndim >= 2``). Checked here, once (finite, real).
        mode: ``"frobenius"`` or ``"spectral"``.
        targets: per-weight targets (> 0); default: the current Frobenius norms, or the current
            spectral norms (float64 reference) of the matrix views.
        estimator: spectral mode only. ``"gram"`` (default): cold Gram squaring every step
            (:func:`top_right_vectors`, ``squarings`` of them, in ``gram_dtype``). ``"power"``:
            warm-started power iteration, ``iters`` steps (no host sync) or to residual ``rtol``
            (default ``1e-4``, at most ``max_iters``); giving ``iters`` or ``rtol`` selects it.
        clip: ``"top"`` (the blog: ``sigma_1`` set to the target by a rank-one correction) or
            ``"all"`` (every singular value above the target set to it, and ``sigma_1`` to the
            target, from a float64 eigendecomposition of the same Gram matrix).
        check_every: every ``k``-th step (0: never) certify every layer's ``sigma_1`` in float64
            (:func:`normtheory.spectral.certify_brackets`) and record the worst relative distance
            of the certified bracket from the target in :attr:`last_check`.
        generator: for the initial random vectors (any device; drawn there and copied).

    Same-shape weights (same dtype and device) form one group. The rank-one update is written into
    each weight in place (BLAS ``ger``, no dense outer product). A weight that becomes exactly zero
    is left unchanged (no division by zero, no NaN) and flagged in :attr:`last_degenerate` (a
    device tensor; no host synchronisation in :meth:`step`). After a spectral ``"top"`` step with
    residual ``rho = ||W^T u - sigma v||`` (in :attr:`last_residuals`) and compression norm ``f``,
    ``target <= sigma_1(W) <= max(target, f) + rho``.
    """

    def __init__(self, params_or_model, mode: str = "spectral", *, targets=None,
                 estimator: str | None = None, iters: int | None = None, rtol: float | None = None,
                 max_iters: int = 100, squarings: int = 9, gram_dtype: torch.dtype = torch.float32,
                 clip: str = "top", check_every: int = 0,
                 generator: torch.Generator | None = None) -> None:
        if mode not in ("frobenius", "spectral"):
            raise ValueError(f"mode must be 'frobenius' or 'spectral', got {mode!r}")
        if isinstance(params_or_model, nn.Module):
            weights = weight_parameters(params_or_model)
        elif isinstance(params_or_model, torch.Tensor):
            raise TypeError("params_or_model is one tensor; pass a list of weights (a tensor would be "
                            "split along its first axis)")
        elif isinstance(params_or_model, Iterable):
            weights = list(params_or_model)
        else:
            raise TypeError("params_or_model must be an nn.Module or an iterable of tensors")
        if not weights:
            raise ValueError("no weights to scale")
        for i, w in enumerate(weights):
            check_matrix(w, f"weights[{i}]", ndim=None, allow_complex=False)
            if w.ndim < 2:
                raise ValueError(f"weights[{i}] must have at least 2 dimensions, got shape {tuple(w.shape)}")
        if iters is not None and rtol is not None:
            raise ValueError("give at most one of iters or rtol")
        if estimator is None:
            estimator = "power" if (iters is not None or rtol is not None) else "gram"
        if estimator not in ("gram", "power"):
            raise ValueError(f"estimator must be 'gram' or 'power', got {estimator!r}")
        if clip not in ("top", "all"):
            raise ValueError(f"clip must be 'top' or 'all', got {clip!r}")
        if iters is not None:
            check_int_at_least(iters, "iters", 1)
        elif estimator == "power":
            rtol = 1e-4 if rtol is None else check_open_unit(rtol, "rtol")
        check_int_at_least(max_iters, "max_iters", 1)
        check_int_at_least(squarings, "squarings", 0)
        check_int_at_least(check_every, "check_every", 0)
        self.mode, self.iters, self.rtol, self.max_iters = mode, iters, rtol, max_iters
        self.estimator, self.squarings, self.gram_dtype = estimator, squarings, gram_dtype
        self.clip, self.check_every = clip, check_every
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
            v = randn_on((len(idx), n), dtype=dtype, device=device, generator=generator) \
                if mode == "spectral" else None
            t = torch.tensor([targets[i] for i in idx], dtype=dtype, device=device)
            try:
                mats = [weights[i].detach().view(shape[0], n) for i in idx]  # views: writes reach the weights
            except RuntimeError as err:
                raise ValueError(f"a weight of shape {shape} has no matrix view (a non-contiguous layout "
                                 f"such as channels_last); Norm Scaling updates that view in place") from err
            self._groups.append({"idx": idx, "shape": shape, "v": v, "t": t, "mats": mats})
        self.last_residuals: list = [None] * len(weights)  # 0-d tensors (no host sync)
        self.last_sigmas: list = [None] * len(weights)     # the estimate sigma each step corrected
        self.last_degenerate: list = [None] * len(self._groups)
        self.last_iterations = 0
        self.last_check: float | None = None
        self.steps = 0
        self._generator = generator

    def current_norms(self) -> list[float]:
        """The current norm (Frobenius or spectral, per mode) of every weight's matrix view."""
        if self.mode == "frobenius":
            return [float(torch.linalg.matrix_norm(as_matrix(w.detach()).double())) for w in self.weights]
        return [float(spectral_norm_reference(as_matrix(w.detach()))) for w in self.weights]

    def _frobenius(self, j, g):
        ws = [self.weights[i] for i in g["idx"]]
        norms = torch.stack(torch._foreach_norm(ws))
        ok = norms > 0
        self.last_degenerate[j] = ~ok
        factors = torch.where(ok, g["t"] / torch.where(ok, norms, torch.ones_like(norms)), torch.ones_like(norms))
        torch._foreach_mul_(ws, list(factors.unbind()))

    def _top_pair(self, g):
        mats = g["mats"]
        if self.estimator == "gram":
            v = top_right_vectors(mats, squarings=self.squarings, dtype=self.gram_dtype)
            k = 0
        elif self.iters is not None:   # fixed steps: no host synchronisation
            _, _, v = power_steps(torch.stack(mats), g["v"], self.iters)
            k = self.iters
        else:
            M = torch.stack(mats)
            _, _, v, k, _, _ = _iterate(_matrix_operator(M), g["v"], torch.zeros(len(mats), dtype=torch.bool,
                                        device=M.device), limit=self.max_iters, tol=self.rtol,
                                        fixed=False, generator=self._generator)
        u, sigma = _unit(torch.stack([M @ x for M, x in zip(mats, v)]))
        return sigma, u, v, k

    def _clip_all(self, j, g):
        """Every singular value above the target set to it, sigma_1 set to it (float64 eigh)."""
        mats, t = g["mats"], g["t"].double()
        m, n = mats[0].shape
        left = m < n
        G = torch.stack([(M @ M.mT if left else M.mT @ M).double() for M in mats])
        lam, V = torch.linalg.eigh(G)                    # ascending
        sig = lam.clamp_min(0).sqrt()
        above = sig > t[:, None]
        above[:, -1] = True                              # sigma_1 -> target even when below it
        scale = torch.where(above & (sig > 0), t[:, None] / sig.clamp_min(torch.finfo(sig.dtype).tiny),
                            torch.ones_like(sig))
        D = (scale - 1).to(mats[0].dtype)                # W <- W + (U or) W V diag(scale - 1) V^T
        Vd = V.to(mats[0].dtype)
        for M, Vi, Di in zip(mats, Vd, D):
            if left:
                M.add_(Vi @ (Di[:, None] * (Vi.mT @ M)))
            else:
                M.add_(((M @ Vi) * Di[None, :]) @ Vi.mT)
        self.last_degenerate[j] = sig[:, -1] == 0

    @torch.no_grad()
    def step(self) -> None:
        """Rescale every weight in place (call after ``optimizer.step()``). No input checks and
        no host synchronisation here (the ``"power"`` estimator with ``rtol`` syncs to test its
        residual; ``check_every`` syncs on its steps)."""
        iterations = 0
        for j, g in enumerate(self._groups):
            if self.mode == "frobenius":
                self._frobenius(j, g)
                continue
            if self.clip == "all":
                self._clip_all(j, g)
                continue
            sigma, u, v, k = self._top_pair(g)
            g["v"] = v
            for jj, i in enumerate(g["idx"]):
                self.last_sigmas[i] = sigma[jj]
            iterations = max(iterations, k)
            ok = sigma > 0
            self.last_degenerate[j] = ~ok
            rank_one_update_(g["mats"], torch.where(ok, g["t"] - sigma, torch.zeros_like(sigma)), u, v)
            w = torch.stack([M.mT @ x for M, x in zip(g["mats"], u)])
            res = torch.linalg.vector_norm(w - g["t"][:, None] * v, dim=-1)
            for jj, i in enumerate(g["idx"]):
                self.last_residuals[i] = res[jj]
        self.last_iterations = iterations
        self.steps += 1
        if self.mode == "spectral" and self.check_every and self.steps % self.check_every == 0:
            self.last_check = self.certified_tracking_error()

    def certified_tracking_error(self, *, rtol: float = 1e-6) -> float:
        """max over weights of the certified distance ``max(upper/t - 1, 1 - lower/t)`` of
        ``sigma_1`` from its target (float64 certificate; a host sync)."""
        br = certify_brackets([as_matrix(w.detach()) for w in self.weights], rtol=rtol)
        t = torch.tensor(self.targets, dtype=torch.float64)
        return float(torch.maximum(br.upper.cpu() / t - 1, 1 - br.lower.cpu() / t).max())
