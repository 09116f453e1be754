"""One intra-op thread for small-tensor work.

The exact models are tiny: torch's intra-op thread pool only adds synchronisation, and on a busy
2-core machine its spin-waits made such loops 40-60x slower (measured while this project's checks
ran side by side). ``single_thread()`` works as a context manager and as a decorator, and restores
the previous thread count.
"""

from __future__ import annotations

import contextlib

import torch

__all__ = ["single_thread"]


@contextlib.contextmanager
def single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
