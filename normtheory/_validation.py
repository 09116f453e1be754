"""Argument checks shared by the library: fail early, name the argument, never return NaN."""

from __future__ import annotations

import math

import torch

__all__ = ["check_tensor", "check_real_tensor", "check_positive", "check_nonnegative", "check_int_at_least",
           "check_open_unit", "check_nonzero"]


def check_tensor(x, name: str, *, ndim: int | tuple[int, ...] | None = None,
                 min_ndim: int | None = None) -> torch.Tensor:
    """``x`` must be a floating-point torch tensor with finite entries (and the given ndim)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in allowed:
            raise ValueError(f"{name} must have ndim in {allowed}, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    if not bool(torch.isfinite(x.detach()).all()):
        raise ValueError(f"{name} contains NaN or Inf")
    return x


def check_real_tensor(x, name: str, *, ndim: int | tuple[int, ...] | None = None,
                      min_ndim: int | None = None) -> torch.Tensor:
    """``x`` must be a *real* floating-point tensor with finite entries (and the given ndim).

    The one check for functions whose math is real only (norms over slices, means, symmetric
    eigensolvers, ``x.mT`` as the adjoint): a complex tensor would silently be treated as real
    there (a transpose without conjugate, or the imaginary part dropped), so it is refused with a
    ``TypeError`` naming the argument. Functions that handle complex input correctly call
    :func:`check_tensor` instead.
    """
    if isinstance(x, torch.Tensor) and x.is_complex():
        raise TypeError(f"{name} is complex ({x.dtype}); this function is defined for real tensors only")
    return check_tensor(x, name, ndim=ndim, min_ndim=min_ndim)


def _check_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def check_positive(value, name: str) -> float:
    if _check_real(value, name) <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def check_nonnegative(value, name: str) -> float:
    if _check_real(value, name) < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


def check_open_unit(value, name: str) -> float:
    v = _check_real(value, name)
    if not 0 < v < 1:
        raise ValueError(f"{name} must lie in (0, 1), got {value}")
    return v


def check_int_at_least(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_nonzero(norm: torch.Tensor, name: str, what: str = "norm") -> None:
    """Raise when any entry of ``norm`` (a norm or spread a division uses) is zero."""
    if bool((norm.detach() == 0).any()):
        raise ValueError(f"{name} has a zero {what}; the normalization divides by it")
