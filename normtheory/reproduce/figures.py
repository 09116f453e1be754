"""Figures drawn from the recorded full runs (``normtheory/reproduce/results/NAME.json``).

Registered with :func:`normtheory.figures.register_figure`; ``normtheory figures`` draws them. Each
job reads its record through :func:`normtheory.reproduce.experiments.recorded` (so a stale record
fails the job with the command that regenerates it) and returns the figure and the summary it was
drawn from. Summaries are rounded to 4 significant digits: the figure shows no more, and the
recorded runs' last digits depend on the machine's float reductions. matplotlib is imported inside
the builders.
"""

from __future__ import annotations

import numpy as np

from normtheory.figures import new_figure
from normtheory.figures import register_figure as _register
from normtheory.reproduce import RESULTS_DIR, experiments

COLORS = {"none": "tab:gray", "frobenius": "tab:blue", "spectral": "tab:red"}


def _r(x):
    """4 significant digits (see the module docstring)."""
    return float(f"{float(x):.4g}")


def register_figure(name: str):
    """Register the job when its record is present (it is package data, so normally always)."""
    result = name.removeprefix("reproduce-")

    def register(func):
        if (RESULTS_DIR / f"{result}.json").exists():
            _register(name)(func)
        return func

    return register


def _need(name: str) -> dict:
    return experiments.recorded(name)[0]


def _last_half(accs) -> float:
    return float(np.mean(accs[len(accs) // 2:]))


@register_figure("reproduce-norm-scaling")
def norm_scaling_figure():
    res = _need("norm-scaling")
    models = res["models"]
    fig = new_figure(9.6, 3.6)
    axes = fig.subplots(1, 2)
    summary: dict = {}
    ax = axes[0]
    for c in ("none", "frobenius", "spectral"):
        for m, style in zip(models, ("-", "--", ":")):
            rows = [r for r in res["runs"] if r["model"] == m and r["condition"] == c]
            curves = np.array([[np.mean(e) for e in r["sigma1_by_epoch"]] for r in rows])
            mean = [_r(v) for v in curves.mean(axis=0)]
            summary[f"{m}/{c}/mean_sigma1_by_epoch"] = mean
            ax.plot(np.arange(1, len(mean) + 1), mean, style, color=COLORS[c], label=f"{m} {c}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean spectral norm over layers")
    ax.set_title("Spectral norms (mean of seeds)")
    ax.legend(fontsize=6, ncol=3)
    ax = axes[1]
    width = 0.25
    for i, c in enumerate(("none", "frobenius", "spectral")):
        accs = [[r["test_acc"] for r in res["runs"] if r["model"] == m and r["condition"] == c]
                for m in models]
        means = [_r(np.mean(a)) for a in accs]
        stds = [_r(np.std(a, ddof=1)) if len(a) > 1 else 0.0 for a in accs]
        summary[f"test_acc/{c}"] = {"mean": means, "std": stds}
        ax.bar(np.arange(len(models)) + (i - 1) * width, means, width, yerr=stds,
               color=COLORS[c], label=c, capsize=2)
    ax.set_xticks(np.arange(len(models)), models)
    lo = min(min(v["mean"]) for k, v in summary.items() if k.startswith("test_acc"))
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.set_ylabel("test accuracy (mean, std over seeds)")
    ax.set_title("Digits test accuracy")
    ax.legend(fontsize=7)
    return fig, summary


@register_figure("reproduce-scaling-cost")
def scaling_cost_figure():
    res = _need("scaling-cost")
    fig = new_figure(5.6, 3.6)
    ax = fig.subplots()
    labels = {"frobenius": "Frobenius (NormScaling)",
              "library": "spectral NormScaling, 20 power steps",
              "library_default": "spectral NormScaling, default estimator",
              "blog500": "blog: 500 fresh power steps"}
    variants = tuple(v for v in labels if v in res["variants"])
    widths = list(res["ratio_to_unscaled"])
    summary = {w: {v: _r(np.median(res["ratio_to_unscaled"][w][v])) for v in variants}
               for w in widths}
    bar = 0.8 / len(variants)
    for i, v in enumerate(variants):
        ax.bar(np.arange(len(widths)) + (i - (len(variants) - 1) / 2) * bar,
               [summary[w][v] for w in widths], bar, label=labels[v])
    ax.axhspan(5, 16, color="tab:orange", alpha=0.15, label="blog: 400-1500% longer")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(widths)), [f"mlp5 width {w}" for w in widths])
    ax.set_ylabel("step time / unscaled step (median of rounds)")
    ax.set_title("Cost of Norm Scaling (CPU, same run; recorded)")
    ax.legend(fontsize=6)
    return fig, {"median_ratio_to_unscaled": summary}


@register_figure("reproduce-wd-sweep")
def wd_sweep_figure():
    res = _need("wd-sweep")
    lambdas = sorted({float(c[2]) for c in res["configs"]})
    rows = [(n, o, s) for s in ("L2", "eps") for n in ("wn", "ws") for o in ("sgd", "adam")]
    acc = np.full((len(rows), len(lambdas)), np.nan)
    diverged = np.zeros((len(rows), len(lambdas)), dtype=int)
    for i, (n, o, s) in enumerate(rows):
        for j, lam in enumerate(lambdas):
            runs = [r for r in res["runs"] if r["norm"] == n and r["optimizer"] == o
                    and (r["eps"] is not None) == (s == "eps") and float(r["lambda"]) == lam]
            if runs:
                diverged[i, j] = sum(r["diverged"] for r in runs)
                acc[i, j] = _r(np.mean([0.0 if r["diverged"] else _last_half(r["test_acc_by_epoch"])
                                        for r in runs]))
    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    im = ax.imshow(acc, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    for i in range(len(rows)):
        for j in range(len(lambdas)):
            text = "n/a" if np.isnan(acc[i, j]) else f"{acc[i, j]:.2f}"
            if diverged[i, j]:
                text += f"\n{diverged[i, j]} NaN"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="w" if not np.isnan(acc[i, j]) and acc[i, j] < 0.6 else "k")
    ax.set_xticks(range(len(lambdas)), [f"{l:g}" for l in lambdas])
    ax.set_yticks(range(len(rows)), [f"{n.upper()} {o} {s}" for n, o, s in rows])
    ax.set_xlabel("lambda on the normalized weights (constant lr)")
    ax.set_title(f"Tables II/III analogue: last-half test acc ({res['seeds']} seeds, recorded)")
    fig.colorbar(im, ax=ax, label="test accuracy, mean of seeds (0 if diverged)")
    return fig, {"rows": [list(r) for r in rows], "lambdas": lambdas,
                 "mean_score": np.where(np.isnan(acc), -1, acc).tolist(),
                 "diverged": diverged.tolist()}


@register_figure("reproduce-eps-sensitivity")
def eps_figure():
    res = _need("eps-sensitivity")
    eps = sorted({r["eps"] for r in res["runs"]}, reverse=True)
    per = {}
    for e in eps:
        s = [0.0 if r["diverged"] else _last_half(r["test_acc_by_epoch"])
             for r in res["runs"] if r["eps"] == e]
        per[f"{e:g}"] = {"mean": _r(np.mean(s)), "std": _r(np.std(s, ddof=1)) if len(s) > 1 else 0.0}
    fig = new_figure(5.0, 3.4)
    ax = fig.subplots()
    keys = list(per)
    ax.errorbar(range(len(keys)), [per[k]["mean"] for k in keys], yerr=[per[k]["std"] for k in keys],
                fmt="o", capsize=3, label="eps-shifted L2")
    ax.set_xticks(range(len(keys)), keys)
    ax.set_xlabel("eps")
    ax.set_ylabel("last-half test accuracy")
    ax.set_title(f"Table IV analogue (WS, SGD, lambda={res['lambda']:g}; recorded)")
    ax.legend(fontsize=7)
    return fig, {"per_eps": per}


@register_figure("reproduce-warmup")
def warmup_figure():
    res = _need("warmup")
    fig = new_figure(6.4, 3.8)
    ax = fig.subplots()
    summary = {}
    groups: dict = {}
    for r in res["runs"]:
        key = r["kind"] + ("" if r["kind"] != "ws" else f" lambda={r['lambda']:.3g}")
        groups.setdefault(key, []).append(r["curve"])
    for key, curves in sorted(groups.items()):
        n = min(len(c) for c in curves)
        mean = np.mean(np.asarray([c[:n] for c in curves]), axis=0)
        mean = mean / mean.max()
        summary[key] = [_r(v) for v in mean[:: max(1, len(mean) // 200)]]
        ax.plot(np.arange(1, len(mean) + 1), mean, label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("effective lr of layer 1 / its max")
    ax.set_title("Figs. 4-5 analogue: effective learning rate (mean of seeds, recorded)")
    ax.legend(fontsize=7)
    return fig, {"normalized_curves_subsampled": summary, "lambda_star": _r(res["lambda_star"])}
