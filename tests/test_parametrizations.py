"""WN, centered WN and WS(+eps) as torch.nn.utils.parametrize parametrizations.

Checked against the functional forms of normtheory.reparam (exactly: the parametrizations call
them), against torch's own ``weight_norm`` parametrization (values, gradients, state dicts), and
with ``torch.func.functional_call``, ``torch.compile`` and ``state_dict`` round trips.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm as torch_weight_norm

from normtheory import reparam
from normtheory.parametrizations import CenteredWeightNormalization, WeightNormalization, WeightStandardization
from normtheory.roundoff import centered_tolerance, sum_tolerance, unit_norm_tolerance


def conv(seed: int = 0) -> nn.Conv2d:
    torch.manual_seed(seed)
    return nn.Conv2d(3, 5, 3).double()


def linear(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(7, 4).double()


def _registered(layer: nn.Module, param: nn.Module) -> nn.Module:
    parametrize.register_parametrization(layer, "weight", param)
    return layer


def _original(layer: nn.Module) -> torch.Tensor:
    return layer.parametrizations.weight.original


# ------------------------------------------------------------------ against the functional forms


@pytest.mark.parametrize("make", [conv, linear])
@pytest.mark.parametrize("dim", [0, None])
def test_each_parametrization_is_its_functional_form(make, dim):
    w = make().weight.detach().clone()
    wn = _registered(make(), WeightNormalization(dim=dim))
    g, v = wn.parametrizations.weight.original0, wn.parametrizations.weight.original1
    assert torch.equal(wn.weight, reparam.weight_norm(v, g, dim=dim))
    assert torch.allclose(wn.weight, w, rtol=unit_norm_tolerance(w[0].numel()), atol=0)  # kept

    cwn = _registered(make(), CenteredWeightNormalization(dim=dim))
    g, v = cwn.parametrizations.weight.original0, cwn.parametrizations.weight.original1
    assert torch.equal(cwn.weight, reparam.centered_weight_norm(v, g, dim=dim))

    ws = _registered(make(), WeightStandardization(eps=1e-3, dim=dim))
    assert torch.equal(ws.weight, reparam.weight_standardization(_original(ws), eps=1e-3, dim=dim))
    assert torch.equal(_original(ws), w)  # WS stores the raw weight


def test_centered_wn_centers_a_weight_and_keeps_a_centered_one():
    w = conv().weight.detach()
    layer = _registered(conv(), CenteredWeightNormalization())
    centered = w - w.mean(dim=(1, 2, 3), keepdim=True)
    # centering then a unit-norm scaling; the reference is formed the same way with one
    # rounding less: the centered tolerance of 27 entries (kappa <= sqrt(27)) times the norm g
    tol = centered_tolerance(1, 27, 27**0.5) * float(centered.flatten(1).norm(dim=1).max())
    assert torch.allclose(layer.weight, centered, rtol=0, atol=tol)
    assert not torch.allclose(layer.weight, w, rtol=1e-3)  # the raw weight was not centered


def test_ws_eps_is_used_and_zero_eps_is_affine_invariant():
    layer = _registered(conv(), WeightStandardization(eps=0.0))
    w0 = layer.weight.detach().clone()
    with torch.no_grad():
        _original(layer).mul_(3.0).add_(0.25)
    # centered_tolerance: a stored weight (n_sum = 1, then the affine change: 2), 27 entries
    # per statistic, kappa = max|w - mean| / std <= sqrt(27)
    tol = centered_tolerance(2, 27, 27**0.5)
    assert torch.allclose(layer.weight, w0, rtol=0, atol=tol)
    shifted = _registered(conv(), WeightStandardization(eps=0.1))
    assert not torch.allclose(shifted.weight, w0, rtol=1e-3)  # eps moves the result


# ------------------------------------------------------------------ against torch's weight_norm


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_normalization_matches_torch_weight_norm(dim):
    ours = _registered(conv(), WeightNormalization(dim=dim))
    theirs = torch_weight_norm(conv(), dim=dim)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for k in ours.state_dict():
        assert ours.state_dict()[k].shape == theirs.state_dict()[k].shape, k
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    # each side: a slice norm over n = 27 (or 135) entries and a division, so relative
    # unit_norm_tolerance(n) per entry covers the difference of the two (scaled vs unscaled norm)
    tol = unit_norm_tolerance(ours.weight.numel() if dim is None else ours.weight[0].numel())
    assert torch.allclose(ours.weight, theirs.weight, rtol=tol, atol=0)
    ours(x).square().sum().backward()
    theirs(x).square().sum().backward()
    for name in ("original0", "original1"):
        a = getattr(ours.parametrizations.weight, name).grad
        b = getattr(theirs.parametrizations.weight, name).grad
        # the weights differ by tol (relative); the backward passes sum products over the
        # 2 x 4 x 4 = 32 output positions and the slice (at most 135 entries): sum_tolerance of
        # those terms on top of tol, against the gradient's scale
        terms = 32 + ours.weight.numel()
        grad_tol = tol + sum_tolerance(terms, 1.0)
        assert torch.allclose(a, b, rtol=grad_tol, atol=grad_tol * float(b.abs().max())), name


def test_state_dicts_move_between_ours_and_torch_weight_norm():
    ours = _registered(conv(0), WeightNormalization())
    theirs = torch_weight_norm(conv(1))
    theirs.load_state_dict(ours.state_dict())
    assert torch.allclose(theirs.weight, ours.weight, rtol=unit_norm_tolerance(27), atol=0)  # as above


def test_the_torch_comparison_catches_the_wrong_kept_dim():
    ours = _registered(conv(), WeightNormalization(dim=1))  # a plausible bug: the input axis kept
    theirs = torch_weight_norm(conv(), dim=0)
    with torch.no_grad():  # same (g, v) values where shapes allow: compare the maps on one v
        v = theirs.parametrizations.weight.original1
        ours_w = reparam.weight_norm(v, dim=1)
        theirs_w = torch._weight_norm(v, torch.ones(5, 1, 1, 1, dtype=v.dtype), 0)
    assert not torch.allclose(ours_w, theirs_w, rtol=1e-3)
    assert ours.weight.shape == theirs.weight.shape


# ---------------------------------------------------------------- functional_call, compile, state


@pytest.mark.parametrize("param", [WeightNormalization(), CenteredWeightNormalization(),
                                   WeightStandardization(eps=1e-3)], ids=["wn", "cwn", "ws"])
def test_functional_call_uses_the_given_originals(param):
    layer = _registered(conv(), param)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    swapped = {k: v.detach() * 1.5 + 0.1 for k, v in layer.named_parameters()}
    out = torch.func.functional_call(layer, swapped, (x,))
    with torch.no_grad():
        for k, v in layer.named_parameters():
            v.copy_(swapped[k])
    assert torch.equal(out, layer(x))


@pytest.mark.parametrize("param", [WeightNormalization(), CenteredWeightNormalization(),
                                   WeightStandardization(eps=1e-3)], ids=["wn", "cwn", "ws"])
def test_state_dict_round_trip(param, tmp_path):
    layer = _registered(conv(0), param)
    torch.save(layer.state_dict(), tmp_path / "w.pt")
    fresh = _registered(conv(1), type(param)(**({"eps": 1e-3} if isinstance(param, WeightStandardization) else {})))
    assert not torch.equal(fresh.weight, layer.weight)
    fresh.load_state_dict(torch.load(tmp_path / "w.pt"))
    assert torch.equal(fresh.weight, layer.weight)


@pytest.mark.parametrize("param", [WeightNormalization(), CenteredWeightNormalization(),
                                   WeightStandardization(eps=1e-3)], ids=["wn", "cwn", "ws"])
def test_torch_compile_gives_the_eager_result(param):
    layer = _registered(conv(), param)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    compiled = torch.compile(layer, backend="aot_eager")  # graph capture and autograd, no C compiler
    assert torch.equal(compiled(x), layer(x))
    compiled(x).sum().backward()
    grads = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    layer(x).sum().backward()
    assert all(torch.equal(a, p.grad) for a, p in zip(grads, layer.parameters()))


@pytest.mark.slow
def test_torch_compile_inductor_on_the_cpu():
    layer = _registered(conv(), WeightStandardization(eps=1e-3))
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    try:
        out = torch.compile(layer)(x)
    except Exception as err:  # no C++ compiler / unsupported platform: inductor is unavailable
        pytest.skip(f"torch.compile (inductor) unavailable here: {type(err).__name__}: {err}")
    tol = unit_norm_tolerance(27) * 27  # inductor reorders the reductions: a sum over the 27-entry
    # slice for the mean and the std, then the conv's 27-term inner products
    with torch.no_grad():
        eager = layer(x)
    assert torch.allclose(out.detach(), eager, rtol=tol, atol=tol * float(eager.abs().max()))


# --------------------------------------------------------------------------------- bad input


def test_bad_arguments_are_refused_with_their_name():
    with pytest.raises(ValueError, match="eps"):
        WeightStandardization(eps=-1e-3)
    with pytest.raises(TypeError, match="dim"):
        WeightNormalization(dim="0")
    with pytest.raises(TypeError, match="dim"):
        CenteredWeightNormalization(dim=True)
    zero = conv()
    with torch.no_grad():
        zero.weight[1].zero_()
    with pytest.raises(ValueError, match="norm"):
        _registered(zero, WeightNormalization())
