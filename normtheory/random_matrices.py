r"""Seeded test matrices with a prescribed spectrum, and the JSON records that rebuild them.

* :func:`with_spectrum`: :math:`W = U \operatorname{diag}(\sigma) V^\top` with Haar-random orthonormal
  ``U`` (m x k) and ``V`` (n x k), k = min(m, n), from a numpy generator (float64).
* :func:`matrix_record` / :func:`matrix_from_record`: everything that rebuilds one such matrix (sizes,
  singular values, the seed of its bases, the recipe in words) as plain JSON values and back, so a
  counterexample replays from its JSON evidence alone and a record edited by hand gives other numbers.
* :func:`seeded_matrix_record`: the i-th matrix of a seeded sweep (random sizes and spectrum).
* :func:`random_symmetric` / :func:`random_spd`: :math:`Q \operatorname{diag}(\lambda) Q^\top` with Q
  from the QR factorization of a standard normal matrix: eigenvalues uniform in (-3, 3) (optionally
  with a repeated pair) or log-spaced from 1 to ``cond``.

The claim checks build their seeded cases from these (one implementation each).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["BASES_RECIPE", "with_spectrum", "matrix_record", "matrix_from_record", "seeded_matrix_record",
           "random_symmetric", "random_spd"]

BASES_RECIPE = ("U, V: Q factors (numpy.linalg.qr) of standard-normal rows x k and cols x k "
                "matrices drawn in that order from numpy.random.default_rng(seed), k = min(rows, cols); "
                "W = U diag(singular_values) V^T, float64")

_RECORD_FIELDS = ("rows", "cols", "singular_values", "bases_seed")


def with_spectrum(m: int, n: int, sigmas, rng: np.random.Generator) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """(W, U, V) with W = U diag(sigmas) V^T, Haar-random orthonormal U (m x k), V (n x k), k = min(m, n).

    ``sigmas`` fills the first len(sigmas) diagonal entries (the rest are 0; entries beyond k are
    dropped). U is drawn before V from ``rng`` (see :data:`BASES_RECIPE`)."""
    k = min(m, n)
    U, _ = np.linalg.qr(rng.standard_normal((m, k)))
    V, _ = np.linalg.qr(rng.standard_normal((n, k)))
    s = np.zeros(k)
    s[: len(sigmas)] = np.asarray(sigmas)[:k]
    return torch.from_numpy(U @ np.diag(s) @ V.T), U, V


def matrix_record(rows: int, cols: int, singular_values, bases_seed: list[int]) -> dict[str, Any]:
    """Everything that rebuilds one seeded test matrix (see :data:`BASES_RECIPE`), as JSON values."""
    return {"model": "single matrix", "rows": int(rows), "cols": int(cols), "dtype": "float64",
            "singular_values": [float(x) for x in singular_values],
            "bases_seed": [int(x) for x in bases_seed], "recipe": BASES_RECIPE}


def matrix_from_record(record: dict[str, Any]) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """(W, U, V) rebuilt from a :func:`matrix_record` (or a counterexample holding its keys);
    a record missing a field raises ValueError naming it."""
    missing = [k for k in _RECORD_FIELDS if k not in record]
    if missing:
        raise ValueError(f"matrix record lacks {', '.join(missing)}")
    return with_spectrum(int(record["rows"]), int(record["cols"]), record["singular_values"],
                         np.random.default_rng(record["bases_seed"]))


def seeded_matrix_record(seed: int, case: int, max_dim: int, low: float, high: float) -> dict[str, Any]:
    """The ``case``-th seeded test matrix of a sweep: sizes in [2, max_dim) and singular values in
    (low, high), descending, drawn from ``default_rng([seed, case, 0])``; bases from seed
    ``[seed, case, 1]`` (a :func:`matrix_record`)."""
    rng = np.random.default_rng([seed, case, 0])
    m, n = (int(x) for x in rng.integers(2, max_dim, 2))
    s = np.sort(rng.uniform(low, high, min(m, n)))[::-1]
    return matrix_record(m, n, s, [seed, case, 1])


def random_symmetric(rng: np.random.Generator, n: int, repeated: bool = False) -> torch.Tensor:
    """Q diag(lambda) Q^T, lambda uniform in (-3, 3); ``repeated`` sets lambda_2 = lambda_1 (n > 1)."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = rng.uniform(-3, 3, size=n)
    if repeated and n > 1:
        lam[1] = lam[0]
    return torch.from_numpy((q * lam) @ q.T)


def random_spd(rng: np.random.Generator, n: int, cond: float) -> torch.Tensor:
    """Q diag(lambda) Q^T with lambda log-spaced from 1 to ``cond`` (condition number ``cond``)."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.logspace(0, np.log10(cond), n)
    return torch.from_numpy((q * lam) @ q.T)
