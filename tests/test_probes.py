"""Hostile-input probe (issue 14) for reparam, regularizers, dynamics, curvature and models.

One parametrized case per bad input: each must either raise a clear error that names the offending
argument, or return the right answer (checked against a value derived by hand). Before the fix,
each case returned a wrong answer silently (complex input treated as real, a float16 norm
overflowing to zero, ``g`` broadcast along the wrong axis, a decay step flipping the weight's sign,
``inf`` schedules, a length-1 mean broadcast, indefinite "covariances", bools taken as numbers) or
failed late with an error that did not name the argument (shape mismatches inside a matmul).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from normtheory import curvature as cv
from normtheory import dynamics as dy
from normtheory import regularizers as rg
from normtheory import reparam
from normtheory.models import ReluNet, ScaleInvariantNet

F64 = torch.float64
C128 = torch.complex128


def _c(*shape):
    return torch.randn(*shape, dtype=C128, generator=torch.Generator().manual_seed(0))


def _r(*shape):
    return torch.randn(*shape, dtype=F64, generator=torch.Generator().manual_seed(1))


def _indefinite(n=3):
    return torch.diag(torch.tensor([1.0] * (n - 1) + [-0.5], dtype=F64))


def _decay_flips_sign():
    w = torch.ones(2, 3, dtype=F64, requires_grad=True)
    before = w.detach().clone()
    try:
        rg.DecoupledDecay([w], lam=10.0).step(lr=1.0)
    finally:
        assert torch.equal(w.detach(), before), "a refused step must leave the weight unchanged"


def _decay_flips_sign_via_optimizer():
    w = torch.ones(2, 3, dtype=F64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.5)
    rg.DecoupledDecay([w], lam=2.0, optimizer=opt).step()


# (call, expected): expected is (exception type, regex the message must match: the argument's name)
RAISES = {
    # complex input: refused by the one check, naming the argument
    "weight_norm-complex-v": (lambda: reparam.weight_norm(_c(2, 3)), (TypeError, "v is complex")),
    "weight_norm-complex-g": (lambda: reparam.weight_norm(_r(2, 3), _c(2, 1)), (TypeError, "g is complex")),
    "centered_weight_norm-complex": (lambda: reparam.centered_weight_norm(_c(2, 3)), (TypeError, "v is complex")),
    "weight_standardization-complex": (lambda: reparam.weight_standardization(_c(2, 3)), (TypeError, "w is complex")),
    "batch_norm-complex": (lambda: reparam.batch_norm(_c(4, 3)), (TypeError, "x is complex")),
    "batch_center-complex": (lambda: reparam.batch_center(_c(4, 3)), (TypeError, "x is complex")),
    "l2_penalty-complex": (lambda: rg.l2_penalty(_c(2, 3), lam=0.1), (TypeError, "weight is complex")),
    "eps_shifted_l2-complex": (lambda: rg.eps_shifted_l2(_c(2, 3), lam=0.1, eps=0.1), (TypeError, "weight is complex")),
    "eps_shifted_l2_grad-complex": (lambda: rg.eps_shifted_l2_grad(_c(2, 3), lam=0.1, eps=0.1),
                                    (TypeError, "weight is complex")),
    "DecoupledDecay-complex": (lambda: rg.DecoupledDecay([_c(2, 3)], lam=0.1), (TypeError, r"params\[0\] is complex")),
    "effective_learning_rate-complex": (lambda: dy.effective_learning_rate(0.1, _c(2, 3)), (TypeError, "weight is complex")),
    "kron_eigh-complex": (lambda: cv.kron_eigh(_c(2, 2), torch.eye(2, dtype=F64)), (TypeError, "a is complex")),
    "psd_sqrt-complex": (lambda: cv.psd_sqrt(torch.eye(2, dtype=C128)), (TypeError, "sigma is complex")),
    "kfac_step-complex": (lambda: cv.kfac_step(_c(2, 3), _r(2, 3), torch.eye(3, dtype=F64), torch.eye(2, dtype=F64),
                                               lr=0.1), (TypeError, "w_bar is complex")),
    "homogeneous_second_moment-complex": (lambda: cv.homogeneous_second_moment(_c(4, 2)), (TypeError, "a is complex")),
    # argument rules
    "weight_norm-g-wrong-axis": (lambda: reparam.weight_norm(_r(3, 3), torch.ones(3, dtype=F64)),
                                 (ValueError, "g must broadcast to the per-slice shape")),
    "centered_weight_norm-g-wrong-axis": (lambda: reparam.centered_weight_norm(_r(3, 3), torch.ones(3, dtype=F64)),
                                          (ValueError, "g must broadcast")),
    "weight_norm-g-too-many-dims": (lambda: reparam.weight_norm(_r(3, 4), torch.ones(2, 3, 1, dtype=F64)),
                                    (ValueError, "g must broadcast")),
    "DecoupledDecay-lr-lam-at-least-1": (_decay_flips_sign, (ValueError, r"lr \* lam must be < 1")),
    "DecoupledDecay-optimizer-lr-lam-at-least-1": (_decay_flips_sign_via_optimizer, (ValueError, r"lr \* lam")),
    "DecoupledDecay-bad-dim-at-construction": (lambda: rg.DecoupledDecay([_r(2, 3)], lam=0.1, dim=2),
                                               (ValueError, "dim=2 is out of range")),
    "DecoupledDecay-not-an-optimizer": (lambda: rg.DecoupledDecay([_r(2, 3)], lam=0.1, optimizer=0.1),
                                        (TypeError, "optimizer must be")),
    "theorem1_multipliers-inf": (lambda: dy.theorem1_multipliers(2000, lr=0.5, lam=1.0),
                                 (OverflowError, "d_t at step 512")),
    "theorem1_multipliers-underflow": (lambda: dy.theorem1_multipliers(3, lr=0.1, lam=0.1, p0=1e200),
                                       (OverflowError, "d_t at step 0")),
    "theorem1_scales-underflow": (lambda: dy.theorem1_scales(2000, lr=0.5, lam=1.0), (OverflowError, "c_t at step")),
    "momentum_multipliers-inf": (lambda: dy.momentum_multipliers(20000, lr=1.0, lam=0.0026, momentum=0.9).multipliers,
                                 (OverflowError, "momentum multiplier d_t")),
    "theorem1_lr_lambda-negative-step": (lambda: dy.theorem1_lr_lambda(lr=0.1, lam=0.1)(-1), (ValueError, "t must be >= 0")),
    "standardize_inputs-length-1-mean": (lambda: cv.standardize_inputs(_r(5, 3), torch.zeros(1, dtype=F64),
                                                                       torch.eye(3, dtype=F64)),
                                         (ValueError, r"mean must have shape \(3,\)")),
    "standardize_inputs-sigma-shape": (lambda: cv.standardize_inputs(_r(5, 3), torch.zeros(3, dtype=F64),
                                                                     torch.eye(2, dtype=F64)),
                                       (ValueError, "sigma must have shape")),
    "affine_reparameterize-sigma-shape": (lambda: cv.affine_reparameterize(_r(2, 3), _r(2), _r(3), torch.eye(2, dtype=F64)),
                                          (ValueError, "sigma must have shape")),
    "reparam_inverse_jacobian-sigma-shape": (lambda: cv.reparam_inverse_jacobian(_r(3), torch.eye(2, dtype=F64), 2),
                                             (ValueError, "sigma must have shape")),
    "quasi_diagonal_block-out_dim-0": (lambda: cv.quasi_diagonal_block(_r(2), torch.eye(2, dtype=F64), 0),
                                       (ValueError, "out_dim must be >= 1")),
    "ics_outlier_prediction-indefinite-sigma": (lambda: cv.ics_outlier_prediction(_r(3), _indefinite(3), torch.eye(2, dtype=F64)),
                                                (ValueError, "sigma must be positive semidefinite")),
    "ics_outlier_prediction-indefinite-s": (lambda: cv.ics_outlier_prediction(_r(3), torch.eye(3, dtype=F64), _indefinite(2)),
                                            (ValueError, "s must be positive semidefinite")),
    "kfac_step-indefinite-a_bar": (lambda: cv.kfac_step(_r(2, 3), _r(2, 3), _indefinite(3), torch.eye(2, dtype=F64), lr=0.1),
                                   (ValueError, "a_bar must be symmetric positive definite")),
    "kfac_step-indefinite-s": (lambda: cv.kfac_step(_r(2, 3), _r(2, 3), torch.eye(3, dtype=F64), _indefinite(2), lr=0.1),
                               (ValueError, "s must be symmetric positive definite")),
    "kfac_step-singular-s": (lambda: cv.kfac_step(_r(2, 3), _r(2, 3), torch.eye(3, dtype=F64),
                                                  torch.zeros(2, 2, dtype=F64), lr=0.1),
                             (ValueError, "s must be symmetric positive definite")),
    "ReluNet-one-width": (lambda: ReluNet((3,)), (ValueError, "widths")),
    "ReluNet-zero-width": (lambda: ReluNet((3, 0, 2)), (ValueError, r"widths\[1\] must be >= 1")),
    "ReluNet-wrong-layer-count": (lambda: ReluNet((3, 4, 2))([_r(4, 3)]), (ValueError, "weights must hold 2")),
    "ReluNet-negative-scale": (lambda: ReluNet((3, 2)).init(scale=-1.0), (ValueError, "scale must be > 0")),
    "ScaleInvariantNet-bn-batch-1": (lambda: ScaleInvariantNet("bn", batch=1), (ValueError, "batch must be >= 2")),
    # bools are not numbers
    "weight_norm-dim-bool": (lambda: reparam.weight_norm(_r(2, 3), dim=True), (TypeError, "dim must be an int")),
    "weight_standardization-eps-bool": (lambda: reparam.weight_standardization(_r(2, 3), eps=True), (TypeError, "eps")),
    "batch_norm-eps-bool": (lambda: reparam.batch_norm(_r(4, 3), eps=False), (TypeError, "eps")),
    "l2_penalty-lam-bool": (lambda: rg.l2_penalty(_r(2, 3), lam=True), (TypeError, "lam")),
    "DecoupledDecay-lr-bool": (lambda: rg.DecoupledDecay([_r(2, 3)], lam=0.1).step(lr=True), (TypeError, "lr")),
    "effective_learning_rate-power-bool": (lambda: dy.effective_learning_rate(0.1, _r(2, 3), power=True),
                                           (ValueError, "power")),
    "effective_learning_rate-lr-bool": (lambda: dy.effective_learning_rate(True, _r(2, 3)), (TypeError, "lr")),
    "theorem1_multipliers-steps-bool": (lambda: dy.theorem1_multipliers(True, lr=0.1, lam=0.1), (TypeError, "steps")),
    "momentum_multipliers-momentum-bool": (lambda: dy.momentum_multipliers(3, lr=0.1, lam=0.1, momentum=True),
                                           (TypeError, "momentum")),
    "unvec-rows-bool": (lambda: cv.unvec(_r(4), True), (TypeError, "rows must be an int")),
    "gd_contraction-lr-bool": (lambda: cv.gd_contraction(torch.eye(2, dtype=F64), lr=True), (TypeError, "lr")),
}


def _third_root():
    return 1 / math.sqrt(3)


# (call, check): the right answer, derived by hand
ANSWERS = {
    # float16: the norm of three entries of 6e4 is 1.04e5 > 65504; each output entry is 1/sqrt(3)
    "weight_norm-float16-overflow": (
        lambda: reparam.weight_norm(torch.full((2, 3), 6e4, dtype=torch.float16)),
        lambda out: out.dtype == torch.float16 and torch.allclose(out.double(), torch.full((2, 3), _third_root(),
                                                                                           dtype=F64), rtol=2**-10)),
    # +-300 squared is 9e4 > 65504 in float16; batch norm of a channel {+a, -a} is {+1, -1}
    "batch_norm-float16-overflow": (
        lambda: reparam.batch_norm(torch.tensor([[300.0], [-300.0]], dtype=torch.float16)),
        lambda out: out.dtype == torch.float16 and out.flatten().tolist() == [1.0, -1.0]),
    # weight standardization of a slice {a, -a}: mean 0, std a, output {1, -1}
    "weight_standardization-float16-overflow": (
        lambda: reparam.weight_standardization(torch.tensor([[300.0, -300.0]], dtype=torch.float16)),
        lambda out: out.flatten().tolist() == [1.0, -1.0]),
    "centered_weight_norm-float16-overflow": (
        lambda: reparam.centered_weight_norm(torch.tensor([[6e4, -6e4]], dtype=torch.float16)),
        lambda out: torch.allclose(out.double().abs(), torch.full((1, 2), 2**-0.5, dtype=F64), rtol=2**-10)),
    # 0.5 * (200^2 + 200^2) = 4e4 fits, but 200^2 + 200^2 = 8e4 does not in float16
    "l2_penalty-float16-overflow": (
        lambda: rg.l2_penalty(torch.full((2,), 200.0, dtype=torch.float16), lam=1.0),
        lambda out: float(out) == 4e4),
    # g of shape (C, 1) scales slice c by g[c] (the right axis)
    "weight_norm-g-right-axis": (
        lambda: reparam.weight_norm(torch.tensor([[3.0, 4.0], [0.0, 2.0]], dtype=F64), torch.tensor([[10.0], [1.0]], dtype=F64)),
        lambda out: out.tolist() == [[6.0, 8.0], [0.0, 1.0]]),
    # a long horizon still says whether a positive schedule exists, without ever forming inf
    "momentum_multipliers-valid-over-long-horizon": (
        lambda: dy.momentum_multipliers(20000, lr=1.0, lam=0.0026, momentum=0.9),
        lambda s: s.valid and s.first_nonpositive is None and bool(np.isfinite(s.log_multipliers).all())),
    # a PSD (singular) covariance is accepted: rank-deficient inputs are legitimate
    "ics_outlier_prediction-singular-psd-sigma": (
        lambda: cv.ics_outlier_prediction(torch.zeros(2, dtype=F64), torch.diag(torch.tensor([1.0, 0.0], dtype=F64)),
                                          torch.eye(2, dtype=F64)),
        lambda p: p.nu == 1.0 and p.upper == 2.0),
}


@pytest.mark.parametrize("name", sorted(RAISES))
def test_bad_input_raises_naming_the_argument(name):
    call, (err, match) = RAISES[name]
    with pytest.raises(err, match=match):
        call()


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_bad_input_gets_the_right_answer(name):
    call, check = ANSWERS[name]
    assert check(call())
