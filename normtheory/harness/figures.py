"""Figures drawn from the bench JSON in ``bench/results/`` (registered only when a file holding
that experiment exists; deterministic: the data are read, nothing is run)."""

from __future__ import annotations

import json
from pathlib import Path

from normtheory.figures import new_figure, register_figure

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def _records(experiment: str) -> list[dict]:
    out = []
    for path in sorted(RESULTS.glob("*.json")) if RESULTS.is_dir() else []:
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if experiment in rec.get("results", {}):
            out.append(rec)
    return out


_acc = _records("accuracy")
if _acc:
    @register_figure("bench-accuracy")
    def _accuracy():
        rec = _acc[0]
        fig = new_figure(9, 3.6)
        blocks = rec["results"]["accuracy"]
        axes = fig.subplots(1, len(blocks), sharey=True)
        for ax, (state, blk) in zip(axes, sorted(blocks.items())):
            for row in blk["layers"]:
                ax.loglog(blk["iters"], [max(e, 1e-17) for e in row["err_float64"]], lw=0.6, alpha=0.6)
            ax.set_title(f"{state} ({rec['environment']['device_name']})", fontsize=8)
            ax.set_xlabel("power steps")
        axes[0].set_ylabel("relative error of sigma_1 (float64)")
        return fig, {"source": rec["environment"], "accuracy": blocks}

_cert = _records("certify")
if _cert:
    @register_figure("bench-certify")
    def _certify():
        rec = _cert[0]
        blk = rec["results"]["certify"]["orthogonal"]["methods"]
        names = sorted(blk)
        fig = new_figure(8, 4)
        ax = fig.subplots()
        ax.barh(range(len(names)), [blk[n]["time_s"] for n in names])
        ax.set_yticks(range(len(names)), [n[:48] for n in names], fontsize=6)
        ax.set_xscale("log")
        ax.set_xlabel(f"seconds, all layers ({rec['environment']['device_name']})")
        return fig, {"source": rec["environment"], "methods": blk}
