"""The blog analogues' decision functions on synthetic run records: each decides as its statement
says, is inconclusive when the seeds disagree, and a deliberately broken variant (a bootstrap that
ignores the seeds, a decision that ignores the control) gives a different, wrong answer."""

from __future__ import annotations

import pytest

from normtheory.claims import _analogue, blog_analogues as ba
from normtheory.reproduce.stats import Interval


def _run(model, cond, seed, *, sigma, spread, rank, acc, gap):
    return {"model": model, "condition": cond, "seed": seed, "test_acc": acc,
            "test_loss": 0.1 + gap, "train_loss": 0.1,
            "sigma1_by_epoch": [[sigma - spread, sigma + spread]] * 4,
            "final": [{"sigma1": sigma, "std": 0.1, "stable_rank": rank, "effective_rank": rank}]}


GOOD = {"spectral": dict(sigma=1.0, spread=0.1, rank=9.0, acc=0.90, gap=0.01),
        "frobenius": dict(sigma=2.0, spread=0.5, rank=5.0, acc=0.95, gap=0.05),
        "none": dict(sigma=5.0, spread=2.0, rank=4.0, acc=0.90, gap=0.20)}


def _result(values=GOOD, *, seeds=4, jitter=0.0, models=("mlp3", "mlp5")):
    """Runs whose numbers are ``values`` plus a seed-dependent jitter (alternating sign)."""
    runs = []
    for m in models:
        for c, v in values.items():
            for s in range(seeds):
                j = jitter * (1 if s % 2 else -1) * (1 + s)
                runs.append(_run(m, c, s, **{k: x * (1 + j) for k, x in v.items()}))
    return {"models": list(models), "seeds": seeds, "epochs": 4, "runs": runs}


def _reversed(values=GOOD):
    return {"spectral": values["none"], "frobenius": values["frobenius"], "none": values["spectral"]}


def _follows_the_numbers(decide):
    assert decide(_result())["finding"] == "supports"
    assert decide(_result(_reversed()))["finding"] == "does not support"


def _equal_but_noisy():
    """Conditions with the same mean but large seed-to-seed variation: nothing is decided."""
    same = {c: dict(GOOD["frobenius"]) for c in GOOD}
    res = _result(same, seeds=4)
    for r in res["runs"]:  # condition-specific noise, so paired differences vary in sign
        k = {"spectral": 1, "frobenius": -1, "none": 1}[r["condition"]] * (1, -1, 1, -0.6)[r["seed"]]
        r["final"][0]["sigma1"] *= 1 + 0.3 * k
        r["final"][0]["stable_rank"] *= 1 + 0.3 * k
        r["test_acc"] *= 1 + 0.03 * k
        r["test_loss"] += 0.05 * k
        r["sigma1_by_epoch"] = [[x * (1 + 0.3 * k) for x in e] for e in r["sigma1_by_epoch"]]
    return res


def _noise_is_inconclusive_unless_broken(decide, monkeypatch):
    res = _equal_but_noisy()
    assert decide(res)["finding"] == "inconclusive"
    # broken variant: an "interval" at the mean that ignores the spread over seeds decides anyway
    def seedless(values):
        m = sum(values) / len(values)
        return Interval(m, m, m, len(values), 0.95)

    monkeypatch.setattr(ba, "ci", seedless)
    assert decide(res)["finding"] != "inconclusive"


def test_BLOG_ns_spectral_norms_ordering_needs_both_comparisons_broken_single_comparison_differs():
    # Frobenius above none (as on the digits MLPs in the old records): the order fails
    vals = dict(GOOD, frobenius=dict(GOOD["frobenius"], sigma=6.0, spread=3.0))
    assert ba.decide_spectral_norms(_result(vals))["finding"] == "does not support"
    assert ba.decide_spread(_result(vals))["finding"] == "does not support"
    # broken variant: a decision that compares spectral with Frobenius only (ignores the control)
    broken = {**ba.decide_spectral_norms(_result(vals))}
    only_first = all(m["parts"][0] == "holds" for m in broken["models"].values())
    assert only_first  # ... would have said "supports"


def test_BLOG_ns_accuracy_needs_the_gap_part_on_mlps():
    vals = dict(GOOD, spectral=dict(GOOD["spectral"], gap=0.5))
    assert ba.decide_accuracy(_result(vals))["finding"] == "does not support"
    # on a CNN only the accuracy part applies
    assert ba.decide_accuracy(_result(vals, models=("cnn",)))["finding"] == "supports"


def _cost(blog, library=(6.0,) * 5):
    return {"rounds": len(blog), "steps": 3, "variants": {}, "ratio_to_unscaled": {"128": {
        "none": [1.0] * len(blog), "frobenius": [1.1] * len(blog), "library": list(library),
        "library_default": list(library),
        "blog500": list(blog)}}}


def test_BLOG_ns_cost_decision_against_the_band_broken_library_ratio_differs():
    assert ba.decide_cost(_cost([8, 9, 10, 9, 8]))["finding"] == "supports"
    assert ba.decide_cost(_cost([30, 35, 32, 40, 38]))["finding"] == "does not support"
    # just outside the band but within the timing margin (18-28x as measured here): undecided
    assert ba.decide_cost(_cost([18, 21, 28, 20, 19]))["finding"] == "inconclusive"
    assert ba.decide_cost(_cost([3, 30, 4, 25, 10]))["finding"] == "inconclusive"
    # broken variant: deciding on the library's ratio (9x, inside the band) instead of the blog's
    fast = _cost([30, 35, 32, 40, 38], library=(9.0,) * 5)
    broken = ba.decide_cost({**fast, "ratio_to_unscaled": {"128": {
        **fast["ratio_to_unscaled"]["128"], "blog500": fast["ratio_to_unscaled"]["128"]["library"]}}})
    assert broken["finding"] == "supports"


def test_finding_combines_inrun_and_recorded():
    assert _analogue.agreed("supports", "supports").value == "supports"
    assert _analogue.agreed("supports", "does not support").value == "inconclusive"
    assert _analogue.agreed("inconclusive", "supports").value == "inconclusive"


def test_parts_and_combinators():
    iv = Interval(1.0, 0.5, 1.5, 4, 0.95)
    assert _analogue.part(iv, 0.0) == "holds" and _analogue.part(iv, 2.0) == "fails"
    assert _analogue.part(iv, 1.0) == "undecided"
    assert _analogue.part(iv, 2.0, predicted="below") == "holds"
    assert _analogue.all_of(["holds", "undecided"]) == "undecided"
    assert _analogue.all_of(["holds", "fails", "undecided"]) == "fails"
    assert _analogue.any_of(["fails", "holds"]) == "holds"
    assert _analogue.any_of(["fails", "undecided"]) == "undecided"
    assert _analogue.all_of([]) == "undecided" and _analogue.any_of([]) == "undecided"
    with pytest.raises(ValueError, match="predicted"):
        _analogue.part(iv, 0.0, predicted="sideways")


# One test per claim (ids in the names, as tests/test_claim_links.py requires), over the decisions
# above: each follows the numbers, and a broken bootstrap that ignores the seeds decides noise.
def test_BLOG_ns_spectral_norms_follows_the_numbers():
    _follows_the_numbers(ba.decide_spectral_norms)


def test_BLOG_ns_spectral_norms_broken_seedless_bootstrap_decides_noise(monkeypatch):
    _noise_is_inconclusive_unless_broken(ba.decide_spectral_norms, monkeypatch)


def test_BLOG_ns_spectral_spread_follows_the_numbers():
    _follows_the_numbers(ba.decide_spread)


def test_BLOG_ns_spectral_spread_broken_seedless_bootstrap_decides_noise(monkeypatch):
    _noise_is_inconclusive_unless_broken(ba.decide_spread, monkeypatch)


def test_BLOG_ns_rank_follows_the_numbers():
    _follows_the_numbers(ba.decide_rank)


def test_BLOG_ns_rank_broken_seedless_bootstrap_decides_noise(monkeypatch):
    _noise_is_inconclusive_unless_broken(ba.decide_rank, monkeypatch)


def test_BLOG_ns_accuracy_follows_the_numbers():
    _follows_the_numbers(ba.decide_accuracy)


def test_BLOG_ns_accuracy_broken_seedless_bootstrap_decides_noise(monkeypatch):
    _noise_is_inconclusive_unless_broken(ba.decide_accuracy, monkeypatch)
