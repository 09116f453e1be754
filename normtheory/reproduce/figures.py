"""Figures drawn from the committed full-run results (``reproduce/results/NAME.json``).

Registered with :func:`normtheory.figures.register_figure`; ``normtheory figures`` draws them. Each
job returns the figure and the summary it was drawn from. matplotlib is imported inside the builders.
"""

from __future__ import annotations

import numpy as np

from normtheory.figures import register_figure as _register
from normtheory.figures import new_figure
from normtheory.reproduce import RESULTS_DIR
from normtheory.reproduce.experiments import load_results

COLORS = {"none": "tab:gray", "frobenius": "tab:blue", "spectral": "tab:red"}


def register_figure(name: str):
    """Register the job only when its results file is present (a wheel install has none)."""
    result = name.removeprefix("reproduce-")

    def register(func):
        if (RESULTS_DIR / f"{result}.json").exists():
            _register(name)(func)
        return func

    return register


def _need(name: str) -> dict:
    data = load_results(name)
    if data is None:
        raise FileNotFoundError(f"reproduce/results/{name}.json is missing; run "
                                f"`normtheory reproduce {name} --save`")
    return data


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
            mean = curves.mean(axis=0)
            summary[f"{m}/{c}/mean_sigma1_by_epoch"] = mean.round(5).tolist()
            ax.plot(np.arange(1, len(mean) + 1), mean, style, color=COLORS[c],
                    label=f"{m} {c}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean spectral norm over layers")
    ax.set_title("Spectral norms (mean of seeds)")
    ax.legend(fontsize=6, ncol=3)
    ax = axes[1]
    width = 0.25
    for i, c in enumerate(("none", "frobenius", "spectral")):
        accs = [[r["test_acc"] for r in res["runs"] if r["model"] == m and r["condition"] == c]
                for m in models]
        means = [float(np.mean(a)) for a in accs]
        stds = [float(np.std(a, ddof=1)) if len(a) > 1 else 0.0 for a in accs]
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
    variants = ("frobenius", "spectral", "blog500")
    widths = list(res["ratio_to_unscaled"])
    for i, v in enumerate(variants):
        vals = [res["ratio_to_unscaled"][w][v] for w in widths]
        ax.bar(np.arange(len(widths)) + (i - 1) * 0.25, vals, 0.25, label=v)
    ax.axhspan(5, 16, color="tab:orange", alpha=0.15, label="blog: 400-1500% longer")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(widths)), [f"mlp5 width {w}" for w in widths])
    ax.set_ylabel("step time / unscaled step")
    ax.set_title("Cost of Norm Scaling (CPU, same run)")
    ax.legend(fontsize=7)
    return fig, {"ratio_to_unscaled": res["ratio_to_unscaled"]}


@register_figure("reproduce-wd-sweep")
def wd_sweep_figure():
    res = _need("wd-sweep")
    lambdas = [l for l in res["lambdas"]]
    rows = [(n, o, s) for s in ("L2", "eps") for n in ("wn", "ws") for o in ("sgd", "adam")]
    acc = np.full((len(rows), len(lambdas)), np.nan)
    fails = np.zeros((len(rows), len(lambdas)), dtype=int)
    for r in res["runs"]:
        i = rows.index((r["norm"], r["optimizer"], "eps" if r["eps"] is not None else "L2"))
        j = lambdas.index(r["lambda"])
        fails[i, j] += int(r["failed"])
    for i, (n, o, s) in enumerate(rows):
        for j, lam in enumerate(lambdas):
            a = [r["test_acc"] for r in res["runs"] if r["norm"] == n and r["optimizer"] == o
                 and (r["eps"] is not None) == (s == "eps") and r["lambda"] == lam
                 and r["test_acc"] is not None]
            if a:
                acc[i, j] = np.mean(a)
    fig = new_figure(6.4, 4.2)
    ax = fig.subplots()
    im = ax.imshow(acc, vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    for i in range(len(rows)):
        for j in range(len(lambdas)):
            present = any(r for r in res["runs"] if (r["norm"], r["optimizer"], "eps" if r["eps"]
                          is not None else "L2") == rows[i] and r["lambda"] == lambdas[j])
            if not present:
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="k")
            elif fails[i, j]:
                ax.text(j, i, f"{fails[i, j]} failed", ha="center", va="center", fontsize=7,
                        color="r")
            else:
                ax.text(j, i, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="w" if acc[i, j] < 0.6 else "k")
    ax.set_xticks(range(len(lambdas)), [f"{l:g}" for l in lambdas])
    ax.set_yticks(range(len(rows)), [f"{n.upper()} {o} {s}" for n, o, s in rows])
    ax.set_xlabel("lambda on the normalized weights")
    ax.set_title(f"Tables II/III analogue: mean test acc, failures ({res['seeds']} seeds)")
    fig.colorbar(im, ax=ax, label="test accuracy")
    return fig, {"rows": [list(r) for r in rows], "lambdas": lambdas,
                 "mean_acc": np.where(np.isnan(acc), -1, acc).round(4).tolist(),
                 "failures": fails.tolist()}


@register_figure("reproduce-eps-sensitivity")
def eps_figure():
    res = _need("eps-sensitivity")
    per = res["decisions"]["per_eps"]
    eps = sorted(per, key=float, reverse=True)
    fig = new_figure(5.0, 3.4)
    ax = fig.subplots()
    ax.errorbar(range(len(eps)), [per[e]["mean"] for e in eps], yerr=[per[e]["std"] for e in eps],
                fmt="o", capsize=3, label="eps-shifted L2")
    if res["decisions"]["plain_mean"] is not None:
        ax.axhline(res["decisions"]["plain_mean"], color="gray", ls="--", label="plain L2 (eps=0)")
    ax.set_xticks(range(len(eps)), [f"{float(e):g}" for e in eps])
    ax.set_xlabel("eps")
    ax.set_ylabel("test accuracy")
    ax.set_title("Table IV analogue (WS, SGD, lambda=1e-4)")
    ax.legend(fontsize=7)
    return fig, {"per_eps": per, "plain_mean": res["decisions"]["plain_mean"]}


@register_figure("reproduce-warmup")
def warmup_figure():
    res = _need("warmup")
    fig = new_figure(6.4, 3.8)
    ax = fig.subplots()
    summary = {}
    for key, curves in sorted(res["curves"].items()):
        mean = np.mean(np.asarray(curves), axis=0)
        mean = mean / mean.max()
        summary[key] = mean[:: max(1, len(mean) // 200)].round(5).tolist()
        ax.plot(np.arange(1, len(mean) + 1), mean, label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("effective lr of layer 1 / its max")
    ax.set_title("Figs. 4-5 analogue: effective learning rate (mean of seeds)")
    ax.legend(fontsize=7)
    return fig, {"normalized_curves_subsampled": summary, "lambda_star": res["lambda_star"]}
