"""normtheory.toy_models: the shared training loop, the minibatch WN classifier and the atan2 model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from normtheory import reparam
from normtheory.toy_models import MinibatchWN, atan2_grad, atan2_run, train


def _quadratic(target):
    return lambda v, t: 0.5 * (v - target).square().sum()


def test_train_matches_a_hand_written_sgd_with_schedule_and_decay():
    target = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    v0 = torch.tensor([[0.3, 0.2, -0.1]], dtype=torch.float64)
    factor = lambda t: 1.0 + 0.5 * t  # noqa: E731
    out = train(_quadratic(target), v0, steps=4, lr=0.1, weight_decay=0.2, lr_factor=factor)
    v = v0.clone()
    for t in range(4):
        v = v - 0.1 * factor(t) * ((v - target) + 0.2 * v)
    assert torch.allclose(out["norms"][-1], torch.linalg.vector_norm(v, dim=1), rtol=1e-14)
    assert torch.allclose(out["effective_lr"][2], 0.1 * factor(2) / out["norms"][2].square(), rtol=1e-14)


def test_train_projection_keeps_unit_rows_and_v0_is_not_modified():
    model = MinibatchWN(seed=2)
    v0 = model.init(scale=3.0)
    kept = v0.clone()
    batches = model.batches(5, 0)
    out = train(lambda v, t: model.loss(v, batches[t]), v0, steps=5, lr=0.3, project=True)
    assert torch.allclose(out["norms"][1:], torch.ones_like(out["norms"][1:]), rtol=1e-14)
    assert torch.equal(v0, kept)
    plain = train(lambda v, t: model.loss(v, batches[t]), v0, steps=5, lr=0.3)
    assert not torch.allclose(plain["norms"][1:], torch.ones_like(plain["norms"][1:]), rtol=1e-3)


def test_train_initial_buffer_is_used():
    target = torch.zeros(1, 2, dtype=torch.float64)
    v0 = torch.ones(1, 2, dtype=torch.float64)
    a = train(_quadratic(target), v0, steps=1, lr=0.1, momentum=0.9)
    b = train(_quadratic(target), v0, steps=1, lr=0.1, momentum=0.9, initial_buffer=torch.ones(1, 2, dtype=torch.float64))
    # heavy ball: buffer <- 0.9 b + g; with b = 1 and g = 1 the step is 0.1 * 1.9 instead of 0.1
    assert torch.allclose(a["norms"][1], torch.tensor([math.sqrt(2) * 0.9], dtype=torch.float64))
    assert torch.allclose(b["norms"][1], torch.tensor([math.sqrt(2) * 0.81], dtype=torch.float64))


def test_train_bad_input():
    v0 = torch.ones(1, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="optimizer"):
        train(_quadratic(v0), v0, steps=1, lr=0.1, optimizer="lbfgs")
    with pytest.raises(ValueError, match="steps"):
        train(_quadratic(v0), v0, steps=-1, lr=0.1)


def test_atan2_model_is_scale_invariant_with_unit_gradient_norm():
    rng = np.random.default_rng(0)
    for _ in range(10):
        w = rng.standard_normal(2) * 10.0 ** rng.uniform(-3, 3)
        g = atan2_grad(w)
        assert abs(g @ w) <= 4e-16 * np.linalg.norm(g) * np.linalg.norm(w)
        assert math.isclose(np.linalg.norm(atan2_grad(w / np.linalg.norm(w))), 1.0, rel_tol=1e-15)
        assert np.allclose(atan2_grad(3 * w), atan2_grad(w) / 3, rtol=1e-15)  # degree -1


def test_atan2_run_norm_grows_without_decay_and_settles_with_it():
    w0 = np.array([1.0, 0.0])
    s = np.square(atan2_run(w0, lr=0.5, steps=200)).sum(axis=1)
    assert np.all(np.diff(s) > 0)
    assert math.isclose(s[1], 1 + 0.25, rel_tol=1e-15)  # s' = s + lr^2 G^2 / s
    decayed = np.square(atan2_run(w0, lr=0.5, steps=2000, lam=0.1)).sum(axis=1)
    s_star = 0.5 / math.sqrt(0.05 * (2 - 0.05))
    assert math.isclose(decayed[-1], s_star, rel_tol=1e-12)
    unit = atan2_run(w0, lr=0.5, steps=20, project=True)
    assert np.allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-15)


def test_minibatch_wn_is_scale_invariant_per_unit():
    model = MinibatchWN(seed=1)
    v = model.init()
    idx = model.batches(1, 0)[0]
    gamma = torch.tensor([[0.1], [2.0], [30.0], [1e-3], [5.0]], dtype=torch.float64)
    assert torch.allclose(model.loss(gamma * v, idx), model.loss(v, idx), rtol=1e-14)
    assert torch.allclose(reparam.weight_norm(gamma * v), reparam.weight_norm(v), rtol=1e-14)


# --- train_full_batch, train_minibatch_wn, amplification and the perturbations ---------------------

def test_train_full_batch_is_train_on_the_full_batch_loss():
    from normtheory.models import ScaleInvariantNet
    from normtheory.toy_models import train_full_batch

    net = ScaleInvariantNet("wn", seed=3)
    v0 = net.init()
    got = train_full_batch(net, v0, lr=0.1, steps=5, weight_decay=0.01)
    want = train(lambda v, t: net(v), v0, steps=5, lr=0.1, normalize=net.normalized, weight_decay=0.01)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_train_minibatch_wn_uses_batch_t_at_step_t_and_fails_for_shuffled_batches():
    from normtheory.toy_models import train_minibatch_wn

    model = MinibatchWN(seed=1)
    batches = model.batches(6, seed=2)
    run = train_minibatch_wn(model, model.init(), batches, lr=0.3)
    assert torch.allclose(run["norms_sq"], train(lambda v, t: model.loss(v, batches[t]), model.init(),
                                                  steps=6, lr=0.3)["norms"].square(), rtol=0, atol=0)
    shuffled = train_minibatch_wn(model, model.init(), batches[::-1], lr=0.3)
    assert not torch.equal(run["directions"], shuffled["directions"])


def test_amplification_measures_growth_and_fails_to_see_a_start_blind_run():
    from normtheory.toy_models import amplification, directional_perturbation, entrywise_perturbation

    v0 = torch.tensor([[3.0, -4.0]], dtype=torch.float64)
    delta = 1e-9
    # the identity "run" carries the perturbation unchanged: amplification = |v' - v|_inf / delta
    pert = directional_perturbation(v0, delta, seed=5)
    assert amplification(lambda v: v, v0, pert, delta) == pytest.approx(
        float((pert - v0).abs().max()) / delta, rel=1e-12)
    assert float(torch.linalg.vector_norm(pert - v0)) == pytest.approx(delta * 5.0, rel=1e-6)  # ||v0|| = 5
    doubled = amplification(lambda v: 2 * v, v0, pert, delta)
    assert doubled == pytest.approx(2 * amplification(lambda v: v, v0, pert, delta), rel=1e-6)
    # a broken "run" that ignores its start cannot show any sensitivity
    assert amplification(lambda v: torch.zeros_like(v), v0, pert, delta) == 0.0
    entry = entrywise_perturbation(v0, delta, seed=5)
    assert bool(((entry / v0 - 1).abs() <= 10 * delta).all()) and not torch.equal(entry, v0)
    with pytest.raises(ValueError, match="delta"):
        amplification(lambda v: v, v0, pert, 0.0)
