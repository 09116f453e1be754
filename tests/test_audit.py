"""normtheory audit: certified brackets, operator norms against dense SVDs, broken variants, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings, strategies as st
from torch import nn

from normtheory import audit
from normtheory.audit import _operator
from normtheory.audit._certify import EPS64, SigmaBracket, bracket, sigma_bracket

# Comparisons with LAPACK's SVD: the reference itself is accurate to a few k*eps relative
# (backward stable SVD, Weyl); 1e-12 relative is > 4000 eps and far below any bracket width we assert.
REF_SLACK = 1e-12


def _contains(br: SigmaBracket, value: float) -> bool:
    return br.lower <= value * (1 + REF_SLACK) and value <= br.upper * (1 + REF_SLACK)


def _matrix_with_spectrum(seed: int, m: int, n: int, top: list[float], scale: float) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    k = min(m, n)
    u, _ = np.linalg.qr(rng.standard_normal((m, k)))
    v, _ = np.linalg.qr(rng.standard_normal((n, k)))
    s = np.sort(np.concatenate([top, rng.uniform(0, min(top), size=k)]))[::-1][:k]
    return torch.from_numpy((u * s) @ v.T * scale)


# ------------------------------------------------------------------ the certified matrix bracket

def bracket_property(bracket_fn, w: torch.Tensor) -> bool:
    """The property: the bracket contains LAPACK's sigma_1."""
    return _contains(bracket_fn(w), float(torch.linalg.svdvals(w)[0]))


@settings(max_examples=20)
@given(seed=st.integers(0, 2**31), m=st.integers(1, 24), n=st.integers(1, 24),
       gap=st.sampled_from([0.0, 1e-9, 1e-3, 0.5]), scale_exp=st.integers(-150, 150))
@example(seed=0, m=24, n=24, gap=0.0, scale_exp=0)        # repeated top singular value
@example(seed=1, m=1, n=24, gap=0.5, scale_exp=-150)      # a row vector, tiny entries
@example(seed=2, m=24, n=2, gap=1e-9, scale_exp=150)      # nearly repeated, huge entries
def test_sigma_bracket_contains_svd_value(seed, m, n, gap, scale_exp):
    k = min(m, n)
    top = [1.0, 1.0 - gap] if k >= 2 else [1.0]
    w = _matrix_with_spectrum(seed, m, n, top, 10.0 ** scale_exp)
    br = sigma_bracket(w, rtol=1e-6)
    assert bracket_property(lambda x: sigma_bracket(x, rtol=1e-6), w)
    assert bool(br.certified) and float(br.rel_width) <= 1e-6


def test_sigma_bracket_fails_for_uncertified_variant():
    # Broken variant: a "bracket" whose upper end is a 2-step power-iteration estimate; with a
    # small gap it underestimates sigma_1 and the property catches it.
    def broken(w):
        v = torch.ones(w.shape[1], dtype=torch.float64)
        for _ in range(2):
            v = w.T @ (w @ v)
            v = v / v.norm()
        est = float((w @ v).norm())
        return bracket(est, est, "power iteration (uncertified)", rtol=1e-6)
    w = _matrix_with_spectrum(3, 30, 30, [1.0, 0.999], 1.0)
    assert bracket_property(lambda x: sigma_bracket(x), w)
    assert not bracket_property(broken, w)


def test_sigma_bracket_zero_and_complex():
    assert sigma_bracket(torch.zeros(3, 4)).upper == 0.0
    w = torch.randn(6, 9, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    assert bracket_property(sigma_bracket, w)


def test_brackets_agree_with_spectral_core_when_present():
    spectral = pytest.importorskip("normtheory.spectral")
    w = _matrix_with_spectrum(4, 50, 70, [2.0, 1.9], 1.0)
    ours = sigma_bracket(w)
    theirs = spectral.spectral_norm_bracket(w)
    assert max(ours.lower, float(theirs.lower)) <= min(ours.upper, float(theirs.upper))


# ------------------------------------------------------------------- operator norms, dense truth

def _dense_operator_norm(module: nn.Module, input_shape) -> float:
    """sigma_1 of the layer's Jacobian (bias removed), from a full SVD: the ground truth."""
    module = module.double()
    x = torch.zeros((1,) + tuple(input_shape), dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: module(t), x)
    n_out = math.prod(jac.shape[: jac.ndim // 2])
    return float(torch.linalg.svdvals(jac.reshape(n_out, -1))[0])


CONV_CASES = [
    # (class, in, out, kernel, stride, padding, dilation, groups, mode, input spatial)
    (nn.Conv1d, 3, 4, 3, 1, 1, 1, 1, "zeros", (9,)),
    (nn.Conv1d, 4, 4, 3, 2, 2, 2, 2, "reflect", (9,)),
    (nn.Conv2d, 3, 5, 3, 1, 1, 1, 1, "zeros", (6, 6)),
    (nn.Conv2d, 4, 6, 3, 2, 1, 1, 2, "zeros", (7, 7)),
    (nn.Conv2d, 3, 4, 3, 1, 1, 1, 1, "circular", (6, 6)),
    (nn.Conv2d, 2, 4, 3, 1, 2, 2, 1, "circular", (7, 7)),
    (nn.Conv2d, 2, 3, 3, 1, 1, 1, 1, "replicate", (5, 5)),
    (nn.Conv2d, 4, 8, 1, 2, 0, 1, 1, "zeros", (5, 5)),
    (nn.Conv3d, 2, 3, 3, 1, 1, 1, 1, "zeros", (4, 4, 4)),
    (nn.Conv3d, 2, 2, 3, 1, 1, 1, 1, "circular", (4, 4, 4)),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0].__name__}-s{c[4]}-d{c[6]}-g{c[7]}-{c[8]}")
def test_operator_norm_brackets_dense_svd(case):
    cls, cin, cout, k, s, p, d, g, mode, spatial = case
    torch.manual_seed(0)
    layer = cls(cin, cout, k, stride=s, padding=p, dilation=d, groups=g, padding_mode=mode, bias=False)
    model = nn.Sequential(layer)
    report = audit.audit_model(model, (cin,) + spatial)
    la = report.layers[0]
    true = _dense_operator_norm(layer, (cin,) + spatial)
    assert _contains(la.operator_norm, true), (la.operator_norm, true)
    assert _contains(la.sigma_matrix, float(torch.linalg.svdvals(layer.weight.detach().double().reshape(cout, -1))[0]))
    if la.operator_exact:
        assert la.operator_norm.rel_width <= 1e-6  # the requested rtol
    for name, bound in la.analytic_bounds.items():
        if name.startswith("upper"):
            assert true <= bound * (1 + REF_SLACK)
        if name.startswith("lower"):
            assert true >= bound * (1 - REF_SLACK)


STRIDED = [  # (in, out, kernel, stride, padding, dilation, mode, spatial)
    (4, 6, 3, 2, 1, 1, "zeros", (7, 7)), (3, 4, 3, 2, 1, 1, "zeros", (8, 8)),
    (2, 3, 3, 3, 1, 1, "zeros", (9, 9)), (2, 2, 3, 2, 1, 1, "circular", (8, 8)),
    (3, 5, 3, 2, 2, 2, "circular", (8, 8)), (2, 3, 3, (2, 1), 1, 1, "zeros", (8, 7)),
]


@pytest.mark.parametrize("case", STRIDED)
def test_strided_circulant_bound_is_valid_and_tight(case, monkeypatch):
    cin, cout, k, s, p, d, mode, spatial = case
    s = (s, s) if isinstance(s, int) else s
    torch.manual_seed(0)
    layer = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, padding_mode=mode, bias=False)
    geo = _operator.ConvGeometry(cin, spatial, s, (p, p), (d, d), 1, mode)
    true = _dense_operator_norm(layer, (cin,) + spatial)
    upper = _operator.fft_upper_bound(layer.weight, geo)
    assert true <= upper * (1 + REF_SLACK)
    if _operator.is_exact_circular(layer.weight, geo):
        assert abs(_operator.conv_operator_norm(layer.weight, geo)[0].upper / true - 1) <= 2e-12
    # the stride-1 circulant alone (the broken variant: striding ignored) is much looser here
    loose = _operator.circulant_norm(layer.weight.double(), _operator.embedding_size(layer.weight, geo), geo)
    if mode == "zeros":
        assert upper <= loose
    if mode == "zeros" and s == (2, 2):
        assert upper <= 1.1 * true < 1.1 * loose / 1.2


CONVT_CASES = [
    # (class, in, out, kernel, stride, padding, output_padding, dilation, groups, input spatial)
    (nn.ConvTranspose1d, 3, 4, 3, 2, 1, 1, 1, 1, (5,)),
    (nn.ConvTranspose2d, 4, 6, 3, 2, 1, 1, 1, 2, (4, 4)),
    (nn.ConvTranspose2d, 3, 2, 4, 2, 1, 0, 1, 1, (5, 5)),
    (nn.ConvTranspose2d, 2, 3, 3, 1, 2, 0, 2, 1, (6, 6)),
    (nn.ConvTranspose3d, 2, 2, 3, 2, 1, 1, 1, 1, (3, 3, 3)),
]


@pytest.mark.parametrize("case", CONVT_CASES, ids=lambda c: f"{c[0].__name__}-s{c[4]}-op{c[6]}-g{c[8]}")
def test_transposed_conv_brackets_dense_svd(case):
    cls, cin, cout, k, s, p, op, d, g, spatial = case
    torch.manual_seed(0)
    layer = cls(cin, cout, k, stride=s, padding=p, output_padding=op, dilation=d, groups=g, bias=False)
    la = audit.audit_model(nn.Sequential(layer), (cin,) + spatial).layers[0]
    true = _dense_operator_norm(layer, (cin,) + spatial)
    assert _contains(la.operator_norm, true), (la.operator_norm, true)
    assert bool(la.operator_norm.certified)


def test_transposed_conv_check_catches_forward_geometry_variant(monkeypatch):
    # Broken variant: size the transposed layer's map at its *input* (as for a forward conv).
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1, bias=False)
    true = _dense_operator_norm(layer, (3, 4, 4))
    monkeypatch.setattr(audit, "_transposed_geometry",
                        lambda mod, out_shape: _operator.ConvGeometry(4, (4, 4), (2, 2), (1, 1), (1, 1), 1, "zeros"))
    la = audit.audit_model(nn.Sequential(layer), (3, 4, 4)).layers[0]
    assert not _contains(la.operator_norm, true)


def test_large_input_uses_power_lower_and_fft_upper(monkeypatch):
    # Force the path large layers take (no explicit matrix) on a small, checkable map.
    monkeypatch.setattr(_operator, "EXPLICIT_MAX", 8)
    torch.manual_seed(1)
    layer = nn.Conv2d(2, 2, 3, padding=1, bias=False)
    geo = _operator.ConvGeometry(2, (7, 7), (1, 1), (1, 1), (1, 1), 1, "zeros")
    br, exact = _operator.conv_operator_norm(layer.weight, geo)
    assert not exact and "power-iteration lower" in br.method
    true = _dense_operator_norm(layer, (2, 7, 7))
    assert _contains(br, true)
    assert br.lower >= true * (1 - 1e-3)  # 30 warm-started steps


def test_operator_norm_check_catches_reshaped_matrix_variant(monkeypatch):
    # Broken audit: report sigma_1 of the reshaped kernel where the operator norm is asked for.
    torch.manual_seed(0)
    layer = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    true = _dense_operator_norm(layer, (3, 6, 6))
    monkeypatch.setattr(audit, "conv_operator_norm", lambda w, g, rtol, matrix: (matrix, True))
    la = audit.audit_model(nn.Sequential(layer), (3, 6, 6)).layers[0]
    assert not _contains(la.operator_norm, true)


def test_fft_bound_check_catches_unpadded_circulant_variant():
    # Broken upper bound: the circulant norm on the *input* size (no room for the zero padding)
    # is not an upper bound for a zero-padded conv in general; the dense truth exposes it.
    found_violation = False
    for seed in range(10):
        torch.manual_seed(seed)
        layer = nn.Conv1d(1, 1, 3, padding=1, bias=False)
        geo = _operator.ConvGeometry(1, (3,), (1,), (1,), (1,), 1, "zeros")
        true = _dense_operator_norm(layer, (1, 3))
        assert _operator.fft_upper_bound(layer.weight, geo) >= true * (1 - REF_SLACK)
        found_violation |= _operator.circulant_norm(layer.weight.double(), (3,), geo) < true * (1 - 1e-6)
    assert found_violation


# ------------------------------------------------------------------------- whole models and API

def small_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, padding_mode="circular"), nn.ReLU(),
        nn.utils.parametrizations.spectral_norm(nn.Conv2d(8, 8, 3, padding=1)), nn.ReLU(),
        nn.utils.parametrizations.weight_norm(nn.Conv2d(8, 8, 3, padding=1, padding_mode="circular")),
        nn.BatchNorm2d(8), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


def test_audit_small_model_report_and_lipschitz_bound():
    model = small_model()
    model.train()
    sn = model[4].parametrizations.weight[0]
    u_before = sn._u.clone()
    report = audit.audit_model(model, (3, 8, 8))
    assert model.training and torch.equal(sn._u, u_before)  # the audit neither trains nor steps
    assert [la.name for la in report.layers] == ["0", "2", "4", "6", "7", "9"]
    assert report.chain_verified and not report.unsupported
    assert report.lipschitz_upper == pytest.approx(math.prod(la.operator_norm.upper for la in report.layers))
    # the bound really bounds: the network's Jacobian at a point (ReLU masks have norm <= 1)
    x = torch.randn(1, 3, 8, 8)
    jac = torch.autograd.functional.jacobian(lambda t: model.eval()(t), x).reshape(10, -1)
    assert float(torch.linalg.svdvals(jac.double())[0]) <= report.lipschitz_upper * (1 + 1e-5)  # float32 model
    wn = report.layers[3]
    v = model[6].parametrizations.weight.original1.detach().double()
    assert wn.parametrization == "weight_norm"
    assert wn.normalization["effective_lr_factor_max"] == pytest.approx(
        float((1 / v.reshape(8, -1).norm(dim=1) ** 2).max()), rel=1e-6)
    sn_layer = report.layers[2]
    assert sn_layer.parametrization == "spectral_norm"
    assert "torch_sigma_estimate" in sn_layer.normalization
    data = report.to_json()
    json.dumps(data)
    assert data["layers"][0]["operator_norm"]["upper"] == report.layers[0].operator_norm.upper
    assert "Caveats" in report.to_markdown()


def test_audit_project_resnet_narrow():
    resnet = pytest.importorskip("normtheory.harness.resnet")
    model = resnet.resnet("resnet34", width=2)
    report = audit.audit_model(model, (3, 4, 4))
    n_weight = sum(isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)) for m in model.modules())
    assert len(report.layers) == n_weight
    assert not report.chain_verified  # residual connections: the product is not a valid bound
    for la in report.layers:
        assert la.operator_norm.lower <= la.operator_norm.upper


@pytest.mark.slow
def test_audit_resnet50_cifar_in_minutes():
    resnet = pytest.importorskip("normtheory.harness.resnet")
    report = audit.audit_model(resnet.resnet("resnet50"), (3, 32, 32))
    assert len(report.layers) == 54 + 53
    assert report.seconds < 600


# ------------------------------------------------------------------------------------ bad input

def test_no_weight_layers():
    with pytest.raises(audit.AuditError, match="no Linear, Conv or ConvTranspose"):
        audit.audit_model(nn.Sequential(nn.ReLU(), nn.Flatten()), (3,))


def test_unsupported_layers_are_listed_by_name():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    with pytest.raises(audit.AuditError, match=r"1 \(LayerNorm\)"):
        audit.audit_model(model, (4,))
    report = audit.audit_model(model, (4,), allow_unsupported=True)
    assert report.unsupported == [{"name": "1", "type": "LayerNorm"}]
    assert report.lipschitz_upper is None


def test_input_too_small_for_kernel():
    model = nn.Sequential(nn.Conv2d(3, 4, 5))
    with pytest.raises(audit.AuditError, match=r"layer 0 .*smaller than the dilated kernel"):
        audit.audit_model(model, (3, 3, 3))


def test_nan_weights():
    model = nn.Sequential(nn.Linear(3, 3))
    with torch.no_grad():
        model[0].weight[1, 2] = float("nan")
    with pytest.raises(audit.AuditError, match="layer 0: weight contains 1 NaN"):
        audit.audit_model(model)


def test_conv_needs_input_shape_and_rtol_checked():
    with pytest.raises(audit.AuditError, match="input_shape"):
        audit.audit_model(nn.Sequential(nn.Conv2d(1, 1, 3)))
    with pytest.raises(audit.AuditError, match="rtol"):
        audit.audit_model(nn.Sequential(nn.Linear(2, 2)), rtol=2.0)


def factory_linear():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))


def factory_not_a_module():
    return 3


def test_cli_json_markdown_and_state_dict(tmp_path, capsys):
    from normtheory.cli import main

    spec = f"{__name__}:factory_linear"
    out_json, out_md = tmp_path / "a.json", tmp_path / "a.md"
    assert main(["audit", spec, "--input-shape", "5", "--json", str(out_json), "--markdown",
                 str(out_md), "--no-progress"]) == 0
    data = json.loads(out_json.read_text())
    assert [la["name"] for la in data["layers"]] == ["0", "2"] and data["chain_verified"]
    assert data["seconds"] > 0 and "Audit took" in out_md.read_text()
    state = factory_linear().state_dict()
    state = {k: 2 * v for k, v in state.items()}
    torch.save(state, tmp_path / "w.pt")
    assert main(["audit", str(tmp_path / "w.pt"), "--factory", spec, "--json", str(out_json),
                 "--no-progress"]) == 0
    doubled = json.loads(out_json.read_text())
    assert doubled["layers"][0]["sigma_matrix"]["lower"] == pytest.approx(
        2 * data["layers"][0]["sigma_matrix"]["lower"], rel=1e-6)


@pytest.mark.parametrize("argv, message", [
    (["resnet50"], "torchvision"),
    ([f"{__name__}:nope"], "has no attribute 'nope'"),
    ([f"{__name__}:factory_not_a_module"], "not an nn.Module"),
    (["no_such_module_xyz:f"], "cannot import"),
    (["w.pt"], "needs --factory"),
])
def test_cli_bad_input_exits_nonzero(argv, message, capsys):
    from normtheory.cli import main

    if argv == ["resnet50"]:
        try:
            import torchvision  # noqa: F401
            pytest.skip("torchvision is installed")
        except ImportError:
            pass
    assert main(["audit", *argv, "--no-progress"]) == 2
    assert message in capsys.readouterr().err


def test_fft_cost_is_refused_up_front(monkeypatch):
    # the estimate is checked before anything is allocated, and the message says it and the limit
    monkeypatch.setattr(_operator, "MAX_FFT_BYTES", 1 << 20)
    layer = nn.Conv2d(4, 4, 3, padding=1, bias=False)
    with pytest.raises(audit.AuditError, match=r"layer 0: .*GiB \(limit"):
        audit.audit_model(nn.Sequential(layer), (4, 64, 64))
