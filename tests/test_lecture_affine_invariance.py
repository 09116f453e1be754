"""normtheory.claims.lecture_affine_invariance: each property on the library code (normtheory.curvature), then on a
deliberately broken variant. Test names carry the claim id."""

from __future__ import annotations


import torch

from normtheory import curvature
from normtheory import reparam
from normtheory.claims import lecture_affine_invariance as affine
from normtheory.roundoff import EPS64


def test_L5_affine_reparam_holds():
    found = affine.affine_reparam_facts(cases=6)
    assert max(v for k, v in found.items() if k.endswith("_over_tol")) <= 1.0


def test_L5_affine_reparam_fails_for_broken_block_and_row_major_convention():
    def no_mmT(mean, sigma, out_dim):  # forget m m^T in the top-left block
        blk = curvature.quasi_diagonal_block(mean, sigma, out_dim)
        d = mean.shape[0]
        return blk - torch.kron(torch.block_diag(torch.outer(mean, mean), mean.new_zeros(1, 1)),
                                torch.eye(out_dim, dtype=mean.dtype)) * (torch.arange(d + 1) < d).double().repeat_interleave(out_dim)[:, None]

    assert affine.affine_reparam_facts(block=no_mmT, cases=6)["block_formula_err_over_tol"] > 1.0

    def row_major(mean, sigma, out_dim):  # the Kronecker factors in the other order (I (x) Sigma^(1/2))
        j = curvature.reparam_inverse_jacobian(mean, sigma, out_dim)
        d = mean.shape[0]
        j[: d * out_dim, : d * out_dim] = torch.kron(torch.eye(out_dim, dtype=mean.dtype), curvature.psd_sqrt(sigma))
        return j

    assert affine.affine_reparam_facts(inverse_jacobian=row_major, cases=6)["theta_map_err_over_tol"] > 1.0

    def no_shift(w, b, mean, sigma):  # b~ = b: forgets W m
        return w @ curvature.psd_sqrt(sigma), b

    assert affine.affine_reparam_facts(reparameterize=no_shift, cases=6)["function_err_over_tol"] > 1.0


def test_L5_batch_centering_grad_holds_and_fails_without_centering():
    good = affine.batch_centering_gradient_gap(lambda s, a: s.mT @ reparam.batch_center(a), cases=10)
    assert good["worst_err_over_tol"] <= 1.0 and good["direct_path_only_err_over_tol"] > 1.0
    broken = affine.batch_centering_gradient_gap(lambda s, a: s.mT @ a, cases=10)
    assert broken["worst_err_over_tol"] > 1.0


def test_L5_kfac_affine_invariance_and_broken_variants():
    kfac = affine.affine_invariance_run(lambda w, g, a, s, lr: curvature.kfac_step(w, g, a, s, lr=lr), steps=5)
    tol = 16 * 16 * EPS64 * kfac["cond_A_prime_times_cond_U"] * 5
    assert kfac["max_gap"] <= tol
    assert affine.affine_invariance_run(affine._sgd, steps=5)["max_gap"] > 1e-3
    # damping the activation factor breaks the exact invariance
    damped_a = affine.affine_invariance_run(
        lambda w, g, a, s, lr: curvature.kfac_step(w, g, a + 0.1 * torch.eye(a.shape[0], dtype=a.dtype), s, lr=lr), steps=5)
    assert damped_a["max_gap"] > 1e3 * tol
