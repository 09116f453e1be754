"""The three weight states the harness measures (their spectra differ, and so does convergence).

* ``"orthogonal"``: the blog's init, ``W = sqrt(d_k/d_{k-1}) Q`` (:func:`normtheory.scaling.scaled_orthogonal_init_`)
  -- every singular value equal, the hardest case for power iteration's gap;
* ``"default"``: torch's default (Kaiming-uniform) init -- Marchenko-Pastur-like spectra;
* ``"trained"``: "trained-like": the default init after ``steps`` Adam steps (lr 1e-3) on random
  data with random labels, which pulls a few directions out of the bulk.
"""

from __future__ import annotations

import torch
from torch import nn

from normtheory.scaling import scaled_orthogonal_init_

__all__ = ["STATES", "make_state"]

STATES = ("orthogonal", "default", "trained")


def make_state(model: nn.Module, state: str, *, seed: int = 0, steps: int = 300, batch: int = 64,
               image_size: int = 32, progress=None) -> nn.Module:
    """Put ``model`` (in place, on its device) into weight ``state``; returns it."""
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, got {state!r}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if hasattr(mod, "reset_parameters") and mod is not model:
            mod.reset_parameters()
    if state == "orthogonal":
        scaled_orthogonal_init_(model, generator=gen)
    elif state == "trained":
        device = next(model.parameters()).device
        classes = model.fc.out_features
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        it = range(steps) if progress is None else progress(range(steps), desc="trained-like state")
        for _ in it:
            x = torch.randn(batch, 3, image_size, image_size, generator=gen).to(device)
            y = torch.randint(0, classes, (batch,), generator=gen).to(device)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model
