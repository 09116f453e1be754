"""reparam: agreement with torch, extreme scales, no mutation, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from normtheory import reparam
from normtheory.claims._roundoff import unit_norm_tolerance


def _w(*shape, seed=0, scale=1.0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape) * scale)


@pytest.mark.parametrize("dim", [0, 1, -1, None])
def test_weight_norm_matches_torch(dim):
    v, g = _w(4, 3, 2, 2), _w(4, 1, 1, 1, seed=1)
    if dim == 0:
        expected = torch._weight_norm(v, g, 0)
    else:
        dims = [d for d in range(4) if d != (dim % 4)] if dim is not None else list(range(4))
        expected = v / torch.linalg.vector_norm(v, dim=dims, keepdim=True)
        g = None
    assert torch.allclose(reparam.weight_norm(v, g, dim=dim), expected, rtol=0, atol=unit_norm_tolerance(48))


@given(exponent=st.floats(-300, 300))
def test_weight_norm_has_unit_rows_at_any_scale(exponent):
    # torch.linalg.vector_norm over/underflows beyond ~1e154 / 1e-162; ours rescales first.
    out = reparam.weight_norm(_w(3, 7) * 10.0**exponent)
    norms = torch.linalg.vector_norm(out, dim=1)
    assert torch.allclose(norms, torch.ones(3, dtype=torch.float64), rtol=0, atol=unit_norm_tolerance(7))


def test_batch_norm_matches_torch():
    x = _w(16, 5, 3, 3)
    for eps in (1e-12, 1e-5, 0.1):  # recent torch refuses eps = 0 in training mode
        expected = torch.nn.functional.batch_norm(x, None, None, training=True, eps=eps)
        assert torch.allclose(reparam.batch_norm(x, eps=eps), expected, rtol=1e-12, atol=1e-12)


def test_weight_standardization_definition():
    w = _w(5, 8)
    out = reparam.weight_standardization(w)
    assert torch.allclose(out.mean(dim=1), torch.zeros(5, dtype=torch.float64), atol=1e-14)
    assert torch.allclose(out.square().mean(dim=1), torch.ones(5, dtype=torch.float64), atol=1e-14)
    out_eps = reparam.weight_standardization(w, eps=0.5)
    std = w.std(dim=1, unbiased=False, keepdim=True)
    assert torch.allclose(out_eps, (w - w.mean(dim=1, keepdim=True)) / (std + 0.5), atol=1e-14)


def test_centered_weight_norm_definition():
    w = _w(5, 8)
    out = reparam.centered_weight_norm(w)
    assert torch.allclose(out.sum(dim=1), torch.zeros(5, dtype=torch.float64), atol=1e-14)
    assert torch.allclose(out.norm(dim=1), torch.ones(5, dtype=torch.float64), atol=1e-14)


@pytest.mark.parametrize("fn", [reparam.weight_norm, reparam.centered_weight_norm,
                                reparam.weight_standardization, reparam.batch_center,
                                reparam.batch_norm])
def test_inputs_are_not_modified(fn):
    x = _w(6, 4)
    before = x.clone()
    fn(x)
    assert torch.equal(x, before)


@pytest.mark.parametrize("fn, arg", [
    (reparam.weight_norm, "v"), (reparam.centered_weight_norm, "v"),
    (reparam.weight_standardization, "w"), (reparam.batch_norm, "x"), (reparam.batch_center, "x")])
def test_bad_input_is_named(fn, arg):
    with pytest.raises(TypeError, match=arg):
        fn(torch.ones(3, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=f"{arg} contains NaN"):
        fn(torch.tensor([[1.0, float("nan")], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=f"{arg} contains NaN or Inf"):
        fn(torch.tensor([[1.0, float("inf")], [1.0, 2.0]]))
    with pytest.raises(TypeError, match=arg):
        fn([[1.0, 2.0]])


def test_zero_norm_and_zero_spread_raise():
    with pytest.raises(ValueError, match="zero norm"):
        reparam.weight_norm(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="zero spread"):
        reparam.centered_weight_norm(torch.ones(2, 3))
    with pytest.raises(ValueError, match="zero standard deviation"):
        reparam.weight_standardization(torch.ones(2, 3))
    assert torch.equal(reparam.weight_standardization(torch.ones(2, 3), eps=1e-5), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="zero batch variance"):
        reparam.batch_norm(torch.ones(4, 3))


def test_bad_eps_dim_and_shape():
    with pytest.raises(ValueError, match="eps must be >= 0"):
        reparam.weight_standardization(_w(2, 3), eps=-1e-5)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        reparam.batch_norm(_w(4, 3), eps=-1.0)
    with pytest.raises(ValueError, match="eps must be finite"):
        reparam.batch_norm(_w(4, 3), eps=float("nan"))
    with pytest.raises(ValueError, match="dim=2 is out of range"):
        reparam.weight_norm(_w(2, 3), dim=2)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        reparam.batch_norm(_w(5))
    with pytest.raises(ValueError, match="at least 2 values per channel"):
        reparam.batch_norm(_w(1, 3))


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 2)])
def test_batch_center_values(shape):
    x = _w(*shape, seed=3) + 7.0
    out = reparam.batch_center(x)
    dims = (0,) + tuple(range(2, len(shape)))
    assert out.shape == x.shape and out.dtype == x.dtype
    expected = x - x.mean(dim=dims, keepdim=True)  # per channel, over batch and space
    assert torch.allclose(out, expected, rtol=0, atol=1e-13)
    assert torch.allclose(out.mean(dim=dims), torch.zeros(shape[1], dtype=x.dtype), rtol=0, atol=1e-13)
    # invariance to a per-channel constant (a broken all-channel mean would fail it)
    shift = torch.arange(shape[1], dtype=x.dtype).reshape((1, -1) + (1,) * (len(shape) - 2))
    assert torch.allclose(reparam.batch_center(x + shift), out, rtol=0, atol=1e-12)
    half = reparam.batch_center(x.half())
    assert half.dtype == torch.float16


@pytest.mark.parametrize("call, match", [
    (lambda: reparam.centered_weight_norm(_w(3), dim=0),
     "^v: centering a slice of one entry leaves zero; use dim=None or a >1-D weight$"),
    (lambda: reparam.weight_standardization(_w(3), dim=0),
     "^w: standardizing a slice of one entry is undefined; use dim=None or a >1-D weight$"),
    (lambda: reparam.centered_weight_norm(_w(2, 3), dim=5), r"^dim=5 is out of range for v of shape \(2, 3\)$"),
    (lambda: reparam.weight_standardization(_w(2, 3), dim=-3), r"^dim=-3 is out of range for w of shape \(2, 3\)$"),
    (lambda: reparam.weight_norm(_w(2, 3), dim=2), r"^dim=2 is out of range for v of shape \(2, 3\)$"),
    (lambda: reparam.centered_weight_norm(torch.ones(2, 3)),
     r"^v has a zero spread \(all entries of a slice are equal\); the normalization divides by it$"),
    (lambda: reparam.weight_standardization(torch.ones(2, 3)),
     r"^w has a zero standard deviation \(all entries of a slice are equal\) and eps=0; the normalization divides by it$"),
    (lambda: reparam.weight_norm(torch.zeros(2, 3)),
     r"^v has a zero norm \(in some slice along the kept dim\); the normalization divides by it$"),
    (lambda: reparam.batch_norm(torch.ones(4, 3)),
     r"^x has a zero batch variance in some channel and eps=0; the normalization divides by it$"),
    (lambda: reparam.batch_norm(_w(1, 3, 1)), r"^x: batch statistics need at least 2 values per channel, got shape \(1, 3, 1\)$"),
])
def test_error_messages_name_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
