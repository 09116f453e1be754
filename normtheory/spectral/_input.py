"""The one input check of the spectral core, and the exact reshapings it relies on.

Complex matrices are handled, not rejected, by every function that takes a matrix: the real
``2m x 2n`` embedding ``[[Re W, -Im W], [Im W, Re W]]`` is formed exactly (no rounding) and has the
singular values of ``W``, each twice, so a real certificate of the embedding is a certificate of
``W``; power iteration and the rank-one correction use conjugate transposes. Operators that only
exist for real tensors (convolutions) pass ``allow_complex=False`` and get a ``TypeError`` that
names the argument.
"""

from __future__ import annotations

import torch

from normtheory._validation import check_tensor

__all__ = ["check_matrix", "as_matrix", "real_embedding", "tall"]


def check_matrix(x, name: str, *, ndim=(2, 3), allow_complex: bool = True) -> torch.Tensor:
    """``x`` must be a floating (or, if allowed, complex) tensor with finite entries and the given
    ndim; returns it unchanged. One host synchronisation (the finiteness test): call it at the
    public boundary, not inside a loop."""
    if isinstance(x, torch.Tensor) and x.is_complex() and not allow_complex:
        raise TypeError(f"{name} is complex ({x.dtype}); this operator is defined for real tensors only")
    if isinstance(x, torch.Tensor) and x.dtype == torch.bool:
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    return check_tensor(x, name, ndim=ndim) if ndim is not None else check_tensor(x, name)


def as_matrix(weight: torch.Tensor) -> torch.Tensor:
    """View a Linear ``(out, in)`` or conv ``(out, in, *kernel)`` weight as ``(out, in*prod(kernel))``
    (the blog's reshaping; a view when possible, never a copy of a 2-D weight)."""
    weight = check_tensor(weight, "weight")
    if weight.ndim < 2:
        raise ValueError(f"weight must have at least 2 dimensions, got shape {tuple(weight.shape)}")
    return weight if weight.ndim == 2 else weight.reshape(weight.shape[0], -1)


def real_embedding(M: torch.Tensor) -> torch.Tensor:
    """``(..., m, n)`` complex -> ``(..., 2m, 2n)`` real ``[[Re, -Im], [Im, Re]]`` (exact); real
    input is returned as is. ``sigma_i`` of the embedding are those of ``M``, each repeated."""
    if not M.is_complex():
        return M
    re, im = M.real, M.imag
    top = torch.cat([re, -im], dim=-1)
    bottom = torch.cat([im, re], dim=-1)
    return torch.cat([top, bottom], dim=-2)


def tall(M: torch.Tensor) -> torch.Tensor:
    """``M`` or its (conjugate) transpose, whichever has at least as many rows as columns."""
    return M if M.shape[-2] >= M.shape[-1] else M.mH
