r"""L2 and epsilon-shifted L2 regularizers for normalized weights, with closed-form gradients.

Source: Li, Chen, Xia, Yang, "Understanding the Disharmony between Weight Normalization Family and
Weight Decay: epsilon-shifted L2 Regularizer" (``001_b5a1945cc2ea1296.txt``), Eqs. (4), (25)-(28).

For one slice :math:`W \in \mathbb R^n` (one output unit: every dimension except ``dim``):

* plain L2 (Eq. 4): :math:`R(W) = \tfrac12 \lambda \lVert W \rVert^2`, gradient :math:`\lambda W`.
* eps-shifted L2 for weight normalization (Eq. 25), with :math:`k = \lVert W \rVert`:
  :math:`R(W) = \tfrac12 \lambda (k - \epsilon)^2`, gradient (Eq. 27)
  :math:`\lambda (1 - \epsilon / k) W`.
* eps-shifted L2 for weight standardization (Eq. 26), with mean :math:`m` and population standard
  deviation :math:`v = \lVert W - m \rVert / \sqrt n`:
  :math:`R(W) = \tfrac12 \lambda n (m^2 + (v - \epsilon)^2)`, gradient (Eq. 28)
  :math:`\lambda((1 - \epsilon / v) W + (\epsilon / v)\, m)`.

With :math:`\epsilon = 0` both shifted forms equal the plain L2 (for WS because
:math:`n(m^2 + v^2) = \lVert W \rVert^2`). Penalties are summed over slices and returned as a scalar
tensor usable in a loss; the gradients are tensors of the weight's shape.

:class:`DecoupledDecay` applies the same gradients as a decoupled (AdamW-style) step
:math:`W \leftarrow W - \eta_t \nabla R(W)` outside the optimizer, with the optimizer's current
learning rate :math:`\eta_t`, so it works with any ``torch.optim`` optimizer. For the WN form this
moves every slice's norm to :math:`k - \eta\lambda(k - \epsilon)` (the direction is unchanged); for the
WS form the mean shrinks by :math:`1 - \eta\lambda` and the spread moves to
:math:`v - \eta\lambda (v - \epsilon)`. Both need :math:`\eta\lambda < 1`: at
:math:`\eta\lambda \ge 1` the factor :math:`1 - \eta\lambda` is zero or negative and the step
would zero or flip the weight, so :meth:`DecoupledDecay.step` refuses it.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

from normtheory._validation import check_nonnegative, check_positive, check_real_tensor

__all__ = [
    "FORMS",
    "l2_penalty",
    "l2_penalty_grad",
    "eps_shifted_l2",
    "eps_shifted_l2_grad",
    "slice_stats",
    "DecoupledDecay",
    "decoupled_decay_update_",
]

FORMS = ("wn", "ws")


def _reduce_dims(w: torch.Tensor, dim: int | None) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(w.ndim))
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int or None, got {type(dim).__name__}")
    if not -w.ndim <= dim < w.ndim:
        raise ValueError(f"dim={dim} is out of range for weight of shape {tuple(w.shape)}")
    dim %= w.ndim
    dims = tuple(d for d in range(w.ndim) if d != dim)
    if not dims:
        raise ValueError("weight: a 1-D weight with dim=0 has slices of one entry; use dim=None")
    return dims


def _check_form(form: str) -> str:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return form


def slice_stats(weight: torch.Tensor, *, dim: int | None = 0) -> dict[str, torch.Tensor]:
    """Per-slice statistics (keepdim shapes): ``norm`` k, ``mean`` m, ``std`` v and the count ``n``.

    Half-precision weights are summarised in float32 (a float16 sum of squares overflows at 65504).
    """
    check_real_tensor(weight, "weight")
    dims = _reduce_dims(weight, dim)
    if weight.dtype in (torch.float16, torch.bfloat16):
        weight = weight.float()
    n = math.prod(weight.shape[d] for d in dims)
    mean = weight.mean(dim=dims, keepdim=True)
    centered = weight - mean
    # Scaled norms (divide by the peak first) so tiny or huge weights neither under- nor overflow.
    def scaled_norm(x):
        peak = x.detach().abs().amax(dim=dims, keepdim=True)
        peak = torch.where(peak > 0, peak, torch.ones_like(peak))
        return peak * torch.linalg.vector_norm(x / peak, dim=dims, keepdim=True)

    return {"norm": scaled_norm(weight), "mean": mean, "std": scaled_norm(centered) / math.sqrt(n),
            "n": torch.tensor(n)}


def _lam_eps(lam, eps) -> tuple[float, float]:
    return check_nonnegative(lam, "lam"), check_nonnegative(eps, "eps")


def l2_penalty(weight: torch.Tensor, *, lam: float) -> torch.Tensor:
    r"""Plain L2: :math:`\tfrac12 \lambda \lVert W \rVert^2` over the whole tensor (paper Eq. (4)).

    Half-precision weights are summed in float32 (the result is float32): a float16 sum of squares
    overflows at 65504, already for 2 entries of 200.
    """
    check_real_tensor(weight, "weight")
    lam = check_nonnegative(lam, "lam")
    if weight.dtype in (torch.float16, torch.bfloat16):
        weight = weight.float()
    return 0.5 * lam * weight.square().sum()


def l2_penalty_grad(weight: torch.Tensor, *, lam: float) -> torch.Tensor:
    r"""Gradient of :func:`l2_penalty`: :math:`\lambda W` (classic weight decay)."""
    check_real_tensor(weight, "weight")
    lam = check_nonnegative(lam, "lam")
    return lam * weight


def _guard_spread(stats, form: str, eps: float) -> None:
    what = "norm" if form == "wn" else "standard deviation"
    key = "norm" if form == "wn" else "std"
    if eps > 0 and bool((stats[key].detach() == 0).any()):
        raise ValueError(f"weight has a slice with zero {what}; the eps-shifted penalty's gradient "
                         f"lambda*eps/{key} is undefined there")


def eps_shifted_l2(weight: torch.Tensor, *, lam: float, eps: float, dim: int | None = 0,
                   form: str = "wn") -> torch.Tensor:
    r"""eps-shifted L2, summed over slices: Eq. (25) (``form="wn"``) or Eq. (26) (``form="ws"``).

    ``wn``: :math:`\sum_j \tfrac12 \lambda (\lVert W_j \rVert - \epsilon)^2`;
    ``ws``: :math:`\sum_j \tfrac12 \lambda n (m_j^2 + (v_j - \epsilon)^2)`.
    ``dim`` is the kept (output-channel) dimension as in :mod:`normtheory.reparam`; ``None`` treats
    the tensor as one slice. Differentiable with autograd; its gradient equals
    :func:`eps_shifted_l2_grad`.

    Raises:
        TypeError/ValueError: non-float or non-finite weight, ``lam < 0``, ``eps < 0``, unknown
        ``form``, bad ``dim``; with ``eps > 0``, a slice of zero norm (WN) or zero spread (WS), where
        the gradient is undefined.
    """
    check_real_tensor(weight, "weight")
    lam, eps = _lam_eps(lam, eps)
    _check_form(form)
    stats = slice_stats(weight, dim=dim)
    _guard_spread(stats, form, eps)
    if form == "wn":
        return 0.5 * lam * (stats["norm"] - eps).square().sum()
    n = float(stats["n"])
    return 0.5 * lam * n * (stats["mean"].square() + (stats["std"] - eps).square()).sum()


def eps_shifted_l2_grad(weight: torch.Tensor, *, lam: float, eps: float, dim: int | None = 0,
                        form: str = "wn") -> torch.Tensor:
    r"""Closed-form gradient of :func:`eps_shifted_l2`.

    ``wn`` (Eq. 27): :math:`\lambda (1 - \epsilon/\lVert W_j \rVert) W`;
    ``ws`` (Eq. 28): :math:`\lambda ((1 - \epsilon/v_j) W + (\epsilon/v_j) m_j)`.
    Never modifies ``weight``; no autograd graph is needed.
    """
    check_real_tensor(weight, "weight")
    lam, eps = _lam_eps(lam, eps)
    _check_form(form)
    with torch.no_grad():
        stats = slice_stats(weight, dim=dim)
        _guard_spread(stats, form, eps)
        if eps == 0:
            return lam * weight.detach().clone()
        if form == "wn":
            return (lam * (1 - eps / stats["norm"]) * weight).to(weight.dtype)
        ratio = eps / stats["std"]
        return (lam * ((1 - ratio) * weight + ratio * stats["mean"])).to(weight.dtype)


class DecoupledDecay:
    r"""Decoupled (AdamW-style) plain or eps-shifted weight decay for any optimizer.

    Call :meth:`step` once per training step (before or after ``optimizer.step()``, as AdamW does
    before its update); each weight moves by :math:`-\eta_t \nabla R(W)` with :math:`\eta_t` the
    learning rate of the optimizer's parameter group that holds it (so schedulers apply), or the
    ``lr`` passed to :meth:`step`.

    Args:
        params: the normalized weights to decay (tensors with ``requires_grad``).
        lam: :math:`\lambda \ge 0`.
        eps: :math:`\epsilon \ge 0`; 0 gives classic decoupled decay :math:`W \leftarrow (1-\eta\lambda) W`.
        form: ``"wn"`` (Eq. 27) or ``"ws"`` (Eq. 28).
        dim: kept dimension (output channel) or ``None``.
        optimizer: where to read the learning rate from (optional if ``lr`` is given to ``step``).
    """

    def __init__(self, params: Iterable[torch.Tensor], *, lam: float, eps: float = 0.0,
                 form: str = "wn", dim: int | None = 0, optimizer: torch.optim.Optimizer | None = None):
        self.params = list(params)
        if not self.params:
            raise ValueError("params is empty")
        for i, p in enumerate(self.params):
            check_real_tensor(p, f"params[{i}]")
        self.lam, self.eps = _lam_eps(lam, eps)
        self.form = _check_form(form)
        for p in self.params:
            _reduce_dims(p, dim)  # a bad dim fails here, not at the first step
        self.dim = dim
        if optimizer is not None and not hasattr(optimizer, "param_groups"):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer

    def _lr_of(self, p: torch.Tensor) -> float:
        for group in self.optimizer.param_groups:
            if any(q is p for q in group["params"]):
                return float(group["lr"])
        raise ValueError("a decayed parameter is not in any of the optimizer's param groups")

    def step(self, lr: float | None = None) -> None:
        r"""Move every weight by :math:`-\eta\nabla R(W)` in place (outside autograd).

        Raises:
            ValueError: no ``lr`` and no optimizer; ``lr <= 0``; :math:`\eta\lambda \ge 1` (the step
            would zero or flip the weight), checked for every weight before any is changed.
        """
        if lr is None and self.optimizer is None:
            raise ValueError("lr must be given when DecoupledDecay has no optimizer")
        if lr is not None:
            check_positive(lr, "lr")
        etas = [lr if lr is not None else check_positive(self._lr_of(p), "optimizer lr") for p in self.params]
        for eta in etas:
            if not eta * self.lam < 1:
                raise ValueError(f"lr * lam must be < 1 (the decay multiplies W by 1 - lr*lam), got "
                                 f"lr = {eta:g}, lam = {self.lam:g}")
        for p, eta in zip(self.params, etas):
            decoupled_decay_update_(p, eta, lam=self.lam, eps=self.eps, dim=self.dim, form=self.form)


def decoupled_decay_update_(weight: torch.Tensor, lr: float, *, lam: float, eps: float,
                            dim: int | None, form: str) -> None:
    r"""In place: :math:`W \leftarrow W - \eta \nabla R(W)` with the gradient of
    :func:`eps_shifted_l2_grad` (a plain function, so that it can be tested and mutated on its own)."""
    with torch.no_grad():
        weight.sub_(lr * eps_shifted_l2_grad(weight, lam=lam, eps=eps, dim=dim, form=form))
