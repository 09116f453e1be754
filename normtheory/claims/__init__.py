"""The claim registry: one module per source document and topic.

Modules are named after the document they check (``blog_*``, ``paper_*``, ``lecture_*``; third-party
conformance checks in ``conformance_*``) and register their claims with
:func:`normtheory.registry.claim` on import. :func:`all_claims` imports every module in this package,
so adding a claim is adding a decorated function to a module here (see the README).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from functools import lru_cache
from pathlib import Path

from normtheory.registry import Claim, registered_claims

__all__ = ["all_claims", "get_claims", "claim_tests", "rederivation", "REDERIVATIONS_FILE"]

#: One record per claim: the document place re-read by someone who had not seen the check, what they
#: derived and predicted, whether it agreed with the check's verdict, and how a difference was resolved.
REDERIVATIONS_FILE = Path(__file__).with_name("rederivations.json")


def all_claims() -> list[Claim]:
    """Every registered claim, ordered by module name, then by registration within a module."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    order = {name: i for i, name in enumerate(sorted(m.name for m in pkgutil.iter_modules(__path__)))}
    claims = registered_claims()
    position = {c.id: i for i, c in enumerate(claims)}
    return sorted(claims, key=lambda c: (order.get(c.check.__module__.rsplit(".", 1)[-1], -1), position[c.id]))


def get_claims(ids: list[str] | None = None) -> list[Claim]:
    """The claims with the given ids (all when ``ids`` is None); unknown ids raise KeyError."""
    claims = all_claims()
    if ids is None:
        return claims
    by_id = {c.id: c for c in claims}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise KeyError(f"unknown claim id(s): {', '.join(unknown)}; see `normtheory claims`")
    return [by_id[i] for i in ids]


@lru_cache(maxsize=1)
def _rederivations() -> dict[str, dict]:
    return json.loads(REDERIVATIONS_FILE.read_text())


def rederivation(claim_id: str) -> dict | None:
    """The independent re-derivation record of a claim (None when it has none yet)."""
    return _rederivations().get(claim_id)


_CHECKOUT = Path(__file__).resolve().parents[2]  # the source checkout (tests/ lives there)


def claim_tests(claim_id: str, other_ids=(), tests_dir: Path = _CHECKOUT / "tests") -> list[str]:
    """``file::test`` for every test function whose name contains the claim id ('-' -> '_'),
    leaving out those of a longer id in ``other_ids`` (``PAPER-thm1`` vs ``PAPER-thm1-schedule``)."""
    stem = claim_id.replace("-", "_")
    longer = [o.replace("-", "_") for o in other_ids if o.startswith(claim_id + "-")]
    pattern = re.compile(rf"^\s*def (test_\w*{re.escape(stem)}\w*)\s*\(", flags=re.M)
    found = []
    root = tests_dir.parent
    for path in sorted(tests_dir.glob("test_*.py")):
        names = pattern.findall(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(root)}::{n}" for n in names if not any(s in n for s in longer)]
    return found
