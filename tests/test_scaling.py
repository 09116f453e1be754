"""scaling.py: scaled orthogonal init and Norm Scaling in training, invariant checked every step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from normtheory import spectral as sp
from normtheory.scaling import NormScaling, scaled_orthogonal_, scaled_orthogonal_init_, weight_parameters



EPS = float(np.finfo(np.float64).eps)


def mlp():
    return nn.Sequential(nn.Linear(12, 24, bias=False), nn.ReLU(), nn.Linear(24, 24, bias=False),
                         nn.ReLU(), nn.Linear(24, 24, bias=False), nn.ReLU(), nn.Linear(24, 4, bias=False)).double()


def cnn():
    return nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(6 * 3 * 3, 4)).double()


def _data(model_kind, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 12, dtype=torch.float64, generator=g) if model_kind == "mlp" else \
        torch.randn(32, 2, 6, 6, dtype=torch.float64, generator=g)
    return x, torch.randint(0, 4, (32,), generator=g)


def frobenius_invariant_error(scaler):
    """max_k | ||W_k||_F / target_k - 1 | (should be O(n eps))."""
    return max(abs(float(torch.linalg.matrix_norm(sp.as_matrix(w.detach()))) / t - 1)
               for w, t in zip(scaler.weights, scaler.targets))


def spectral_invariant_violation(scaler):
    """max over weights of how far sigma_1(W) falls outside [target, max(target, f) + rho]
    (relative to target), with f and rho recomputed from the kept vector v."""
    worst = 0.0
    for g in scaler._groups:
        for j, i in enumerate(g["idx"]):
            W = sp.as_matrix(scaler.weights[i].detach()).double()
            s1 = float(torch.linalg.svdvals(W)[0])
            t = scaler.targets[i]
            # after the step, W v = target u exactly (up to round-off), so sigma_1 >= target
            wv = float(torch.linalg.vector_norm(W @ g["v"][j].double()))
            rho = float(scaler.last_residuals[i])
            P = W - wv * torch.outer(W @ g["v"][j].double() / wv, g["v"][j].double())
            f = float(torch.linalg.matrix_norm(P, ord=2))  # ||W (I - v v^T)|| >= compression norm
            tol = 64 * sum(W.shape) * EPS * t  # round-off of the rank-one update and the SVD
            worst = max(worst, (t - s1 - tol) / t, (s1 - (max(t, f) + rho) - tol) / t,
                        abs(wv - t) / t - 64 * sum(W.shape) * EPS)
    return worst


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("mode", ["frobenius", "spectral"])
@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_norm_scaling_trains_with_invariant_every_step(kind, mode, opt):
    torch.manual_seed(0)
    model = mlp() if kind == "mlp" else cnn()
    scaled_orthogonal_init_(model)
    scaler = NormScaling(model, mode=mode)
    optim = torch.optim.Adam(model.parameters(), lr=1e-2) if opt == "adam" else \
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = _data(kind, 0)
    first = None
    for step in range(25):
        loss = nn.functional.cross_entropy(model(x), y)
        first = first if first is not None else float(loss.detach())
        optim.zero_grad()
        loss.backward()
        optim.step()
        scaler.step()
        if mode == "frobenius":
            assert frobenius_invariant_error(scaler) <= 16 * 100 * EPS  # norm of <=576 entries, 1 scale
        else:
            assert spectral_invariant_violation(scaler) <= 0.0
    assert float(nn.functional.cross_entropy(model(x), y).detach()) < first  # it trains


def test_broken_scaling_violates_invariant():
    torch.manual_seed(0)
    model = mlp()
    scaled_orthogonal_init_(model)
    scaler = NormScaling(model, mode="spectral")
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = _data("mlp", 0)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optim.step()
    scaler.step()
    assert spectral_invariant_violation(scaler) <= 0.0
    with torch.no_grad():  # broken variant: sigma^2 instead of sigma in the correction
        scaler.weights[0].mul_(1.1)
    assert spectral_invariant_violation(scaler) > 0.0
    fro = NormScaling(model, mode="frobenius")
    with torch.no_grad():
        fro.weights[1].mul_(1 + 1e-9)
    assert frobenius_invariant_error(fro) > 16 * 100 * EPS


def test_scaled_orthogonal_norms_linear_and_conv():
    for shape in [(8, 3), (3, 8), (5, 5), (16, 4, 3, 3), (4, 16, 3, 3), (6, 2, 1, 1)]:
        w = torch.zeros(*shape, dtype=torch.float64)
        scaled_orthogonal_(w, generator=torch.Generator().manual_seed(0))
        m, n = shape[0], math.prod(shape[1:])
        s = torch.linalg.svdvals(sp.as_matrix(w))
        assert abs(float(s[0]) - math.sqrt(m / n)) <= 64 * max(m, n) * EPS
        assert abs(float(torch.linalg.matrix_norm(sp.as_matrix(w))) - math.sqrt(min(m, n) * m / n)) \
            <= 64 * max(m, n) * EPS * math.sqrt(min(m, n))


def test_same_shape_weights_are_batched_and_vectors_kept():
    model = mlp()
    scaler = NormScaling(model, mode="spectral", iters=2)
    shapes = [g["shape"] for g in scaler._groups]
    assert len(shapes) == 3 and sum(len(g["idx"]) for g in scaler._groups) == 4
    v_before = [g["v"].clone() for g in scaler._groups]
    scaler.step()
    assert any(not torch.equal(a, g["v"]) for a, g in zip(v_before, scaler._groups))
    assert len(weight_parameters(cnn())) == 3


def test_norm_scaling_bad_input():
    model = mlp()
    with pytest.raises(ValueError):
        NormScaling(model, mode="nuclear")
    with pytest.raises(ValueError):
        NormScaling(model, targets=[1.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        NormScaling(model, targets=[1.0])
    with pytest.raises(ValueError):
        NormScaling(model, iters=0)
    with pytest.raises(ValueError):
        NormScaling(model, rtol=1.5)
    with pytest.raises(ValueError):
        NormScaling([torch.ones(3, dtype=torch.float64)])
    with pytest.raises(ValueError):
        NormScaling([torch.zeros(3, 3, dtype=torch.float64)], mode="frobenius")
    with pytest.raises(TypeError):  # one tensor would be split into per-row "weights"
        NormScaling(torch.ones(4, 3, 3, 3, dtype=torch.float64))
    with pytest.raises(TypeError):  # the one shared check: real weights only
        NormScaling([torch.ones(3, 3, dtype=torch.complex128)])
    with pytest.raises(ValueError):
        NormScaling(model, clip="some")
    with pytest.raises(ValueError, match="matrix view"):
        NormScaling([torch.randn(4, 3, 3, 3).to(memory_format=torch.channels_last)])
    with pytest.raises(ValueError):
        NormScaling([torch.full((3, 3), float("nan"), dtype=torch.float64)])
    # validation is at construction; a weight that becomes zero later is left as is and flagged
    for mode in ("frobenius", "spectral"):
        s = NormScaling(model, mode=mode)
        with torch.no_grad():
            model[0].weight.zero_()
        s.step()
        assert bool(torch.isfinite(model[0].weight).all()) and not bool(model[0].weight.any())
        assert any(bool(d.any()) for d in s.last_degenerate)
        with torch.no_grad():
            scaled_orthogonal_init_(model)


def _adam_run(steps=20, **kw):
    """An MLP trained with Adam under spectral Norm Scaling; per step the worst relative error of
    the corrected sigma estimate against the float64 SVD of the same (pre-correction) weights, and
    the worst |sigma_1 / target - 1| after the step."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64, bias=False), nn.ReLU(), nn.Linear(64, 64, bias=False), nn.ReLU(),
                          nn.Linear(64, 10, bias=False))
    scaled_orthogonal_init_(model, generator=torch.Generator().manual_seed(0))
    scaler = NormScaling(model, mode="spectral", **kw)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 16, generator=g), torch.randint(0, 10, (64,), generator=g)
    tracking, after = 0.0, 0.0
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        before = [float(torch.linalg.svdvals(w.detach().double())[0]) for w in scaler.weights]
        scaler.step()
        if scaler.clip == "top":
            tracking = max(tracking, max(abs(float(e) / b - 1) for e, b in zip(scaler.last_sigmas, before)))
        after = max(after, max(abs(float(torch.linalg.svdvals(w.detach().double())[0]) / t - 1)
                               for w, t in zip(scaler.weights, scaler.targets)))
    return tracking, after


def test_default_estimator_tracks_sigma1_to_1e3_every_step():
    # cold Gram squaring (the default) against warm power steps (a plausible cheaper estimator)
    tracking, _ = _adam_run()
    assert tracking <= 1e-3
    warm, _ = _adam_run(iters=2)
    assert warm > 1e-3


def test_clip_all_holds_sigma1_where_rank_one_cannot():
    # the blog's rank-one correction leaves sigma_2 alone, which Adam pushes above the target;
    # clipping every singular value above the target holds sigma_1 at it (float32 weights: the
    # update's rounding, 64 * (m + n) float32 eps)
    _, top = _adam_run()
    _, clipped = _adam_run(clip="all")
    assert clipped <= 64 * 128 * float(torch.finfo(torch.float32).eps)
    assert top > 1e-2


def test_certified_check_every_k_steps():
    model = mlp()
    scaled_orthogonal_init_(model)
    scaler = NormScaling(model, mode="spectral", check_every=2)
    scaler.step()
    assert scaler.last_check is None
    scaler.step()
    assert scaler.last_check is not None and scaler.last_check <= 1e-5
