r"""Weight normalization, centered WN and weight standardization as ``torch.nn.utils.parametrize``
parametrizations, built on the functional forms of :mod:`normtheory.reparam`.

Usage::

    from torch.nn.utils.parametrize import register_parametrization
    from normtheory.parametrizations import WeightStandardization

    conv = torch.nn.Conv2d(3, 16, 3)
    register_parametrization(conv, "weight", WeightStandardization(eps=1e-5))
    conv.weight          # (W - mean) / (std + eps) per output channel, recomputed on each access

The parametrized layer keeps its original tensors in ``conv.parametrizations.weight.original``
(``original0``/``original1`` for the two-tensor forms), so ``state_dict`` round trips,
``torch.func.functional_call`` and ``torch.compile`` work as for torch's own parametrizations.

* :class:`WeightNormalization` (paper Eq. (5)): tensors ``(g, v)``, weight :math:`g\,v/\lVert v\rVert`
  per slice; the same tensors (names ``original0 = g``, ``original1 = v``), shapes and values as
  ``torch.nn.utils.parametrizations.weight_norm``, so a state dict moves between the two.
  Registering it keeps the layer's weight (``right_inverse``: :math:`g = \lVert W\rVert`, :math:`v = W`).
* :class:`CenteredWeightNormalization` (Eq. (6)): tensors ``(g, v)``, weight
  :math:`g\,(v-\bar v)/\lVert v-\bar v\rVert`. Its weights are centered by construction, so
  registering it on a weight whose slices are not centered changes the weight to its centered,
  renormalized version (:math:`g = \lVert W - \bar W\rVert`, :math:`v = W`).
* :class:`WeightStandardization` (Eqs. (7), (23)): one tensor ``w``, weight
  :math:`(w-\bar w)/(\sigma+\epsilon)` per slice (``eps`` outside the square root, as Eq. (23)).
  There is no inverse: the stored tensor is the raw weight, standardized on every access.

``dim`` is the kept (output-channel) dimension, as in :mod:`normtheory.reparam` and torch's
``weight_norm``; ``None`` normalizes the whole tensor as one slice.
"""

from __future__ import annotations

import torch
from torch import nn

from normtheory import reparam
from normtheory._validation import check_nonnegative

__all__ = ["WeightNormalization", "CenteredWeightNormalization", "WeightStandardization"]


def _check_dim(dim) -> int | None:
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)):
        raise TypeError(f"dim must be an int or None, got {type(dim).__name__}")
    return dim


def _slice_norm(w: torch.Tensor, dim: int | None) -> torch.Tensor:
    """Per-slice Euclidean norm, in the shape torch's ``weight_norm`` gives ``g`` (the kept dim,
    ones elsewhere; 0-d for ``dim=None``), scaled against overflow as :mod:`reparam` does."""
    dims = tuple(range(w.ndim)) if dim is None else tuple(d for d in range(w.ndim) if d != dim % w.ndim)
    norm = reparam._slice_norm(w, dims)
    return norm.reshape(()) if dim is None else norm


class WeightNormalization(nn.Module):
    r"""Weight normalization :math:`W = g\,v/\lVert v\rVert` (per slice along the kept ``dim``).

    Args:
        dim: the kept dimension (0: one length per output channel) or ``None``.
    """

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = _check_dim(dim)

    def forward(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return reparam.weight_norm(v, g, dim=self.dim)

    def right_inverse(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g, v) = (||W|| per slice, W)``: the layer's weight is unchanged by registering."""
        reparam.weight_norm(weight, dim=self.dim)  # the same checks (finite, no zero-norm slice)
        return _slice_norm(weight, self.dim).to(weight.dtype), weight

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class CenteredWeightNormalization(nn.Module):
    r"""Centered weight normalization :math:`W = g\,(v-\bar v)/\lVert v-\bar v\rVert` per slice.

    Args:
        dim: the kept dimension or ``None``.
    """

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = _check_dim(dim)

    def forward(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return reparam.centered_weight_norm(v, g, dim=self.dim)

    def right_inverse(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g, v) = (||W - mean W|| per slice, W)``: the layer's weight becomes its centered
        version (the only weights CWN can produce)."""
        reparam.centered_weight_norm(weight, dim=self.dim)  # the same checks (no zero-spread slice)
        if self.dim is None:
            centered = weight - weight.mean()
        else:
            dims = tuple(d for d in range(weight.ndim) if d != self.dim % weight.ndim)
            centered = weight - weight.mean(dim=dims, keepdim=True)
        return _slice_norm(centered, self.dim).to(weight.dtype), weight

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class WeightStandardization(nn.Module):
    r"""Weight standardization :math:`W' = (W-\bar W)/(\sigma+\epsilon)` per slice (population
    standard deviation; ``eps`` outside the square root, paper Eq. (23)).

    Args:
        eps: :math:`\epsilon \ge 0`; with 0 a slice of equal entries raises on access.
        dim: the kept dimension or ``None``.
    """

    def __init__(self, eps: float = 0.0, dim: int | None = 0) -> None:
        super().__init__()
        self.eps = check_nonnegative(eps, "eps")
        self.dim = _check_dim(dim)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return reparam.weight_standardization(w, eps=self.eps, dim=self.dim)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}, dim={self.dim}"
