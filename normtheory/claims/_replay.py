"""Counterexamples that replay from their JSON record alone.

A refuted or corrected claim stores in its evidence everything needed to rerun its counterexample:
the model's architecture and sizes, its data written out (not only the seed that drew it), the
dtype, the optimizer settings and the number of steps. These helpers write a
:class:`normtheory.models.ScaleInvariantNet` and tensors into plain JSON values and read them back;
the claims' ``replay`` functions use them, so a record edited by hand gives different numbers.
"""

from __future__ import annotations

from typing import Any

import torch

from normtheory.models import ScaleInvariantNet

__all__ = ["net_record", "net_from_record", "tensor_from"]


def net_record(net: ScaleInvariantNet, v0: torch.Tensor) -> dict[str, Any]:
    """The architecture, sizes, data (x, y, head) and initial raw weight v0 as JSON values."""
    return {
        "architecture": f"J(V) = cross_entropy(tanh(x N(V)^T) head, y), N = {net.kind} per output unit "
                        "(bn: tanh(BN(x V^T)) head); float64",
        "kind": net.kind, "d_in": net.d_in, "hidden": net.hidden, "classes": net.classes, "batch": net.batch,
        "data_recipe": f"torch.Generator().manual_seed({net.seed}): x = randn(batch, d_in), y = randint(0, classes, "
                       f"(batch,)), head = randn(hidden, classes); v0 = randn(hidden, d_in) from seed {net.seed + 1}",
        "seed": net.seed, "dtype": str(net.x.dtype).removeprefix("torch."),
        "x": net.x.tolist(), "y": net.y.tolist(), "head": net.head.tolist(), "v0": v0.tolist(),
    }


def tensor_from(values: Any, dtype: str = "float64") -> torch.Tensor:
    """A tensor from nested lists and a dtype name ("float64", "float32", "int64", ...)."""
    return torch.tensor(values, dtype=getattr(torch, dtype))


def net_from_record(record: dict[str, Any]) -> tuple[ScaleInvariantNet, torch.Tensor]:
    """Rebuild the model and v0 from :func:`net_record`'s output, using the recorded data (not the seed)."""
    net = ScaleInvariantNet(record["kind"], d_in=record["d_in"], hidden=record["hidden"],
                            classes=record["classes"], batch=record["batch"], seed=record["seed"])
    net.x = tensor_from(record["x"], record["dtype"])
    net.y = tensor_from(record["y"], "int64")
    net.head = tensor_from(record["head"], record["dtype"])
    return net, tensor_from(record["v0"], record["dtype"])
