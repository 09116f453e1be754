"""Lecture 5, Kronecker spectra / ICS / affine reparameterization / batch centering / K-FAC:
each property on the library code, then on a deliberately broken variant."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch
from hypothesis import example, given, strategies as st

from normtheory import curvature as cv
from normtheory import reparam
from normtheory.claims import lecture_curvature as lc
from normtheory.claims._roundoff import EPS64


def test_L5_kronecker_eig_holds_and_fails_for_kronecker_sum():
    assert max(lc.kron_eig_gaps(cv.kron_eigh, cases=15).values()) <= 1.0

    def kron_sum(a, b):  # lambda_i + nu_j: the eigenvalues of the Kronecker *sum*
        dec = cv.kron_eigh(a, b)
        la, lb = torch.linalg.eigvalsh(a), torch.linalg.eigvalsh(b)
        return cv.KronEigen(values=(la[:, None] + lb[None, :]).reshape(-1), vectors=dec.vectors)

    assert lc.kron_eig_gaps(kron_sum, cases=15)["residual"] > 1.0


def test_L5_kronecker_eig_fails_with_factors_swapped():
    def swapped(a, b):  # s_j (x) r_i: the eigenvectors of B (x) A
        la, ra = torch.linalg.eigh(a)
        lb, rb = torch.linalg.eigh(b)
        return cv.KronEigen(values=torch.kron(la, lb), vectors=torch.kron(rb, ra))

    assert lc.kron_eig_gaps(swapped, cases=15)["residual"] > 1.0


def test_L5_kronecker_eig_general_facts():
    found = lc.nonsymmetric_kron_facts(cases=10)
    assert found["eigenvalue_err_over_tol"] <= 1 and found["eigenvector_residual_over_tol"] <= 1
    assert found["transpose_factorization_min_rel_err"] > 1e-3
    assert (found["defective_null_space_dim"], found["defective_product_span_dim"]) == (3, 1)


def test_L5_kronecker_eig_general_completeness_tells_diagonalizable_from_defective():
    upper = np.array([[1.0, 1.0], [0.0, 2.0]])  # non-symmetric but diagonalizable: products complete
    assert lc.eigvector_completeness(upper, upper.T) == {"eigenspace_dim": 4, "product_span_dim": 4}
    jordan = np.array([[2.0, 1.0], [0.0, 2.0]])  # defective: products miss eigenvectors of J (x) J
    found = lc.eigvector_completeness(jordan, jordan)
    assert found["product_span_dim"] < found["eigenspace_dim"]


def test_L5_kronecker_eig_general_replay_and_tamper():
    record = json.loads(json.dumps(lc.check_kronecker_eig_general().to_json()))
    assert lc.replay_kronecker_eig_general(record) == record["counterexample"]["reproduces"]
    record["counterexample"]["a"] = [[1.0, 0.0], [0.0, 2.0]]
    assert lc.replay_kronecker_eig_general(record) != record["counterexample"]["reproduces"]


def test_L5_ics_outlier_replay_and_tamper():
    record = json.loads(json.dumps(lc.check_ics_outlier().to_json()))
    assert lc.replay_ics_outlier(record) == record["counterexample"]["reproduces"]
    record["counterexample"]["seed"] = 3
    assert lc.replay_ics_outlier(record) != record["counterexample"]["reproduces"]


def test_L5_ics_outlier_bracket_fails_for_the_slides_value_as_upper_bound(monkeypatch):
    # a prediction whose upper end is nu lambda_i itself (||Sigma|| dropped) excludes the true outliers
    real = cv.ics_outlier_prediction

    def no_sigma(mean, sigma, s):
        pred = real(mean, sigma, s)
        return dataclasses.replace(pred, upper=pred.nu)

    monkeypatch.setattr(cv, "ics_outlier_prediction", no_sigma)
    assert not lc.ics_outlier_cases(seed=1, mean_norms=(10.0,), n=60)[0]["in_bounds"]


@given(seed=st.integers(0, 1000), mean_norm=st.floats(5.0, 300.0))
@example(seed=0, mean_norm=5.0)
def test_L5_ics_outlier_within_exact_bracket(seed, mean_norm):
    rows = lc.ics_outlier_cases(seed=seed, mean_norms=(mean_norm,), n=60)
    r = rows[0]
    assert r["in_bounds"] and r["sin_angle_to_(m,1)"] <= r["angle_bound"] and r["centered_err_over_tol"] <= 1


def test_L5_ics_outlier_literal_forms_are_only_approximate():
    # the slide's eigenvector m (x) v (no bias entry) is farther from the true one than (m, 1) (x) v
    rows = lc.ics_outlier_cases(seed=1, mean_norms=(10.0, 30.0))
    assert all(r["sin_angle_to_(m,0)"] > r["sin_angle_to_(m,1)"] for r in rows)
    # and the as-stated equality nu lambda_i fails beyond round-off (it is an approximation)
    assert all(r["as_stated_err_over_tol"] > 1 for r in rows)


def test_L5_ics_gd_rate_bracket_and_broken_rate():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((64, 3)) + 3)
    y = x.sum(1)
    r = lc.gd_least_squares(x, y, target=1e-3)
    assert r["steps_lower"] - 1 <= r["steps"] <= r["steps_upper"]
    # a broken prediction that uses the centered Hessian's rate for the uncentered problem fails
    rc = lc.gd_least_squares(reparam.batch_center(x), y, target=1e-3)
    assert r["steps"] > rc["steps_upper"]


def test_L5_affine_reparam_holds():
    found = lc.affine_reparam_facts(cases=6)
    assert max(v for k, v in found.items() if k.endswith("_over_tol")) <= 1.0


def test_L5_affine_reparam_fails_for_broken_block_and_row_major_convention():
    def no_mmT(mean, sigma, out_dim):  # forget m m^T in the top-left block
        blk = cv.quasi_diagonal_block(mean, sigma, out_dim)
        d = mean.shape[0]
        return blk - torch.kron(torch.block_diag(torch.outer(mean, mean), mean.new_zeros(1, 1)),
                                torch.eye(out_dim, dtype=mean.dtype)) * (torch.arange(d + 1) < d).double().repeat_interleave(out_dim)[:, None]

    assert lc.affine_reparam_facts(block=no_mmT, cases=6)["block_formula_err_over_tol"] > 1.0

    def row_major(mean, sigma, out_dim):  # the Kronecker factors in the other order (I (x) Sigma^(1/2))
        j = cv.reparam_inverse_jacobian(mean, sigma, out_dim)
        d = mean.shape[0]
        j[: d * out_dim, : d * out_dim] = torch.kron(torch.eye(out_dim, dtype=mean.dtype), cv.psd_sqrt(sigma))
        return j

    assert lc.affine_reparam_facts(inverse_jacobian=row_major, cases=6)["theta_map_err_over_tol"] > 1.0

    def no_shift(w, b, mean, sigma):  # b~ = b: forgets W m
        return w @ cv.psd_sqrt(sigma), b

    assert lc.affine_reparam_facts(reparameterize=no_shift, cases=6)["function_err_over_tol"] > 1.0


def test_L5_batch_centering_grad_and_direct_path_variant():
    good = lc.batch_centering_gradient_gap(lambda s, a: s.mT @ reparam.batch_center(a), cases=10)
    assert good["worst_err_over_tol"] <= 1.0 and good["direct_path_only_err_over_tol"] > 1.0
    broken = lc.batch_centering_gradient_gap(lambda s, a: s.mT @ a, cases=10)
    assert broken["worst_err_over_tol"] > 1.0


def test_L5_kfac_affine_invariance_and_broken_variants():
    kfac = lc.affine_invariance_run(lambda w, g, a, s, lr: cv.kfac_step(w, g, a, s, lr=lr), steps=5)
    tol = 16 * 16 * EPS64 * kfac["cond_A_prime_times_cond_U"] * 5
    assert kfac["max_gap"] <= tol
    assert lc.affine_invariance_run(lc._sgd, steps=5)["max_gap"] > 1e-3
    # damping the activation factor breaks the exact invariance
    damped_a = lc.affine_invariance_run(
        lambda w, g, a, s, lr: cv.kfac_step(w, g, a + 0.1 * torch.eye(a.shape[0], dtype=a.dtype), s, lr=lr), steps=5)
    assert damped_a["max_gap"] > 1e3 * tol
