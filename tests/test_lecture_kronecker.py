"""normtheory.claims.lecture_kronecker: each property on the library code (normtheory.curvature), then on a
deliberately broken variant. Test names carry the claim id."""

from __future__ import annotations

import json

import numpy as np
import torch

from normtheory import curvature
from normtheory.claims import lecture_kronecker as kronecker


def test_L5_kronecker_eig_holds_and_fails_for_kronecker_sum():
    assert max(kronecker.kron_eig_gaps(curvature.kron_eigh, cases=15).values()) <= 1.0

    def kron_sum(a, b):  # lambda_i + nu_j: the eigenvalues of the Kronecker *sum*
        dec = curvature.kron_eigh(a, b)
        la, lb = torch.linalg.eigvalsh(a), torch.linalg.eigvalsh(b)
        return curvature.KronEigen(values=(la[:, None] + lb[None, :]).reshape(-1), vectors=dec.vectors)

    assert kronecker.kron_eig_gaps(kron_sum, cases=15)["residual"] > 1.0


def test_L5_kronecker_eig_fails_with_factors_swapped():
    def swapped(a, b):  # s_j (x) r_i: the eigenvectors of B (x) A
        la, ra = torch.linalg.eigh(a)
        lb, rb = torch.linalg.eigh(b)
        return curvature.KronEigen(values=torch.kron(la, lb), vectors=torch.kron(rb, ra))

    assert kronecker.kron_eig_gaps(swapped, cases=15)["residual"] > 1.0


def test_L5_kronecker_eig_general_facts():
    found = kronecker.nonsymmetric_kron_facts(cases=10)
    assert found["eigenvalue_err_over_tol"] <= 1 and found["eigenvector_residual_over_tol"] <= 1
    assert found["transpose_factorization_min_rel_err"] > 1e-3
    assert (found["defective_null_space_dim"], found["defective_product_span_dim"]) == (3, 1)


def test_L5_kronecker_eig_general_completeness_tells_diagonalizable_from_defective():
    upper = np.array([[1.0, 1.0], [0.0, 2.0]])  # non-symmetric but diagonalizable: products complete
    assert kronecker.eigvector_completeness(upper, upper.T) == {"eigenspace_dim": 4, "product_span_dim": 4}
    jordan = np.array([[2.0, 1.0], [0.0, 2.0]])  # defective: products miss eigenvectors of J (x) J
    found = kronecker.eigvector_completeness(jordan, jordan)
    assert found["product_span_dim"] < found["eigenspace_dim"]


def test_L5_kronecker_eig_general_replay_and_tamper():
    record = json.loads(json.dumps(kronecker.check_kronecker_eig_general().to_json()))
    assert kronecker.replay_kronecker_eig_general(record) == record["counterexample"]["reproduces"]
    record["counterexample"]["a"] = [[1.0, 0.0], [0.0, 2.0]]
    assert kronecker.replay_kronecker_eig_general(record) != record["counterexample"]["reproduces"]
