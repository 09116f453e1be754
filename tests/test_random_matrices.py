"""normtheory.random_matrices: the seeded matrices have the spectrum they are built with, records
rebuild them exactly, and a record edited by hand (or missing a field) does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from normtheory.random_matrices import (matrix_from_record, matrix_record, random_spd, random_symmetric,
                                        seeded_matrix_record, with_spectrum)


def test_with_spectrum_has_the_given_singular_values_and_orthonormal_bases():
    W, U, V = with_spectrum(7, 4, [3.0, 2.0, 0.5], np.random.default_rng(1))
    assert np.allclose(np.linalg.svd(W.numpy(), compute_uv=False), [3.0, 2.0, 0.5, 0.0], atol=1e-14)
    assert np.allclose(U.T @ U, np.eye(4), atol=1e-14) and np.allclose(V.T @ V, np.eye(4), atol=1e-14)


def test_records_rebuild_the_matrix_and_an_edited_record_does_not():
    record = seeded_matrix_record(0, 3, 12, 0.1, 5.0)
    W, _, _ = matrix_from_record(record)
    assert torch.equal(W, matrix_from_record(dict(record))[0])
    edited = {**record, "bases_seed": [0, 3, 2]}
    assert not torch.equal(W, matrix_from_record(edited)[0])
    assert matrix_record(2, 3, [1.0, 0.5], [4])["recipe"] == record["recipe"]
    with pytest.raises(ValueError, match="bases_seed"):
        matrix_from_record({"rows": 3, "cols": 3, "singular_values": [1.0]})


def test_random_symmetric_and_spd_spectra():
    rng = np.random.default_rng(2)
    lam = np.linalg.eigvalsh(random_symmetric(rng, 5, repeated=True).numpy())
    assert np.min(np.abs(np.diff(np.sort(lam)))) < 1e-12  # the repeated pair
    spd = np.linalg.eigvalsh(random_spd(rng, 4, cond=100.0).numpy())
    assert spd.min() == pytest.approx(1.0, rel=1e-12) and spd.max() == pytest.approx(100.0, rel=1e-12)
