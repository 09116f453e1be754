r"""2-D convolution operator norms: a thin front end to the one N-d, grouped implementation in
:mod:`normtheory.audit._operator` (FFT exact for a true circular convolution, certified brackets
otherwise), kept for the 2-D signature the rest of the package and its users call."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from normtheory._validation import check_int_at_least, check_open_unit
from normtheory.spectral._input import check_matrix

__all__ = ["ConvNormResult", "conv2d_operator_norm", "conv2d_dense_matrix"]


@dataclass
class ConvNormResult:
    """Operator norm of a conv2d map on a given input size: ``lower <= norm <= upper``.

    ``sigma`` is the estimate (exact for the FFT method, else the certified lower end);
    ``method`` is ``"fft"``, ``"explicit"`` (a certified bracket of the dense map) or ``"power"``
    (power-iteration lower bound, circulant-embedding upper bound); ``converged`` whether the
    bracket is within ``rtol``; ``upper_bounds`` lists the bounds that were combined.
    """

    sigma: float
    lower: float
    upper: float
    method: str
    iterations: int
    converged: bool
    upper_bounds: dict


def _pair(x, name):
    if isinstance(x, int) and not isinstance(x, bool):
        return (x, x)
    if isinstance(x, tuple) and len(x) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in x):
        return x
    raise TypeError(f"{name} must be an int or a pair of ints, got {x!r}")


def conv2d_operator_norm(weight: torch.Tensor, input_size, *, stride=1, padding=0, dilation=1,
                         groups: int = 1, padding_mode: str = "zeros", rtol: float = 1e-6,
                         max_iters: int = 100, generator: torch.Generator | None = None) -> ConvNormResult:
    r"""Operator 2-norm of ``x -> conv2d(x, weight, stride, padding, dilation, groups)`` (torch's
    ``padding_mode`` applied first) on inputs of spatial size ``input_size``: the layer's Lipschitz
    constant. See :mod:`normtheory.audit._operator` for the method and its bounds. ``max_iters``
    caps the power iteration of the non-exact case; ``generator`` seeds its start if the
    circulant warm start vanishes."""
    from normtheory.audit._operator import ConvGeometry, conv_operator_norm

    weight = check_matrix(weight, "weight", ndim=4, allow_complex=False).detach()
    n1, n2 = _pair(input_size, "input_size")
    s, p, d = _pair(stride, "stride"), _pair(padding, "padding"), _pair(dilation, "dilation")
    if min(n1, n2, *s, *d) < 1 or min(p) < 0:
        raise ValueError("input_size, stride, dilation must be >= 1 and padding >= 0")
    if padding_mode not in ("zeros", "circular", "reflect", "replicate"):
        raise ValueError(f"padding_mode must be zeros, circular, reflect or replicate, got {padding_mode!r}")
    check_open_unit(rtol, "rtol")
    check_int_at_least(max_iters, "max_iters", 1)
    check_int_at_least(groups, "groups", 1)
    if weight.shape[0] % groups:
        raise ValueError(f"groups={groups} does not divide the {weight.shape[0]} output channels")
    geo = ConvGeometry(weight.shape[1] * groups, (n1, n2), s, p, d, groups, padding_mode)
    ext = [dd * (k - 1) + 1 for dd, k in zip(d, weight.shape[2:])]
    if any(n + 2 * pp < e for n, pp, e in zip((n1, n2), p, ext)):
        raise ValueError("input_size is smaller than the (dilated) kernel: the output is empty")
    if padding_mode != "circular" and generator is not None:
        # the random start earlier versions drew here: drawn still, so that callers sharing the
        # generator (seeded experiments) see the same stream; the iteration itself starts at the
        # circulant embedding's top mode and uses this draw only if that start vanishes
        torch.randn(1, weight.shape[1] * groups, n1, n2, dtype=torch.float64, generator=generator)
    br, exact, info = conv_operator_norm(weight, geo, rtol=rtol, max_iters=max_iters,
                                         generator=generator, details=True)
    lower, upper = float(br.lower), float(br.upper)
    sigma = info.get("value", lower)
    return ConvNormResult(sigma, lower, upper, info["kind"], info.get("iterations", 0),
                          bool(br.certified), info.get("bounds", {}))


def conv2d_dense_matrix(weight: torch.Tensor, input_size, *, stride=1, padding=0, dilation=1,
                        padding_mode: str = "zeros") -> torch.Tensor:
    """The dense float64 matrix of the conv2d map (columns = images of basis inputs); for tests
    and tiny sizes only (``in * n1 * n2`` forward passes)."""
    weight = check_matrix(weight, "weight", ndim=4, allow_complex=False).detach().double()
    n1, n2 = _pair(input_size, "input_size")
    in_c = weight.shape[1]
    basis = torch.eye(in_c * n1 * n2, dtype=torch.float64).reshape(-1, in_c, n1, n2)
    conv = torch.nn.Conv2d(in_c, weight.shape[0], weight.shape[2:], stride=stride, padding=padding,
                           dilation=dilation, padding_mode=padding_mode, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(weight)
        out = conv(basis)
    return out.reshape(out.shape[0], -1).T
