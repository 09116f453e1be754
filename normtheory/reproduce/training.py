"""One training run: mini-batch loop, evaluation, and failure detection.

A run *diverges* when (decided before any run; these are float events, not thresholds):

* the loss, or any parameter after an epoch, is NaN or Inf (float overflow); or
* a WN/WS layer cannot be evaluated because a weight's norm (WN) or spread (WS) became exactly 0
  (float underflow: :mod:`normtheory.reparam` refuses to divide by it).

A diverged run stops at once and records the step and the reason; its final accuracy is None.
How far a normalized weight shrank is *measured*, never a reason to stop: ``min_scale_ratio`` is the
smallest ||W||/||W_0|| (WN) or std/std_0 (WS) over units and epochs. (An earlier version stopped a
run whose ratio fell below 1e-3; that threshold sat between values that the same run reaches with
one or two torch threads, so the outcome flipped with the thread count.) Whether a run that did not
diverge still *failed* (e.g. accuracy at chance) is decided by the claims from its accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from normtheory.reproduce.data import Digits
from normtheory.reproduce.models import normalized_weights

__all__ = ["TrainResult", "train", "evaluate", "slice_scale"]


class _Failure(Exception):
    pass


def slice_scale(norm: str, weight: torch.Tensor) -> torch.Tensor:
    """Per-unit ||W|| (WN) or population std (WS) of a raw weight (unit = output channel)."""
    flat = weight.detach().reshape(weight.shape[0], -1).double()
    if norm == "ws":
        flat = flat - flat.mean(dim=1, keepdim=True)
        return torch.linalg.vector_norm(flat, dim=1) / math.sqrt(flat.shape[1])
    return torch.linalg.vector_norm(flat, dim=1)


@dataclass
class TrainResult:
    diverged: bool
    failure: dict | None
    steps: int
    test_acc: float | None
    test_loss: float | None
    train_acc: float | None
    train_loss: float | None
    min_scale_ratio: float | None  # min over epochs/units of ||W||/||W_0|| (WN) or std/std_0 (WS)
    history: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("diverged", "failure", "steps", "test_acc", "test_loss",
                                              "train_acc", "train_loss", "min_scale_ratio",
                                              "history")}


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) in eval mode."""
    was = model.training
    model.eval()
    try:
        logits = model(x)
    finally:
        model.train(was)
    loss = float(F.cross_entropy(logits, y))
    if not math.isfinite(loss):
        raise _Failure("non-finite evaluation loss")
    return loss, float((logits.argmax(1) == y).double().mean())


def train(model: nn.Module, data: Digits, optimizer: torch.optim.Optimizer, *, epochs: int,
          batch_size: int, seed: int, scheduler=None,
          penalty: Callable[[], torch.Tensor] | None = None,
          post_step: Callable[[], None] | None = None,
          on_step: Callable[[int], None] | None = None,
          on_epoch: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Train ``model`` with cross-entropy (+ ``penalty()``), ``epochs`` passes in seeded order.

    ``post_step`` runs after each ``optimizer.step()`` (Norm Scaling), ``on_step(step)`` after it,
    ``on_epoch(epoch, row)`` after each epoch's evaluation (it may add entries to ``row``).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    order = torch.Generator().manual_seed(10_000 + seed)
    n = data.x_train.shape[0]
    watched = normalized_weights(model)
    initial = [slice_scale(norm, w) for norm, w in watched]
    min_ratio = 1.0 if watched else None
    history: list[dict] = []
    step = 0
    try:
        for epoch in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=order)
            for start in range(0, n, batch_size):
                idx = perm[start:start + batch_size]
                if idx.numel() < 2:
                    continue
                loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
                if penalty is not None:
                    loss = loss + penalty()
                if not torch.isfinite(loss):
                    raise _Failure("non-finite training loss")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if post_step is not None:
                    post_step()
                step += 1
                if on_step is not None:
                    on_step(step)
            if scheduler is not None:
                scheduler.step()
            for p in model.parameters():
                if not torch.isfinite(p.detach()).all():
                    raise _Failure("non-finite parameter")
            for (norm, w), w0 in zip(watched, initial):
                min_ratio = min(min_ratio, float((slice_scale(norm, w) / w0).min()))
            tr_loss, tr_acc = evaluate(model, data.x_train, data.y_train)
            te_loss, te_acc = evaluate(model, data.x_test, data.y_test)
            row = {"epoch": epoch + 1, "step": step, "train_loss": tr_loss, "train_acc": tr_acc,
                   "test_loss": te_loss, "test_acc": te_acc}
            if on_epoch is not None:
                on_epoch(epoch + 1, row)
            history.append(row)
    except (_Failure, ValueError, FloatingPointError) as err:
        # ValueError: normtheory.reparam refused a NaN/Inf weight or a zero norm/spread; any
        # other ValueError is a bug, not a training failure.
        if isinstance(err, ValueError) and not any(s in str(err) for s in ("NaN", "zero")):
            raise
        return TrainResult(True, {"step": step, "reason": str(err).splitlines()[0]}, step,
                           None, None, None, None, min_ratio, history)
    last = history[-1]
    return TrainResult(False, None, step, last["test_acc"], last["test_loss"], last["train_acc"],
                       last["train_loss"], min_ratio, history)
