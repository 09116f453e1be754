"""The handwritten-digits data set, split deterministically.

Protocol (fixed before any run): scikit-learn's ``load_digits`` (1,797 images of 8x8 pixels with
integer intensities 0..16, ten classes). Pixels are divided by 16, then centred and scaled per pixel
with the *training* mean and standard deviation (pixels that are constant in the training set keep
standard deviation 1). The split is a fixed permutation (numpy ``default_rng(0)``), stratified by
class: 500 test images (50 per class) and 1,297 training images. The split never depends on the run's
seed; the seed only changes the initialisation and the batch order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

__all__ = ["Digits", "load_digits_split", "TEST_PER_CLASS"]

TEST_PER_CLASS = 50
_SPLIT_SEED = 0


@dataclass(frozen=True)
class Digits:
    """Train/test tensors. ``x_*`` has shape (N, 64) (flattened 8x8), ``y_*`` int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def n_classes(self) -> int:
        return 10

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 64) -> (N, 1, 8, 8) for the CNN."""
        return x.reshape(-1, 1, 8, 8)


@lru_cache(maxsize=4)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # the library itself must import without scikit-learn
        raise ImportError(
            "normtheory.reproduce needs scikit-learn for its data (load_digits); install the "
            "'data' extra: pip install 'normtheory[data]'") from err
    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def load_digits_split(dtype: torch.dtype = torch.float32) -> Digits:
    """The fixed digits split as tensors of ``dtype`` (a floating dtype)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    x, y = _raw()
    rng = np.random.default_rng(_SPLIT_SEED)
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:TEST_PER_CLASS]
                               for c in range(10)])
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~mask))
    test_idx = np.sort(test_idx)
    x = x / 16.0
    mean = x[train_idx].mean(axis=0)
    std = x[train_idx].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x = (x - mean) / std

    def t(a, d):
        return torch.from_numpy(np.ascontiguousarray(a)).to(d)

    return Digits(t(x[train_idx], dtype), t(y[train_idx], torch.int64),
                  t(x[test_idx], dtype), t(y[test_idx], torch.int64))
