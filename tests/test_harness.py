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
