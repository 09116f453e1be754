r"""Norm Scaling and the (eps-shifted) decoupled weight decay, attached to any ``torch.optim``
optimizer through its own step hooks.

Usage::

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaling = attach_norm_scaling(opt, model, mode="spectral")        # after every opt.step()
    decay = attach_decoupled_decay(opt, ws_weights, lam=5e-4, eps=1e-3, form="ws")
    for x, y in data:
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()  # both run inside step()
    scaling.remove(); decay.remove()                                   # detach (or use `with`)

* :func:`attach_norm_scaling` runs :meth:`normtheory.scaling.NormScaling.step` in a
  ``register_step_post_hook``: every weight is rescaled right after the optimizer moved it, which
  is what the blog's loop does by calling it after ``opt.step()`` (and what calling
  ``scaler.step()`` by hand still does: the hook calls the same method).
* :func:`attach_decoupled_decay` runs :meth:`normtheory.regularizers.DecoupledDecay.step`
  (:math:`W \leftarrow W - \eta_t \nabla R(W)` with the eps-shifted L2's gradient, paper Eqs.
  (27)/(28), and :math:`\eta_t` the parameter group's learning rate at that step, so schedulers
  apply). By default it runs in a ``register_step_pre_hook``, i.e. on the weights *before* the
  optimizer's update, which is the order of ``torch.optim.AdamW`` (it multiplies by
  :math:`1 - \eta\lambda` first, then applies the Adam update): with ``eps = 0``, Adam with this
  hook is AdamW up to round-off. ``when="post"`` decays after the update instead (a different
  method by :math:`O(\eta^2\lambda)` per step).

The optimizer must hold every weight it is asked to scale or decay (checked when attaching: a
weight the optimizer never moves is a mistake, and the decay needs the weight's group for its
learning rate). Hooks follow the optimizer: a step skipped (e.g. by ``torch.amp.GradScaler`` on an
overflow) is neither scaled nor decayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import torch
from torch.utils.hooks import RemovableHandle

from normtheory.regularizers import DecoupledDecay
from normtheory.scaling import NormScaling

__all__ = ["AttachedHook", "attach_norm_scaling", "attach_decoupled_decay"]


@dataclass
class AttachedHook:
    """A hook attached to an optimizer: ``target`` is the object it steps (a :class:`NormScaling`
    or :class:`DecoupledDecay`); :meth:`remove` detaches it (also on leaving a ``with`` block)."""

    handle: RemovableHandle
    target: Any

    def remove(self) -> None:
        self.handle.remove()

    def __enter__(self) -> "AttachedHook":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _check_optimizer(optimizer) -> None:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")


def _check_held(optimizer: torch.optim.Optimizer, weights: Iterable[torch.Tensor], what: str) -> None:
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    missing = [i for i, w in enumerate(weights) if id(w) not in held]
    if missing:
        raise ValueError(f"{what}: weight(s) {missing} are not in the optimizer's param groups (the "
                         "optimizer must update every weight it is asked to rescale or decay)")


def attach_norm_scaling(optimizer: torch.optim.Optimizer, scaling, mode: str = "spectral",
                        **kwargs) -> AttachedHook:
    """Run Norm Scaling after every ``optimizer.step()``.

    Args:
        optimizer: any ``torch.optim.Optimizer`` holding the weights.
        scaling: a configured :class:`NormScaling`, or what its constructor takes (an ``nn.Module``
            or a list of weights), then built as ``NormScaling(scaling, mode, **kwargs)`` (targets:
            the norms now, before the first step).
        mode, kwargs: only when ``scaling`` is not a :class:`NormScaling` already.

    Returns:
        :class:`AttachedHook` whose ``target`` is the :class:`NormScaling`.
    """
    _check_optimizer(optimizer)
    if isinstance(scaling, NormScaling):
        if kwargs or mode != "spectral":
            raise TypeError("scaling is already a NormScaling: give its options to its constructor, "
                            "not to attach_norm_scaling")
        scaler = scaling
    else:
        scaler = NormScaling(scaling, mode, **kwargs)
    _check_held(optimizer, scaler.weights, "attach_norm_scaling")
    handle = optimizer.register_step_post_hook(lambda opt, args, kw: scaler.step())
    return AttachedHook(handle, scaler)


def attach_decoupled_decay(optimizer: torch.optim.Optimizer, params: Iterable[torch.Tensor], *,
                           lam: float, eps: float = 0.0, form: str = "wn", dim: int | None = 0,
                           when: str = "pre") -> AttachedHook:
    r"""Apply the decoupled (eps-shifted) weight decay at every ``optimizer.step()``.

    Each weight moves by :math:`-\eta_t\nabla R(W)` with :math:`\eta_t` the learning rate of its
    group (see :class:`DecoupledDecay` for the forms; ``eps = 0`` is classic decoupled decay).

    Args:
        optimizer: any ``torch.optim.Optimizer`` holding ``params``.
        params: the weights to decay (for a parametrized layer: its ``original`` tensors).
        lam, eps, form, dim: as :class:`DecoupledDecay`.
        when: ``"pre"`` (default: before the update, AdamW's order) or ``"post"``.

    Returns:
        :class:`AttachedHook` whose ``target`` is the :class:`DecoupledDecay`.
    """
    _check_optimizer(optimizer)
    if when not in ("pre", "post"):
        raise ValueError(f"when must be 'pre' or 'post', got {when!r}")
    decay = DecoupledDecay(params, lam=lam, eps=eps, form=form, dim=dim, optimizer=optimizer)
    _check_held(optimizer, decay.params, "attach_decoupled_decay")

    def hook(opt, args, kw):
        decay.step()

    register = optimizer.register_step_pre_hook if when == "pre" else optimizer.register_step_post_hook
    return AttachedHook(register(hook), decay)
