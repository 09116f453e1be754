r"""Spectral norms of many layers at once: grouping, warm starts, Gram squaring, certification.

Built on :mod:`normtheory.spectral` (the single-matrix algorithms, its round-off constants and its
certificate); this module adds what makes a whole network fast on a GPU:

* **grouping** -- layers whose matrix views share a shape are stacked into one ``(b, m, n)`` tensor
  (:func:`group_by_shape`) and iterated with one batched matmul per step; :func:`bind_groups`
  makes a model's weights *views* of those stacks, so nothing is copied per step;
* **warm starts and graphs** -- :class:`PowerSweep` keeps each group's right vectors between calls
  and can capture its steps in a CUDA graph (one launch for the whole sweep);
* **Gram squaring + certificate** -- :func:`certify_spectral_norms`: for each ``p x k`` matrix
  ``M`` (tall orientation) form ``G = M^T M`` in float64, square it ``s`` times (normalised by
  its trace) so that ``G^(2^s)`` is dominated by the top eigenvector, take that column ``x``,
  and bracket ``sigma_1`` by ``lower = ||M x|| / ||x||`` (a Rayleigh quotient, valid for *any*
  ``x``; round-off removed) and an ``upper`` certified by a float64 Cholesky factorisation of
  ``c I - G`` -- the same rigorous argument as :func:`normtheory.spectral.certify_upper_bound`
  (Higham's Gram error, Demmel/Rump's Cholesky perturbation), batched over layers with the same
  ``k``. Squaring damps each eigencomponent by ``(lambda_i/lambda_1)^(2^s)``: ``s`` squarings are
  ``2^s`` power steps for ``s`` matmuls, and a cluster of near-equal top eigenvalues does not
  hurt the Rayleigh quotient (its error is ``sum c_i^2 (lambda_1 - lambda_i) / sum c_i^2``).
  A layer whose certificate fails is redone by :func:`normtheory.spectral.spectral_norm_bracket`
  and reported in ``fallback`` -- nothing is assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from normtheory._validation import check_int_at_least, check_open_unit, check_tensor
from normtheory.spectral import _U64, _gamma, as_matrix, spectral_norm_bracket

__all__ = ["Group", "group_by_shape", "bind_groups", "PowerSweep", "power_sigma_history",
           "CertifiedNorms", "certify_spectral_norms", "blog_power_iteration"]


@dataclass
class Group:
    """Layers ``idx`` (positions in the input list) whose matrices are stacked in ``mats``."""

    idx: list[int]
    mats: torch.Tensor  # (b, m, n)


def group_by_shape(weights) -> list[Group]:
    """Stack the matrix views (``as_matrix``) of same-shape, same-dtype/device weights.

    The stacks are copies; use :func:`bind_groups` to make the weights views of them instead."""
    weights = list(weights)
    if not weights:
        raise ValueError("weights is empty")
    keys: dict = {}
    for i, w in enumerate(weights):
        check_tensor(w, f"weights[{i}]", min_ndim=2)
        m = as_matrix(w.detach())
        keys.setdefault((tuple(m.shape), m.dtype, m.device), []).append(i)
    return [Group(idx, torch.stack([as_matrix(weights[i].detach()) for i in idx]))
            for idx in keys.values()]


def bind_groups(params) -> list[Group]:
    """Re-home each parameter's storage into its group's stack, so that ``param`` *is*
    ``group.mats[j]`` (a view): batched reads and in-place updates of the stack act on the model
    with no copy. Values are unchanged. Call before building the optimizer."""
    params = list(params)
    groups = group_by_shape(params)
    for g in groups:
        for j, i in enumerate(g.idx):
            p = params[i]
            p.data = g.mats[j].view(p.shape)
    return groups


def _bmv(A: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Batched mat-vec ``(b, m, n) x (b, n) -> (b, m)``: one bmm on a GPU; a loop of ``mv`` on the
    CPU, where bmm with one column is two orders of magnitude slower (measured, torch 2.x)."""
    if A.is_cuda:
        return torch.bmm(A, x.unsqueeze(-1)).squeeze(-1)
    return torch.stack([a @ y for a, y in zip(A, x)])


def _unit(x):
    n = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    return x / n.clamp_min(torch.finfo(x.dtype).tiny), n.squeeze(-1)


class PowerSweep:
    r"""Warm-started batched power iteration over groups; one *sweep* is one step
    ``u = W v/||W v||, sigma = ||W^T u||, v = W^T u / sigma`` on every layer.

    ``sigma = u^T W v`` for the stored pair, so :meth:`rank_one_correct_` gives ``W'^T u = t v``
    exactly. ``sigma`` is a Rayleigh-type estimate; it is not a certified bound (use
    :func:`certify_spectral_norms` for that).

    No host synchronisation inside :meth:`step`. ``graph=True`` (CUDA only) captures
    ``steps_per_call`` steps in a CUDA graph on the first call and replays it afterwards.
    """

    def __init__(self, groups: list[Group], *, generator: torch.Generator | None = None,
                 graph: bool = False, steps_per_call: int = 1, targets: list[torch.Tensor] | None = None):
        check_int_at_least(steps_per_call, "steps_per_call", 1)
        self.groups = groups
        self.targets = targets  # if given, every call ends with rank_one_correct_(targets)
        self.v = [_unit(torch.randn(g.mats.shape[0], g.mats.shape[2], generator=generator)
                        .to(g.mats.device, g.mats.dtype))[0] for g in groups]
        self.u = [torch.zeros(g.mats.shape[:2], dtype=g.mats.dtype, device=g.mats.device) for g in groups]
        self.sigma = [torch.zeros(g.mats.shape[0], dtype=g.mats.dtype, device=g.mats.device) for g in groups]
        self.steps_per_call = steps_per_call
        self.graph = graph and groups[0].mats.is_cuda
        self._graph = None

    def _steps(self):
        for _ in range(self.steps_per_call):
            for j, g in enumerate(self.groups):
                u, _ = _unit(_bmv(g.mats, self.v[j]))
                v, s = _unit(_bmv(g.mats.transpose(1, 2), u))
                self.v[j].copy_(v)
                self.u[j].copy_(u)
                self.sigma[j].copy_(s)
        if self.targets is not None:
            self.rank_one_correct_(self.targets)

    @torch.no_grad()
    def step(self):
        """Run ``steps_per_call`` sweeps (asynchronously), then the correction if ``targets``."""
        if not self.graph:
            return self._steps()
        if self._graph is None:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                self._steps()  # warm-up outside capture
            torch.cuda.current_stream().wait_stream(stream)
            self._graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self._graph):
                self._steps()
        self._graph.replay()

    @torch.no_grad()
    def rank_one_correct_(self, targets: list[torch.Tensor]):
        """In place on the group stacks: ``W <- W + (t - sigma) u v^T`` (the blog's spectral
        Norm Scaling step) with the current pair; ``targets[j]`` is group ``j``'s ``(b,)``."""
        for j, g in enumerate(self.groups):
            scale = (targets[j] - self.sigma[j]).unsqueeze(-1) * self.u[j]
            g.mats.baddbmm_(scale.unsqueeze(-1), self.v[j].unsqueeze(-2))

    def sigmas(self, n_layers: int) -> torch.Tensor:
        """Current estimates in layer order (one host transfer)."""
        out = torch.empty(n_layers, dtype=self.sigma[0].dtype, device=self.sigma[0].device)
        for g, s in zip(self.groups, self.sigma):
            out[torch.tensor(g.idx, device=out.device)] = s
        return out


@torch.no_grad()
def power_sigma_history(weights, iters: int, *, dtype=torch.float64,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``(iters, n_layers)`` estimates ``||W v_k||`` after ``k = 1..iters`` power steps, grouped
    and batched on the weights' device, synchronising once at the end."""
    check_int_at_least(iters, "iters", 1)
    groups = group_by_shape([w.detach().to(dtype) for w in weights])
    sweep = PowerSweep(groups, generator=generator)
    hist = []
    for _ in range(iters):
        sweep.step()
        hist.append(sweep.sigmas(len(weights)))
    return torch.stack(hist).cpu()


def blog_power_iteration(W: torch.Tensor, iters: int = 500,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """The blog's method, layer by layer, as described: ``iters`` steps of ``v <- W^T W v /
    ||W^T W v||`` from a random ``v``, then ``sigma = ||W v||``. The baseline, kept plain."""
    M = as_matrix(W.detach())
    v = torch.randn(M.shape[1], generator=generator).to(M.device, M.dtype)
    for _ in range(iters):
        v = M.T @ (M @ v)
        v = v / torch.linalg.vector_norm(v)
    return torch.linalg.vector_norm(M @ v)


@dataclass
class CertifiedNorms:
    """``lower[i] <= sigma_1(W_i) <= upper[i]`` rigorously (float64 round-off included);
    ``certified[i]``: ``upper - lower <= rtol * lower``; ``fallback``: layers redone by
    :func:`normtheory.spectral.spectral_norm_bracket` because the fast certificate failed."""

    lower: torch.Tensor
    upper: torch.Tensor
    certified: torch.Tensor
    rtol: float
    squarings: int
    fallback: list[int] = field(default_factory=list)


def _tall(M):
    return M if M.shape[-2] >= M.shape[-1] else M.transpose(-2, -1)


@torch.no_grad()
def _certify_bucket(Ms: torch.Tensor, rtol: float, squarings: int):
    """Ms: (b, p, k) float64 tall stack (one shape). Returns (lower, upper, ok) float64 (b,)."""
    b, p, k = Ms.shape
    amax = Ms.abs().amax(dim=(1, 2))
    _, e = torch.frexp(amax)
    e = torch.where(amax > 0, e, torch.zeros_like(e))
    M = torch.ldexp(Ms, -e.to(Ms.dtype)[:, None, None])  # exact scaling by 2^-e per matrix
    G = M.transpose(1, 2) @ M
    diag = G.diagonal(dim1=1, dim2=2)
    tr = diag.sum(-1).clamp_min(torch.finfo(G.dtype).tiny)
    Q = G / tr[:, None, None]
    for _ in range(squarings):
        Q = Q @ Q
        Q = Q / Q.diagonal(dim1=1, dim2=2).sum(-1).clamp_min(torch.finfo(G.dtype).tiny)[:, None, None]
    j = Q.diagonal(dim1=1, dim2=2).argmax(-1)
    x = Q[torch.arange(b, device=Q.device), :, j]  # (b, k): the dominant column of G^(2^s)
    xn = torch.linalg.vector_norm(x, dim=-1)
    y = torch.linalg.vector_norm(_bmv(M, x), dim=-1)
    fro = torch.linalg.matrix_norm(M)
    # Rigorous lower bound on ||M x||/||x|| <= sigma_1: |fl(Mx) - Mx| <= gamma_k |M||x| so
    # ||Mx|| >= ||fl(Mx)|| - gamma_k ||M||_F ||x||; each computed 2-norm is within gamma_{len+2}.
    y_lo = y / (1 + _gamma(p + 2)) - _gamma(k) * fro * (1 + _gamma(p * k + 2)) * xn * (1 + _gamma(k + 2))
    lower = (y_lo / (xn * (1 + _gamma(k + 2)))).clamp_min(0) * (1 - 4 * _U64)
    # Upper bound: Cholesky of c I - G with c = (lower (1 + rtol/2))^2 (spectral.certify_upper_bound).
    c = (lower * (1 + rtol / 2)) ** 2
    A = -G
    A.diagonal(dim1=1, dim2=2).add_(c[:, None])
    _, info = torch.linalg.cholesky_ex(A)
    fro2 = fro ** 2 * (1 + 2 * _gamma(p))
    e1 = _gamma(p) * fro2
    e2 = _U64 * (c + diag.amax(-1))
    trA = A.diagonal(dim1=1, dim2=2).clamp_min(0).sum(-1) * (1 + _gamma(k))
    g = _gamma(k + 1)
    e3 = g / (1 - g) * trA
    upper = torch.sqrt(c * (1 + _U64) + e1 + e2 + e3) * (1 + 4 * _U64)
    ok = (info == 0) & (lower > 0)
    scale = torch.ldexp(torch.ones_like(lower), e.to(lower.dtype))
    return lower * scale, upper * scale, ok


def certify_spectral_norms(weights, *, rtol: float = 1e-6, squarings: int = 16) -> CertifiedNorms:
    """Certified ``sigma_1`` brackets of every weight's matrix view (see the module docstring).

    Layers are bucketed by their exact (tall) shape and handled with batched float64 matmuls and
    one batched Cholesky per bucket on the weights' device. ``rtol``: the target relative width
    of each bracket, ``0 < rtol < 1``; ``squarings``: ``s`` (``2^s`` effective power steps).
    """
    weights = list(weights)
    if not weights:
        raise ValueError("weights is empty")
    check_open_unit(rtol, "rtol")
    check_int_at_least(squarings, "squarings", 1)
    mats = [_tall(as_matrix(check_tensor(w, f"weights[{i}]", min_ndim=2).detach()))
            for i, w in enumerate(weights)]
    n = len(mats)
    dev = mats[0].device
    lower = torch.zeros(n, dtype=torch.float64, device=dev)
    upper = torch.zeros(n, dtype=torch.float64, device=dev)
    ok = torch.zeros(n, dtype=torch.bool, device=dev)
    buckets: dict = {}
    for i, M in enumerate(mats):
        buckets.setdefault(tuple(M.shape), []).append(i)
    for idx in buckets.values():
        lo, up, good = _certify_bucket(torch.stack([mats[i] for i in idx]).double(), rtol, squarings)
        where = torch.tensor(idx, device=dev)
        lower[where], upper[where], ok[where] = lo, up, good
    lower, upper, ok = lower.cpu(), upper.cpu(), ok.cpu()
    zero = torch.tensor([not bool(M.any()) for M in mats]) if not bool(ok.all()) else torch.zeros(n, dtype=torch.bool)
    fallback = [i for i in range(n) if not ok[i] and not zero[i]]
    for i in fallback:
        br = spectral_norm_bracket(mats[i], rtol=rtol)
        lower[i], upper[i] = br.lower, br.upper
    upper[zero] = 0.0
    lower[zero] = 0.0
    certified = ((upper - lower) <= rtol * lower) | (upper == 0)
    return CertifiedNorms(lower, upper, certified, rtol, squarings, fallback)
