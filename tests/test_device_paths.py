"""CUDA paths exercised on the CPU: generators on another device than the tensor (meta tensors
stand in for CUDA ones, with torch's device rule enforced by a monkeypatch), and no host
synchronisation in the hot paths (every Tensor -> Python conversion raises while they run)."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from normtheory import multilayer as ml
from normtheory import scaling
from normtheory.spectral import randn_on


def _strict_generators(monkeypatch):
    """torch's CUDA rule on every device: a generator must live where the draw happens."""
    real_orth, real_randn = nn.init.orthogonal_, torch.randn

    def orth(tensor, gain=1, generator=None):
        if generator is not None and generator.device != tensor.device:
            raise RuntimeError("generator on another device")
        return real_orth(tensor, gain=gain, generator=generator)

    def randn(*size, generator=None, device=None, **kw):
        if generator is not None and torch.device(device or "cpu") != generator.device:
            raise RuntimeError("generator on another device")
        return real_randn(*size, generator=generator, device=device, **kw)
    monkeypatch.setattr(nn.init, "orthogonal_", orth)
    monkeypatch.setattr(torch, "randn", randn)


def test_cpu_generator_for_a_device_tensor(monkeypatch):
    _strict_generators(monkeypatch)
    w = torch.empty(4, 6, device="meta")
    scaling.scaled_orthogonal_(w, generator=torch.Generator().manual_seed(0))
    assert w.device.type == "meta"
    assert randn_on((3, 2), dtype=torch.float32, device="meta", generator=torch.Generator()).device.type == "meta"
    # the broken variant (the generator handed straight to nn.init) fails under the same rule
    with pytest.raises(RuntimeError):
        nn.init.orthogonal_(torch.empty(4, 6, device="meta"), generator=torch.Generator())


def test_same_numbers_whatever_the_device(monkeypatch):
    a = randn_on((5,), dtype=torch.float64, device="cpu", generator=torch.Generator().manual_seed(3))
    b = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@contextlib.contextmanager
def no_host_sync(monkeypatch):
    """Every Tensor -> Python conversion (what synchronises a GPU stream) raises inside."""
    def boom(*a, **k):
        raise AssertionError("host synchronisation in a hot path")
    with monkeypatch.context() as mp:
        for name in ("__bool__", "item", "tolist", "__float__", "__int__", "__index__", "cpu", "numpy"):
            mp.setattr(torch.Tensor, name, boom)
        yield


@pytest.mark.parametrize("kw", [dict(mode="frobenius"), dict(), dict(iters=2)])
def test_norm_scaling_step_makes_no_host_sync(monkeypatch, kw):
    model = nn.Sequential(nn.Linear(6, 8, bias=False), nn.Linear(8, 8, bias=False), nn.Linear(8, 3, bias=False))
    scaler = scaling.NormScaling(model, **kw)
    with no_host_sync(monkeypatch):
        scaler.step()
    # the guard catches a broken variant: a per-step finiteness check
    with no_host_sync(monkeypatch), pytest.raises(AssertionError):
        bool(torch.isfinite(model[0].weight).all())


def test_power_sweep_step_correction_and_sigmas_make_no_host_sync(monkeypatch):
    ws = [torch.randn(5, 4, dtype=torch.float64) for _ in range(3)] + [torch.randn(3, 7, dtype=torch.float64)]
    groups = ml.group_by_shape(ws)
    sweep = ml.PowerSweep(groups, generator=torch.Generator().manual_seed(0), steps_per_call=3)
    targets = [torch.ones(len(g.idx), dtype=torch.float64) for g in groups]
    with no_host_sync(monkeypatch):
        sweep.step()
        sweep.rank_one_correct_(targets, check=False)
        out = sweep.sigmas()
    assert out.shape == (4,)
    with pytest.raises(ValueError):  # NaN targets are refused, not written into the weights
        sweep.rank_one_correct_([torch.full((len(g.idx),), float("nan"), dtype=torch.float64) for g in groups])
    with pytest.raises(ValueError):
        sweep.sigmas(7)  # more layers than the sweep holds: refused, not uninitialised memory
