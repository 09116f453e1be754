"""normtheory.reproduce: data split, models, failure detection, quick forms, determinism, bad input,
and each computed decision against a deliberately broken (reversed/injected) input."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from normtheory.reproduce import data as data_mod
from normtheory.reproduce import experiments
from normtheory.reproduce.models import build_model, normalized_weights
from normtheory.reproduce.norm_scaling import (blog_spectral_step, cost_decisions, matrix_stats,
                                               norm_scaling_decisions)
from normtheory.reproduce.training import COLLAPSE_RATIO, train
from normtheory.reproduce.weight_decay import (eps_decision, eps_shifted_penalty, sweep_decisions,
                                               warmup_decisions)


# ---------------------------------------------------------------- data
def test_split_is_fixed_stratified_and_standardized():
    d1, d2 = data_mod.load_digits_split(), data_mod.load_digits_split()
    assert d1.x_train.shape == (1297, 64) and d1.x_test.shape == (500, 64)
    assert torch.equal(d1.x_train, d2.x_train) and torch.equal(d1.y_test, d2.y_test)
    assert torch.bincount(d1.y_test).tolist() == [50] * 10
    # float32 rounding of standardized values of order 1: mean over 1297 rows stays < 1e-5
    assert d1.x_train.mean(0).abs().max() < 1e-5
    assert d1.x_train.dtype == torch.float32
    assert data_mod.load_digits_split(torch.float64).x_train.dtype == torch.float64


def test_split_rejects_non_float_dtype():
    with pytest.raises(TypeError, match="dtype"):
        data_mod.load_digits_split(torch.int64)


def test_missing_sklearn_gives_a_clear_error(monkeypatch):
    data_mod._raw.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        with pytest.raises(ImportError, match="scikit-learn"):
            data_mod.load_digits_split()
    finally:
        data_mod._raw.cache_clear()


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("norm", ["wn", "ws"])
def test_normalized_models_ignore_weight_scale(norm):
    torch.manual_seed(0)
    model = build_model("mlp3", norm).double().eval()
    x = torch.randn(16, 64, dtype=torch.float64)
    before = model(x)
    with torch.no_grad():
        for _, w in normalized_weights(model):
            w.mul_(37.0)
    # WN/WS outputs are scale-invariant; the difference is float64 round-off of O(10) ops on O(1)
    # activations through 4 layers: 1e-12 is ~1e4 eps.
    assert (model(x) - before).abs().max() < 1e-12


def test_model_bad_input():
    with pytest.raises(ValueError, match="model name"):
        build_model("resnet", "wn")
    with pytest.raises(ValueError, match="norm"):
        build_model("mlp3", "bn")
    assert build_model("cnn", "ws")(torch.zeros(2, 64)).shape == (2, 10)


# ---------------------------------------------------------------- failure detection
def _tiny_data():
    d = data_mod.load_digits_split()
    return data_mod.Digits(d.x_train[:128], d.y_train[:128], d.x_test[:64], d.y_test[:64])


def test_training_detects_nan_and_collapse():
    d = _tiny_data()
    torch.manual_seed(0)
    model = build_model("mlp3", "wn")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    w = normalized_weights(model)[0][1]
    res = train(model, d, opt, epochs=1, batch_size=64, seed=0,
                post_step=lambda: w.data.fill_(float("nan")))
    assert res.failed and "NaN" in res.failure["reason"]
    torch.manual_seed(0)
    model = build_model("mlp3", "ws")
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # only the injected shrinkage moves W
    w = normalized_weights(model)[0][1]
    res = train(model, d, opt, epochs=2, batch_size=64, seed=0,
                post_step=lambda: w.data.mul_(COLLAPSE_RATIO))
    assert res.failed and "collapsed" in res.failure["reason"]
    # and a healthy run does not fail
    torch.manual_seed(0)
    model = build_model("mlp3", "ws")
    res = train(model, d, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=64,
                seed=0)
    assert not res.failed and res.test_acc is not None


def test_train_bad_input():
    model = build_model("mlp3")
    with pytest.raises(ValueError, match="epochs"):
        train(model, _tiny_data(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=0,
              batch_size=8, seed=0)


def test_eps_shifted_penalty_is_zero_at_the_shift_and_plain_l2_at_eps0():
    w = torch.randn(4, 9, dtype=torch.float64)
    rows = w / torch.linalg.vector_norm(w, dim=1, keepdim=True) * 0.01
    assert float(eps_shifted_penalty("wn", rows, lam=1.0, eps=0.01)) < 1e-30
    # eps -> 0 recovers lambda/2 ||W||^2 (both forms: n(m^2 + v^2) = ||W||^2 per row)
    for form in ("wn", "ws"):
        got = float(eps_shifted_penalty(form, w, lam=2.0, eps=1e-300))
        assert got == pytest.approx(float(w.square().sum()), rel=1e-12)


def test_blog_spectral_step_sets_sigma1_to_target():
    torch.manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(20, 20, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(12, 12, dtype=torch.float64))
    s = torch.tensor([5.0, 1.0, 0.5] + [0.1] * 9, dtype=torch.float64)
    w = torch.nn.Parameter(u[:, :12] @ torch.diag(s) @ v.T)
    blog_spectral_step([w], [2.0], iters=500, generator=torch.Generator().manual_seed(0))
    # gap 1/5 per step squared: 500 steps converge to round-off; sigma_1 becomes 2 (> sigma_2 = 1)
    assert matrix_stats(w)["sigma1"] == pytest.approx(2.0, rel=1e-12)
    # with a target below sigma_2 the new spectral norm is sigma_2, not the target (blog's caveat)
    w2 = torch.nn.Parameter(u[:, :12] @ torch.diag(s) @ v.T)
    blog_spectral_step([w2], [0.5], iters=500, generator=torch.Generator().manual_seed(0))
    assert matrix_stats(w2)["sigma1"] == pytest.approx(1.0, rel=1e-12)


# ---------------------------------------------------------------- quick forms, JSON, CLI
@pytest.mark.parametrize("name", ["wd-sweep", "warmup", "norm-scaling", "eps-sensitivity"])
def test_quick_form_is_deterministic(name):
    a = experiments.dumps(experiments.run(name, quick=True, seeds=1))
    b = experiments.dumps(experiments.run(name, quick=True, seeds=1))
    assert a == b
    assert json.loads(a)["decisions"]


def test_quick_cost_runs_and_reports_ratios():
    res = experiments.run("scaling-cost", quick=True, seeds=1)
    r = res["ratio_to_unscaled"][128]
    assert r["none"] == 1.0 and all(v > 0 for v in r.values())


@pytest.mark.parametrize("kwargs, err", [({"name": "nope"}, ValueError),
                                         ({"name": "warmup", "seeds": 0}, ValueError),
                                         ({"name": "warmup", "seeds": 1.5}, ValueError)])
def test_run_bad_input(kwargs, err):
    with pytest.raises(err):
        experiments.run(**kwargs, quick=True)


def test_cli_writes_json_and_rejects_bad_seeds(tmp_path, capsys):
    from normtheory.cli import main
    out = tmp_path / "r.json"
    assert main(["reproduce", "eps-sensitivity", "--quick", "--seeds", "1", "--no-progress",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["form"] == "quick"
    assert main(["reproduce", "warmup", "--quick", "--seeds", "0"]) == 2
    with pytest.raises(SystemExit):
        main(["reproduce", "no-such-experiment"])


# ---------------------------------------------------------------- decisions and broken variants
def _ns_run(model, cond, sig, spread, rank, acc, gap):
    return {"model": model, "condition": cond, "test_acc": acc, "test_loss": 0.1 + gap,
            "train_loss": 0.1, "sigma1_by_epoch": [[sig - spread, sig + spread]] * 4,
            "final": [{"sigma1": sig, "std": 0.1, "stable_rank": rank, "effective_rank": rank}]}


def _ns_runs(order):
    vals = {"spectral": (1.0, 0.1, 9.0, 0.9, 0.01), "frobenius": (2.0, 0.5, 5.0, 0.95, 0.05),
            "none": (5.0, 2.0, 4.0, 0.9, 0.2)}
    runs = []
    for m in ("mlp3", "mlp5"):
        for cond, src in zip(("spectral", "frobenius", "none"), order):
            runs += [_ns_run(m, cond, *vals[src]) for _ in range(2)]
    return runs


def test_norm_scaling_decisions_follow_the_numbers():
    good = norm_scaling_decisions(_ns_runs(("spectral", "frobenius", "none")))
    assert good["sigma_order"] and good["spread_order"] and good["rank_spectral_gt_frobenius"]
    assert good["frobenius_beats_none"] and good["spectral_smallest_gap_mlps"]
    assert good["spectral_lowest_sigma"]
    # broken variant: the conditions' numbers reversed -> every ordering flips
    bad = norm_scaling_decisions(_ns_runs(("none", "frobenius", "spectral")))
    assert not (bad["sigma_order"] or bad["spread_order"] or bad["rank_spectral_gt_frobenius"]
                or bad["spectral_smallest_gap_mlps"] or bad["spectral_lowest_sigma"])


def _sw(norm, opt, lam, eps, failed, acc=0.9):
    return {"norm": norm, "optimizer": opt, "lambda": lam, "eps": eps, "failed": failed,
            "test_acc": None if failed else acc}


def test_sweep_decisions_follow_the_numbers():
    runs = [_sw("wn", "adam", 1e-1, None, True), _sw("wn", "sgd", 1e-1, None, False),
            _sw("wn", "adam", 1e-1, 1e-3, False), _sw("wn", "sgd", 0.0, None, False)]
    d = sweep_decisions(runs)
    assert d["large_lambda_fails"] and d["adam_worse"] and d["shift_removes_all_failures"]
    # broken variants: a failed shifted run; failures moved from Adam to SGD; no failures at all
    assert not sweep_decisions(runs + [_sw("ws", "sgd", 1e-2, 1e-3, True)])["shift_removes_all_failures"]
    swapped = [dict(r, optimizer={"adam": "sgd", "sgd": "adam"}[r["optimizer"]]) for r in runs]
    assert not sweep_decisions(swapped)["adam_worse"]
    healthy = [dict(r, failed=False, test_acc=0.9) for r in runs]
    assert not sweep_decisions(healthy)["large_lambda_fails"]
    # equal failure counts: accuracy decides
    acc_runs = [_sw("wn", "adam", 1e-2, None, False, 0.5), _sw("wn", "sgd", 1e-2, None, False, 0.9)]
    assert sweep_decisions(acc_runs)["adam_worse"]
    assert not sweep_decisions([dict(r, test_acc=1.4 - r["test_acc"]) for r in acc_runs])["adam_worse"]


def test_eps_decision_follows_the_numbers():
    runs = [{"eps": e, "test_acc": a} for e in (1e-2, 1e-3) for a in (0.90, 0.92)]
    assert eps_decision(runs)["eps_robust"]
    # broken variant: one eps far outside the seed noise
    shifted = [dict(r, test_acc=r["test_acc"] - 0.2) if r["eps"] == 1e-2 else r for r in runs]
    assert not eps_decision(shifted)["eps_robust"]
    assert not eps_decision(runs + [{"eps": 1e-4, "test_acc": None}])["eps_robust"]


def test_warmup_decisions_follow_the_numbers():
    rise = [min(1.0, 0.1 + t / 20) for t in range(100)]
    curves = {"ws lambda=0.01": [rise], "plain+warmup": [rise]}
    d = warmup_decisions(curves, (0.0, 0.01))["0.01"]
    assert d["rises_early"] and d["matches_warmup"]
    fall = [1.0 - t / 200 for t in range(100)]
    d = warmup_decisions({"ws lambda=0.01": [fall], "plain+warmup": [rise]}, (0.0, 0.01))["0.01"]
    assert not d["rises_early"] and not d["matches_warmup"]


def test_cost_decisions_follow_the_numbers():
    ok = cost_decisions({128: {"none": 1, "frobenius": 1.1, "spectral": 2.0, "blog500": 8.0}})
    assert ok["blog500_in_blog_range"]["128"] and ok["ours_cheaper_than_blog500"]
    bad = cost_decisions({128: {"none": 1, "frobenius": 1.1, "spectral": 30.0, "blog500": 20.0}})
    assert not bad["blog500_in_blog_range"]["128"] and not bad["ours_cheaper_than_blog500"]


# ---------------------------------------------------------------- full forms (slow)
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(experiments.EXPERIMENTS))
def test_full_form_runs(name):
    res = experiments.run(name)
    assert res["form"] == "full" and res["decisions"]


@pytest.mark.parametrize("mode", ["frobenius", "spectral"])
def test_loop_norm_scaling_matches_the_library(mode):
    scaling = pytest.importorskip("normtheory.scaling")
    from normtheory.reproduce.norm_scaling import LoopNormScaling
    torch.manual_seed(0)
    # a clear spectral gap (sigma = 3, 1, ...) so 20 warm-started steps reach float64 round-off
    u, _ = torch.linalg.qr(torch.randn(16, 16, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(10, 10, dtype=torch.float64))
    sv = torch.cat([torch.tensor([3.0]), torch.linspace(1, 0.1, 9)]).double()
    base = u[:, :10] @ torch.diag(sv) @ v.T
    a, b = torch.nn.Parameter(base.clone()), torch.nn.Parameter(base.clone())
    ours = LoopNormScaling([a], mode)
    lib = scaling.NormScaling([b], mode=mode, iters=20)
    assert ours.targets[0] == pytest.approx(lib.targets[0], rel=1e-12)
    with torch.no_grad():
        bump = 0.05 * torch.randn(16, 10, dtype=torch.float64)
        a.add_(bump), b.add_(bump)
    ours.step(), lib.step()
    # both converge to the same rank-one correction: on W^T W the error shrinks by (1/3)^2 per
    # step (the bump moves sigma_2/sigma_1 only slightly), so 20 steps reach ~1e-19 relative
    assert (a - b).abs().max() < 1e-12
    # broken variant: a step with too few iterations from a cold start differs visibly
    c = torch.nn.Parameter(base.clone() + bump)
    cold = LoopNormScaling([c], mode, iters=1)
    cold.targets = list(ours.targets)
    if mode == "spectral":
        cold.v = [torch.ones(10, dtype=torch.float64)]  # a poor start, one step only
        cold.step()
        assert (c - b).abs().max() > 1e-6
