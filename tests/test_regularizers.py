"""normtheory.regularizers: closed-form gradients vs autograd, eps = 0 limits, the decoupled update,
and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, strategies as st

from normtheory import regularizers as rg
from normtheory.claims._roundoff import EPS64

scales = st.floats(min_value=-6, max_value=6).map(lambda e: 10.0 ** e)


def _weight(seed, out_ch, n, scale, shift=0.0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal((out_ch, n)) * scale + shift * scale)


def _autograd(w, **kw):
    wr = w.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(rg.eps_shifted_l2(wr, **kw), wr)
    return g


@given(seed=st.integers(0, 2**32 - 1), out_ch=st.integers(1, 5), n=st.integers(2, 40), scale=scales,
       shift=st.floats(-3, 3), lam=st.floats(1e-4, 1.0), eps_ratio=st.floats(1e-3, 10.0),
       form=st.sampled_from(rg.FORMS))
@example(seed=0, out_ch=1, n=2, scale=1e-6, shift=0.0, lam=1.0, eps_ratio=10.0, form="ws")
def test_closed_form_gradient_matches_autograd(seed, out_ch, n, scale, shift, lam, eps_ratio, form):
    w = _weight(seed, out_ch, n, scale, shift)
    eps = eps_ratio * scale
    got = rg.eps_shifted_l2_grad(w, lam=lam, eps=eps, form=form)
    ref = _autograd(w, lam=lam, eps=eps, form=form)
    s = rg.slice_stats(w)["norm" if form == "wn" else "std"]
    # a few n-term roundings of terms of size lam max|W| (1 + eps/s), on both sides
    tol = 4 * (n + 8) * EPS64 * lam * w.abs().amax(dim=1, keepdim=True) * (1 + eps / s)
    assert bool(((got - ref).abs() <= tol).all())


def test_closed_form_gradient_check_fails_without_the_mean_term():
    # Eq. (28) without its eps/v * mean term: the autograd comparison must catch it
    from normtheory.claims.paper_weight_decay import penalty_grad_gaps

    def broken(w, lam, eps):
        m = w.mean(dim=1, keepdim=True)
        v = torch.linalg.vector_norm(w - m, dim=1, keepdim=True) / w.shape[1] ** 0.5
        return lam * (1 - eps / v) * w

    assert penalty_grad_gaps(broken, "ws", cases=10) > 1.0


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 30), scale=scales, shift=st.floats(-3, 3),
       form=st.sampled_from(rg.FORMS))
def test_eps_zero_is_plain_l2(seed, n, scale, shift, form):
    w = _weight(seed, 3, n, scale, shift)
    plain = float(rg.l2_penalty(w, lam=0.3))
    shifted = float(rg.eps_shifted_l2(w, lam=0.3, eps=0.0, form=form))
    # WS: n (m^2 + v^2) = ||W||^2 up to (n + 10) eps relative (sums of n squares, the centering)
    assert math.isclose(plain, shifted, rel_tol=4 * (n + 10) * EPS64)
    assert torch.equal(rg.eps_shifted_l2_grad(w, lam=0.3, eps=0.0, form=form), rg.l2_penalty_grad(w, lam=0.3))


def test_eps_zero_check_fails_for_sample_variance():
    # the WS identity n (m^2 + v^2) = ||W||^2 needs the population std; the unbiased one breaks it
    w = _weight(0, 1, 5, 1.0, 1.0)
    m, v = w.mean(), w.std(unbiased=True)
    assert not math.isclose(float(5 * (m**2 + v**2)), float(w.square().sum()), rel_tol=1e-6)


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 30), lr=st.floats(1e-3, 0.5),
       lam=st.floats(1e-3, 1.0), eps=st.floats(0.0, 2.0))
def test_decoupled_wn_step_moves_norm_towards_eps_keeping_direction(seed, n, lr, lam, eps):
    w = _weight(seed, 4, n, 1.0)
    k = torch.linalg.vector_norm(w, dim=1)
    p = w.clone()
    rg.DecoupledDecay([p], lam=lam, eps=eps, form="wn").step(lr)
    k_new = torch.linalg.vector_norm(p, dim=1)
    expected = k - lr * lam * (k - eps)
    assert torch.allclose(k_new, expected, rtol=8 * (n + 10) * EPS64, atol=8 * (n + 10) * EPS64)
    # direction unchanged when the factor 1 - lr lam (1 - eps/k) stays positive
    assert torch.allclose(p / k_new[:, None], w / k[:, None], atol=8 * (n + 10) * EPS64)


def test_decoupled_ws_step_shrinks_mean_and_moves_std_towards_eps():
    w = _weight(1, 3, 20, 2.0, 1.5)
    p = w.clone()
    rg.DecoupledDecay([p], lam=0.5, eps=0.3, form="ws").step(0.2)
    before, after = rg.slice_stats(w), rg.slice_stats(p)
    assert torch.allclose(after["mean"], before["mean"] * (1 - 0.1), atol=1e-13)
    assert torch.allclose(after["std"], before["std"] - 0.1 * (before["std"] - 0.3), atol=1e-13)


def test_decoupled_step_fails_for_coupled_sign_flip():
    # a broken decay that adds the gradient moves the norm away from eps: the check above notices
    w = _weight(2, 2, 8, 1.0)
    p = w.clone()
    with torch.no_grad():
        p.add_(0.1 * rg.eps_shifted_l2_grad(p, lam=0.5, eps=0.1, form="wn"))
    k, k_new = torch.linalg.vector_norm(w, dim=1), torch.linalg.vector_norm(p, dim=1)
    assert not torch.allclose(k_new, k - 0.05 * (k - 0.1))


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_decoupled_decay_reads_optimizer_lr_and_scheduler():
    w = torch.nn.Parameter(_weight(3, 2, 6, 1.0))
    opt = torch.optim.SGD([w], lr=0.1)  # any optimizer: only its param groups' lr is read
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 ** t)
    decay = rg.DecoupledDecay([w], lam=1.0, optimizer=opt)
    before = w.detach().clone()
    decay.step()
    assert torch.allclose(w.detach(), 0.9 * before)
    sched.step()
    decay.step()
    assert torch.allclose(w.detach(), 0.9 * 0.95 * before)


def test_functions_do_not_modify_input():
    w = _weight(4, 3, 7, 1.0)
    copy = w.clone()
    for form in rg.FORMS:
        rg.eps_shifted_l2(w, lam=0.1, eps=0.2, form=form)
        rg.eps_shifted_l2_grad(w, lam=0.1, eps=0.2, form=form)
    assert torch.equal(w, copy)


@pytest.mark.parametrize("call, err, match", [
    (lambda: rg.l2_penalty(torch.ones(3, dtype=torch.int64), lam=0.1), TypeError, "floating"),
    (lambda: rg.l2_penalty(torch.tensor([1.0, float("nan")]), lam=0.1), ValueError, "NaN"),
    (lambda: rg.l2_penalty(torch.ones(3), lam=-1.0), ValueError, "lam"),
    (lambda: rg.eps_shifted_l2(torch.ones(2, 3), lam=0.1, eps=-1e-3), ValueError, "eps"),
    (lambda: rg.eps_shifted_l2(torch.ones(2, 3), lam=0.1, eps=1e-3, form="bn"), ValueError, "form"),
    (lambda: rg.eps_shifted_l2(torch.ones(2, 3), lam=0.1, eps=1e-3, dim=5), ValueError, "dim"),
    (lambda: rg.eps_shifted_l2(torch.ones(3), lam=0.1, eps=1e-3, dim=0), ValueError, "one entry"),
    (lambda: rg.eps_shifted_l2(torch.zeros(2, 3), lam=0.1, eps=1e-3), ValueError, "zero norm"),
    (lambda: rg.eps_shifted_l2_grad(torch.ones(2, 3), lam=0.1, eps=1e-3, form="ws"), ValueError,
     "zero standard deviation"),
    (lambda: rg.eps_shifted_l2_grad([[1.0]], lam=0.1, eps=1e-3), TypeError, "torch.Tensor"),
    (lambda: rg.DecoupledDecay([], lam=0.1), ValueError, "empty"),
    (lambda: rg.DecoupledDecay([torch.ones(2, 3)], lam=0.1).step(), ValueError, "lr"),
    (lambda: rg.DecoupledDecay([torch.ones(2, 3)], lam=0.1).step(-0.1), ValueError, "lr"),
    (lambda: rg.DecoupledDecay([torch.ones(2, 3)], lam=0.1, optimizer=torch.optim.SGD(
        [torch.nn.Parameter(torch.ones(1))], lr=0.1)).step(), ValueError, "param groups"),
])
def test_bad_input_raises(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_eps_zero_allows_zero_weight():
    # with eps = 0 the penalty and its gradient are the plain L2 ones, defined at W = 0
    assert float(rg.eps_shifted_l2(torch.zeros(2, 3), lam=0.1, eps=0.0, form="ws")) == 0.0
    assert torch.equal(rg.eps_shifted_l2_grad(torch.zeros(2, 3), lam=0.1, eps=0.0), torch.zeros(2, 3))


def test_l2_penalty_grad_messages_and_half_precision_dtypes():
    import normtheory.reparam as rp

    with pytest.raises(TypeError, match="^weight is complex"):
        rg.l2_penalty_grad(torch.ones(2, dtype=torch.complex64), lam=0.1)
    with pytest.raises(ValueError, match="^lam must be >= 0, got -0.1"):
        rg.l2_penalty_grad(torch.ones(2), lam=-0.1)
    assert rp.weight_standardization(torch.tensor([[1.0, 3.0]], dtype=torch.float16)).dtype == torch.float16
