"""Norm Scaling and the (eps-shifted) decoupled decay attached through the optimizer's step hooks.

A small float64 model is trained with SGD, Adam and AdamW through the hooks; each test has a
plausible broken variant (a hook in the wrong place, a removed hook) that it catches.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from normtheory.hooks import attach_decoupled_decay, attach_norm_scaling
from normtheory.parametrizations import WeightStandardization
from normtheory.regularizers import DecoupledDecay, slice_stats
from normtheory.roundoff import sum_tolerance, unit_norm_tolerance
from normtheory.scaling import NormScaling, weight_parameters

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.0),
}
STEPS = 25


def model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def data(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(64, 6, dtype=torch.float64, generator=g), torch.randint(0, 3, (64,), generator=g)


def train(net: nn.Module, opt, steps: int = STEPS, after_step=None) -> list[float]:
    x, y = data()
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step()
        losses.append(float(loss.detach()))
    return losses


def frobenius(net) -> list[float]:
    return [float(w.detach().norm()) for w in weight_parameters(net)]


# ------------------------------------------------------------------------------ Norm Scaling


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_norm_scaling_hook_holds_every_norm_after_every_step(name):
    net = model()
    opt = OPTIMIZERS[name](net.parameters())
    hook = attach_norm_scaling(opt, net, mode="frobenius")
    targets = hook.target.targets
    worst = []
    losses = train(net, opt, after_step=lambda: worst.append(max(
        abs(n / t - 1) for n, t in zip(frobenius(net), targets))))
    # one rescale: a norm over n entries and a multiplication (unit_norm_tolerance(n), n <= 96)
    assert max(worst) <= unit_norm_tolerance(96)
    assert losses[-1] < losses[0]  # and the model still trains


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("mode", ["frobenius", "spectral"])
def test_the_hook_is_the_explicit_step_call(name, mode):
    hooked, explicit = model(), model()
    opt_h, opt_e = OPTIMIZERS[name](hooked.parameters()), OPTIMIZERS[name](explicit.parameters())
    attach_norm_scaling(opt_h, NormScaling(hooked, mode, generator=torch.Generator().manual_seed(0)))
    scaler = NormScaling(explicit, mode, generator=torch.Generator().manual_seed(0))
    train(hooked, opt_h)
    train(explicit, opt_e, after_step=scaler.step)
    assert all(torch.equal(a, b) for a, b in zip(hooked.parameters(), explicit.parameters()))


def test_norm_scaling_check_catches_a_pre_step_hook_and_a_removed_one():
    net = model()
    opt = OPTIMIZERS["adam"](net.parameters())
    scaler = NormScaling(net, "frobenius")
    opt.register_step_pre_hook(lambda o, a, k: scaler.step())  # a plausible bug: before the update
    train(net, opt, steps=3)
    assert max(abs(n / t - 1) for n, t in zip(frobenius(net), scaler.targets)) > 1e3 * unit_norm_tolerance(96)

    net = model()
    opt = OPTIMIZERS["adam"](net.parameters())
    hook = attach_norm_scaling(opt, net, mode="frobenius")
    hook.remove()
    train(net, opt, steps=3)
    assert max(abs(n / t - 1) for n, t in zip(frobenius(net), hook.target.targets)) > 1e3 * unit_norm_tolerance(96)


def test_spectral_hook_keeps_sigma_1_at_its_target():
    net = model()
    opt = OPTIMIZERS["sgd"](net.parameters())
    hook = attach_norm_scaling(opt, net, mode="spectral", squarings=12, check_every=1)
    train(net, opt)
    # the s = 12 Gram squaring error bound (NormScaling's docstring) is about 1e-4 at any gap
    assert hook.target.last_check <= 1e-4


# ------------------------------------------------------------------------------ decoupled decay


def adamw_vs_adam_with_hook(when: str, lam: float = 0.1, steps: int = STEPS) -> float:
    """max |W| difference between AdamW(weight_decay=lam) and Adam + the attached decay (eps = 0)."""
    a, b = model(), model()
    opt_a = torch.optim.AdamW(a.parameters(), lr=1e-2, weight_decay=lam)
    opt_b = torch.optim.Adam(b.parameters(), lr=1e-2)
    sched = [torch.optim.lr_scheduler.LambdaLR(o, lambda t: 1 / (1 + t)) for o in (opt_a, opt_b)]
    attach_decoupled_decay(opt_b, list(b.parameters()), lam=lam, eps=0.0, dim=None, when=when)
    train(a, opt_a, steps=steps, after_step=sched[0].step)  # the decay reads the scheduled lr
    train(b, opt_b, steps=steps, after_step=sched[1].step)
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def test_adam_with_the_decay_hook_is_adamw():
    # AdamW multiplies by (1 - lr lam); the hook subtracts lr lam W: each differs from the exact
    # product by a few roundings of |W| <= 1, per step; Adam's update is a function of the
    # gradient that moves the two runs by the same amount up to these differences
    assert adamw_vs_adam_with_hook("pre") <= sum_tolerance(4 * STEPS, 1.0)


def test_the_adamw_comparison_catches_decay_after_the_update():
    assert adamw_vs_adam_with_hook("post") > 1e3 * sum_tolerance(4 * STEPS, 1.0)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_eps_shifted_decay_hook_is_the_explicit_call_before_the_step(name):
    hooked, explicit = model(), model()
    weights_h = [m.weight for m in hooked if isinstance(m, nn.Linear)]
    weights_e = [m.weight for m in explicit if isinstance(m, nn.Linear)]
    opt_h, opt_e = OPTIMIZERS[name](hooked.parameters()), OPTIMIZERS[name](explicit.parameters())
    attach_decoupled_decay(opt_h, weights_h, lam=0.5, eps=0.3, form="wn")
    decay = DecoupledDecay(weights_e, lam=0.5, eps=0.3, form="wn", optimizer=opt_e)
    x, y = data()
    for _ in range(STEPS):
        for net, opt, explicit_decay in ((hooked, opt_h, None), (explicit, opt_e, decay)):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            if explicit_decay is not None:
                explicit_decay.step()
            opt.step()
    assert all(torch.equal(a, b) for a, b in zip(hooked.parameters(), explicit.parameters()))


def test_eps_shifted_decay_moves_each_norm_toward_eps():
    # no loss gradient (SGD on a zero loss): the decay alone takes k -> k - lr lam (k - eps)
    w = nn.Parameter(torch.randn(4, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(5)))
    opt = torch.optim.SGD([w], lr=0.1)
    attach_decoupled_decay(opt, [w], lam=0.5, eps=0.3, form="wn")
    k = slice_stats(w.detach())["norm"].flatten()
    w.grad = torch.zeros_like(w)
    opt.step()
    expected = k - 0.1 * 0.5 * (k - 0.3)
    got = slice_stats(w.detach())["norm"].flatten()
    assert torch.allclose(got, expected, rtol=unit_norm_tolerance(9), atol=0)


def test_ws_parametrized_model_trains_with_eps_shifted_decay_through_the_hook():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 3)).double()
    torch.nn.utils.parametrize.register_parametrization(net[0], "weight", WeightStandardization(eps=1e-3))
    raw = net[0].parametrizations.weight.original
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    attach_decoupled_decay(opt, [raw], lam=1e-2, eps=1e-3, form="ws")
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(32, 2, 6, 6, dtype=torch.float64, generator=g), torch.randint(0, 3, (32,), generator=g)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    assert torch.isfinite(raw).all()


# ------------------------------------------------------------------------------ bad input


def test_attaching_refuses_weights_the_optimizer_does_not_hold():
    net, other = model(), model(1)
    opt = torch.optim.SGD(other.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="not in the optimizer"):
        attach_norm_scaling(opt, net, mode="frobenius")
    with pytest.raises(ValueError, match="not in the optimizer"):
        attach_decoupled_decay(opt, [net[0].weight], lam=0.1)
    with pytest.raises(TypeError, match="optimizer"):
        attach_norm_scaling(object(), net)
    with pytest.raises(ValueError, match="when"):
        attach_decoupled_decay(opt, [other[0].weight], lam=0.1, when="during")
    with pytest.raises(TypeError, match="NormScaling"):
        attach_norm_scaling(opt, NormScaling(other, "frobenius"), squarings=3)


def test_lr_lam_of_one_is_refused_at_the_step_and_nothing_changes():
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    attach_decoupled_decay(opt, [net[0].weight], lam=1.0)
    before = [p.detach().clone() for p in net.parameters()]
    with pytest.raises(ValueError, match="lr \\* lam"):
        train(net, opt, steps=1)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
