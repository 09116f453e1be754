r"""Where float arithmetic gives up as normalized weights shrink: the thresholds the paper's
"gradient float overflow" (Secs. 3.2, 4.2, Fig. 6) is about, measured with torch's own kernels.

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``), Secs. 3.2, 4.2 and Fig. 6.

The library's :mod:`normtheory.reparam` scales its norms so that they neither under- nor
overflow; the paper's networks used torch's kernels, which do not. So the thresholds here are
measured on the formulas as torch evaluates them:

* :func:`torch_weight_norm`: ``torch._weight_norm(v, g, 0)``, the kernel behind
  ``torch.nn.utils.weight_norm`` and ``parametrizations.weight_norm`` (g = 1);
* :func:`torch_weight_standardization`: ``(W - mean) / std`` with torch's population ``std``, as
  Eq. (7) (the WS paper's code adds 1e-5 to the std, Eq. (23); that is another formula).

:func:`shrink_threshold` scales a weight down by powers of two until the forward value or the
gradient of ``<N(W), R>`` (``R`` a fixed upstream gradient) is no longer finite, and returns the
norm (or spread) at that point. :func:`adam_second_moment_bracket` checks the gradient size at
which torch's Adam stores an infinite second moment after one step, and :func:`optimizer_step_after`
what the step then does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from normtheory._validation import check_real_tensor

__all__ = ["torch_weight_norm", "torch_weight_standardization", "ShrinkThreshold", "shrink_threshold",
           "adam_second_moment_bracket", "optimizer_step_after"]

Normalizer = Callable[[torch.Tensor], torch.Tensor]


def torch_weight_norm(v: torch.Tensor) -> torch.Tensor:
    """``v / ||v||`` per output row, as torch's weight-norm kernel computes it (g = 1)."""
    g = torch.ones((v.shape[0],) + (1,) * (v.ndim - 1), dtype=v.dtype)
    return torch._weight_norm(v, g, 0)


def torch_weight_standardization(w: torch.Tensor) -> torch.Tensor:
    """``(W - mean) / std`` per output row with torch's population std (Eq. (7), no eps)."""
    dims = tuple(range(1, w.ndim))
    centered = w - w.mean(dim=dims, keepdim=True)
    return centered / w.std(dim=dims, keepdim=True, unbiased=False)


@dataclass(frozen=True)
class ShrinkThreshold:
    """Result of :func:`shrink_threshold`.

    Attributes:
        size_at_failure: the largest per-row norm (``measure="norm"``) or population std
            (``measure="std"``) at which something was non-finite (computed in float64 from the
            scaled weight).
        size_last_finite: the same at the last scale where everything was finite.
        what: ``"forward"`` or ``"gradient"``: what became non-finite first.
        grad_max_last_finite: the largest |gradient| entry at the last finite scale.
        exponent: the power of two the weight was scaled by at failure.
    """

    size_at_failure: float
    size_last_finite: float
    what: str
    grad_max_last_finite: float
    exponent: int


def _size(w: torch.Tensor, measure: str) -> float:
    w64 = w.double().reshape(w.shape[0], -1)
    if measure == "norm":
        return float(torch.linalg.vector_norm(w64, dim=1).min())
    return float(w64.std(dim=1, unbiased=False).min())


def _failure(normalize: Normalizer, weight: torch.Tensor, r: torch.Tensor, j: int, dtype: torch.dtype):
    """(what failed or None, the scaled weight, max |gradient|) at the scale 2^-j."""
    w = (weight.double() * math.ldexp(1.0, -j)).to(dtype)
    if not bool(torch.all(w.reshape(w.shape[0], -1).abs().amax(dim=1) > 0)):
        return "underflow", w, math.nan
    w.requires_grad_(True)
    out = normalize(w)
    if not bool(torch.isfinite(out).all()):
        return "forward", w.detach(), math.nan
    (g,) = torch.autograd.grad((out * r).sum(), w)
    if not bool(torch.isfinite(g).all()):
        return "gradient", w.detach(), math.nan
    return None, w.detach(), float(g.abs().max())


def shrink_threshold(normalize: Normalizer, weight: torch.Tensor, upstream: torch.Tensor, *,
                     dtype: torch.dtype = torch.float32, measure: str = "norm",
                     max_halvings: int = 1100) -> ShrinkThreshold:
    """The first scale ``2^-j`` (bisection over j; failing is monotone in j for these formulas) at
    which ``normalize`` or the gradient of ``<normalize(W), upstream>`` with respect to W, evaluated
    in ``dtype``, has a non-finite entry.

    Raises:
        ValueError: ``measure`` not "norm"/"std"; shapes differ; the unscaled weight already fails;
            nothing fails before a row underflows to zero.
    """
    check_real_tensor(weight, "weight")
    check_real_tensor(upstream, "upstream")
    if measure not in ("norm", "std"):
        raise ValueError(f"measure must be 'norm' or 'std', got {measure!r}")
    if upstream.shape != weight.shape:
        raise ValueError(f"upstream must have the weight's shape {tuple(weight.shape)}, got {tuple(upstream.shape)}")
    r = upstream.to(dtype)
    if _failure(normalize, weight, r, 0, dtype)[0] is not None:
        raise ValueError("the unscaled weight already gives a non-finite value")
    lo, hi = 0, max_halvings  # lo: finite; hi: fails (checked below)
    what_hi = _failure(normalize, weight, r, hi, dtype)[0]
    if what_hi is None:
        raise ValueError(f"nothing became non-finite within {max_halvings} halvings")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _failure(normalize, weight, r, mid, dtype)[0] is None:
            lo = mid
        else:
            hi = mid
    what, w_fail, _ = _failure(normalize, weight, r, hi, dtype)
    if what == "underflow":
        raise ValueError("a row underflowed to zero before the forward value or the gradient failed")
    _, w_ok, grad_ok = _failure(normalize, weight, r, lo, dtype)
    return ShrinkThreshold(_size(w_fail, measure), _size(w_ok, measure), what, grad_ok, hi)


def optimizer_step_after(make_optimizer: Callable[[list], torch.optim.Optimizer], grad_value: float, *,
                         dtype: torch.dtype = torch.float32, steps: int = 1) -> dict:
    """One parameter (value 1) and ``steps`` optimizer steps with the gradient ``grad_value``: the
    parameter after them and the optimizer's state (all finite or not)."""
    p = torch.nn.Parameter(torch.ones(1, dtype=dtype))
    opt = make_optimizer([p])
    for _ in range(steps):
        p.grad = torch.full((1,), grad_value, dtype=dtype)
        opt.step()
    state = {k: float(v.reshape(-1)[0]) for k, v in opt.state[p].items() if torch.is_tensor(v) and v.numel() == 1
             and k != "step"}
    return {"param": float(p.detach()[0]), "state": state}


def adam_second_moment_bracket(*, dtype: torch.dtype = torch.float32, beta2: float = 0.999,
                               rel: float = 0.01) -> dict:
    r"""The gradient size at which torch's Adam stores an infinite second moment after one step:
    predicted ``g* = sqrt(max / (1 - beta2))`` (``(1 - beta2) g^2`` reaches the dtype's largest value),
    and torch's ``exp_avg_sq`` measured just below (``(1 - rel) g*``: finite) and above (``(1 + rel) g*``:
    inf). Also the gradient size at which SGD's momentum buffer overflows: the dtype's largest value."""
    big = float(torch.finfo(dtype).max)
    g_star = math.sqrt(big / (1 - beta2))
    make = lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, beta2))  # noqa: E731
    below = optimizer_step_after(make, (1 - rel) * g_star, dtype=dtype)
    above = optimizer_step_after(make, (1 + rel) * g_star, dtype=dtype)
    return {"predicted": g_star, "finite_below": math.isfinite(below["state"]["exp_avg_sq"]),
            "inf_above": math.isinf(above["state"]["exp_avg_sq"]), "param_after_overflow": above["param"],
            "sgd_buffer_overflow": big, "ratio_sgd_over_adam": big / g_star}
