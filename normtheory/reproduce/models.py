"""The small models of the analogues: bias-free MLPs (3 or 5 hidden layers) and a small CNN.

``norm`` selects how each hidden layer's weight is used in the forward pass, through
:mod:`normtheory.reparam`:

* ``"none"``: the raw weight (the blog's setting; Norm Scaling then acts on it after each step);
* ``"wn"``: weight normalization ``W/||W||`` per output unit (paper Eq. (2));
* ``"ws"``: weight standardization ``(W - mean)/std`` per output unit (paper Eq. (7)), divided by
  ``sqrt(fan_in)`` so that its rows have unit norm like WN's (a constant, so every invariance of
  WS is kept).

With ``norm`` in {"wn", "ws"} each hidden layer is followed by batch norm (as the paper's WN/WS
convolutions are in ResNet-50; ``batch_norm=True`` adds it to a plain MLP too, the paper's plain
batch-norm ResNet of Fig. 5), and the classifier layer stays un-normalized (the paper's "other
parts", kept at lambda = 1e-4). :func:`normalized_weights` lists the raw weights a regularizer or a
failure monitor acts on.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from normtheory import reparam

__all__ = ["NormLinear", "NormConv2d", "MLP", "SmallCNN", "build_model", "normalized_weights",
           "MODEL_NAMES", "NORMS"]

NORMS = ("none", "wn", "ws")
MODEL_NAMES = ("mlp3", "mlp5", "cnn")


def _effective(weight: torch.Tensor, norm: str) -> torch.Tensor:
    if norm == "none":
        return weight
    if norm == "wn":
        return reparam.weight_norm(weight, dim=0)
    fan_in = math.prod(weight.shape[1:])
    return reparam.weight_standardization(weight, dim=0) / math.sqrt(fan_in)


class NormLinear(nn.Linear):
    """Bias-free linear layer whose weight passes through WN/WS (or not) in the forward pass."""

    def __init__(self, fan_in: int, fan_out: int, norm: str = "none"):
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        super().__init__(fan_in, fan_out, bias=False)
        self.norm = norm

    def forward(self, x):
        return F.linear(x, _effective(self.weight, self.norm))


class NormConv2d(nn.Conv2d):
    """Bias-free 3x3 convolution (padding 1) with a WN/WS (or plain) weight."""

    def __init__(self, c_in: int, c_out: int, norm: str = "none"):
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        super().__init__(c_in, c_out, 3, padding=1, bias=False)
        self.norm = norm

    def forward(self, x):
        return self._conv_forward(x, _effective(self.weight, self.norm), None)


class MLP(nn.Module):
    """64 -> width x depth -> 10, ReLU, no biases; BN after normalized hidden layers."""

    def __init__(self, depth: int, width: int = 128, norm: str = "none", n_in: int = 64,
                 n_out: int = 10, batch_norm: bool | None = None):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
        bn = norm != "none" if batch_norm is None else bool(batch_norm)
        layers: list[nn.Module] = []
        fan_in = n_in
        for _ in range(depth):
            layers.append(NormLinear(fan_in, width, norm))
            if bn:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU())
            fan_in = width
        self.hidden = nn.Sequential(*layers)
        self.head = NormLinear(fan_in, n_out, "none")

    def forward(self, x):
        return self.head(self.hidden(x.flatten(1)))


class SmallCNN(nn.Module):
    """1x8x8 -> conv16 -> ReLU -> conv32 -> ReLU -> maxpool 2 -> linear(512, 10); no biases."""

    def __init__(self, norm: str = "none", channels: tuple[int, int] = (16, 32)):
        super().__init__()
        c1, c2 = channels
        layers: list[nn.Module] = [NormConv2d(1, c1, norm)]
        if norm != "none":
            layers.append(nn.BatchNorm2d(c1))
        layers += [nn.ReLU(), NormConv2d(c1, c2, norm)]
        if norm != "none":
            layers.append(nn.BatchNorm2d(c2))
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(*layers)
        self.head = NormLinear(c2 * 16, 10, "none")

    def forward(self, x):
        return self.head(self.features(x.reshape(-1, 1, 8, 8)).flatten(1))


def build_model(name: str, norm: str = "none", width: int = 128, *,
                batch_norm: bool | None = None) -> nn.Module:
    """``mlp3``/``mlp5`` (3/5 hidden layers of ``width``) or ``cnn``; ``batch_norm`` (MLPs only)
    defaults to ``norm != "none"``."""
    if name == "mlp3":
        return MLP(3, width, norm, batch_norm=batch_norm)
    if name == "mlp5":
        return MLP(5, width, norm, batch_norm=batch_norm)
    if batch_norm is not None and name == "cnn":
        raise ValueError("batch_norm is an option of the MLPs only")
    if name == "cnn":
        return SmallCNN(norm)
    raise ValueError(f"model name must be one of {MODEL_NAMES}, got {name!r}")


def weight_matrices(model: nn.Module) -> list[torch.nn.Parameter]:
    """Every NormLinear/NormConv2d weight, input to output."""
    return [m.weight for m in model.modules() if isinstance(m, (NormLinear, NormConv2d))]


def normalized_weights(model: nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """(norm, raw weight) of every WN/WS layer."""
    return [(m.norm, m.weight) for m in model.modules()
            if isinstance(m, (NormLinear, NormConv2d)) and m.norm != "none"]
