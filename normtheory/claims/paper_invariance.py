"""Paper: invariances of weight normalization (WN) and weight standardization (WS).

Source: Li, Chen, Xia, Yang, "Understanding the Disharmony between Weight Normalization Family and
Weight Decay: epsilon-shifted L2 Regularizer" (``001_b5a1945cc2ea1296.txt``), Eqs. (2), (3), (5),
(7) and (23).

Each property is a function of the implementation it checks (``normalize=...``), so the tests can
show that it fails on a deliberately broken variant; the claim's check runs it on the library's own
implementation.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from normtheory import reparam
from normtheory.registry import PAPER, Evidence, Verdict, claim, decide

U64 = float(np.finfo(np.float64).eps)  # unit roundoff is U64 / 2; we use eps for safety


def wn_tolerance(n: int) -> float:
    # Each entry of v/||v|| carries relative error <= (n + 3) u: the n-term sum of squares
    # (gamma_n), the square root, the division, and the scaling alpha*v (1 rounding). Unit-norm
    # slices have entries <= 1, so the difference of two such results is <= 2 (n + 3) eps.
    return 2 * (n + 3) * U64


def ws_tolerance(n: int, kappa: float) -> float:
    # Centering x = alpha W + beta loses digits when |x| >> its spread s: the computed deviations
    # carry absolute error <= (n + 2) u max|x| (the rounding of x itself plus the n-term mean), i.e.
    # relative error (n + 2) u kappa with kappa = max|x| / s. Outputs have |z_i| <= sqrt(n), and the
    # std inherits the same relative error plus n u from its sum of squares, so
    # |dz| <= (n + 2) u kappa (1 + sqrt n) + n^1.5 u per side; two sides are compared.
    return 2 * ((n + 2) * kappa * (1 + np.sqrt(n)) + n**1.5) * U64


def wn_scale_invariance(normalize: Callable[[torch.Tensor], torch.Tensor], *, cases: int = 200,
                        seed: int = 0) -> dict:
    """Largest ``|N(alpha v) - N(v)|_inf / tol`` over seeded random weights and alpha > 0.

    Weights are drawn with entries spread over many decades (norms from 1e-150 to 1e150), alpha
    over 1e-100 .. 1e100. Also reports how N(alpha v) relates to N(v) for alpha < 0.
    """
    rng = np.random.default_rng(seed)
    worst, worst_case, flip_ok = 0.0, None, True
    for i in range(cases):
        out_ch, in_ch = rng.integers(1, 9), rng.integers(2, 65)
        scale = 10.0 ** rng.uniform(-150, 150)
        v = torch.from_numpy(rng.standard_normal((out_ch, in_ch)) * scale)
        alpha = float(10.0 ** rng.uniform(-100, 100))
        base = normalize(v)
        err = float((normalize(alpha * v) - base).abs().max())
        ratio = err / wn_tolerance(in_ch)
        if ratio > worst:
            worst, worst_case = ratio, {"seed": seed, "case": i, "shape": [int(out_ch), int(in_ch)],
                                        "weight_scale": scale, "alpha": alpha, "abs_err": err}
        # A negative scale is not an invariance: the normalized weight flips sign.
        flip_err = float((normalize(-alpha * v) + base).abs().max())
        flip_ok &= flip_err <= wn_tolerance(in_ch)
    return {"worst_err_over_tol": worst, "worst_case": worst_case, "negative_alpha_flips_sign": flip_ok}


@claim(
    "PAPER-wn-scale-invariance",
    document=PAPER,
    ref="Eqs. (2), (5)",
    statement="With weight normalization W' = W/||W||, the loss no longer depends on the weight's "
              "magnitude: scaling W leaves the normalized weight, hence the network, unchanged.",
    checked="For every alpha > 0, WN(alpha W) = WN(W) per output channel to float64 round-off "
            "(|diff|_inf <= 2(n+3) eps), for norms from 1e-150 to 1e150; for alpha < 0, "
            "WN(alpha W) = -WN(W), so the invariance needs alpha > 0.",
    expect=Verdict.CONFIRMED,
)
def check_wn_scale_invariance() -> Evidence:
    found = wn_scale_invariance(lambda v: reparam.weight_norm(v, dim=0))
    holds = found["worst_err_over_tol"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"max |WN(aW)-WN(W)| = {found['worst_err_over_tol']:.2g} x tol over 200 cases; "
            f"a<0 flips sign: {found['negative_alpha_flips_sign']}",
        measured=found,
        tolerance=1.0,
        tolerance_reason="errors are measured in units of the round-off bound 2(n+3) eps "
                         "(see wn_tolerance); 1.0 means at the bound",
        counterexample=None if holds else found["worst_case"],
    )
