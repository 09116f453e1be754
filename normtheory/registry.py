"""The claim model: sources, claims, evidence and verdicts.

A :class:`Claim` ties a statement made by one of the source documents to a check function that
decides it by computation. Running the check returns :class:`Evidence`, which carries the verdict,
the numbers measured, the tolerance used and the reason for it, and (for a refutation) the
counterexample. Verdicts are computed by the check; :func:`decide` is the one place that turns the
outcome of a comparison into a verdict.

Claims register themselves with the :func:`claim` decorator when their module in
:mod:`normtheory.claims` is imported; :func:`normtheory.claims.all_claims` imports them all.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = [
    "BLOG",
    "PAPER",
    "LECTURE",
    "TORCH_DOCS",
    "Finding",
    "Document",
    "Source",
    "Verdict",
    "Evidence",
    "Claim",
    "claim",
    "decide",
    "registered_claims",
]


@dataclass(frozen=True)
class Document:
    """One of the three source documents, named by its seed file."""

    key: str
    file: str
    title: str


BLOG = Document(
    "blog",
    "000_c4f6666b093bc660.txt",
    "Exploring Frobenius and Spectral Normalization in MLPs and Residual networks (blog post)",
)
PAPER = Document(
    "paper",
    "001_b5a1945cc2ea1296.txt",
    "Li, Chen, Xia, Yang: Understanding the Disharmony between Weight Normalization Family "
    "and Weight Decay: epsilon-shifted L2 Regularizer",
)
LECTURE = Document(
    "lecture",
    "002_cd849d122e313ad8.txt",
    "Grosse, CSC 2541 Lecture 5: Adaptive Gradient Methods, Normalization, and Weight Decay",
)


TORCH_DOCS = Document(
    "torch-docs",
    "pytorch.org/docs",
    "PyTorch documentation (the docstrings of torch.nn.utils.parametrizations and "
    "torch.nn.functional), for conformance claims about torch's own behaviour",
)


@dataclass(frozen=True)
class Source:
    """Where a claim comes from: the document and its own label for the place."""

    document: Document
    ref: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.document.file, "ref": self.ref, "title": self.document.title}

    def __str__(self) -> str:
        return f"{self.document.file} {self.ref}"


class Verdict(str, enum.Enum):
    """The outcome of a check (the rules are in the README, "What `normtheory verify` tells you").

    ``corrected`` means the document's statement fails as written and the corrected statement in
    the evidence passes; a condition the document never made (an eps it does not have, a caveat it
    states itself) is not a correction. ``inconclusive`` means the computation cannot decide (for
    example an interval over seeds straddles the decision threshold).
    """

    CONFIRMED = "confirmed"
    CORRECTED = "corrected"
    REFUTED = "refuted"
    ANALOGUE = "analogue"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


class Finding(str, enum.Enum):
    """What a small analogue found about the document's statement (``analogue`` verdicts only).

    ``supports`` needs a control that behaves differently; a decision whose interval over seeds
    straddles its threshold is ``inconclusive``.
    """

    SUPPORTS = "supports"
    DOES_NOT_SUPPORT = "does not support"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


#: What a recorded (not recomputed) result must say about where it came from.
PROVENANCE_FIELDS = ("command", "code_version", "date", "machine")


def decide(*, holds_as_stated: bool, holds_corrected: bool | None = None) -> Verdict:
    """Turn the outcome of a check into a verdict.

    ``holds_as_stated`` is whether the document's statement passed its check. If it did not,
    ``holds_corrected`` is whether the corrected statement (carried in the evidence) passed; when
    there is no corrected form, or it fails too, the claim is refuted.
    """
    if holds_as_stated:
        return Verdict.CONFIRMED
    if holds_corrected:
        return Verdict.CORRECTED
    return Verdict.REFUTED


def _jsonable(value: Any) -> Any:
    """Convert numpy/torch scalars and arrays, tuples and enums to plain JSON values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no inf/nan; keep them readable and explicit
    return value


@dataclass
class Evidence:
    """What running a check found.

    Attributes:
        verdict: the computed verdict.
        key: one short line for the verdict table, e.g. ``"max rel. err 2e-16 (tol 1e-13)"``.
        measured: the numbers measured (JSON-serialisable after :func:`_jsonable`).
        tolerance: the tolerance the comparison used, if any.
        tolerance_reason: why that tolerance; required whenever ``tolerance`` is given.
        corrected: the corrected statement, required for ``corrected`` verdicts.
        counterexample: the seeded, replayable counterexample, required for ``refuted``.
        analogue: what small analogue was run and how it differs from the original, required
            for ``analogue`` verdicts.
        finding: for ``analogue`` verdicts (required there, refused elsewhere): whether the
            analogue supports the statement, computed in this run.
        recorded: provenance of numbers this run did not compute (keys ``PROVENANCE_FIELDS``);
            when given, ``key`` must label the recorded numbers with the word ``recorded``.
        series: arrays a figure is drawn from (saved beside the figure, not in the table).
    """

    verdict: Verdict
    key: str
    measured: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None
    tolerance_reason: str | None = None
    corrected: str | None = None
    counterexample: dict[str, Any] | None = None
    analogue: str | None = None
    finding: Finding | None = None
    recorded: dict[str, Any] | None = None
    series: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.verdict = Verdict(self.verdict)
        if self.finding is not None:
            self.finding = Finding(self.finding)
        if (self.verdict is Verdict.ANALOGUE) != (self.finding is not None):
            raise ValueError("Evidence: an 'analogue' verdict needs its finding (supports, does not "
                             "support, inconclusive), and only an analogue has one")
        if self.recorded is not None:
            missing = [f for f in PROVENANCE_FIELDS if not self.recorded.get(f)]
            if missing:
                raise ValueError(f"Evidence: recorded results need their provenance ({', '.join(missing)})")
            if "recorded" not in self.key:
                raise ValueError("Evidence: the key of a recorded result must say 'recorded' where "
                                 "its recorded numbers are shown")
        if self.tolerance is not None and not self.tolerance_reason:
            raise ValueError("Evidence: a tolerance needs its reason (tolerance_reason)")
        if self.verdict is Verdict.CORRECTED and not self.corrected:
            raise ValueError("Evidence: a 'corrected' verdict needs the corrected statement")
        if self.verdict is Verdict.REFUTED and not self.counterexample:
            raise ValueError("Evidence: a 'refuted' verdict needs its counterexample")
        if self.verdict is Verdict.ANALOGUE and not self.analogue:
            raise ValueError("Evidence: an 'analogue' verdict needs the analogue's description")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "measured": _jsonable(self.measured)}
        if self.tolerance is not None:
            out["tolerance"] = self.tolerance
            out["tolerance_reason"] = self.tolerance_reason
        for name in ("corrected", "counterexample", "analogue", "finding", "recorded"):
            value = getattr(self, name)
            if value is not None:
                out[name] = _jsonable(value)
        return out


FigureBuilder = Callable[[Evidence], Any]


@dataclass(frozen=True)
class Claim:
    """A statement from a source document and the check that decides it.

    Attributes:
        id: stable identifier, ``DOC-topic`` (``PAPER-thm1``, ``BLOG-rank1``, ``L5-euler``).
        source: document and place.
        statement: the claim as the document makes it, in our words.
        checked: the precise statement the check decides.
        check: callable returning :class:`Evidence`; deterministic (fixed seeds).
        expect: the verdict recorded when the check was written. ``normtheory verify`` fails when
            the computed verdict differs, so a change in outcome is never silent.
        expect_finding: for analogue claims, the finding recorded with the claim (compared too).
        figure: optional builder drawing a matplotlib figure from the evidence.
        proof: optional path (from the repository root) of the derivation script in ``proofs/``.
        replay: optional function re-running a corrected/refuted claim's counterexample from its
            JSON evidence alone (``replay(evidence_json) -> dict`` of the same key numbers).
    """

    id: str
    source: Source
    statement: str
    checked: str
    check: Callable[[], Evidence]
    expect: Verdict
    figure: FigureBuilder | None = None
    expect_finding: Finding | None = None
    proof: str | None = None
    replay: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def outcome_as_expected(self, evidence: Evidence) -> bool:
        """Whether the computed verdict (and an analogue's finding) is the recorded one."""
        if evidence.verdict is not self.expect:
            return False
        return evidence.verdict is not Verdict.ANALOGUE or evidence.finding is self.expect_finding

    def run(self) -> Evidence:
        from normtheory._threads import single_thread

        with single_thread():  # checks run small exact models (see normtheory._threads)
            evidence = self.check()
        if not isinstance(evidence, Evidence):
            raise TypeError(f"claim {self.id}: check returned {type(evidence).__name__}, not Evidence")
        return evidence


_REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    *,
    document: Document,
    ref: str,
    statement: str,
    checked: str,
    expect: Verdict | str,
    figure: FigureBuilder | None = None,
    expect_finding: Finding | str | None = None,
    proof: str | None = None,
    replay: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Callable[[Callable[[], Evidence]], Callable[[], Evidence]]:
    """Register the decorated zero-argument function as the check of a claim."""

    def register(check: Callable[[], Evidence]) -> Callable[[], Evidence]:
        if id in _REGISTRY:
            raise ValueError(f"claim id {id!r} is registered twice")
        if (Verdict(expect) is Verdict.ANALOGUE) != (expect_finding is not None):
            raise ValueError(f"claim {id}: an analogue claim records its expected finding "
                             "(expect_finding), and only an analogue claim has one")
        _REGISTRY[id] = Claim(
            id=id,
            source=Source(document, ref),
            statement=" ".join(statement.split()),
            checked=" ".join(checked.split()),
            check=check,
            expect=Verdict(expect),
            figure=figure,
            expect_finding=None if expect_finding is None else Finding(expect_finding),
            proof=proof,
            replay=replay,
        )
        return check

    return register


def registered_claims() -> list[Claim]:
    """Claims registered so far, in registration order."""
    return list(_REGISTRY.values())
