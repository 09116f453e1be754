r"""The audit's matrix bracket: the spectral core's one certificate
(:func:`normtheory.spectral.certify.certify_brackets`: Gram squaring for the lower bound, a
Cholesky test for the upper bound, power-of-two scaling first, complex matrices through their exact
real embedding). ``SigmaBracket`` is the core's :class:`~normtheory.spectral.SpectralBracket`."""

from __future__ import annotations

import torch

from normtheory.roundoff import EPS64  # noqa: F401  (re-exported for the audit's tests)
from normtheory.spectral.certify import SpectralBracket, certify_brackets

SigmaBracket = SpectralBracket

__all__ = ["SigmaBracket", "sigma_bracket", "bracket", "EPS64"]


def sigma_bracket(w: torch.Tensor, *, rtol: float = 1e-6) -> SpectralBracket:
    """Certified bracket on sigma_1 of one 2-D real or complex matrix (0-d fields)."""
    if not isinstance(w, torch.Tensor) or w.ndim != 2:
        raise ValueError(f"w must be a 2-D tensor, got {getattr(w, 'shape', type(w).__name__)}")
    return certify_brackets([w], rtol=rtol)[0]


def bracket(lower, upper, method: str, *, rtol: float, iterations: int = 0) -> SpectralBracket:
    """A bracket assembled from bounds proved elsewhere (FFT, diagonal, max over groups);
    ``certified`` is computed from its width, never assumed."""
    lo = torch.as_tensor(lower, dtype=torch.float64).reshape(())
    up = torch.as_tensor(upper, dtype=torch.float64).reshape(())
    cert = ((up - lo) <= rtol * lo) | (up == 0)
    return SpectralBracket(lo, up, cert, rtol, iterations, method)
