"""Toy scale-invariant models and the one training loop the exact checks share (float64).

* :func:`train`: a torch optimizer (SGD with momentum and coupled weight decay, Adam, AdamW) on a raw
  weight V whose loss ``loss(V, t)`` may depend on the step t (a minibatch), with an optional
  per-step learning-rate factor (``torch.optim.lr_scheduler.LambdaLR``), a preset momentum buffer and
  explicit renormalization of each row after every step. It records the normalized weights, the
  per-row norms and the per-row effective learning rate lr_t/||v_j||^2 before each step.
* :func:`train_full_batch`: :func:`train` on a model's full-batch loss ``net(V)`` (the same batch
  every step, as Theorem 1's proof assumes), directions ``net.normalized(V)``.
* :class:`MinibatchWN`: J(V) = cross-entropy(tanh(x_B WN(V)^T) U, y_B) on minibatches B of a fixed
  data set: invariant to positive per-unit rescaling of V; :func:`train_minibatch_wn` trains it on a
  given sequence of minibatches.
* :func:`amplification`: how much a small perturbation of the start grows along a run,
  max_t |dir_t - dir'_t|_inf / delta (a measured condition number of the trajectory), with the
  perturbed start from :func:`entrywise_perturbation` or :func:`directional_perturbation`.
* :class:`BNNet`: the lecture's two-hidden-layer batch-normalized classifier
  x -> phi(BN(x W1^T)) -> phi(BN(h W2^T)) -> logits, with its round-off bound for the per-unit
  rescaling invariance.
* :func:`atan2_run`: SGD on J(w) = atan2(w_2, w_1) in the plane, the exact model with a constant
  gradient norm: grad J(w) = (-w_2, w_1)/||w||^2 is orthogonal to w and ||grad J(w_hat)|| = 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from normtheory import reparam
from normtheory._threads import single_thread
from normtheory.roundoff import centered_tolerance

__all__ = ["train", "train_full_batch", "MinibatchWN", "train_minibatch_wn", "BNNet", "amplification",
           "entrywise_perturbation", "directional_perturbation", "atan2_grad", "atan2_run", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "adam", "adamw")


def _optimizer(name: str, param: torch.Tensor, *, lr: float, weight_decay: float, momentum: float,
               betas: tuple[float, float], adam_eps: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD([param], lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam([param], lr=lr, weight_decay=weight_decay, betas=betas, eps=adam_eps)
    if name == "adamw":
        return torch.optim.AdamW([param], lr=lr, weight_decay=weight_decay, betas=betas, eps=adam_eps)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def train(loss: Callable[[torch.Tensor, int], torch.Tensor], v0: torch.Tensor, *, steps: int, lr: float,
          normalize: Callable[[torch.Tensor], torch.Tensor] = lambda v: reparam.weight_norm(v, dim=0),
          optimizer: str = "sgd", weight_decay: float = 0.0, momentum: float = 0.0,
          betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8,
          lr_factor: Callable[[int], float] | None = None, initial_buffer: torch.Tensor | None = None,
          project: bool = False) -> dict[str, torch.Tensor]:
    """Train the raw weight V from ``v0`` (not modified) for ``steps`` steps, single-threaded.

    Step t (0-based) minimizes ``loss(V, t)`` with learning rate ``lr * lr_factor(t)`` (LambdaLR);
    ``initial_buffer`` presets SGD's momentum buffer; ``project`` rescales each row to norm 1 after
    every step (explicit normalization).

    Returns:
        ``directions``: normalize(V_t), t = 0..steps; ``norms``: per-row ||V_t||, t = 0..steps;
        ``effective_lr``: per-row lr_t/||V_t||^2 before step t, t = 0..steps-1.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    with single_thread():
        p = v0.detach().clone().requires_grad_(True)
        opt = _optimizer(optimizer, p, lr=lr, weight_decay=weight_decay, momentum=momentum,
                         betas=tuple(betas), adam_eps=adam_eps)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor) if lr_factor is not None else None
        if initial_buffer is not None:
            opt.state[p]["momentum_buffer"] = initial_buffer.detach().clone()
        directions, norms, eff = [normalize(p.detach())], [torch.linalg.vector_norm(p.detach(), dim=1)], []
        for t in range(steps):
            eff.append(opt.param_groups[0]["lr"] / p.detach().square().sum(dim=1))
            opt.zero_grad()
            loss(p, t).backward()
            opt.step()
            if sched is not None and t + 1 < steps:  # no factor(steps): nothing steps with it
                sched.step()
            if project:
                with torch.no_grad():
                    p.copy_(reparam.weight_norm(p, dim=0))
            directions.append(normalize(p.detach()))
            norms.append(torch.linalg.vector_norm(p.detach(), dim=1))
        empty = torch.empty(0, v0.shape[0], dtype=v0.dtype)
        return {"directions": torch.stack(directions), "norms": torch.stack(norms),
                "effective_lr": torch.stack(eff) if eff else empty}


def train_full_batch(net, v0: torch.Tensor, *, lr: float, steps: int, weight_decay: float = 0.0,
                     momentum: float = 0.0, factor: Callable[[int], float] | None = None, optimizer: str = "sgd",
                     betas: tuple[float, float] = (0.9, 0.999), adam_eps: float = 1e-8) -> dict[str, torch.Tensor]:
    """:func:`train` on the full-batch loss ``net(V)`` (``net``: a callable with a ``normalized(V)``
    method, e.g. :class:`normtheory.models.ScaleInvariantNet`), directions ``net.normalized(V_t)``,
    learning-rate factor ``factor`` through LambdaLR. Returns :func:`train`'s dict."""
    return train(lambda v, t: net(v), v0, steps=steps, lr=lr, normalize=net.normalized, optimizer=optimizer,
                 weight_decay=weight_decay, momentum=momentum, betas=betas, adam_eps=adam_eps, lr_factor=factor)


def amplification(directions_of: Callable[[torch.Tensor], torch.Tensor], v0: torch.Tensor,
                  perturbed_v0: torch.Tensor, delta: float) -> float:
    """max |directions_of(perturbed_v0) - directions_of(v0)|_inf / delta: how much a perturbation of
    relative size ``delta`` of the start grows along the run (linear regime for small delta)."""
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta!r}")
    return float((directions_of(v0) - directions_of(perturbed_v0)).abs().max()) / delta


def entrywise_perturbation(v0: torch.Tensor, delta: float, seed: int) -> torch.Tensor:
    """v0 (1 + delta z) entrywise, z standard normal from ``torch.Generator().manual_seed(seed)``."""
    g = torch.Generator().manual_seed(seed)
    return v0 * (1 + delta * torch.randn(v0.shape, generator=g, dtype=v0.dtype))


def directional_perturbation(v0: torch.Tensor, delta: float, seed: int) -> torch.Tensor:
    """v0 + delta ||v0|| z/||z||, z standard normal from ``torch.Generator().manual_seed(seed)``."""
    z = torch.randn(v0.shape, generator=torch.Generator().manual_seed(seed), dtype=v0.dtype)
    return v0 + delta * v0.norm() * z / z.norm()


@dataclass
class MinibatchWN:
    """J(V) = cross-entropy(tanh(x_B WN(V)^T) U, y_B) on minibatch B of a fixed data set (float64):
    invariant to positive per-unit rescaling of V (and to a global one)."""

    n: int = 256
    d_in: int = 6
    hidden: int = 5
    classes: int = 3
    batch: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        self.x = torch.randn(self.n, self.d_in, generator=g, dtype=torch.float64)
        self.y = torch.randint(0, self.classes, (self.n,), generator=g)
        self.head = torch.randn(self.hidden, self.classes, generator=g, dtype=torch.float64)

    def init(self, scale: float = 1.0) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed + 1)
        return scale * torch.randn(self.hidden, self.d_in, generator=g, dtype=torch.float64)

    def batches(self, steps: int, seed: int) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        return [torch.randperm(self.n, generator=g)[: self.batch] for _ in range(steps)]

    def loss(self, v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        z = reparam.weight_norm(v, dim=0)
        return torch.nn.functional.cross_entropy(torch.tanh(self.x[idx] @ z.T) @ self.head, self.y[idx])

    def grad(self, v: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        p = v.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(self.loss(p, idx), p)
        return g


def train_minibatch_wn(model: MinibatchWN, v0: torch.Tensor, batches, *, lr: float, lam: float = 0.0,
                       momentum: float = 0.0, multipliers=None, initial_buffer: torch.Tensor | None = None,
                       project: bool = False) -> dict[str, torch.Tensor]:
    """:func:`train` on the model's minibatches (step t uses ``batches[t]``): torch.optim.SGD on the raw
    weight (coupled weight decay ``lam``), step t with learning rate ``lr * multipliers[t]``,
    ``initial_buffer`` presetting the momentum buffer, ``project`` renormalizing each unit after every
    step. Returns the normalized weights ``directions``, the per-unit squared norms ``norms_sq`` and
    the per-unit effective LR lr_t/||w_j||^2 before each step ``effective_lr``."""
    factor = None if multipliers is None else (lambda t: float(multipliers[t]))
    out = train(lambda v, t: model.loss(v, batches[t]), v0, steps=len(batches), lr=lr, weight_decay=lam,
                momentum=momentum, lr_factor=factor, initial_buffer=initial_buffer, project=project)
    return {"directions": out["directions"], "norms_sq": out["norms"].square(), "effective_lr": out["effective_lr"]}


@dataclass
class BNNet:
    """The slides' architecture: x -> phi(BN(x W1^T)) -> phi(BN(h W2^T)) -> logits (h2 U), float64.

    BN is the slides' (no eps); ``affine`` adds the per-unit scale and shift fit after normalization
    in practice (the lecture sets them aside). All data are drawn from ``seed``.
    """

    d_in: int = 6
    widths: tuple[int, int] = (5, 4)
    classes: int = 3
    batch: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.x = torch.from_numpy(rng.standard_normal((self.batch, self.d_in)) + rng.uniform(-2, 2, self.d_in))
        self.head = torch.from_numpy(rng.standard_normal((self.widths[1], self.classes)))
        self.affine = [(torch.from_numpy(rng.uniform(0.5, 2, w)), torch.from_numpy(rng.uniform(-1, 1, w)))
                       for w in self.widths]

    def weights(self, seed: int) -> list[torch.Tensor]:
        rng = np.random.default_rng(seed)
        dims = (self.d_in,) + tuple(self.widths)
        return [torch.from_numpy(rng.standard_normal((o, i))) for i, o in zip(dims[:-1], dims[1:])]

    def logits(self, ws: list[torch.Tensor], bn: Callable[[torch.Tensor], torch.Tensor], *, affine: bool = False) -> torch.Tensor:
        h = self.x
        for w, (g, b) in zip(ws, self.affine):
            z = bn(h @ w.T)
            h = torch.tanh(g * z + b if affine else z)
        return h @ self.head

    def roundoff_bound(self, ws: list[torch.Tensor], *, affine: bool = False) -> float:
        """Bound on |logits(Gamma W) - logits(W)|_inf from round-off (exact arithmetic gives 0).

        Layer l's BN output errs by e_l = centered_tolerance(d_l + 1, N, kappa_l) (its own round-off)
        plus 2 (1 + sqrt N) kappa'_l e_{l-1} (the previous layer's error through the matmul, relative
        to the channel's spread, kappa'_l = max_j sum_i |W_ji| / std_j); tanh is 1-Lipschitz, the
        affine scale multiplies by max|g|, and the head by max_k sum_j |U_jk|. Each side carries it.
        """
        h, err = self.x, 0.0
        for w, (g, b) in zip(ws, self.affine):
            z = h @ w.T
            std = z.std(dim=0, unbiased=False)
            kappa = float(((h.abs() @ w.abs().T).amax(dim=0) / std).max())
            spread_gain = float((w.abs().sum(dim=1) / std).max())
            err = centered_tolerance(w.shape[1] + 1, self.batch, kappa) + 2 * (1 + self.batch**0.5) * spread_gain * err
            err *= float(g.abs().max()) if affine else 1.0
            h = torch.tanh(g * reparam.batch_norm(z) + b if affine else reparam.batch_norm(z))
        return 2 * err * float(self.head.abs().sum(dim=0).max())


def atan2_grad(w: np.ndarray) -> np.ndarray:
    """Gradient of J(w) = atan2(w2, w1): (-w2, w1)/||w||^2 (orthogonal to w, degree -1)."""
    return np.array([-w[1], w[0]]) / (w @ w)


def atan2_run(w0: np.ndarray, *, lr: float, steps: int, lam: float = 0.0,
              multipliers: np.ndarray | None = None, project: bool = False) -> np.ndarray:
    """SGD on J = atan2(w2, w1): w <- (1 - lr_t lam) w - lr_t grad J(w), lr_t = lr * multipliers[t]
    (coupled weight decay as in torch.optim.SGD), optionally renormalized to ||w|| = 1 after each
    step. Returns the iterates w_0..w_steps, shape (steps + 1, 2)."""
    out = np.empty((steps + 1, 2))
    w = np.array(w0, dtype=float)
    out[0] = w
    for t in range(steps):
        lr_t = lr if multipliers is None else lr * multipliers[t]
        w = w - lr_t * (lam * w + atan2_grad(w))
        if project:
            w = w / np.linalg.norm(w)
        out[t + 1] = w
    return out
