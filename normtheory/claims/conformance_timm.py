"""Conformance: timm's ``StdConv2d`` (weight standardization with its own eps) -- registered only
where timm is installed.

Weight standardization is invariant to w -> alpha w + beta per output channel (alpha > 0) up to the
module's eps (the paper's Eq. (6)); :func:`stdconv_affine_invariance` measures it. timm is not
installed here, so no claim is registered and its verdict is never guessed
(:data:`TIMM_SKIP_REASON` says why).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["stdconv_affine_invariance", "TIMM_SKIP_REASON"]

def stdconv_affine_invariance(make_conv: Callable[[], nn.Module], *, cases: int = 20, seed: int = 12) -> dict:
    """Worst relative change of a standardized conv's output when each output channel's weight is
    mapped w -> alpha w + beta (alpha > 0); the module's own eps makes it approximate."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(cases):
        conv = make_conv().double()
        x = torch.from_numpy(rng.standard_normal((2, conv.in_channels, 6, 6)))
        base = conv(x).detach()
        alpha = torch.from_numpy(10.0 ** rng.uniform(-1, 1, size=(conv.out_channels, 1, 1, 1)))
        beta = torch.from_numpy(rng.uniform(-1, 1, size=(conv.out_channels, 1, 1, 1)))
        with torch.no_grad():
            conv.weight.mul_(alpha).add_(beta * conv.weight.std())
        worst = max(worst, float((conv(x) - base).abs().max() / base.abs().max()))
    return {"worst_rel_change": worst}


try:  # registered only where timm is installed, so the recorded verdict is an observed one
    from timm.layers import StdConv2d as _StdConv2d  # noqa: F401
except ImportError:
    TIMM_SKIP_REASON = "timm is not installed; CONF-timm-stdconv2d is not registered"
else:  # pragma: no cover - not installed where this was written
    TIMM_SKIP_REASON = None
