"""The paper's text against its own tables (normtheory.claims.paper_consistency): each check passes on
the transcription and FAILS on a plausible broken variant -- a mistranscribed cell, the failed runs of
Table II aligned to the wrong side, a comparison that forgets the selection of eps. Corrected claims
replay from their JSON record. Test names carry the claim id."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from normtheory import paper_tables as pt
from normtheory import table_stats as ts
from normtheory.claims import paper_consistency as pc
from normtheory.registry import Verdict


def _with_cell(table: pt.Table, label: str, column: str, value) -> pt.Table:
    rows = tuple(dataclasses.replace(r, values=tuple(value if (r.label == label and c == column) else v
                                                     for c, v in zip(table.columns, r.values)))
                 for r in table.rows)
    return dataclasses.replace(table, rows=rows)


def _tables_with(table: pt.Table) -> dict:
    return {**pt.TABLES, table.name: table}


def _verdict_with(monkeypatch, check, *tables: pt.Table) -> Verdict:
    """The check's verdict when normtheory.paper_tables holds ``tables`` in place of the transcription
    (the checks read the tables when they run)."""
    for t in tables:
        monkeypatch.setattr(pt, t.name.replace("Table ", "TABLE_"), t)
    return check().verdict


def _without_column(table: pt.Table, column: str) -> pt.Table:
    keep = [i for i, c in enumerate(table.columns) if c != column]
    rows = tuple(dataclasses.replace(r, values=tuple(r.values[i] for i in keep)) for r in table.rows)
    stated = {k: v for k, v in table.stated.items() if k[1] != column}
    return dataclasses.replace(table, columns=tuple(table.columns[i] for i in keep), rows=rows, stated=stated)


def test_paper_tables_rows_and_cells_are_checked():
    assert pt.table("Table II").value("WS-ResNet-50 / SGD", "1e-4") == 76.74
    assert pt.TABLE_II.value("WN-ResNet-50 / Adam", "1e-4") is None
    with pytest.raises(KeyError, match="Table X"):
        pt.table("Table X")
    with pytest.raises(KeyError, match="no column"):
        pt.TABLE_I.value("ResNet-50", "top-3")
    with pytest.raises(ValueError, match="values for"):
        pt.Table("T", "x", ("a", "b"), (pt.Row("r", (1.0,)),))


def test_PAPER_tables_cross_consistency_mistranscribed_cell_fails():
    assert pc.cross_consistency()["all_agree"]
    broken = _with_cell(pt.TABLE_V, "ResNet-50", "WS", 76.47)  # digits swapped
    assert not pc.cross_consistency(_tables_with(broken))["all_agree"]


def test_PAPER_generalization_vs_table2_broken_pasted_column_flips_the_verdict(monkeypatch):
    assert all(v["range"] > pc.PAPER_RESOLUTION for v in pc.lambda_spread().values())
    assert pc.check_generalization_vs_table2().verdict is Verdict.CORRECTED
    # the lambda = 1e-4 column pasted over 1e-5 and 0 in the normalized rows: no lambda dependence is left
    # and the sentence as written would pass; pasted in the WS row only, the rows disagree and neither holds
    pasted = {}
    flat = pt.TABLE_II
    for lab in ("WS-ResNet-50 / SGD", "WN-ResNet-50 / SGD"):
        for lam in ("1e-5", "0"):
            flat = _with_cell(flat, lab, lam, pt.TABLE_II.value(lab, "1e-4"))
        pasted[lab] = flat
    assert _verdict_with(monkeypatch, pc.check_generalization_vs_table2, pasted["WN-ResNet-50 / SGD"]) is Verdict.CONFIRMED
    assert _verdict_with(monkeypatch, pc.check_generalization_vs_table2, pasted["WS-ResNet-50 / SGD"]) is Verdict.REFUTED


def test_PAPER_table2_failures_left_aligned_transcription_fails():
    assert all(pc.failure_pattern()[k] for k in ("unnormalized_never_fails", "every_normalized_row_fails_somewhere",
                                                 "normalized_adam_trains_only_at_0"))
    left = _with_cell(_with_cell(pt.TABLE_II, "WN-ResNet-50 / Adam", "0", None), "WN-ResNet-50 / Adam", "1e-2", 72.34)
    assert not pc.failure_pattern(left)["normalized_adam_trains_only_at_0"]


def test_PAPER_table1_warmup_a_warmup_loss_fails():
    g = pc.warmup_gains()
    assert g["top-1"]["warmup"] == pytest.approx(0.27) and g["top-1"]["WS"] == pytest.approx(0.20)
    broken = _with_cell(pt.TABLE_I, "ResNet-50 + warmup", "top-1", 76.41)
    assert pc.warmup_gains(broken)["top-1"]["warmup"] < 0


def test_PAPER_eps_stability_boost_only_sgd_cases_compared_and_wn_1e5_not_improved():
    found = pc.eps_vs_plain()
    assert set(found["comparable_gains"]) == {f"{n} / SGD / {l}" for n in ("WN-ResNet-50", "WS-ResNet-50") for l in ("1e-4", "1e-5")}
    assert found["not_improved"] == ["WN-ResNet-50 / SGD / 1e-5"]
    fixed = _with_cell(pt.TABLE_III, "WN-ResNet-50 + eps / SGD", "1e-5", 74.70)
    assert not pc.eps_vs_plain(t3=fixed)["not_improved"]
    failing = _with_cell(pt.TABLE_III, "WS-ResNet-50 + eps / Adam", "1e-2", None)
    assert pc.eps_vs_plain(t3=failing)["table_iii_failures"]


def test_PAPER_eps_stability_boost_broken_transcription_of_table_iii_flips_the_verdict(monkeypatch):
    assert pc.check_eps_stability_boost().verdict is Verdict.CORRECTED
    # the one comparable case that does not improve, mistyped upward (74.70 for 74.63): the sentence would pass
    up = _with_cell(pt.TABLE_III, "WN-ResNet-50 + eps / SGD", "1e-5", 74.70)
    assert _verdict_with(monkeypatch, pc.check_eps_stability_boost, up) is Verdict.CONFIRMED
    # an entry transcribed as a failed run: no longer free of failures, and no correction holds either
    failed = _with_cell(pt.TABLE_III, "WS-ResNet-50 + eps / Adam", "1e-2", None)
    assert _verdict_with(monkeypatch, pc.check_eps_stability_boost, failed) is Verdict.REFUTED


def test_PAPER_adam_eps_vs_no_decay_broken_reference_transcription_flips_the_verdict(monkeypatch):
    assert pc.check_adam_eps_vs_no_decay().verdict is Verdict.CORRECTED
    # the no-decay references (Table II, Adam, lambda = 0) mistyped ten points low (62.34, 62.85): Adam + eps
    # would look good at every lambda; one of them mistyped: the rows disagree and neither statement holds
    low_wn = _with_cell(pt.TABLE_II, "WN-ResNet-50 / Adam", "0", 62.34)
    low_both = _with_cell(low_wn, "WS-ResNet-50 / Adam", "0", 62.85)
    assert _verdict_with(monkeypatch, pc.check_adam_eps_vs_no_decay, low_both) is Verdict.CONFIRMED
    assert _verdict_with(monkeypatch, pc.check_adam_eps_vs_no_decay, low_wn) is Verdict.REFUTED


def test_PAPER_adam_eps_vs_no_decay_reference_is_lambda_zero():
    found = pc.adam_eps_vs_no_decay()
    assert max(found.values()) == pytest.approx(68.23 - 72.34)
    # a broken reference (Table II's ResNet-50 Adam at the same lambda) would make Adam + eps look good
    wrong = {k: pt.TABLE_III.value(f"{k.split(' / ')[0]} + eps / Adam", k.split(' / ')[1])
             - pt.TABLE_II.value("ResNet-50 / Adam", k.split(' / ')[1]) for k in found}
    assert max(wrong.values()) > pc.PAPER_RESOLUTION


def test_PAPER_table4_eps_choice_named_choice_below_baseline_fails():
    assert pc.eps_choice()["named_choices_improve"]
    broken = _with_cell(pt.TABLE_IV, "WS-ResNet-50", "1e-4", 76.64)
    assert not pc.eps_choice(broken)["named_choices_improve"]


def test_PAPER_eps_gains_vs_selection_broken_selection_forgotten_flips_the_verdict(monkeypatch):
    found = pc.eps_gains_selection()
    assert found["positives"] == 10 and found["p_value_selected"] > 0.05 > found["p_value_naive"]
    assert pc.check_eps_gains_vs_selection().verdict is Verdict.INCONCLUSIVE
    # three WS + eps cells transcribed from the WS column (minus a hundredth): 7/10 positive is no more
    # than best-of-3 selection alone gives (3/4), so the check refutes
    swapped = pt.TABLE_V
    for lab in ("ResNet-50", "ResNeXt-50", "DenseNet-201"):
        swapped = _with_cell(swapped, lab, "WS + eps", round(pt.TABLE_V.value(lab, "WS") - 0.01, 2))
    assert _verdict_with(monkeypatch, pc.check_eps_gains_vs_selection, swapped) is Verdict.REFUTED
    monkeypatch.undo()
    # forgetting the selection (k = 1: one eps, P(gain > 0) = 1/2) turns the same gains into a confirmation
    selection_aware = pc.eps_gains_selection
    monkeypatch.setattr(pc, "eps_gains_selection", lambda *a, **kw: selection_aware(*a, **dict(kw, k=1)))
    assert pc.check_eps_gains_vs_selection().verdict is Verdict.CONFIRMED


def test_table_stats_selection_constants():
    assert ts.expected_max_normal(2) == pytest.approx(1 / 3.141592653589793 ** 0.5, rel=1e-10)
    assert ts.best_of_beats_single(3) == 0.75
    assert ts.sign_test_pvalue(10, 10, p_null=0.75) == pytest.approx(0.75**10, rel=1e-12)
    with pytest.raises(ValueError, match="positives"):
        ts.sign_test_pvalue(11, 10)
    with pytest.raises(ValueError, match="sigma"):
        ts.selection_effect([0.1], k=3, sigma=0.0)


def test_PAPER_table6_text_misprinted_gain_fails():
    assert all(v["stated_matches"] for v in pc.table6_text().values())
    stated = dict(pt.TABLE_VI.stated)
    stated[("WS + eps / WS-ResNeXt29-16x64d", "top-1")] = 0.91
    broken = dataclasses.replace(pt.TABLE_VI, stated=stated)
    assert not pc.table6_text(broken)["ResNeXt29-16x64d"]["stated_matches"]


def test_PAPER_table7_all_aspects_finds_resnet101_ars_and_nothing_else():
    cells = pc.detection_cells(pt.TABLE_VII, pc.TABLE_VII_PAIRS)
    assert {k for k, v in cells.items() if v <= 0} == {"WS + eps / WS-ResNet-101 | ARs"}
    # comparing against the WS row instead of the baseline (a plausible slip) finds other cells
    vs_ws = pc.detection_cells(pt.TABLE_VII, [(s, s.replace("WS + eps", "WS")) for s, _ in pc.TABLE_VII_PAIRS])
    assert {k for k, v in vs_ws.items() if v <= 0} != {"WS + eps / WS-ResNet-101 | ARs"}


def test_PAPER_table7_all_aspects_broken_transcriptions_flip_the_verdict(monkeypatch):
    assert pc.check_table7_all_aspects().verdict is Verdict.CORRECTED
    # a transcription without the ARs column: the comparison ignores the one metric that is worse
    no_ars = _without_column(pt.TABLE_VII, "ARs")
    assert _verdict_with(monkeypatch, pc.check_table7_all_aspects, no_ars) is Verdict.CONFIRMED
    # ResNet-101's WS + eps AP mistyped (43.3 for 43.5): the printed +0.9 no longer matches the table
    ap = _with_cell(pt.TABLE_VII, "WS + eps / WS-ResNet-101", "AP", 43.3)
    assert _verdict_with(monkeypatch, pc.check_table7_all_aspects, ap) is Verdict.REFUTED


def test_PAPER_table8_consistent_broken_transcriptions_flip_the_verdict(monkeypatch):
    assert pc.check_table8_consistent().verdict is Verdict.CORRECTED
    # the one worse cell mistyped above the baseline (41.3 for 40.9): the sentence would pass
    up = _with_cell(pt.TABLE_VIII, "Faster R-CNN / WS + eps / WS-ResNet-50", "AP.75", 41.3)
    assert _verdict_with(monkeypatch, pc.check_table8_consistent, up) is Verdict.CONFIRMED
    # an AP cell mistyped below the baseline (37.5 for 37.9): not even the AP column improves everywhere
    down = _with_cell(pt.TABLE_VIII, "Faster R-CNN / WS + eps / WS-ResNet-50", "AP", 37.5)
    assert _verdict_with(monkeypatch, pc.check_table8_consistent, down) is Verdict.REFUTED


def test_PAPER_table8_consistent_finds_faster_r50_ap75():
    cells = pc.detection_cells(pt.TABLE_VIII, pc.TABLE_VIII_PAIRS)
    assert {k for k, v in cells.items() if v <= 0} == {"Faster R-CNN / WS + eps / WS-ResNet-50 | AP.75"}
    fixed = _with_cell(pt.TABLE_VIII, "Faster R-CNN / WS + eps / WS-ResNet-50", "AP.75", 41.3)
    assert all(v > 0 for v in pc.detection_cells(fixed, pc.TABLE_VIII_PAIRS).values())


def test_PAPER_table9_gap_small_gap_fails():
    assert pc.check_table9_gap().verdict is Verdict.CONFIRMED
    broken = _with_cell(pt.TABLE_IX, "WS-MobileNetV2 1x", "w/ top-1", 73.0)
    assert min(v["top-1"] for v in pc.table9_gaps(broken).values()) < 10 * pc.PAPER_RESOLUTION


@pytest.mark.parametrize("check", [pc.check_generalization_vs_table2, pc.check_eps_stability_boost,
                                   pc.check_adam_eps_vs_no_decay, pc.check_table7_all_aspects,
                                   pc.check_table8_consistent])
def test_PAPER_consistency_corrected_claims_replay_from_json(check):
    ev = json.loads(json.dumps(check().to_json()))
    assert pc.replay_cells(ev) == ev["counterexample"]["reproduces"] or \
        all(abs(pc.replay_cells(ev)[k] - v) < 1e-12 for k, v in ev["counterexample"]["reproduces"].items())
    tampered = copy.deepcopy(ev)
    first = next(iter(tampered["counterexample"]["cells"]))
    tampered["counterexample"]["cells"][first] += 1.0
    assert pc.replay_cells(tampered) != pc.replay_cells(ev)


def test_PAPER_ws_vs_baseline_counts_and_a_table_without_gains_fails():
    found = pc.ws_vs_baseline()
    assert set(found["not_improved"]) == {"ResNet-101", "ResNeXt-101", "ResNeXt29-16x64d", "SE-ResNeXt29-16x64d"}
    worse = pt.TABLE_V
    for r in pt.TABLE_V.rows:
        worse = _with_cell(worse, r.label, "WS", r.values[0] - 0.05)
    assert not pc.ws_vs_baseline(worse)["improved"]
