r"""Training dynamics of normalized weights: effective learning rate and Theorem 1's schedules.

Source: Li, Chen, Xia, Yang (``001_b5a1945cc2ea1296.txt``), Eqs. (14)-(20) and Theorem 1.

Effective learning rate
    For a scale-invariant loss :math:`\mathcal L(W) = \mathcal L(W/\lVert W\rVert)` the gradient
    scales as :math:`1/\lVert W \rVert`, so an SGD step of size :math:`\eta` moves :math:`W` by
    :math:`\eta/\lVert W\rVert` times a quantity that depends only on the direction (the paper's
    effective learning rate, Eq. (15); :math:`\eta/v` with the standard deviation :math:`v` for WS,
    Eq. (16)), and moves the *direction* :math:`W/\lVert W\rVert` by :math:`\eta/\lVert W\rVert^2`
    times such a quantity (the angular rate, ``power=2``).

Theorem 1 (plain SGD)
    SGD with coupled L2 decay, :math:`W_{t+1} = (1-\eta\lambda) W_t - \eta \nabla\mathcal L(W_t)`, and
    SGD without decay with learning rate :math:`\eta d_t` at step :math:`t = 0, 1, \dots` give the same
    normalized weights when :math:`W_t = c_t U_t` with :math:`c_t = p_0 (1-\eta\lambda)^t` and
    :math:`d_t = 1/(c_t c_{t+1}) = 1/(p_0^2 (1-\eta\lambda)^{2t+1})`. (The paper's closing sentence
    lists :math:`d_t = 1/(p_t^2(1-\eta\lambda))` for steps :math:`t = 1..T`, which is this sequence
    shifted by one step; see claim ``PAPER-thm1-schedule``.)

Momentum SGD (beyond the paper)
    torch's heavy ball (buffer :math:`b \leftarrow \mu b + g + \lambda W`, :math:`W \leftarrow W - \eta
    b`, zero initial buffer) is reproduced without decay by the learning rate :math:`\eta/(c_t
    c_{t+1})` with :math:`c_0 = p_0`, :math:`c_1 = (1-\eta\lambda)p_0` and
    :math:`c_{t+1} = (1+\mu-\eta\lambda) c_t - \mu c_{t-1}`, as long as every :math:`c_t > 0` (which
    fails for :math:`\eta\lambda > (1-\sqrt\mu)^2`, where the recurrence oscillates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from normtheory._validation import check_int_at_least, check_nonnegative, check_positive, check_tensor

__all__ = [
    "effective_learning_rate",
    "theorem1_scales",
    "theorem1_multipliers",
    "theorem1_lr_lambda",
    "momentum_scales",
    "momentum_multipliers",
    "momentum_lr_lambda",
    "MomentumSchedule",
]


def effective_learning_rate(lr: float, weight: torch.Tensor, *, dim: int | None = 0,
                            form: str = "wn", power: int = 1) -> torch.Tensor:
    r"""Per-slice effective learning rate :math:`\eta / s^{p}` of a normalized weight.

    ``s`` is the slice's norm :math:`\lVert W_j\rVert` (``form="wn"``, paper Eq. (15)) or its population
    standard deviation :math:`v_j` (``form="ws"``, Eq. (16)); ``power=1`` is the paper's definition
    (size of the step in :math:`W`), ``power=2`` the rate at which the direction moves (Lecture 5's
    :math:`\alpha/\lVert w\rVert^2`). Returns a tensor with one entry per slice along ``dim``
    (a 0-d tensor for ``dim=None``).
    """
    from normtheory.regularizers import slice_stats

    lr = check_positive(lr, "lr")
    if form not in ("wn", "ws"):
        raise ValueError(f"form must be 'wn' or 'ws', got {form!r}")
    if power not in (1, 2):
        raise ValueError(f"power must be 1 or 2, got {power!r}")
    with torch.no_grad():
        stats = slice_stats(weight, dim=dim)
        s = stats["norm"] if form == "wn" else stats["std"]
        if bool((s == 0).any()):
            raise ValueError(f"weight has a slice with zero {'norm' if form == 'wn' else 'spread'}: "
                             "its effective learning rate is infinite")
        return (lr / s**power).reshape(-1) if dim is not None else (lr / s**power).reshape(())


def _check_decay(lr, lam) -> float:
    lr = check_positive(lr, "lr")
    lam = check_nonnegative(lam, "lam")
    if not lr * lam < 1:
        raise ValueError(f"lr * lam must be < 1 (each step multiplies W by 1 - lr*lam), got {lr * lam}")
    return 1.0 - lr * lam


def theorem1_scales(steps: int, *, lr: float, lam: float, p0: float = 1.0) -> np.ndarray:
    r""":math:`c_t = p_0 (1-\eta\lambda)^t` for :math:`t = 0..steps` (Eq. (20)): W_decay = c_t W_plain."""
    check_int_at_least(steps, "steps", 0)
    q = _check_decay(lr, lam)
    p0 = check_positive(p0, "p0")
    return p0 * q ** np.arange(steps + 1, dtype=np.float64)


def theorem1_multipliers(steps: int, *, lr: float, lam: float, p0: float = 1.0) -> np.ndarray:
    r"""Learning-rate multipliers :math:`d_t = 1/(c_t c_{t+1})` for steps :math:`t = 0..steps-1`."""
    check_int_at_least(steps, "steps", 1)
    c = theorem1_scales(steps, lr=lr, lam=lam, p0=p0)
    return 1.0 / (c[:-1] * c[1:])


def theorem1_lr_lambda(*, lr: float, lam: float, p0: float = 1.0) -> Callable[[int], float]:
    r"""A ``torch.optim.lr_scheduler.LambdaLR`` factor: step ``t`` -> :math:`d_t`.

    Use with the base learning rate ``lr`` on a *decay-free* SGD optimizer and call
    ``scheduler.step()`` after every ``optimizer.step()``. Computed in log space, so it raises
    (rather than returning ``inf``) once :math:`d_t` leaves the float64 range.
    """
    q = _check_decay(lr, lam)
    p0 = check_positive(p0, "p0")

    def factor(t: int) -> float:
        log_d = -(2 * t + 1) * math.log(q) - 2 * math.log(p0)
        if log_d > 709:
            raise OverflowError(f"Theorem 1 multiplier at step {t} exceeds the float64 range")
        return math.exp(log_d)

    return factor


def momentum_scales(steps: int, *, lr: float, lam: float, momentum: float, p0: float = 1.0) -> np.ndarray:
    r""":math:`c_0..c_{steps}` of the momentum equivalence (module docstring); may turn non-positive."""
    check_int_at_least(steps, "steps", 0)
    q = _check_decay(lr, lam)
    mu = check_nonnegative(momentum, "momentum")
    if not mu < 1:
        raise ValueError(f"momentum must be < 1, got {momentum}")
    p0 = check_positive(p0, "p0")
    c = np.empty(steps + 1)
    c[0] = p0
    if steps >= 1:
        c[1] = q * p0
    for t in range(1, steps):
        c[t + 1] = (1 + mu - lr * lam) * c[t] - mu * c[t - 1]
    return c


@dataclass(frozen=True)
class MomentumSchedule:
    """Multipliers d_t (t = 0..steps-1), the scales c_t, and whether every c_t stays positive."""

    multipliers: np.ndarray
    scales: np.ndarray
    valid: bool
    first_nonpositive: int | None


def momentum_multipliers(steps: int, *, lr: float, lam: float, momentum: float,
                         p0: float = 1.0) -> MomentumSchedule:
    r"""Learning-rate multipliers :math:`1/(c_t c_{t+1})` making decay-free heavy-ball SGD reproduce
    heavy-ball SGD with coupled L2 decay (zero initial buffers). ``valid`` is False when some
    :math:`c_t \le 0`: then no positive schedule exists along this construction."""
    check_int_at_least(steps, "steps", 1)
    c = momentum_scales(steps, lr=lr, lam=lam, momentum=momentum, p0=p0)
    bad = np.nonzero(c <= 0)[0]
    first = int(bad[0]) if bad.size else None
    with np.errstate(divide="ignore"):
        d = 1.0 / (c[:-1] * c[1:])
    return MomentumSchedule(multipliers=d, scales=c, valid=first is None, first_nonpositive=first)


def momentum_lr_lambda(steps: int, *, lr: float, lam: float, momentum: float,
                       p0: float = 1.0) -> Callable[[int], float]:
    """A ``LambdaLR`` factor for the momentum equivalence over ``steps`` steps; raises if invalid."""
    # one extra entry: LambdaLR evaluates the factor once more after the last optimizer step
    sched = momentum_multipliers(steps + 1, lr=lr, lam=lam, momentum=momentum, p0=p0)
    if not sched.valid:
        raise ValueError(f"no positive schedule: c_t <= 0 at t = {sched.first_nonpositive} "
                         f"(lr*lam = {lr * lam:g} > (1 - sqrt(momentum))^2 = {(1 - momentum**0.5)**2:g}?)")
    d = sched.multipliers

    def factor(t: int) -> float:
        if not 0 <= t < len(d):
            raise IndexError(f"step {t} is outside the schedule's {len(d)} steps")
        return float(d[t])

    return factor
