r"""``normtheory bench spectral``: the spectral core against what a user would pick instead, on every
weight matrix of a ResNet (CIFAR stem), side by side in one run.

Rows (time per all-layer sweep, worst relative error of ``sigma_1`` against the float64 SVD):
normtheory's certified sweep (:func:`normtheory.multilayer.certify_spectral_norms`), its power
iteration to ``rtol``; torch's full SVD (fp32, fp64: the reference), scipy's ARPACK ``svds(k=1)``,
``torch.svd_lowrank``, ``torch.lobpcg`` on the Gram matrix, the blog's 500-step power method; and
the Norm Scaling steps (spectral default, spectral ``clip="all"``, warm power ``iters=2``,
Frobenius) against their memory-traffic floors (passes over the weights times the read and copy
times of the weights measured in the same run) and against one training step. Ratios, not
absolute times, are the result: every row is measured in this run on this machine.
"""

from __future__ import annotations

import os
import sys

import torch
from torch import nn

from normtheory import multilayer as ml
from normtheory.harness.resnet import resnet, weight_layers
from normtheory.harness.timing import Timer
from normtheory.scaling import NormScaling
from normtheory.spectral import as_matrix, power_iteration

__all__ = ["run_spectral", "spectral_table"]

CERTIFIED = "normtheory: certified sweep (certify_spectral_norms, rtol 1e-6)"
SVD32 = "torch: full SVD fp32 (svdvals, batched by shape)"
SVD64 = "torch: full SVD fp64 (svdvals, batched by shape; the reference)"


def _weights(cfg):
    torch.manual_seed(cfg.seed)
    model = resnet(cfg.arch, stem="cifar", width=cfg.width).to(cfg.device)
    return model, [m.weight for _, m in weight_layers(model)]


def _by_shape(mats, fn):
    """Apply ``fn`` to same-shape stacks; results in layer order."""
    groups = ml.group_by_shape(mats)
    out = [None] * len(mats)
    for g in groups:
        vals = fn(g.mats)
        for j, i in enumerate(g.idx):
            out[i] = float(vals[j])
    return out


def run_spectral(cfg) -> dict:
    from scipy.sparse.linalg import svds

    timer = Timer(cfg.device)
    reps = 2 if cfg.quick else 3
    progress = print if cfg.progress else (lambda *a, **k: None)
    model, ws = _weights(cfg)
    mats = [as_matrix(w.detach()) for w in ws]
    mats64 = [m.double() for m in mats]
    nbytes = sum(m.numel() * m.element_size() for m in mats)
    rows: dict = {}

    ref = torch.tensor(_by_shape(mats64, lambda s: torch.linalg.svdvals(s)[:, 0]), dtype=torch.float64)

    def record(name, fn, *, repeats=reps, est=None, **extra):
        progress(f"bench spectral: {name}", file=sys.stderr, flush=True)
        t = timer.measure(fn, repeats=repeats, warmup=0 if repeats == 1 else 1)["median"]
        value = est() if est is not None else fn()
        err = float(((torch.as_tensor(value, dtype=torch.float64) - ref).abs() / ref).max())
        rows[name] = {"time_s": t, "worst_rel_err": err, **extra}
        return value

    cert = ml.certify_spectral_norms(ws, rtol=1e-6)
    holds = bool(((cert.lower <= ref * (1 + 1e-15)) & (ref <= cert.upper * (1 + 1e-15))).all())
    record(CERTIFIED, lambda: ml.certify_spectral_norms(ws, rtol=1e-6),
           est=lambda: cert.estimate, certified=bool(cert.certified.all()),
           worst_bracket=float(cert.rel_width.max()), fallback_layers=len(cert.fallback),
           bracket_contains_reference=holds)
    record(SVD32, lambda: _by_shape(mats, lambda s: torch.linalg.svdvals(s)[:, 0]), certified=False)
    record(SVD64, lambda: _by_shape(mats64, lambda s: torch.linalg.svdvals(s)[:, 0]), certified=False,
           repeats=1)
    np64 = [m.cpu().numpy() for m in mats64]
    record("scipy: ARPACK svds(k=1) fp64 per layer",
           lambda: [float(svds(a, k=1, random_state=0, return_singular_vectors=False)[0]) for a in np64],
           certified=False, repeats=1)
    record("torch: svd_lowrank(q=6, niter=2) fp32 per layer",
           lambda: [float(torch.svd_lowrank(m, q=min(6, *m.shape), niter=2)[1][0]) for m in mats],
           certified=False)

    def lobpcg():
        out = []
        for m in mats64:
            G = m.mT @ m if m.shape[0] >= m.shape[1] else m @ m.mT
            if G.shape[0] < 3:
                out.append(float(torch.linalg.eigvalsh(G)[-1].sqrt()))
                continue
            lam = torch.lobpcg(G, k=1, largest=True, tol=1e-10, niter=200)[0]
            out.append(float(lam[0].sqrt()))
        return out
    record("torch: lobpcg(k=1) on the fp64 Gram matrix per layer", lobpcg, certified=False, repeats=1)
    gen = torch.Generator().manual_seed(cfg.seed)
    record("blog: 500-step power method fp32 per layer",
           lambda: [float(ml.blog_power_iteration(w, 500, generator=gen)) for w in ws], certified=False, repeats=1)

    def power_rtol():
        return _by_shape(mats64, lambda s: power_iteration(s, rtol=1e-6, max_iters=500,
                                                           generator=torch.Generator().manual_seed(0)).sigma)
    record("normtheory: power_iteration(rtol=1e-6, max 500 steps) fp64, batched by shape", power_rtol,
           certified=False, repeats=1)

    # ----------------------------------------------------------------- Norm Scaling steps
    clones = [w.detach().clone() for w in ws]
    read = timer.measure(lambda: torch._foreach_norm(clones), repeats=reps * 2, warmup=1)["median"]
    dst = [c.clone() for c in clones]
    copy = timer.measure(lambda: torch._foreach_copy_(dst, clones), repeats=reps * 2, warmup=1)["median"]
    floors = {"spectral": 3 * read + copy, "frobenius": read + copy}
    steps = {}
    for name, kw, floor in (("spectral (default: cold Gram squaring)", {}, "spectral"),
                            ("spectral, clip='all'", {"clip": "all"}, "spectral"),
                            ("spectral, warm power iters=2", {"iters": 2}, "spectral"),
                            ("frobenius", {"mode": "frobenius"}, "frobenius")):
        params = [nn.Parameter(c.clone()) for c in clones]
        kw = dict(kw)
        mode = kw.pop("mode", "spectral")
        progress(f"bench spectral: Norm Scaling {name}", file=sys.stderr, flush=True)
        scaler = NormScaling(params, mode=mode, **kw)
        t = timer.measure(scaler.step, repeats=reps, warmup=1)["median"]
        steps[name] = {"time_s": t, "floor_s": floors[floor], "ratio_to_floor": t / floors[floor]}
    batch = 4 if cfg.quick else 16
    x = torch.randn(batch, 3, 32, 32, generator=gen).to(cfg.device)
    y = torch.randint(0, model.fc.out_features, (batch,), generator=gen).to(cfg.device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step():
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    t_train = timer.measure(train_step, repeats=reps, warmup=1)["median"]
    for v in steps.values():
        v["fraction_of_train_step"] = v["time_s"] / t_train
    tracking = {}
    for name, kw in (("spectral (default: cold Gram squaring)", {}), ("spectral, warm power iters=2", {"iters": 2})):
        progress(f"bench spectral: tracking {name}", file=sys.stderr, flush=True)
        tracking[name] = _tracking(cfg, x, y, kw, steps=2 if cfg.quick else 4)
    base = rows[SVD32]["time_s"]
    for r in rows.values():
        r["speedup_vs_svd_fp32"] = base / r["time_s"]
    return {"arch": cfg.arch, "width": cfg.width, "n_layers": len(ws), "weight_bytes": nbytes,
            "methods": rows, "norm_scaling": steps, "tracking": tracking, "read_pass_s": read, "copy_pass_s": copy,
            "train_step_s": t_train, "train_batch": batch,
            "passes": {"spectral": "Gram formation, W v, rank-one update (read-write), W^T u for the "
                                   "residual: 3 reads + 1 read-write",
                       "frobenius": "norm (read) + scale (read-write)"},
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "note": ("measured on a shared machine on which several agents ran at the same time; "
                     "times are noisy, the ratios between rows of this one run are the result")}


def _tracking(cfg, x, y, kw, *, steps: int) -> dict:
    """Worst relative error, over layers and Adam steps, of the sigma each Norm Scaling step
    corrected against the certified sigma_1 (float64, rtol 1e-6) of the same pre-step weights."""
    torch.manual_seed(cfg.seed)
    model = resnet(cfg.arch, stem="cifar", width=cfg.width).to(cfg.device)
    scaler = NormScaling(model, mode="spectral", **kw)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    worst = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        snap = [as_matrix(w.detach()).clone() for w in scaler.weights]
        scaler.step()
        cert = ml.certify_spectral_norms(snap, rtol=1e-6)
        est = torch.stack([s.double().cpu() for s in scaler.last_sigmas])
        worst.append(float(((est - cert.estimate.cpu()).abs() / cert.estimate.cpu()).max()))
    return {"worst_rel_err_per_step": worst, "within_1e-3": bool(max(worst) <= 1e-3),
            "optimizer": "Adam lr 1e-3", "reference": "certify_spectral_norms (rtol 1e-6) midpoint"}


def spectral_table(res: dict) -> str:
    """Plain-text/Markdown table of a ``run_spectral`` result."""
    lines = [f"{res['arch']} (width {res['width']}, {res['n_layers']} matrices, "
             f"{res['weight_bytes'] / 1e6:.1f} MB)", "",
             "| method | time | vs fp32 SVD | worst rel. error | certified |", "|---|---:|---:|---:|:---:|"]
    for name, r in res["methods"].items():
        lines.append(f"| {name} | {r['time_s'] * 1e3:.4g} ms | {r['speedup_vs_svd_fp32']:.3g}x | "
                     f"{r['worst_rel_err']:.2g} | {'yes' if r.get('certified') else 'no'} |")
    lines += ["", f"Norm Scaling step (train step batch {res['train_batch']}: {res['train_step_s'] * 1e3:.4g} ms; "
              f"read pass {res['read_pass_s'] * 1e3:.3g} ms, copy pass {res['copy_pass_s'] * 1e3:.3g} ms)",
              "", "| mode | time | x floor | of train step |", "|---|---:|---:|---:|"]
    for name, r in res["norm_scaling"].items():
        lines.append(f"| {name} | {r['time_s'] * 1e3:.4g} ms | {r['ratio_to_floor']:.3g} | "
                     f"{100 * r['fraction_of_train_step']:.3g}% |")
    if res.get("tracking"):
        lines += ["", "Tracking (sigma corrected by each Norm Scaling step vs certified sigma_1 of the same weights):"]
        for name, r in res["tracking"].items():
            lines.append(f"- {name}: worst rel. error {max(r['worst_rel_err_per_step']):.2g} over "
                         f"{len(r['worst_rel_err_per_step'])} Adam steps")
    lines += ["", res["note"]]
    return "\n".join(lines)
