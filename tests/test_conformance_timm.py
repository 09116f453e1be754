"""normtheory.claims.conformance_timm: runs only where timm is installed (it is not here)."""

from __future__ import annotations

import pytest

from normtheory.claims import conformance_timm


def test_CONF_timm_stdconv2d():
    timm_layers = pytest.importorskip("timm.layers", reason=conformance_timm.TIMM_SKIP_REASON or "timm missing")
    found = conformance_timm.stdconv_affine_invariance(lambda: timm_layers.StdConv2d(3, 4, 3))
    assert found["worst_rel_change"] < 1e-3  # pragma: no cover - timm is not installed here
