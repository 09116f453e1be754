"""Shared by the derivation scripts: record whether an expression simplifies to zero.

``check(name, expr)`` prints one line and records a failure when ``expr`` (a scalar or a matrix) does
not simplify to zero; with ``expect_zero=False`` it is a sanity check that a deliberately wrong
identity is *not* accepted. Each script ends with ``finish()``, which exits 1 on any failure.
"""

import sys

import sympy as sp

failures = []


def is_zero(value) -> bool:
    if isinstance(value, sp.MatrixBase):
        return value.is_zero_matrix is True
    return value == 0


def check(name, expr, expect_zero=True, simplify=sp.simplify):
    simplified = simplify(expr)
    ok = is_zero(simplified) == expect_zero
    if expect_zero:
        shown = "simplifies to 0" if ok else f"residual {simplified}"
    else:
        shown = "nonzero, as a wrong identity must be" if ok else "wrongly simplifies to 0"
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {shown}")
    if not ok:
        failures.append(name)
    return ok


def finish():
    if failures:
        print(f"{len(failures)} identities failed: {failures}")
        sys.exit(1)
    print("all identities hold")
    sys.exit(0)
