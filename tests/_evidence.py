"""Helpers the claim test modules share for evidence records and their replay."""

from __future__ import annotations

import json
import math


def as_json(evidence) -> dict:
    """The evidence as a reader of the JSON record sees it (a real round trip)."""
    return json.loads(json.dumps(evidence.to_json()))


def names_its_recipe(ce: dict) -> None:
    """A counterexample says what it is built from: model, sizes, seed, dtype and recipe."""
    assert {"model", "rows", "cols", "bases_seed", "dtype", "recipe", "result"} <= ce.keys()


def same_numbers(a: dict, b: dict) -> bool:
    """Same keys and the same numbers to 1e-12 relative: a replay reproduces its record."""
    return a.keys() == b.keys() and all(math.isclose(float(a[k]), float(b[k]), rel_tol=1e-12, abs_tol=1e-300)
                                        for k in a)
