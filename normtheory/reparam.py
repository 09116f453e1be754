"""Weight reparameterizations and batch normalization, as small functions of tensors.

Every function here is pure (no in-place change of its inputs), differentiable with autograd, and
checks its arguments: real floating dtype (complex input is refused: these are real-valued
normalizations), finite entries, a non-zero norm or spread wherever it divides.

Half-precision input (float16, bfloat16) is normalized in float32 and the result cast back: a
float16 sum of squares overflows at 65504 (three entries of 6e4, or a batch of +-300, already
do), although the normalized output itself is small and representable.

Reductions follow torch's ``weight_norm`` convention: ``dim`` is the dimension that is *kept* (the
output channel, ``dim=0`` for ``nn.Linear`` and ``nn.Conv*`` weights) and the statistics are taken
over all the other dimensions; ``dim=None`` normalizes the whole tensor as one vector.

References (the source documents, by seed file):
  * WN, CWN, WS: Li et al., "Understanding the Disharmony between Weight Normalization Family and
    Weight Decay" (``001_b5a1945cc2ea1296.txt``), Eqs. (5), (6), (7) and (23).
  * BN and batch centering: Grosse, CSC 2541 Lecture 5 (``002_cd849d122e313ad8.txt``), slides
    "Batch Normalization" and "A Wrinkle".
"""

from __future__ import annotations

import math

import torch

from normtheory._validation import check_nonnegative, check_nonzero, check_real_tensor

__all__ = [
    "weight_norm",
    "centered_weight_norm",
    "weight_standardization",
    "batch_center",
    "batch_norm",
]


_HALF = (torch.float16, torch.bfloat16)


def _working(x: torch.Tensor) -> torch.Tensor:
    """``x`` in the dtype its statistics are accumulated in: float32 for half precision."""
    return x.float() if x.dtype in _HALF else x


def _kept_dim_reduction(x: torch.Tensor, dim: int | None, name: str) -> tuple[int, ...]:
    """The dimensions to reduce over when ``dim`` is kept (all of them for ``dim=None``)."""
    if dim is None:
        return tuple(range(x.ndim))
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim must be an int or None, got {type(dim).__name__}")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(f"dim={dim} is out of range for {name} of shape {tuple(x.shape)}")
    dim %= x.ndim
    return tuple(d for d in range(x.ndim) if d != dim)


def _slice_norm(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Euclidean norm per slice, scaled so that it neither overflows nor underflows.

    ``torch.linalg.vector_norm`` squares the entries unscaled, so a float64 slice with entries
    near 1e155 has an infinite norm and one near 1e-162 a zero norm; dividing by the largest
    magnitude first keeps the whole floating-point range usable (as LAPACK's nrm2 does).
    """
    if not dims:  # a 1-D weight normalized along its only dim: each entry is its own slice
        return x.abs()
    peak = x.detach().abs().amax(dim=dims, keepdim=True)
    peak = torch.where(peak > 0, peak, torch.ones_like(peak))
    return peak * torch.linalg.vector_norm(x / peak, dim=dims, keepdim=True)


def weight_norm(v: torch.Tensor, g: torch.Tensor | None = None, *, dim: int | None = 0) -> torch.Tensor:
    r"""Weight normalization: :math:`W' = g \, v / \lVert v \rVert` (paper Eq. (5)).

    The norm is taken over every dimension except ``dim`` (one norm per output channel for
    ``dim=0``), or over the whole tensor for ``dim=None``. With ``g=None`` the result has unit norm
    per slice (paper Eq. (2)). The output is invariant to :math:`v \to \alpha v` for every
    :math:`\alpha > 0` (per slice); :math:`\alpha < 0` flips its sign.

    Args:
        v: the direction parameter, floating point, finite, no zero-norm slice.
        g: the length, broadcastable against the per-slice norm (shape ``(v.shape[dim], 1, ...)``
            or a scalar); ``None`` for unit length.
        dim: the kept dimension (torch's convention) or ``None`` for the whole tensor.

    Raises:
        TypeError: non-tensor or integer input.  ValueError: NaN/Inf, a zero-norm slice, bad dim.
    """
    check_real_tensor(v, "v")
    dims = _kept_dim_reduction(v, dim, "v")
    work = _working(v)
    norm = _slice_norm(work, dims)
    check_nonzero(norm, "v", "norm (in some slice along the kept dim)")
    return _scaled_by_g(work / norm, g, norm.shape, v)


def _scaled_by_g(unit: torch.Tensor, g: torch.Tensor | None, slice_shape: torch.Size,
                 v: torch.Tensor) -> torch.Tensor:
    """``g * unit`` where ``g`` must broadcast to the per-slice shape (one length per slice), in
    the dtype ``g * v`` would have.

    A ``g`` of shape ``(C,)`` against slices of shape ``(C, 1)`` would broadcast along the last
    axis instead (one length per *input*), silently giving a different reparameterization; it is
    refused, naming the shape it should have.
    """
    if g is None:
        return unit.to(v.dtype)
    check_real_tensor(g, "g")
    try:
        fits = torch.broadcast_shapes(g.shape, slice_shape) == slice_shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"g must broadcast to the per-slice shape {tuple(slice_shape)} (one length "
                         f"per slice along the kept dim, or a scalar), got shape {tuple(g.shape)}")
    return (_working(g) * unit).to(torch.promote_types(v.dtype, g.dtype))


def centered_weight_norm(v: torch.Tensor, g: torch.Tensor | None = None, *,
                         dim: int | None = 0) -> torch.Tensor:
    r"""Centered weight normalization: :math:`W' = g\,(v - \bar v)/\lVert v - \bar v \rVert` (Eq. (6)).

    The mean :math:`\bar v` and the norm are taken per slice, over every dimension except ``dim``.
    The output is invariant to :math:`v \to \alpha v + \beta` for :math:`\alpha > 0` and any
    :math:`\beta` constant within a slice.

    Raises:
        ValueError: a slice whose entries are all equal (zero spread), NaN/Inf, bad dim.
    """
    check_real_tensor(v, "v")
    dims = _kept_dim_reduction(v, dim, "v")
    if not dims:
        raise ValueError("v: centering a slice of one entry leaves zero; use dim=None or a >1-D weight")
    work = _working(v)
    centered = work - work.mean(dim=dims, keepdim=True)
    norm = _slice_norm(centered, dims)
    check_nonzero(norm, "v", "spread (all entries of a slice are equal)")
    return _scaled_by_g(centered / norm, g, norm.shape, v)


def weight_standardization(w: torch.Tensor, *, eps: float = 0.0, dim: int | None = 0) -> torch.Tensor:
    r"""Weight standardization: :math:`W' = (W - \bar W)/(\sigma + \epsilon)` (Eqs. (7) and (23)).

    Per slice (every dimension except ``dim``), :math:`\bar W` is the mean and
    :math:`\sigma = \sqrt{\lVert W - \bar W \rVert^2 / n}` the population standard deviation over
    the slice's :math:`n` entries. ``eps`` is added *outside* the square root, as in Eq. (23) (some
    implementations add it to the variance instead).

    With ``eps = 0`` the output is invariant to :math:`W \to \alpha W + \beta` (:math:`\alpha > 0`,
    :math:`\beta` constant per slice). With ``eps > 0`` it is not: the output for :math:`\alpha W`
    differs from that for :math:`W` by the relative amount
    :math:`\epsilon\,|\alpha - 1| / (\alpha\sigma + \epsilon)` (exact; see claim
    ``PAPER-ws-eps-invariance``).

    Args:
        w: the weight, floating point, finite.
        eps: :math:`\epsilon \ge 0`. With ``eps = 0`` a slice of equal entries raises.
        dim: the kept dimension or ``None`` for the whole tensor.
    """
    check_real_tensor(w, "w")
    eps = check_nonnegative(eps, "eps")
    dims = _kept_dim_reduction(w, dim, "w")
    if not dims:
        raise ValueError("w: standardizing a slice of one entry is undefined; use dim=None or a >1-D weight")
    work = _working(w)
    centered = work - work.mean(dim=dims, keepdim=True)
    n = math.prod(w.shape[d] for d in dims)
    std = _slice_norm(centered, dims) / n**0.5
    if eps == 0:
        check_nonzero(std, "w", "standard deviation (all entries of a slice are equal) and eps=0")
    return (centered / (std + eps)).to(w.dtype)


def _batch_dims(x: torch.Tensor) -> tuple[int, ...]:
    """Batch-norm statistics: over every dimension except the channel dimension 1."""
    check_real_tensor(x, "x", min_ndim=2)
    dims = (0,) + tuple(range(2, x.ndim))
    if x.numel() // x.shape[1] < 2:
        raise ValueError(f"x: batch statistics need at least 2 values per channel, got shape {tuple(x.shape)}")
    return dims


def batch_center(x: torch.Tensor) -> torch.Tensor:
    r"""Batch centering: :math:`\tilde X = X - \mathbf 1 \mu(X)^\top`.

    ``x`` has shape ``(N, C)`` or ``(N, C, *spatial)``; the mean is per channel over the batch (and
    spatial) dimensions, as in batch norm. The result is invariant to adding any per-channel
    constant to ``x``.
    """
    dims = _batch_dims(x)
    work = _working(x)
    return (work - work.mean(dim=dims, keepdim=True)).to(x.dtype)


def batch_norm(x: torch.Tensor, *, eps: float = 0.0) -> torch.Tensor:
    r"""Batch normalization in training mode, without the affine part.

    :math:`\mathrm{BN}(X) = (X - \mathbf 1\mu^\top) \oslash \mathbf 1 \sqrt{v + \epsilon}^\top` with
    per-channel batch mean :math:`\mu` and biased variance :math:`v` (over the batch and spatial
    dimensions), as ``torch.nn.functional.batch_norm(x, None, None, training=True, eps=eps)``
    (which, in recent torch versions, refuses ``eps = 0``; here ``eps = 0`` is the slides' BN).

    With ``eps = 0`` it is invariant to :math:`X \to X\Gamma + \mathbf 1 b^\top` for every positive
    diagonal :math:`\Gamma` and any :math:`b`; a negative entry of :math:`\Gamma` flips that channel.
    With ``eps > 0`` rescaling a channel by :math:`\gamma` changes its output by the factor
    :math:`\gamma\sqrt{v+\epsilon}/\sqrt{\gamma^2 v + \epsilon}`.

    Raises:
        ValueError: fewer than 2 values per channel; with ``eps = 0``, a channel of zero variance.
    """
    dims = _batch_dims(x)
    eps = check_nonnegative(eps, "eps")
    work = _working(x)
    centered = work - work.mean(dim=dims, keepdim=True)
    var = centered.square().mean(dim=dims, keepdim=True)
    if eps == 0:
        check_nonzero(var, "x", "batch variance in some channel and eps=0")
    return (centered / (var + eps).sqrt()).to(x.dtype)
