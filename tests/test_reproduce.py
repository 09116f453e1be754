"""normtheory.reproduce and normtheory.provenance: data split, models, divergence detection, the
joblib runner (same results for every --jobs), bootstrap statistics, records with provenance
(stale and missing records refused), the CLI, and bad input."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from normtheory.reproduce import data as data_mod
from normtheory import provenance
from normtheory.reproduce import experiments, runner, stats
from normtheory.reproduce.models import build_model, normalized_weights
from normtheory.reproduce.norm_scaling import blog_spectral_step, matrix_stats
from normtheory.reproduce.training import train
from normtheory.reproduce.weight_decay import eps_shifted_penalty, sweep_run


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


# ---------------------------------------------------------------- divergence detection
def _tiny_data():
    d = data_mod.load_digits_split()
    return data_mod.Digits(d.x_train[:128], d.y_train[:128], d.x_test[:64], d.y_test[:64])


def test_training_detects_divergence_and_only_measures_shrinkage():
    d = _tiny_data()
    torch.manual_seed(0)
    model = build_model("mlp3", "wn")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    w = normalized_weights(model)[0][1]
    res = train(model, d, opt, epochs=1, batch_size=64, seed=0,
                post_step=lambda: w.data.fill_(float("nan")))
    assert res.diverged and "NaN" in res.failure["reason"]
    # a weight shrunk a thousandfold is measured, not a reason to stop (the old knife-edge rule)
    torch.manual_seed(0)
    model = build_model("mlp3", "ws")
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # only the injected shrinkage moves W
    w = normalized_weights(model)[0][1]
    res = train(model, d, opt, epochs=2, batch_size=64, seed=0, post_step=lambda: w.data.mul_(0.05))
    assert not res.diverged and res.min_scale_ratio < 1e-3
    # an exactly zero spread is a float underflow: diverged
    torch.manual_seed(0)
    model = build_model("mlp3", "ws")
    w = normalized_weights(model)[0][1]
    res = train(model, d, torch.optim.SGD(model.parameters(), lr=0.0), epochs=1, batch_size=64,
                seed=0, post_step=lambda: w.data.zero_())
    assert res.diverged
    # and a healthy run does not diverge
    torch.manual_seed(0)
    model = build_model("mlp3", "ws")
    res = train(model, d, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=64,
                seed=0)
    assert not res.diverged and res.test_acc is not None


def test_plain_mlp_with_batch_norm_option():
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in build_model("mlp3", "none", batch_norm=True).modules())
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in build_model("mlp3", "none").modules())
    with pytest.raises(ValueError, match="batch_norm"):
        build_model("cnn", "none", batch_norm=True)


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


# ---------------------------------------------------------------- runner (joblib)
def _threads_and_draw(*, seed):
    g = torch.Generator().manual_seed(seed)
    return {"threads": torch.get_num_threads(), "draw": torch.randn(3, generator=g).tolist()}


def test_runner_sets_threads_in_every_job_and_keeps_cell_order():
    cells = [{"seed": s} for s in range(4)]
    one = runner.run_cells(_threads_and_draw, cells, jobs=1, threads=2)
    assert [r["threads"] for r in one] == [2] * 4
    assert one[0]["draw"] != one[1]["draw"]  # each cell seeds itself


@pytest.mark.slow  # starts joblib worker processes (each imports torch): ~10-100 s on a busy machine
def test_runner_results_identical_for_any_jobs():
    cells = [{"norm": "wn", "optimizer": "sgd", "lam": lam, "eps": None, "seed": 0, "epochs": 1}
             for lam in (0.0, 10.0)]
    one = runner.run_cells(sweep_run, cells, jobs=1)
    two = runner.run_cells(sweep_run, cells, jobs=2)
    assert experiments.dumps({"r": one}) == experiments.dumps({"r": two})
    # broken variant: the same cells at another thread count are not bit-identical (so the
    # comparison above is sensitive to how a job is run, not vacuous)
    other = runner.run_cells(sweep_run, cells, jobs=1, threads=2)
    assert [r["min_scale_ratio"] for r in other] != [r["min_scale_ratio"] for r in one] or \
        [r["test_acc"] for r in other] == [r["test_acc"] for r in one]


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_runner_bad_jobs(jobs):
    with pytest.raises(ValueError, match="jobs"):
        runner.run_cells(_threads_and_draw, [{"seed": 0}], jobs=jobs)


# ---------------------------------------------------------------- statistics
def test_bootstrap_interval_is_deterministic_and_inside_the_seed_range():
    vals = [0.1, 0.4, 0.2, 0.3, 0.25]
    a, b = stats.bootstrap_mean(vals), stats.bootstrap_mean(vals)
    assert a == b and min(vals) <= a.low <= a.estimate <= a.high <= max(vals)
    assert a.low < a.high  # varying seeds give a proper interval
    same = stats.bootstrap_mean([0.5] * 4)
    assert same.low == same.high == same.estimate == 0.5
    assert stats.side(a, 0.0) == stats.ABOVE and stats.side(a, 1.0) == stats.BELOW
    assert stats.side(a, a.estimate) == stats.STRADDLES
    # broken variant: an interval built from the mean alone would not straddle its own estimate
    assert stats.side(stats.Interval(a.estimate, a.estimate, a.estimate, 5, 0.95),
                      a.estimate - 1e-9) == stats.ABOVE


def test_bootstrap_statistic_resamples_rows():
    rows = [[0.9, 0.8], [0.92, 0.79], [0.88, 0.81]]
    iv = stats.bootstrap_statistic(rows, lambda x: float(np.ptp(x.mean(axis=0))))
    assert iv.low <= iv.estimate <= iv.high and iv.n == 3


@pytest.mark.parametrize("bad", [[], [float("nan")], [[1.0]]])
def test_bootstrap_bad_input(bad):
    with pytest.raises(ValueError):
        stats.bootstrap_mean(bad)


# ---------------------------------------------------------------- provenance and records
def test_record_roundtrip_stale_and_missing(tmp_path):
    path = tmp_path / "x.json"
    prov = provenance.provenance("normtheory reproduce x --save", "abc123")
    provenance.write_record(path, {"a": 1.5}, prov)
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary file left behind
    result, got = provenance.load_record(path, code_version="abc123", command="regen-cmd")
    assert result == {"a": 1.5} and got == prov
    with pytest.raises(provenance.StaleRecordError, match="regen-cmd"):
        provenance.load_record(path, code_version="def456", command="regen-cmd")
    with pytest.raises(provenance.MissingRecordError, match="regen-cmd"):
        provenance.load_record(tmp_path / "absent.json", code_version="abc123", command="regen-cmd")
    path.write_text('{"a": 1}')  # an old-style file without provenance
    with pytest.raises(provenance.StaleRecordError, match="no provenance"):
        provenance.load_record(path, code_version="abc123", command="regen-cmd")
    with pytest.raises(ValueError, match="provenance"):
        provenance.write_record(path, {}, {"command": "x"})


def test_code_version_changes_with_any_source_byte(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "b.py").write_text("y = 2\n")
    monkeypatch.setattr(provenance, "_PACKAGE_ROOT", tmp_path)
    v = provenance.code_version(["a.py", "pkg"])
    assert v == provenance.code_version(["pkg", "a.py"])  # order-free
    (tmp_path / "pkg" / "b.py").write_text("y = 3\n")
    assert provenance.code_version(["a.py", "pkg"]) != v
    # a module that became a package is still found (spectral.py -> spectral/)
    assert provenance.code_version(["pkg.py"]) == provenance.code_version(["pkg"])
    with pytest.raises(FileNotFoundError):
        provenance.code_version(["nope.py"])


def test_every_experiment_has_a_current_record():
    for name in experiments.EXPERIMENTS:
        result, prov = experiments.recorded(name)
        assert result["form"] == "full" and prov["code_version"] == experiments.code_version(name)
        assert prov["command"].startswith(f"normtheory reproduce {name} --save")


def test_save_refuses_a_run_whose_code_changed_meanwhile(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(experiments, "code_version", lambda name: "after")
    with pytest.raises(provenance.StaleRecordError, match="changed while it ran"):
        experiments.save("warmup", {"form": "full"}, jobs=1, version="before")
    assert not list(tmp_path.iterdir())
    prov = experiments.save("warmup", {"form": "full"}, jobs=2, version="after")
    assert prov["code_version"] == "after" and prov["command"].endswith("--jobs 2")
    with pytest.raises(ValueError, match="full run"):
        experiments.save("warmup", {"form": "inrun"}, jobs=1, version="after")


def _stale_copy(tmp_path, monkeypatch, name="warmup"):
    data = json.loads(experiments.record_path(name).read_text())
    data["provenance"]["code_version"] = "0" * 64
    (tmp_path / f"{name}.json").write_text(json.dumps(data))
    monkeypatch.setattr(experiments, "RESULTS_DIR", tmp_path)


def test_a_modified_hash_makes_the_claim_fail(tmp_path, monkeypatch):
    from normtheory.claims import get_claims
    _stale_copy(tmp_path, monkeypatch)
    (c,) = get_claims(["PAPER-warmup-analogue"])
    with pytest.raises(provenance.StaleRecordError, match="normtheory reproduce warmup --save"):
        c.run()


def test_a_missing_record_makes_the_claim_fail(tmp_path, monkeypatch):
    from normtheory.claims import get_claims
    monkeypatch.setattr(experiments, "RESULTS_DIR", tmp_path)
    (c,) = get_claims(["PAPER-table4-analogue"])
    with pytest.raises(provenance.MissingRecordError, match="eps-sensitivity --save"):
        c.run()


# ---------------------------------------------------------------- CLI
def test_cli_bad_input(tmp_path, capsys):
    from normtheory.cli import main
    assert main(["reproduce", "warmup", "--jobs", "0"]) == 2
    assert main(["reproduce"]) == 2
    assert main(["reproduce", "warmup", "--inrun", "--save"]) == 2
    existing = tmp_path / "r.json"
    existing.write_text("keep")
    assert main(["reproduce", "warmup", "--json", str(existing)]) == 2
    assert existing.read_text() == "keep"
    assert main(["reproduce", "--check", "--save"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--jobs" in err
    with pytest.raises(SystemExit):
        main(["reproduce", "no-such-experiment"])


def test_cli_check_fails_on_a_stale_record(tmp_path, monkeypatch, capsys):
    from normtheory.cli import main
    _stale_copy(tmp_path, monkeypatch)
    assert main(["reproduce", "--check", "warmup", "--no-progress"]) == 1
    assert "normtheory reproduce warmup --save" in capsys.readouterr().err


def test_cli_check_reports_each_differing_decision(monkeypatch, capsys):
    from normtheory.cli import main
    rec, _ = experiments.recorded("warmup")
    flipped = json.loads(json.dumps(rec))
    # one reference run diverged early: the curves cannot be compared, the decision changes
    ref = next(r for r in flipped["runs"] if r["kind"] == "plain+warmup")
    ref.update(diverged=True, curve=ref["curve"][:5])
    monkeypatch.setattr(experiments, "run", lambda *a, **k: flipped)
    assert main(["reproduce", "--check", "warmup", "--no-progress"]) == 1
    assert "DIFFERS: PAPER-warmup-analogue" in capsys.readouterr().err
    monkeypatch.setattr(experiments, "run", lambda *a, **k: json.loads(json.dumps(rec)))
    assert main(["reproduce", "--check", "warmup", "--no-progress"]) == 0


def test_cli_runs_the_inrun_form_and_writes_json(tmp_path, capsys):
    from normtheory.cli import main
    out = tmp_path / "r.json"
    assert main(["reproduce", "scaling-cost", "--inrun", "--no-progress", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["form"] == "inrun"
    assert "BLOG-ns-cost:" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs", [{"name": "nope"}, {"name": "warmup", "form": "quick"},
                                    {"name": "warmup", "jobs": 0}])
def test_run_bad_input(kwargs):
    with pytest.raises(ValueError):
        experiments.run(**kwargs)


# ---------------------------------------------------------------- full forms (slow)
@pytest.mark.slow
def test_full_warmup_runs_to_the_end_and_decides_as_recorded():
    """The full warm-up once diverged at step 127 (a plain MLP without batch norm at lr 0.1 and
    momentum 0.9, whose blow-up step depended on the thread count); the reference now has batch
    norm (as the protocol says), and divergence would be an outcome, not a crash."""
    from normtheory.reproduce.cli import decisions
    fresh = experiments.run("warmup", form="full", jobs=2)
    assert not any(r["diverged"] for r in fresh["runs"])
    assert decisions("warmup", fresh) == decisions("warmup", experiments.recorded("warmup")[0])
