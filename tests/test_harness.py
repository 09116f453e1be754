"""Harness: ResNet tables derived from the modules, CLI errors, figures without results."""

import math

import pytest
import torch

from normtheory.harness import resnet as R


def test_resnet50_cifar_table():
    shapes = R.resnet_weight_shapes("resnet50", "cifar")
    assert len(shapes) == 54
    assert shapes[0] == ("conv1", (64, 3, 3, 3)) and shapes[-1] == ("fc", (100, 2048))
    assert sum(math.prod(s) for _, s in shapes) * 4 == 94_608_128  # the 94.6 MB


def test_resnet34_imagenet_and_forward():
    shapes = R.resnet_weight_shapes("resnet34", "imagenet")
    assert shapes[0][1] == (64, 3, 7, 7) and shapes[-1][1] == (1000, 512) and len(shapes) == 37
    m = R.resnet("resnet34", stem="cifar", width=4)
    assert m(torch.randn(2, 3, 16, 16)).shape == (2, 100)


def test_torchvision_cross_check():
    tv = R.torchvision_weight_shapes("resnet50", "cifar")
    if tv is None:
        pytest.skip("torchvision not installed")
    assert tv == R.resnet_weight_shapes("resnet50", "cifar")


def test_bad_arguments():
    with pytest.raises(ValueError):
        R.resnet("resnet18")
    with pytest.raises(ValueError):
        R.resnet("resnet50", stem="mnist")
    from normtheory.cli import main
    assert main(["bench", "accuracy", "--device", "tpu", "--quick"]) == 2


def test_figures_module_imports_without_results():
    import normtheory.harness.figures  # noqa: F401  (registers nothing when no JSON exists)


@pytest.mark.slow
def test_quick_cpu_run(tmp_path):
    from normtheory.cli import main
    assert main(["bench", "all", "--quick", "--device", "cpu", "--no-progress", "--json", str(tmp_path / "q.json")]) == 0


def test_quick_cpu_bandwidth_json(tmp_path):
    import json

    from normtheory.cli import main
    path = tmp_path / "b.json"
    assert main(["bench", "bandwidth", "--quick", "--device", "cpu", "--no-progress", "--json", str(path)]) == 0
    rec = json.loads(path.read_text())
    assert rec["environment"]["device_name"] and rec["settings"]["quick"] is True
    v = rec["results"]["bandwidth"]["variants"]
    assert {"blog per-layer loop", "grouped batched"} <= set(v)
    assert all(x["time_s"] > 0 and x["bandwidth"] > 0 for x in v.values())


def test_bench_refuses_bad_output_before_work(tmp_path, capsys):
    from normtheory.cli import main
    assert main(["bench", "spectral", "--quick", "--device", "cpu", "--json", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "directory" in err and "Traceback" not in err
    assert main(["bench", "spectral", "--quick", "--device", "cpu", "--seed", "-1"]) == 2
    assert main(["bench", "spectral", "--quick", "--device", "cpu", "--threads", "0"]) == 2


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    from normtheory.harness.cli import write_json_atomic
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})  # not serialisable: fails mid-write
    assert path.read_text() == '{\n "a": 1\n}\n' and [p.name for p in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.slow
def test_quick_spectral_bench(tmp_path):
    import json

    from normtheory.cli import main
    path = tmp_path / "s.json"
    assert main(["bench", "spectral", "--quick", "--device", "cpu", "--no-progress", "--threads", "1",
                 "--json", str(path)]) == 0
    res = json.loads(path.read_text())["results"]["spectral"]
    cert = res["methods"]["normtheory: certified sweep (certify_spectral_norms, rtol 1e-6)"]
    assert cert["certified"] and cert["bracket_contains_reference"] and cert["worst_rel_err"] <= 1e-6
    assert set(res["norm_scaling"]) >= {"frobenius", "spectral (default: cold Gram squaring)"}
