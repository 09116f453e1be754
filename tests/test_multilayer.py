"""normtheory.multilayer: certified brackets contain the SVD value; a broken certificate is caught."""

import pytest
import torch
from hypothesis import example, given, strategies as st

from normtheory import multilayer as ml


def _mats(seed, shapes):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes]


@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 40), n=st.integers(2, 40))
@example(seed=0, m=40, n=3)
def test_bracket_contains_sigma1(seed, m, n):
    ws = _mats(seed, [(m, n), (m, n), (n, m)])
    r = ml.certify_spectral_norms(ws, rtol=1e-6)
    ref = torch.stack([torch.linalg.matrix_norm(w, ord=2) for w in ws])
    assert bool(((r.lower <= ref) & (ref <= r.upper)).all())
    assert bool(r.certified.all())


def test_broken_upper_is_caught():
    # a deliberately broken "certificate" (upper = lower, no Cholesky) fails the containment check
    ws = _mats(1, [(30, 20)])
    r = ml.certify_spectral_norms(ws, rtol=1e-6)
    ref = torch.linalg.matrix_norm(ws[0], ord=2)
    broken_upper = r.lower * (1 - 1e-6)
    assert not bool((ref <= broken_upper).all())
    assert bool((ref <= r.upper).all())


def test_clustered_top_singular_values():
    q, _ = torch.linalg.qr(torch.randn(50, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
    w = q * torch.linspace(1.0, 1.0 - 1e-9, 20, dtype=torch.float64)
    r = ml.certify_spectral_norms([w], rtol=1e-6)
    assert bool(r.certified.all()) and r.lower[0] <= 1.0 <= r.upper[0]


def test_power_sweep_and_correction():
    ws = _mats(3, [(12, 8), (12, 8), (5, 9)])
    params = [torch.nn.Parameter(w.clone()) for w in ws]
    groups = ml.bind_groups(params)
    sweep = ml.PowerSweep(groups, generator=torch.Generator().manual_seed(0), steps_per_call=200)
    sweep.step()
    ref = torch.stack([torch.linalg.matrix_norm(w, ord=2) for w in ws])
    assert torch.allclose(sweep.sigmas(3), ref, rtol=1e-6)
    sweep.rank_one_correct_([torch.full((len(g.idx),), 0.5, dtype=torch.float64) for g in groups])
    # parameters are views of the stacks: the correction reached them; W'^T u = t v exactly
    assert not torch.equal(params[0].detach(), ws[0])
    for j, g in enumerate(groups):
        lhs = torch.einsum("bmn,bm->bn", g.mats, sweep.u[j])
        assert torch.allclose(lhs, 0.5 * sweep.v[j], atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError):
        ml.certify_spectral_norms([])
    with pytest.raises(ValueError):
        ml.certify_spectral_norms([torch.randn(3, 3)], rtol=0.0)
    with pytest.raises(ValueError):
        ml.certify_spectral_norms([torch.full((3, 3), float("nan"))])
    with pytest.raises(TypeError):
        ml.certify_spectral_norms([torch.ones(3, 3, dtype=torch.int64)])
