"""Text and Markdown views of a bench record (the README's headline table comes from here)."""

from __future__ import annotations

__all__ = ["headline_table", "summary", "HEADLINE_ROWS"]

HEADLINE_ROWS = (("full SVD (`matrix_norm(ord=2)`, per layer)", "full SVD: matrix_norm(ord=2) per layer"),
                 ("blog: 500-step power iteration, per layer", "blog: 500-step power iteration per layer"),
                 ("ours: grouped Gram squaring + Cholesky certificate",
                  "ours: Gram squaring x16 + Cholesky certificate, grouped"))


def _fmt_time(s):
    return f"{s * 1e3:.3g} ms" if s < 10 else f"{s:.3g} s"


def headline_table(record: dict, state: str = "orthogonal") -> str:
    """Markdown table: ours vs full SVD vs the blog's power iteration (time, worst relative error
    against float64 SVD, achieved bandwidth = weight bytes / time) for one weight state."""
    cert = record["results"]["certify"]
    block = cert[state]
    env = record["environment"]
    lines = [f"{record['settings']['arch']} ({block['n_layers']} weight matrices, "
             f"{block['weight_bytes'] / 1e6:.1f} MB fp32, {state} init) on {env['device_name']}, "
             f"torch {env['torch']}; copy bandwidth {cert['copy_bandwidth'] / 1e9:.0f} GB/s",
             "",
             "| method | time | worst rel. error | bandwidth | certified bound |",
             "| --- | ---: | ---: | ---: | :---: |"]
    base = block["methods"][HEADLINE_ROWS[0][1]]["time_s"]
    for label, key in HEADLINE_ROWS:
        r = block["methods"].get(key)
        if r is None:
            continue
        frac = r.get("fraction_of_copy")
        bw = f"{r['bandwidth'] / 1e9:.3g} GB/s" + (f" ({100 * frac:.2g}%)" if frac else "")
        speed = f" ({base / r['time_s']:.3g}x)" if key != HEADLINE_ROWS[0][1] else ""
        lines.append(f"| {label} | {_fmt_time(r['time_s'])}{speed} | {r['worst_rel_err']:.2g} | {bw} | "
                     f"{'yes' if r.get('certified') else 'no'} |")
    return "\n".join(lines)


def summary(record: dict) -> str:
    """A short plain-text summary of whatever experiments the record holds."""
    out = [f"device: {record['environment']['device_name']}  torch {record['environment']['torch']}  "
           f"settings: {record['settings']}"]
    res = record["results"]
    if "certify" in res:
        for state in ("orthogonal", "default", "trained"):
            out += ["", f"[certify, {state}]", headline_table(record, state)]
    if "bandwidth" in res:
        b = res["bandwidth"]
        out += ["", f"[bandwidth] copy {b['copy_bandwidth'] / 1e9:.0f} GB/s, log-log slope {b['loglog_slope']}"]
        for k, v in b["variants"].items():
            out.append(f"  {k}: {_fmt_time(v['time_s'])}, {v['bandwidth'] / 1e9:.3g} GB/s "
                       f"({100 * v['fraction_of_copy']:.2g}% of copy)")
    if "training" in res:
        out += ["", "[training] step time and overhead"]
        for k, v in res["training"]["variants"].items():
            extra = f", tracked sigma max rel err {max(v['tracked_sigma_rel_err']):.2g}" if "tracked_sigma_rel_err" in v else ""
            out.append(f"  {k}: {_fmt_time(v['step_time_s'])} ({100 * v['overhead']:+.3g}%){extra}")
    if "accuracy" in res:
        for state, blk in res["accuracy"].items():
            out.append(f"[accuracy, {state}] worst err after {blk.get('at_500_is_step', 500)} fp32 steps "
                       f"{blk['worst_err_at_500_float32']:.2g}, "
                       f"after {blk['iters'][-1]} fp64 steps {blk['worst_err_at_max_float64']:.2g}")
    if "spectral" in res:
        from normtheory.harness.spectral_bench import spectral_table
        out += ["", "[spectral]", spectral_table(res["spectral"])]
    if "conv" in res:
        for stem, rows in res["conv"].items():
            r = [x["ratio"] for x in rows]
            out.append(f"[conv, {stem}] operator/matrix norm ratio {min(r):.3g} .. {max(r):.3g}")
    return "\n".join(out)
