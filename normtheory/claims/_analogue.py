"""Shared decision vocabulary of the analogue claims (blog and paper).

A decision is made from per-seed numbers: the effect is a mean over seeds with its bootstrap
interval (:mod:`normtheory.reproduce.stats`), and a *part* of a statement

* ``holds`` when the whole interval lies on the side the statement predicts,
* ``fails`` when it lies wholly on the other side,
* ``undecided`` when it straddles the threshold.

Parts combine as the statement does ("and": :func:`all_of`, "for some": :func:`any_of`), and the
decision is ``supports`` / ``does not support`` / ``inconclusive`` accordingly. The recorded full
run is decided by the same function as the in-run form and shown beside it, labelled ``recorded``
with its provenance; :func:`normtheory.reproduce.experiments.recorded` raises when the record is
missing or was made by code that has changed since. The claim's finding is the in-run decision
when the recorded full run agrees, else ``inconclusive`` (:func:`agreed`).
"""

from __future__ import annotations

from typing import Callable, Iterable

from normtheory.registry import Evidence, Finding, Verdict
from normtheory.reproduce import experiments
from normtheory.reproduce.stats import ABOVE, BELOW, Interval, bootstrap_mean, side

HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"

_FINDING = {HOLDS: Finding.SUPPORTS, FAILS: Finding.DOES_NOT_SUPPORT,
            UNDECIDED: Finding.INCONCLUSIVE}


def part(interval: Interval, threshold: float, *, predicted: str = ABOVE) -> str:
    """``holds``/``fails``/``undecided`` for the prediction "the effect is ``predicted``
    (``"above"`` or ``"below"``) ``threshold``"."""
    if predicted not in (ABOVE, BELOW):
        raise ValueError(f"predicted must be {ABOVE!r} or {BELOW!r}, got {predicted!r}")
    s = side(interval, threshold)
    if s == predicted:
        return HOLDS
    return FAILS if s in (ABOVE, BELOW) else UNDECIDED


def all_of(parts: Iterable[str]) -> str:
    """A conjunction: holds if every part holds, fails if some part fails, else undecided."""
    parts = list(parts)
    if not parts:
        return UNDECIDED
    if FAILS in parts:
        return FAILS
    return HOLDS if all(p == HOLDS for p in parts) else UNDECIDED


def any_of(parts: Iterable[str]) -> str:
    """An existential: holds if some part holds, fails if every part fails, else undecided."""
    parts = list(parts)
    if HOLDS in parts:
        return HOLDS
    return FAILS if parts and all(p == FAILS for p in parts) else UNDECIDED


def finding(outcome: str) -> Finding:
    return _FINDING[outcome]


def paired(a: dict, b: dict) -> list[float]:
    """Per-seed differences ``a[s] - b[s]`` over the seeds both have (same seed = same data order
    and init draw, so the pairing removes the seed-to-seed variation they share)."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("no common seeds to pair")
    return [a[s] - b[s] for s in seeds]


def ci(values) -> Interval:
    return bootstrap_mean(list(values))


def interval_json(iv: Interval) -> dict:
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high, "n": iv.n}


def analogue_evidence(name: str, decide: Callable[[dict], dict], *, describe: Callable[[dict], str],
                      analogue: str, extra: dict | None = None) -> Evidence:
    """Evidence of an analogue claim: decided on the in-run form (the finding), with the recorded
    full run decided by the same ``decide`` and shown labelled ``recorded``."""
    rec_result, prov = experiments.recorded(name)  # missing or stale: fail before computing
    rec = decide(rec_result)
    now = decide(experiments.inrun(name))
    found = agreed(now["finding"], rec["finding"])
    key = (f"in this run ({describe_protocol(now)}): {describe(now)} -> {now['finding']}; "
           f"recorded full run ({describe_protocol(rec)}, {prov['date'][:10]}): {describe(rec)} "
           f"-> {rec['finding']}")
    if found is not Finding(now["finding"]):
        key += f"; the two disagree -> {found.value}"
    measured = {"finding": found.value, "inrun": now, "recorded_full": rec,
                "recorded_command": prov["command"]}
    measured.update(extra or {})
    return Evidence(verdict=Verdict.ANALOGUE, finding=found, key=key,
                    measured=measured, analogue=analogue, recorded=prov)


def agreed(inrun: str, recorded: str) -> Finding:
    """The finding: the in-run decision when the recorded full run (same decision function, more
    seeds/epochs/models) agrees with it, else ``inconclusive`` (the outcome depends on the size of
    the protocol, so neither size settles the statement)."""
    return Finding(inrun) if inrun == recorded else Finding.INCONCLUSIVE


def describe_protocol(decision: dict) -> str:
    p = decision["protocol"]
    return ", ".join(f"{v} {k}" for k, v in p.items())
