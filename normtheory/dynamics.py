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

from normtheory._validation import check_int_at_least, check_nonnegative, check_positive

# log of the largest and of the smallest normal float64: a schedule value outside is not
# representable (inf, 0, or a subnormal with lost digits), and is refused rather than returned.
_LOG_MAX = math.log(float(np.finfo(np.float64).max))
_LOG_TINY = math.log(float(np.finfo(np.float64).tiny))


def _exp_in_range(log_values: np.ndarray, what: str) -> np.ndarray:
    """``exp(log_values)``, raising ``OverflowError`` (naming the first step) when an entry would
    leave the normal float64 range. NaN entries (steps after a schedule ended) stay NaN."""
    bad = np.nonzero((log_values > _LOG_MAX) | (log_values < _LOG_TINY))[0]
    if bad.size:
        raise OverflowError(f"{what} at step {int(bad[0])} leaves the float64 range "
                            f"(its log is {float(log_values[bad[0]]):.4g}); use fewer steps")
    return np.exp(log_values)

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
    if isinstance(power, bool) or power not in (1, 2):
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
    t = np.arange(steps + 1, dtype=np.float64)
    _exp_in_range(math.log(p0) + t * math.log(q), "c_t")  # raises when some c_t leaves the range
    return p0 * q**t  # the direct product: exact where it can be (powers of two), else 1-2 roundings


def theorem1_multipliers(steps: int, *, lr: float, lam: float, p0: float = 1.0) -> np.ndarray:
    r"""Learning-rate multipliers :math:`d_t = 1/(c_t c_{t+1})` for steps :math:`t = 0..steps-1`.

    Computed in log space, :math:`\log d_t = -(2t+1)\log(1-\eta\lambda) - 2\log p_0`; raises
    ``OverflowError`` (rather than returning ``inf`` or 0) once :math:`d_t` leaves the float64 range.
    """
    check_int_at_least(steps, "steps", 1)
    q = _check_decay(lr, lam)
    p0 = check_positive(p0, "p0")
    t = np.arange(steps, dtype=np.float64)
    via_log = _exp_in_range(-(2 * t + 1) * math.log(q) - 2 * math.log(p0), "Theorem 1 multiplier d_t")
    with np.errstate(over="ignore", under="ignore"):
        direct = q ** -(2 * t + 1) / p0 / p0  # more accurate, but its intermediate may leave the range
    return np.where(np.isfinite(direct) & (direct > 0), direct, via_log)


def theorem1_lr_lambda(*, lr: float, lam: float, p0: float = 1.0) -> Callable[[int], float]:
    r"""A ``torch.optim.lr_scheduler.LambdaLR`` factor: step ``t`` -> :math:`d_t`.

    Use with the base learning rate ``lr`` on a *decay-free* SGD optimizer and call
    ``scheduler.step()`` after every ``optimizer.step()``. Computed in log space, so it raises
    (rather than returning ``inf``) once :math:`d_t` leaves the float64 range.
    """
    q = _check_decay(lr, lam)
    p0 = check_positive(p0, "p0")

    def factor(t: int) -> float:
        check_int_at_least(t, "t", 0)
        log_d = -(2 * t + 1) * math.log(q) - 2 * math.log(p0)
        return float(_exp_in_range(np.array([log_d]), f"Theorem 1 multiplier d_t (t = {t})")[0])

    return factor


def _momentum_ratios(steps: int, *, lr: float, lam: float, momentum: float) -> np.ndarray:
    r"""Ratios :math:`r_t = c_{t+1}/c_t` for t = 0..steps-1: :math:`r_0 = 1-\eta\lambda`,
    :math:`r_{t} = (1+\mu-\eta\lambda) - \mu / r_{t-1}` (no under/overflow, unlike c_t itself)."""
    q = _check_decay(lr, lam)
    mu = check_nonnegative(momentum, "momentum")
    if not mu < 1:
        raise ValueError(f"momentum must be < 1, got {momentum}")
    r = np.empty(steps)
    if steps:
        r[0] = q
    for t in range(1, steps):
        r[t] = (1 + mu - lr * lam) - mu / r[t - 1] if r[t - 1] > 0 else np.nan
    return r


def momentum_scales(steps: int, *, lr: float, lam: float, momentum: float, p0: float = 1.0) -> np.ndarray:
    r""":math:`c_0..c_{steps}` of the momentum equivalence (module docstring); NaN after the first
    step where :math:`c_t` would turn non-positive (see :func:`momentum_multipliers`)."""
    check_int_at_least(steps, "steps", 0)
    p0 = check_positive(p0, "p0")
    return _exp_in_range(_momentum_log_scales(steps, lr=lr, lam=lam, momentum=momentum, p0=p0), "c_t")


def _momentum_log_scales(steps: int, *, lr: float, lam: float, momentum: float, p0: float) -> np.ndarray:
    r""":math:`\log c_t`, t = 0..steps (NaN from the first non-positive :math:`c_t` on)."""
    r = _momentum_ratios(steps, lr=lr, lam=lam, momentum=momentum)
    with np.errstate(divide="ignore", invalid="ignore"):
        return math.log(p0) + np.concatenate([[0.0], np.cumsum(np.log(np.where(r > 0, r, np.nan)))])


@dataclass(frozen=True)
class MomentumSchedule:
    r"""The momentum equivalence's schedule over ``steps`` steps, kept in log space.

    Attributes:
        log_scales: :math:`\log c_t`, t = 0..steps (NaN from the first non-positive :math:`c_t` on).
        valid: whether every :math:`c_t` stays positive (a positive schedule exists).
        first_nonpositive: index of the first :math:`c_t \le 0`, or None.

    ``multipliers`` (:math:`d_t = 1/(c_t c_{t+1})`, t = 0..steps-1) and ``scales`` (:math:`c_t`)
    are formed on access and raise ``OverflowError`` when an entry leaves the float64 range, so
    a long horizon can be asked whether it is valid without ever returning ``inf`` or 0.
    """

    log_scales: np.ndarray
    valid: bool
    first_nonpositive: int | None

    # the properties only delegate: their math sits in plain functions (mutation testing skips
    # decorated functions)
    @property
    def scales(self) -> np.ndarray:
        return _exp_in_range(self.log_scales, "c_t")

    @property
    def log_multipliers(self) -> np.ndarray:
        return _log_multipliers(self.log_scales)

    @property
    def multipliers(self) -> np.ndarray:
        return _exp_in_range(_log_multipliers(self.log_scales), "momentum multiplier d_t")


def _log_multipliers(log_scales: np.ndarray) -> np.ndarray:
    r""":math:`\log d_t = -(\log c_t + \log c_{t+1})`, t = 0..len-2."""
    return -(log_scales[:-1] + log_scales[1:])


def momentum_multipliers(steps: int, *, lr: float, lam: float, momentum: float,
                         p0: float = 1.0) -> MomentumSchedule:
    r"""Learning-rate multipliers :math:`1/(c_t c_{t+1})` making decay-free heavy-ball SGD reproduce
    heavy-ball SGD with coupled L2 decay (zero initial buffers). ``valid`` is False when some
    :math:`c_t \le 0`: then no positive schedule exists along this construction, and the entries
    from that step on are NaN. The multipliers are computed in log space (see
    :class:`MomentumSchedule`: reading one that leaves the float64 range raises ``OverflowError``).
    """
    check_int_at_least(steps, "steps", 1)
    p0 = check_positive(p0, "p0")
    r = _momentum_ratios(steps, lr=lr, lam=lam, momentum=momentum)
    bad = np.nonzero(~(r > 0))[0]
    first = int(bad[0]) + 1 if bad.size else None  # index of the first c_t <= 0
    logc = _momentum_log_scales(steps, lr=lr, lam=lam, momentum=momentum, p0=p0)
    return MomentumSchedule(log_scales=logc, valid=first is None, first_nonpositive=first)


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


# ----------------------------------------------------------------------------------------------
# Lecture 5 (issue 6, lecture helper): the exponential learning-rate schedule of Li and Arora (2020)
# and the weight-decay equilibrium. Checked by normtheory/claims/lecture_schedules.py.
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExponentialSchedule:
    r"""Li and Arora's exponential learning rate, replacing weight decay on a scale-invariant loss.

    Attributes:
        alpha: the larger root of :math:`x^2 - (1 + \mu - \eta\lambda)x + \mu = 0`
            (:math:`1 - \eta\lambda` without momentum).
        multipliers: :math:`\alpha^{-(2t+1)}` for steps :math:`t = 0..steps-1`; the decay-free run
            uses learning rate :math:`\eta\,\alpha^{-(2t+1)}` at step :math:`t`.
        scales: :math:`\alpha^{-t}`, :math:`t = 0..steps`: the decay-free weights are
            ``scales[t]`` times the weight-decay run's weights.
        initial_buffer_factor: the decay-free run's momentum buffer must start at
            ``initial_buffer_factor * w_0`` (torch convention: the first step forms
            :math:`\mu b_0 + g`); it is :math:`(1 - 1/\alpha)/\eta` (without momentum the
            buffer is multiplied by :math:`\mu = 0`, so its start does not matter).
    """

    alpha: float
    multipliers: np.ndarray
    scales: np.ndarray
    initial_buffer_factor: float


def exponential_lr_schedule(steps: int, *, lr: float, lam: float, momentum: float = 0.0) -> ExponentialSchedule:
    r"""The exponential schedule under which decay-free (heavy-ball) SGD reproduces SGD with weight
    decay on a scale-invariant loss (Li and Arora 2020; Lecture 5, "Counteracting the implicit LR
    effect").

    Run A (decay): :math:`b_{t+1} = \mu b_t + \nabla L(w_t) + \lambda w_t`,
    :math:`w_{t+1} = w_t - \eta b_{t+1}`, :math:`b_0 = 0`.
    Run B (no decay): :math:`\tilde b_{t+1} = \mu\tilde b_t + \nabla L(x_t)`,
    :math:`x_{t+1} = x_t - \eta_t \tilde b_{t+1}`, :math:`x_0 = w_0`.
    With :math:`\nabla L(c x) = \nabla L(x)/c` (degree -1), the ansatz :math:`x_t = \alpha^{-t} w_t`
    turns B's recursion :math:`x_{t+1} = x_t + \mu\tfrac{\eta_t}{\eta_{t-1}}(x_t - x_{t-1}) -
    \eta_t\nabla L(x_t)` into A's, :math:`w_{t+1} = (1 + \mu - \eta\lambda)w_t - \mu w_{t-1} -
    \eta\nabla L(w_t)`, exactly when :math:`\eta_t = \eta\alpha^{-(2t+1)}` and
    :math:`\alpha + \mu/\alpha = 1 + \mu - \eta\lambda`; the first step matches when
    :math:`\tilde b_0 = (1 - 1/\alpha)\,w_0/\eta` (zero without momentum). So
    :math:`x_t/\lVert x_t\rVert = w_t/\lVert w_t\rVert` at every step. Without momentum this is
    Theorem 1's schedule (:func:`theorem1_multipliers` with ``p0 = 1``). With zero initial buffers
    use :func:`momentum_multipliers` instead, whose ratio :math:`c_{t+1}/c_t` tends to
    :math:`\alpha`.

    Raises:
        ValueError: lr <= 0, lam < 0, lr*lam >= 1, momentum outside [0, 1), complex roots
            (:math:`(1 + \mu - \eta\lambda)^2 < 4\mu`, i.e. :math:`\eta\lambda > (1-\sqrt\mu)^2`).
    """
    check_int_at_least(steps, "steps", 1)
    _check_decay(lr, lam)
    mu = check_nonnegative(momentum, "momentum")
    if not mu < 1:
        raise ValueError(f"momentum must be < 1, got {momentum}")
    beta = 1 + mu - lr * lam
    disc = beta * beta - 4 * mu
    if disc < 0:
        raise ValueError(f"no real alpha: lr*lam = {lr * lam:g} > (1 - sqrt(momentum))^2 = {(1 - mu**0.5)**2:g}")
    alpha = (beta + math.sqrt(disc)) / 2
    t = np.arange(steps + 1, dtype=np.float64)
    log_alpha = math.log(alpha)
    return ExponentialSchedule(alpha=alpha, multipliers=_exp_in_range(-(2 * t[:-1] + 1) * log_alpha, "alpha^-(2t+1)"),
                               # alpha^-t <= alpha^-(2t-1): in range whenever the multipliers are
                               scales=np.exp(-t * log_alpha),
                               initial_buffer_factor=(1 - 1 / alpha) / lr)


@dataclass(frozen=True)
class WeightDecayEquilibrium:
    r"""Fixed point of :math:`s_{t+1} = (1-\eta\lambda)^2 s_t + \eta^2 G^2/s_t`, :math:`s = \lVert w\rVert^2`.

    Attributes:
        norm_sq: :math:`s^* = \eta G/\sqrt{\eta\lambda(2-\eta\lambda)}`.
        effective_lr: :math:`\eta/s^* = \sqrt{\eta\lambda(2-\eta\lambda)}/G` (Lecture 5's
            :math:`\alpha/\lVert w\rVert^2`).
        angular_update: :math:`\eta G/s^* = \sqrt{\eta\lambda(2-\eta\lambda)} \approx \sqrt{2\eta\lambda}`,
            the length of the step of :math:`\hat w` (independent of G).
        relaxation: :math:`2(1-\eta\lambda)^2 - 1 \approx 1 - 4\eta\lambda`, the factor by which
            :math:`s_t - s^*` shrinks per step near the fixed point.
    """

    norm_sq: float
    effective_lr: float
    angular_update: float
    relaxation: float


def weight_decay_equilibrium(*, lr: float, lam: float, grad_norm: float) -> WeightDecayEquilibrium:
    r"""Equilibrium of plain SGD with coupled weight decay on a scale-invariant weight.

    Because :math:`\nabla L(w) \perp w` and :math:`\lVert\nabla L(w)\rVert = G/\lVert w\rVert` with
    :math:`G = \lVert\nabla L(\hat w)\rVert`, :math:`w_{t+1} = (1-\eta\lambda)w_t - \eta\nabla L(w_t)`
    gives exactly :math:`s_{t+1} = (1-\eta\lambda)^2 s_t + \eta^2 G^2/s_t`; for constant G its
    fixed point and linear rate are the fields of :class:`WeightDecayEquilibrium`
    (derivation: ``proofs/lecture_equilibrium.py``).

    Raises:
        ValueError: lr <= 0, lam <= 0, lr*lam >= 1, grad_norm <= 0.
    """
    q = _check_decay(lr, lam)
    check_positive(lam, "lam")
    g = check_positive(grad_norm, "grad_norm")
    root = math.sqrt(lr * lam * (2 - lr * lam))
    s = lr * g / root
    return WeightDecayEquilibrium(norm_sq=s, effective_lr=lr / s, angular_update=root, relaxation=2 * q * q - 1)
