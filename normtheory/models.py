"""Small exact models (float64) that the homogeneity and scale-invariance claims are checked on.

* :class:`ReluNet`: a bias-free ReLU MLP read out linearly. Its output is positively homogeneous of
  degree L (the number of weight matrices) in all weights jointly: f(gamma theta) = gamma^L f(theta)
  for gamma > 0.
* :class:`ScaleInvariantNet`: a two-layer classifier whose first layer is normalized by weight
  normalization, weight standardization or batch norm; its cross-entropy loss J(V) is invariant to
  positive per-unit rescaling of the raw first-layer weight V (WS also to per-unit shifts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from normtheory import reparam
from normtheory._validation import check_int_at_least, check_positive

__all__ = ["ReluNet", "ScaleInvariantNet", "NORMALIZERS"]

NORMALIZERS = ("wn", "ws", "bn")


@dataclass
class ReluNet:
    """f(theta) = c^T relu(W_L ... relu(W_1 x)) summed over a fixed batch (no biases)."""

    widths: tuple[int, ...]
    batch: int = 8
    seed: int = 0
    x: torch.Tensor = field(init=False)
    readout: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.widths = tuple(self.widths)
        if len(self.widths) < 2:
            raise ValueError(f"widths must list at least an input and an output width, got {self.widths}")
        for i, w in enumerate(self.widths):
            check_int_at_least(w, f"widths[{i}]", 1)
        check_int_at_least(self.batch, "batch", 1)
        check_int_at_least(self.seed, "seed", 0)
        g = torch.Generator().manual_seed(self.seed)
        self.x = torch.randn(self.batch, self.widths[0], generator=g, dtype=torch.float64)
        self.readout = torch.randn(self.widths[-1], generator=g, dtype=torch.float64)

    @property
    def degree(self) -> int:
        return len(self.widths) - 1

    def init(self, scale: float = 1.0) -> list[torch.Tensor]:
        check_positive(scale, "scale")
        g = torch.Generator().manual_seed(self.seed + 1)
        return [scale * torch.randn(o, i, generator=g, dtype=torch.float64)
                for i, o in zip(self.widths[:-1], self.widths[1:])]

    def __call__(self, weights: list[torch.Tensor]) -> torch.Tensor:
        if len(weights) != self.degree:
            raise ValueError(f"weights must hold {self.degree} matrices (one per layer), got {len(weights)}")
        h = self.x
        for w in weights:
            h = torch.relu(h @ w.T)
        return (h @ self.readout).sum()

    def path_magnitude(self, weights: list[torch.Tensor]) -> torch.Tensor:
        """sum over all paths of |c| prod |w| |x|: an upper bound on every cancelling sum in f."""
        h = self.x.abs()
        for w in weights:
            h = h @ w.abs().T
        return (h @ self.readout.abs()).sum()


@dataclass
class ScaleInvariantNet:
    """J(V) = cross-entropy(tanh(N(x, V)) U, y) with N a normalized first layer.

    ``kind``: ``"wn"`` uses x @ WN(V)^T, ``"ws"`` uses x @ WS(V)^T, ``"bn"`` uses BN(x @ V^T).
    """

    kind: str
    d_in: int = 6
    hidden: int = 5
    classes: int = 3
    batch: int = 16
    seed: int = 0
    x: torch.Tensor = field(init=False)
    y: torch.Tensor = field(init=False)
    head: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        if self.kind not in NORMALIZERS:
            raise ValueError(f"kind must be one of {NORMALIZERS}, got {self.kind!r}")
        for name in ("d_in", "hidden", "classes"):
            check_int_at_least(getattr(self, name), name, 1)
        # batch-norm statistics need two samples per unit
        check_int_at_least(self.batch, "batch", 2 if self.kind == "bn" else 1)
        check_int_at_least(self.seed, "seed", 0)
        g = torch.Generator().manual_seed(self.seed)
        self.x = torch.randn(self.batch, self.d_in, generator=g, dtype=torch.float64)
        self.y = torch.randint(0, self.classes, (self.batch,), generator=g)
        self.head = torch.randn(self.hidden, self.classes, generator=g, dtype=torch.float64)

    def init(self, scale: float = 1.0) -> torch.Tensor:
        check_positive(scale, "scale")
        g = torch.Generator().manual_seed(self.seed + 1)
        return scale * torch.randn(self.hidden, self.d_in, generator=g, dtype=torch.float64)

    def normalized(self, v: torch.Tensor) -> torch.Tensor:
        """Z: the normalized quantity the loss sees (weight for WN/WS, activations for BN)."""
        if self.kind == "wn":
            return reparam.weight_norm(v, dim=0)
        if self.kind == "ws":
            return reparam.weight_standardization(v, dim=0)
        return reparam.batch_norm(self.x @ v.T)

    def loss_from_normalized(self, z: torch.Tensor) -> torch.Tensor:
        pre = z if self.kind == "bn" else self.x @ z.T
        return torch.nn.functional.cross_entropy(torch.tanh(pre) @ self.head, self.y)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return self.loss_from_normalized(self.normalized(v))
