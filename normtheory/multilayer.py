r"""Spectral norms of many layers at once: grouping, warm-started batched power sweeps, and the
certified all-layer sweep.

Built on :mod:`normtheory.spectral` (the one power iteration kernel, the one rank-one correction
and the one certificate); this module adds what makes a whole network fast:

* **grouping** -- layers whose matrix views share a shape are stacked into one ``(b, m, n)`` tensor
  (:func:`group_by_shape`) and iterated with batched products; :func:`bind_groups` makes a model's
  weights *views* of those stacks, so nothing is copied per step;
* **warm starts and graphs** -- :class:`PowerSweep` keeps each group's right vectors between calls
  and can capture its steps in a CUDA graph (one launch for the whole sweep);
* **certified sweep** -- :func:`certify_spectral_norms` is
  :func:`normtheory.spectral.certify_brackets` over every weight's matrix view (Gram squaring,
  Cholesky certificate, per-matrix fallback; see :mod:`normtheory.spectral.certify`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from normtheory._validation import check_int_at_least, check_open_unit, check_tensor
from normtheory.spectral import as_matrix
from normtheory.spectral.certify import DEFAULT_SQUARINGS, SpectralBracket, _certify
from normtheory.spectral.power import blog_power_iteration, power_steps, randn_on, rank_one_update_

__all__ = ["Group", "group_by_shape", "bind_groups", "PowerSweep", "power_sigma_history",
           "CertifiedNorms", "certify_spectral_norms", "blog_power_iteration"]

CertifiedNorms = SpectralBracket  # the one bracket type (kept name)


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


class PowerSweep:
    r"""Warm-started batched power iteration over groups; one *sweep* is one step
    ``u = W v/||W v||, v = W^T u/||W^T u||, sigma = ||W^T u||`` on every layer
    (:func:`normtheory.spectral.power.power_steps`).

    ``sigma = u^T W v`` for the stored pair, so :meth:`rank_one_correct_` gives ``W'^T u = t v``
    exactly. ``sigma`` is a Rayleigh-type estimate; it is not a certified bound (use
    :func:`certify_spectral_norms` for that). Inputs are checked here, once; :meth:`step`,
    :meth:`rank_one_correct_` and :meth:`sigmas` make no host synchronisation (index tensors are
    built at construction). ``graph=True`` (CUDA only) captures ``steps_per_call`` steps in a
    CUDA graph on the first call and replays it afterwards.
    """

    def __init__(self, groups: list[Group], *, generator: torch.Generator | None = None,
                 graph: bool = False, steps_per_call: int = 1, targets: list[torch.Tensor] | None = None):
        check_int_at_least(steps_per_call, "steps_per_call", 1)
        if not groups:
            raise ValueError("groups is empty")
        for j, g in enumerate(groups):
            check_tensor(g.mats, f"groups[{j}].mats", ndim=3)
        self.groups = groups
        if targets is not None:
            self._check_targets(targets)
        self.targets = targets  # if given, every call ends with rank_one_correct_(targets)
        self.v = [randn_on((g.mats.shape[0], g.mats.shape[2]), dtype=g.mats.dtype, device=g.mats.device,
                           generator=generator) for g in groups]
        self.v = [v / torch.linalg.vector_norm(v, dim=-1, keepdim=True) for v in self.v]
        self.u = [torch.zeros(g.mats.shape[:2], dtype=g.mats.dtype, device=g.mats.device) for g in groups]
        self.sigma = [torch.zeros(g.mats.shape[0], dtype=g.mats.dtype, device=g.mats.device) for g in groups]
        self.n_layers = sum(len(g.idx) for g in groups)
        self._where = [torch.tensor(g.idx, device=g.mats.device) for g in groups]
        self.steps_per_call = steps_per_call
        self.graph = graph and groups[0].mats.is_cuda
        self._graph = None

    def _steps(self):
        for j, g in enumerate(self.groups):
            s, u, v = power_steps(g.mats, self.v[j], self.steps_per_call)
            self.v[j].copy_(v)
            self.u[j].copy_(u)
            self.sigma[j].copy_(s)
        if self.targets is not None:
            self.rank_one_correct_(self.targets, check=False)

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

    def _check_targets(self, targets):
        if len(targets) != len(self.groups):
            raise ValueError(f"targets has {len(targets)} entries for {len(self.groups)} groups")
        for j, (t, g) in enumerate(zip(targets, self.groups)):
            check_tensor(t, f"targets[{j}]", ndim=1)
            if t.shape[0] != g.mats.shape[0] or bool((t <= 0).any()):
                raise ValueError(f"targets[{j}] must hold {g.mats.shape[0]} values > 0")

    @torch.no_grad()
    def rank_one_correct_(self, targets: list[torch.Tensor], *, check: bool = True):
        """In place on the group stacks: ``W <- W + (t - sigma) u v^T`` (the blog's spectral
        Norm Scaling step, :func:`normtheory.spectral.rank_one_update_`) with the current pair;
        ``targets[j]`` is group ``j``'s ``(b,)``, finite and > 0 (checked unless ``check=False``,
        which skips the host synchronisation; the constructor's targets are checked once)."""
        if check:
            self._check_targets(targets)
        for j, g in enumerate(self.groups):
            rank_one_update_(g.mats, targets[j] - self.sigma[j], self.u[j], self.v[j])

    def sigmas(self, n_layers: int | None = None) -> torch.Tensor:
        """Current estimates in layer order, on the weights' device (no host synchronisation)."""
        if n_layers is not None and n_layers != self.n_layers:
            raise ValueError(f"n_layers={n_layers}, but the sweep holds {self.n_layers} layers")
        out = torch.empty(self.n_layers, dtype=self.sigma[0].dtype, device=self.sigma[0].device)
        for where, s in zip(self._where, self.sigma):
            out[where] = s
        return out


@torch.no_grad()
def power_sigma_history(weights, iters: int, *, dtype=torch.float64,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``(iters, n_layers)`` estimates after ``k = 1..iters`` power steps, grouped and batched on
    the weights' device, synchronising once at the end."""
    check_int_at_least(iters, "iters", 1)
    weights = list(weights)
    groups = group_by_shape([w.detach().to(dtype) for w in weights])
    sweep = PowerSweep(groups, generator=generator)
    hist = []
    for _ in range(iters):
        sweep.step()
        hist.append(sweep.sigmas())
    return torch.stack(hist).cpu()


def certify_spectral_norms(weights, *, rtol: float = 1e-6, squarings: int = DEFAULT_SQUARINGS) -> SpectralBracket:
    """Certified ``sigma_1`` brackets of every weight's matrix view:
    :func:`normtheory.spectral.certify_brackets` (batched per shape on the weights' device,
    per-matrix fallback listed in ``fallback``). ``rtol``: target relative width, in (0, 1);
    ``squarings``: float32 squarings of each Gram matrix (``2^s`` effective power steps)."""
    weights = list(weights)
    if not weights:
        raise ValueError("weights is empty")
    check_open_unit(rtol, "rtol")
    check_int_at_least(squarings, "squarings", 0)
    mats = []
    for i, w in enumerate(weights):   # the one check per weight (finite, floating or complex, 2+-D)
        check_tensor(w, f"weights[{i}]", min_ndim=2)
        mats.append(w.detach().reshape(w.shape[0], -1))
    return _certify(mats, rtol=rtol, squarings=squarings)
