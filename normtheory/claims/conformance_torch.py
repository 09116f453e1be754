"""Conformance: torch's own implementations checked against torch's own documentation.

Every claim here cites :data:`normtheory.registry.TORCH_DOCS` and the docstring it reads (the
source documents only motivate which behaviour matters):

* ``torch.nn.utils.parametrizations.weight_norm`` (docstring: ``w = g v / ||v||``, magnitude
  decoupled from direction): scale invariance in ``v`` and the gradient of that formula.
* ``torch.nn.utils.parametrizations.spectral_norm`` (docstring: ``W / sigma(W)``, ``sigma``
  approximated by ``n_power_iterations`` power-method steps each time the weight is accessed in
  training mode; weights of more than 2 dims reshaped): torch's weight against an independent
  implementation of exactly that procedure, and what the approximation does to ``sigma_1(W_SN)``.
* ``torch.nn.BatchNorm1d`` / ``torch.nn.functional.batch_norm`` (docstring:
  ``(x - E[x]) / sqrt(Var[x] + eps)``, biased variance in training; ``eps > 0`` required there):
  the formula, its exact effect of rescaling a channel, and invariance when eps is negligible.
* timm's ``StdConv2d``: :func:`stdconv_affine_invariance` is ready; the claim registers only where
  timm is installed (it is not here), so its verdict is never guessed.

Every property is a function of the implementation, so the tests show it fails on a broken variant;
the corrected claim replays from its JSON evidence (:func:`replay_weight_norm_invariance`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from normtheory.claims.lecture_invariance import bn_eps_sweep, bn_unit_rescaling
from normtheory.registry import TORCH_DOCS, Evidence, Verdict, claim, decide
from normtheory.roundoff import EPS64, centered_tolerance, unit_norm_tolerance

WeightFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


_WN_PARAMETRIZATION = nn.utils.parametrizations.weight_norm(
    nn.Linear(2, 2, bias=False), dim=0).parametrizations.weight[0]


def torch_weight_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The weight torch's weight_norm parametrization (``_WeightNorm``, dim=0) computes from (g, v)."""
    return _WN_PARAMETRIZATION(g, v)


# ||v||^2 is representable (no overflow/underflow of the squares) for ||v|| within this range:
# sqrt(realmin) ~ 1.5e-154 and sqrt(realmax / n) with n <= 48 entries ~ 1.9e153.
SAFE_NORMS = (1e-150, 1e150)


WN_RECIPE = ("v: standard normal of the given shape times v_scale, then g: uniform(0.1, 10) of shape "
             "(out, 1), both drawn in that order from numpy.random.default_rng(data_seed); W(g, v) = "
             "torch weight_norm (dim=0) in float64; compared: W(g, alpha v) against W(g, v)")


def wn_case(record: dict[str, Any], weight_fn: WeightFn) -> dict[str, Any]:
    """|W(g, alpha v) - W(g, v)|_inf for the case of ``record``, in units of |g| 2(n+3) eps, and
    the smallest and largest row norm of v and alpha v."""
    out_ch, n = (int(x) for x in record["shape"])
    rng = np.random.default_rng(record["data_seed"])
    v = torch.from_numpy(rng.standard_normal((out_ch, n)) * float(record["v_scale"]))
    g = torch.from_numpy(rng.uniform(0.1, 10, size=(out_ch, 1)))
    alpha = float(record["alpha"])
    with torch.no_grad():
        diff = (weight_fn(g, alpha * v) - weight_fn(g, v)).abs().max()
    finite = bool(torch.isfinite(diff))
    norms = [float(torch.linalg.vector_norm(v[r])) * a for r in range(out_ch) for a in (1.0, alpha)]
    # JSON has no Inf/NaN: a non-finite output is a flag, its error None
    return {"nonfinite_output": not finite, "abs_err": float(diff) if finite else None,
            "err_over_tol": float(diff) / (float(g.max()) * unit_norm_tolerance(n)) if finite else None,
            "row_norms": [min(norms), max(norms)]}


def wn_scale_invariance(weight_fn: WeightFn, *, cases: int = 60, seed: int = 10) -> dict:
    """Worst |W(g, alpha v) - W(g, v)|_inf / (|g| * 2(n+3) eps) over seeded v, g and alpha > 0,
    separately for cases whose norms ||v||, ||alpha v|| lie in SAFE_NORMS and for the rest; each
    case is a record that :func:`wn_case` rebuilds alone."""
    worst = {"in_range": 0.0, "out_of_range": 0.0}
    worst_case = {"in_range": None, "out_of_range": None}
    for i in range(cases):
        rng = np.random.default_rng([seed, i, 0])
        out_ch, n = int(rng.integers(1, 6)), int(rng.integers(2, 48))
        record = {"model": "weight_norm parametrization, dim=0", "dtype": "float64", "shape": [out_ch, n],
                  "v_scale": float(10.0 ** rng.uniform(-100, 100)), "alpha": float(10.0 ** rng.uniform(-100, 100)),
                  "data_seed": [seed, i, 1], "recipe": WN_RECIPE}
        r = wn_case(record, weight_fn)
        which = "in_range" if SAFE_NORMS[0] <= r["row_norms"][0] and r["row_norms"][1] <= SAFE_NORMS[1] \
            else "out_of_range"
        ratio = float("inf") if r["nonfinite_output"] else r["err_over_tol"]
        if ratio > worst[which] or (ratio == worst[which] == float("inf") and worst_case[which] is None):
            worst[which] = ratio
            worst_case[which] = {**record, "result": r}
    return {"worst_err_over_tol": worst, "worst_case": worst_case}


def replay_weight_norm_invariance(evidence_json: dict) -> dict[str, Any]:
    """Re-run CONF-torch-weight-norm-invariance's counterexample from its JSON evidence alone."""
    return wn_case(evidence_json["counterexample"], torch_weight_norm)


_WN_DOC = ('torch.nn.utils.parametrizations.weight_norm docstring (w = g v / ||v||; "decouples the '
           'magnitude of a weight tensor from its direction"; dim=0: norm per output channel)')


@claim(
    "CONF-torch-weight-norm-invariance",
    document=TORCH_DOCS,
    ref=_WN_DOC,
    statement="weight_norm computes w = g v / ||v||, so w does not depend on the magnitude of v: "
              "v -> alpha v (alpha > 0) leaves w unchanged (the invariance the paper's Eqs. (2), (5) rely on).",
    checked="For torch.nn.utils.parametrizations.weight_norm (dim=0, float64), W(g, alpha v) = "
            "W(g, v) to round-off (|diff|_inf <= |g| 2(n+3) eps) for alpha in 1e-100..1e100 and "
            "entries from 1e-100 to 1e100. Corrected form: the invariance holds while every row "
            "norm lies in 1e-150..1e150 (where ||v||^2 neither overflows nor underflows).",
    expect=Verdict.CORRECTED,
    replay=replay_weight_norm_invariance,
)
def check_torch_weight_norm_invariance() -> Evidence:
    found = wn_scale_invariance(torch_weight_norm)
    worst = found["worst_err_over_tol"]
    everywhere = max(worst.values()) <= 1.0
    in_range = worst["in_range"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=everywhere, holds_corrected=in_range),
        key=f"max |W(g,av)-W(g,v)| = {worst['in_range']:.2g} x tol with norms in 1e-150..1e150; "
            f"{worst['out_of_range']:.2g} x tol outside",
        measured=found, tolerance=1.0,
        tolerance_reason="units of |g| 2(n+3) eps, the round-off of v/||v|| (roundoff.unit_norm_tolerance)",
        corrected="torch's weight_norm computes ||v|| from unscaled squares, so the invariance holds "
                  "to round-off only while the row norms stay within about 1e-150..1e150 in float64; "
                  "outside, ||v||^2 under/overflows and W is 0, Inf or NaN (normtheory.reparam.weight_norm "
                  "scales first and keeps the whole range).",
        counterexample=None if everywhere else
        (found["worst_case"]["out_of_range"] if worst["out_of_range"] > 1.0 else found["worst_case"]["in_range"]),
    )


def wn_gradient_gap(weight_fn: WeightFn, *, cases: int = 60, seed: int = 11) -> dict:
    """Worst gap between autograd's dL/dv through ``weight_fn`` and the exact Jacobian product
    g/||v|| (I - vhat vhat^T) dL/dW, in units of the round-off bound, plus the paper's element-wise
    form of Eq. (14) for comparison."""
    rng = np.random.default_rng(seed)
    worst, worst_case, eq14_rel = 0.0, None, 0.0
    for i in range(cases):
        out_ch, n = int(rng.integers(1, 6)), int(rng.integers(3, 40))
        v = torch.from_numpy(rng.standard_normal((out_ch, n)) * 10.0 ** rng.uniform(-8, 8)).requires_grad_()
        g = torch.from_numpy(rng.uniform(0.1, 10, size=(out_ch, 1)))
        upstream = torch.from_numpy(rng.standard_normal((out_ch, n)))
        (got,) = torch.autograd.grad(weight_fn(g, v), v, upstream)
        v = v.detach()
        norm = torch.linalg.vector_norm(v, dim=1, keepdim=True)
        vhat = v / norm
        exact = g / norm * (upstream - vhat * (vhat * upstream).sum(dim=1, keepdim=True))
        # Round-off: each entry is an n-term dot product, a product with vhat, a subtraction and a
        # scaling by g/||v|| (relative (n + 6) u in units of |g| ||upstream|| / ||v||); both sides
        # carry it, with torch's own norm computation adding a few roundings: 4 (n + 8) eps.
        tol = 4 * (n + 8) * EPS64 * g * torch.linalg.vector_norm(upstream, dim=1, keepdim=True) / norm
        ratio = float(((got - exact).abs() / tol).max())
        eq14 = upstream * (1 / norm - v * v / norm**3) * g  # the paper's element-wise form
        eq14_rel = max(eq14_rel, float(torch.linalg.vector_norm(eq14 - exact) / torch.linalg.vector_norm(exact)))
        if ratio > worst:
            worst, worst_case = ratio, {"seed": seed, "case": i, "shape": [out_ch, n]}
    return {"worst_err_over_tol": worst, "worst_case": worst_case,
            "paper_elementwise_eq14_max_rel_err": eq14_rel}


@claim(
    "CONF-torch-weight-norm-gradient",
    document=TORCH_DOCS,
    ref=_WN_DOC,
    statement="Autograd through weight_norm differentiates the documented w = g v / ||v||: dL/dv is "
              "dL/dw projected orthogonally to v and scaled by g/||v|| (the paper's Eq. (14) discussion).",
    checked="Autograd's dL/dv through torch.nn.utils.parametrizations.weight_norm equals the exact "
            "Jacobian product g/||v|| (I - vhat vhat^T) dL/dW per output channel to round-off "
            "(4(n+8) eps |g| ||dL/dW|| / ||v||) for ||v|| in 1e-8..1e8; the element-wise form of "
            "Eq. (14) is reported beside it (its verdict belongs to the paper's own claim).",
    expect=Verdict.CONFIRMED,
)
def check_torch_weight_norm_gradient() -> Evidence:
    found = wn_gradient_gap(torch_weight_norm)
    holds = found["worst_err_over_tol"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"max |autograd - exact| = {found['worst_err_over_tol']:.2g} x tol; element-wise Eq. (14) "
            f"rel. err up to {found['paper_elementwise_eq14_max_rel_err']:.2g}",
        measured=found, tolerance=1.0,
        tolerance_reason="units of 4(n+8) eps |g| ||dL/dW|| / ||v|| (n-term dot product, projection, scaling)",
        counterexample=None if holds else found["worst_case"],
    )


# ------------------------------------------------------------------------------- spectral_norm

def _true_sigma(mat: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(mat.detach().to(torch.float64), ord=2))


Apply = Callable[[nn.Module, int], nn.Module]


def torch_spectral_norm(layer: nn.Module, n_power_iterations: int) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer, n_power_iterations=n_power_iterations)


def documented_power_method(W_mat: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
                            n_power_iterations: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The procedure torch's docstring describes, written independently: ``n_power_iterations``
    steps u <- W v / ||W v||, v <- W^T u / ||W^T u|| continued from the previous (u, v), then
    sigma = u^T W v and the normalized weight W / sigma."""
    for _ in range(n_power_iterations):
        u = W_mat @ v
        u = u / torch.linalg.vector_norm(u)
        v = W_mat.T @ u
        v = v / torch.linalg.vector_norm(v)
    return u, v, u @ (W_mat @ v)


def spectral_norm_drift(make_layer: Callable[[], nn.Module], x: torch.Tensor, *, n_power_iterations: int,
                        apply: Apply = torch_spectral_norm, steps: int = 30, lr: float = 0.05,
                        seed: int = 0) -> dict:
    """Train ``apply(make_layer(), k)`` (float64, Adam, regression to a fixed random target); at
    every training forward compare the weight it used with :func:`documented_power_method` run
    from the vectors the previous access left, check that an eval-mode access changes nothing,
    and record sigma_1 of the normalized weight (>= 1 when the estimate is a Rayleigh value)."""
    torch.manual_seed(seed)
    layer = apply(make_layer(), n_power_iterations)
    par = layer.parametrizations.weight
    with torch.no_grad():
        target = torch.randn_like(layer(x)) * 3
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    conformance, eval_change, normalized = [], [], []
    for _ in range(steps):
        state = par[0]
        u0, v0 = getattr(state, "_u", None), getattr(state, "_v", None)
        u0 = None if u0 is None else u0.detach().clone()
        v0 = None if v0 is None else v0.detach().clone()
        W_mat = par.original.detach().reshape(par.original.shape[0], -1).clone()
        opt.zero_grad()
        with parametrize.cached():  # one access: the weight this training forward uses
            used = layer.weight
            loss = (layer(x) - target).square().mean()
        used_mat = used.detach().reshape(W_mat.shape[0], -1)
        if u0 is None:
            conformance.append(float("inf"))  # no power-method state: not the documented procedure
        else:
            _, _, sigma = documented_power_method(W_mat, u0, v0, n_power_iterations)
            conformance.append(float((used_mat - W_mat / sigma).abs().max() / used_mat.abs().max()))
        with torch.no_grad():
            layer.eval()
            eval_change.append(float((layer.weight.reshape(used_mat.shape) - used_mat).abs().max()))
            layer.train()
        normalized.append(_true_sigma(used_mat))
        loss.backward()
        opt.step()
    normalized = np.array(normalized)
    return {"conformance_max_rel_err": max(conformance), "eval_access_max_change": max(eval_change),
            "normalized_sigma_max": float(normalized.max()), "normalized_sigma_min": float(normalized.min()),
            "normalized_sigma_last": float(normalized[-1]), "series_normalized_sigma": normalized.tolist()}


SN_PROTOCOL = {"layers": {"linear": "nn.Linear(24, 16), float64", "conv2d": "nn.Conv2d(3, 8, 3, padding=1), float64"},
               "data": "x_linear (32 x 24) then x_conv (4 x 3 x 8 x 8) standard normal from "
                       "torch.Generator().manual_seed(7); target 3 x standard normal like the output, "
                       "after torch.manual_seed(0) and the layer's construction",
               "loss": "mean squared error", "optimizer": {"name": "Adam", "lr": 0.05}, "steps": 30,
               "n_power_iterations": [1, 5], "seed": 0}


def _sn_runs(n_iters=(1, 5), apply: Apply = torch_spectral_norm, steps: int = 30) -> dict:
    g = torch.Generator().manual_seed(7)
    x_lin = torch.randn(32, 24, generator=g, dtype=torch.float64)
    x_conv = torch.randn(4, 3, 8, 8, generator=g, dtype=torch.float64)
    makers = {"linear": (lambda: nn.Linear(24, 16, dtype=torch.float64), x_lin),
              "conv2d": (lambda: nn.Conv2d(3, 8, 3, padding=1, dtype=torch.float64), x_conv)}
    return {f"{name}_k{k}": spectral_norm_drift(make, x, n_power_iterations=k, apply=apply, steps=steps)
            for name, (make, x) in makers.items() for k in n_iters}


def _draw_sn(evidence: Evidence):
    from normtheory.figures import new_figure

    fig = new_figure()
    ax = fig.add_subplot()
    for i, (name, series) in enumerate(sorted(evidence.series.items())):
        ax.semilogy(np.maximum(np.array(series), 1e-17), color=f"C{i}", label=name)
    ax.set_xlabel("training step (Adam)")
    ax.set_ylabel("sigma_1(W / sigma_hat) - 1")
    ax.set_title("torch spectral_norm: the normalized weight's true sigma_1 exceeds 1", fontsize=10)
    ax.legend(fontsize=8)
    return fig


# Round-off of the comparison: both sides run the same k power steps (n-term dot products, a norm,
# a division; n <= 27 columns, m <= 16 rows), sigma and the division: relative error per step
# <= c (m + n) eps with c = 64 covering the few operations, k <= 5 steps.
_SN_TOL = 64 * 5 * (16 + 27) * EPS64


def spectral_norm_evidence(runs: dict) -> Evidence:
    """The decision for CONF-torch-spectral-norm from the runs of :func:`_sn_runs`."""
    conforms = all(r["conformance_max_rel_err"] <= _SN_TOL for r in runs.values())
    eval_fixed = all(r["eval_access_max_change"] == 0.0 for r in runs.values())
    # consequence of the documented procedure: sigma = u^T W v with u = W v'/||W v'||, v the next
    # iterate, equals ||W^T u|| <= sigma_1 (Cauchy-Schwarz), so sigma_1(W / sigma) >= 1
    one_sided = all(r["normalized_sigma_min"] >= 1 - _SN_TOL for r in runs.values())
    series = {name: (np.array(r.pop("series_normalized_sigma")) - 1).tolist() for name, r in runs.items()}
    worst = max(runs, key=lambda n: runs[n]["normalized_sigma_max"])
    return Evidence(
        verdict=decide(holds_as_stated=conforms and eval_fixed and one_sided),
        key=f"torch = documented power method to {max(r['conformance_max_rel_err'] for r in runs.values()):.1g} "
            f"rel. in {len(runs)} runs; eval access changes nothing; sigma_1(W_SN) in "
            f"[{min(r['normalized_sigma_min'] for r in runs.values()):.4g}, "
            f"{runs[worst]['normalized_sigma_max']:.4g}] ({worst})",
        measured={"runs": runs, "conforms": conforms, "eval_access_fixed": eval_fixed, "one_sided": one_sided,
                  "protocol": SN_PROTOCOL},
        tolerance=_SN_TOL,
        tolerance_reason="64 k (m + n) eps, k <= 5 power steps, m + n <= 43: round-off of the same "
                         "power steps computed twice (torch's and ours)",
        counterexample=None if conforms and eval_fixed and one_sided else {**SN_PROTOCOL, "runs": runs},
        series=series,
    )


@claim(
    "CONF-torch-spectral-norm",
    document=TORCH_DOCS,
    ref="torch.nn.utils.parametrizations.spectral_norm docstring (W_SN = W / sigma(W); sigma "
        "approximated by one power-method iteration each time the weight is accessed; notes: "
        "n_power_iterations steps in training mode, vectors estimated rather than resampled, "
        "weights of more than 2 dims reshaped to 2-D)",
    statement="spectral_norm divides W by sigma(W), its spectral norm, approximated by n_power_iterations "
              "(default 1) power-method steps each time the weight is accessed in training mode, "
              "continuing from the previous vectors; conv weights are reshaped to out x (in kh kw).",
    checked="Along Adam runs (float64, lr 0.05, 30 steps) of Linear(24->16) and Conv2d(3->8, 3x3) with 1 and "
            "5 power iterations: torch's normalized weight equals W / sigma from an independent "
            "implementation of the documented procedure (continued from torch's stored vectors) to "
            "64 k (m+n) eps relative; an eval-mode access changes nothing; and, as the procedure implies "
            "(sigma = ||W^T u|| <= sigma_1), sigma_1(W_SN) >= 1 at every step. How far above 1 the "
            "approximation leaves it is measured and reported.",
    expect=Verdict.CONFIRMED,
    figure=_draw_sn,
)
def check_torch_spectral_norm() -> Evidence:
    return spectral_norm_evidence(_sn_runs())


# ---------------------------------------------------------------------------------- batch_norm

def torch_batch_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    return F.batch_norm(x, None, None, training=True, eps=eps)


def documented_batch_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """The docstring's training-mode formula (gamma = 1, beta = 0), written independently:
    (x - E[x]) / sqrt(Var[x] + eps) per channel (column), Var the biased batch variance."""
    centered = x - x.mean(dim=0)
    return centered / torch.sqrt(centered.square().mean(dim=0) + eps)


def eps_zero_refusal(bn: Callable[[torch.Tensor, float], torch.Tensor] | None = None) -> str | None:
    """The message ``bn`` (default: torch's training-mode batch_norm) gives when asked for eps = 0
    (None if it accepts it)."""
    try:
        (bn or torch_batch_norm)(torch.randn(4, 2, dtype=torch.float64), 0.0)
    except (ValueError, RuntimeError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def bn_formula_gap(bn: Callable[[torch.Tensor, float], torch.Tensor], *, cases: int = 40, seed: int = 5) -> dict:
    """Worst |bn(x, eps) - documented(x, eps)|_inf in units of the centering round-off bound
    (centered_tolerance(1, batch, kappa): two computations of the same centred-and-scaled output)
    over seeded batches, channel offsets and scales, and eps from 1e-5 (torch's default) to 1."""
    rng = np.random.default_rng(seed)
    worst, worst_case = 0.0, None
    for i in range(cases):
        batch, channels = int(rng.integers(2, 65)), int(rng.integers(1, 9))
        scale = 10.0 ** rng.uniform(-2, 2, size=channels)
        x = torch.from_numpy(rng.standard_normal((batch, channels)) * scale + rng.uniform(-3, 3, size=channels) * scale)
        eps = float(10.0 ** rng.uniform(-5, 0))
        std = (x - x.mean(dim=0)).square().mean(dim=0).sqrt()
        kappa = float((x.abs().amax(dim=0) / std).max())
        tol = centered_tolerance(1, batch, kappa)
        err = float((bn(x, eps) - documented_batch_norm(x, eps)).abs().max()) / tol
        if err > worst:
            worst, worst_case = err, {"seed": seed, "case": i, "batch": batch, "channels": channels, "eps": eps}
    return {"worst_err_over_tol": worst, "worst_case": worst_case}


_BN_DOC = ("torch.nn.BatchNorm1d docstring (y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta; biased "
           "batch variance at train time) and torch.nn.functional.batch_norm (eps must be positive in "
           "training mode)")


@claim(
    "CONF-torch-batch-norm-invariance",
    document=TORCH_DOCS,
    ref=_BN_DOC,
    statement="With eps negligible against the channel variance, the documented normalization "
              "(x - E[x]) / sqrt(Var[x] + eps) does not change when a channel is rescaled by a positive "
              "factor (the lecture's BN(A W^T Gamma) = BN(A W^T), slide 'Implicit Learning Rate Decay'); "
              "a negative factor flips the channel.",
    checked="torch refuses eps = 0 in training mode (recorded); with the smallest eps it accepts "
            "(the subnormal 5e-324), BN(A W^T Gamma) = BN(A W^T) to float64 round-off for Gamma in "
            "1e-50..1e50 and the pre-activation scales the lecture check draws, and a negative entry "
            "of Gamma flips that unit.",
    expect=Verdict.CONFIRMED,
)
def check_torch_batch_norm_invariance() -> Evidence:
    refusal = eps_zero_refusal()
    found = bn_unit_rescaling(lambda x: torch_batch_norm(x, 5e-324), cases=60)
    holds = found["worst_err_over_tol"] <= 1.0 and found["negative_entry_changes_output"]
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"eps=0 refused: {refusal is not None}; max err {found['worst_err_over_tol']:.2g} x tol "
            f"(eps=5e-324) over 60 cases",
        measured={**found, "eps_zero_refusal": refusal}, tolerance=1.0,
        tolerance_reason="units of roundoff.centered_tolerance(d+1, batch, kappa) as in L5-bn-unit-rescaling",
        counterexample=None if holds else found["worst_case"],
    )


@claim(
    "CONF-torch-batch-norm-eps",
    document=TORCH_DOCS,
    ref=_BN_DOC,
    statement="In training mode batch_norm divides each centred channel by sqrt(biased batch variance + eps) "
              "and requires eps > 0; so rescaling a channel by gamma > 0 scales its output by "
              "gamma sqrt(v + eps) / sqrt(gamma^2 v + eps), which is 1 only when eps is negligible.",
    checked="torch's training-mode output equals the documented formula written independently to the "
            "centering round-off (40 seeded batches, eps 1e-5..1); eps = 0 raises; and the output ratio "
            "after rescaling a channel by gamma in 1e-3..1e3 equals gamma sqrt(v+eps)/sqrt(gamma^2 v+eps) "
            "for eps/v in 1e-5..1 (the factor of lecture claim L5-bn-eps, here on torch's code).",
    expect=Verdict.CONFIRMED,
)
def check_torch_batch_norm_eps() -> Evidence:
    formula = bn_formula_gap(torch_batch_norm)
    found = bn_eps_sweep(torch_batch_norm)
    found.pop("rows")
    refusal = eps_zero_refusal()
    holds = formula["worst_err_over_tol"] <= 1.0 and refusal is not None and \
        found["worst_formula_err_over_tol"] <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key=f"documented formula to {formula['worst_err_over_tol']:.2g} x tol; eps=0 refused: "
            f"{refusal is not None}; rescaling factor formula err {found['worst_formula_err_over_tol']:.2g} x tol "
            f"(output changes by up to {found['max_change']:.2g})",
        measured={"formula": formula, "rescaling": found, "eps_zero_refusal": refusal}, tolerance=1.0,
        tolerance_reason="units of roundoff.centered_tolerance (two computations of one centred-and-scaled "
                         "output), times (1 + factor) for the rescaling ratio as in L5-bn-eps",
        counterexample=None if holds else {"formula": formula["worst_case"], "refusal": refusal},
    )


# ---------------------------------------------------------------------------------------- timm

def stdconv_affine_invariance(make_conv: Callable[[], nn.Module], *, cases: int = 20, seed: int = 12) -> dict:
    """Worst relative change of a standardized conv's output when each output channel's weight is
    mapped w -> alpha w + beta (alpha > 0); the module's own eps makes it approximate."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(cases):
        conv = make_conv().double()
        x = torch.from_numpy(rng.standard_normal((2, conv.in_channels, 6, 6)))
        base = conv(x).detach()
        alpha = torch.from_numpy(10.0 ** rng.uniform(-1, 1, size=(conv.out_channels, 1, 1, 1)))
        beta = torch.from_numpy(rng.uniform(-1, 1, size=(conv.out_channels, 1, 1, 1)))
        with torch.no_grad():
            conv.weight.mul_(alpha).add_(beta * conv.weight.std())
        worst = max(worst, float((conv(x) - base).abs().max() / base.abs().max()))
    return {"worst_rel_change": worst}


try:  # registered only where timm is installed, so the recorded verdict is an observed one
    from timm.layers import StdConv2d as _StdConv2d  # noqa: F401
except ImportError:
    TIMM_SKIP_REASON = "timm is not installed; CONF-timm-stdconv2d is not registered"
else:  # pragma: no cover - not installed where this was written
    TIMM_SKIP_REASON = None

__all__ = ["torch_weight_norm", "wn_case", "wn_scale_invariance", "replay_weight_norm_invariance",
           "wn_gradient_gap", "torch_spectral_norm", "documented_power_method", "spectral_norm_drift",
           "spectral_norm_evidence", "torch_batch_norm", "documented_batch_norm", "bn_formula_gap",
           "eps_zero_refusal", "stdconv_affine_invariance", "TIMM_SKIP_REASON"]
