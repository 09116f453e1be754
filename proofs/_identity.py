"""Shared by the derivation scripts: prove identities, reject wrong ones, report, exit.

Every script in ``proofs/`` derives its identities with the functions below and ends with
``finish()``. The record is kept here, in one place:

``check(name, expr)``
    proves ``expr == 0`` (a scalar or a matrix): sympy must simplify it to exactly zero.
``check_words(name, expr, rules)``
    proves a matrix expression of *symbolic size* (``MatrixSymbol`` products) is zero, after
    rewriting adjacent factors by the stated hypotheses ``rules`` (e.g. ``u^T u = 1``, ``R v = 0``);
    see :func:`words`.
``check_nonnegative(name, expr, certificate)``
    proves ``expr >= 0``: ``expr - certificate`` simplifies to zero and sympy's assumption system
    finds ``certificate`` nonnegative as written (a sum of products of squares and nonnegative
    symbols).
``refute(name, expr, witness=...)``
    the wrong-identity check: a plausible wrong variant must NOT be accepted. The same machinery
    that proves the right identity must fail to reduce ``expr`` to zero, and, when a ``witness``
    point is given, ``expr`` must evaluate to a nonzero number there (so the rejection is not
    merely a simplifier giving up).

``refute_nonnegative(name, expr, witness=...)``
    the wrong-inequality check: ``expr`` must be negative at the ``witness`` point.

``finish()`` prints ``proved N identities, rejected K wrong identities`` and exits 1 when any check
failed or when no wrong identity was rejected (a script without a wrong-identity check cannot show
that its machinery can fail). ``tests/test_proofs.py`` parses that line.
"""

from __future__ import annotations

import sys
from collections import defaultdict

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

failures: list[str] = []
_counts = {"proved": 0, "rejected": 0}


def _record(name: str, ok: bool, shown: str, kind: str) -> bool:
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {shown}")
    if ok:
        _counts[kind] += 1
    else:
        failures.append(name)
    return ok


def is_zero(value) -> bool:
    """Exactly zero: the number 0, a zero explicit matrix, or a ZeroMatrix expression."""
    if isinstance(value, sp.MatrixBase):
        return value.is_zero_matrix is True
    if isinstance(value, MatrixExpr):
        return isinstance(value, sp.ZeroMatrix) or value.is_ZeroMatrix is True
    return value == 0


def _simplified(expr, simplify):
    if isinstance(expr, sp.MatrixBase):
        return expr.applyfunc(simplify)
    return simplify(expr)


def check(name, expr, *, simplify=sp.simplify) -> bool:
    """Prove ``expr == 0`` (entrywise for an explicit matrix)."""
    residual = _simplified(expr, simplify)
    ok = is_zero(residual)
    return _record(name, ok, "simplifies to 0" if ok else f"residual {residual}", "proved")


def check_nonnegative(name, expr, certificate, *, relations=None, simplify=sp.simplify) -> bool:
    """Prove ``expr >= 0`` by ``expr == certificate`` with ``certificate`` manifestly nonnegative.

    ``relations`` (a substitution such as ``{phi: 1 - theta}``) ties the certificate's auxiliary
    nonnegative symbols to the expression's, and is applied only when comparing the two.
    """
    residual = simplify(sp.sympify(expr - certificate).subs(relations or {}))
    manifest = sp.sympify(certificate).is_nonnegative is True
    ok = residual == 0 and manifest
    shown = (f"= {certificate} >= 0" if ok else
             f"residual {residual}" if residual != 0 else f"certificate {certificate} not manifestly >= 0")
    return _record(name, ok, shown, "proved")


def _factors(term):
    """Split a product into (scalar coefficient, tuple of matrix factors).

    Identity factors inside a product are dropped; a 1 x 1 identity alone is the empty word (),
    i.e. a scalar, so ``u^T u - 1`` can be written ``u.T*u - Identity(1)``.
    """
    if not isinstance(term, MatrixExpr):
        return term, ()
    if isinstance(term, sp.Identity):
        return sp.Integer(1), (() if term.shape == (1, 1) else (term,))
    if isinstance(term, sp.MatMul):
        coeff = sp.Integer(1)
        mats = []
        for arg in term.args:
            if isinstance(arg, MatrixExpr):
                mats.extend(_factors(arg)[1] if isinstance(arg, sp.MatPow) else
                            [] if isinstance(arg, sp.Identity) else [arg])
            else:
                coeff *= arg
        return coeff, tuple(mats)
    if isinstance(term, sp.MatPow) and term.exp.is_Integer and term.exp > 0:  # A**2 -> (A, A)
        return sp.Integer(1), (term.base,) * int(term.exp)
    return sp.Integer(1), (term,)


def _with_transposes(rules):
    """Each hypothesis A B = C also gives B^T A^T = C^T (a scalar C stays C)."""
    full = dict(rules)
    for word, value in rules.items():
        if len(word) == 1:  # a symmetry A^T = A: its transpose A = A^T would undo it
            continue
        flipped = tuple(f.T for f in reversed(word))
        if flipped not in full:
            full[flipped] = value.T if isinstance(value, MatrixExpr) else value
    return full


def words(expr, rules=None, *, simplify=sp.simplify):
    """Canonical form of a matrix expression as {tuple of factors: coefficient}.

    ``expr`` is expanded into a sum of products; in each product, the first run of adjacent factors
    equal to a key of ``rules`` is replaced by its value (a scalar such as 1 or 0, or a matrix
    expression), and the result is expanded again, until no rule applies. Like words are collected
    and their coefficients simplified, so the expression is zero exactly when the returned dict is
    empty. The hypotheses are the only facts used; ``rules`` is closed under transposition.
    """
    rules = _with_transposes(rules or {})
    sizes = sorted({len(k) for k in rules}, reverse=True)
    collected = defaultdict(lambda: sp.Integer(0))
    pending = [expr]
    while pending:
        term = sp.expand(pending.pop())
        if isinstance(term, sp.MatAdd):
            pending.extend(term.args)
            continue
        if is_zero(term):
            continue
        coeff, mats = _factors(term)
        match = next(((start, size) for size in sizes for start in range(len(mats) - size + 1)
                      if mats[start:start + size] in rules), None)
        if match is None:
            collected[mats] += coeff
            continue
        start, size = match
        value = rules[mats[start:start + size]]
        head, tail = mats[:start], mats[start + size:]
        if isinstance(value, MatrixExpr):
            if not is_zero(value):
                pending.append(coeff * sp.MatMul(*head, value, *tail))
        elif value != 0:
            rest = head + tail
            pending.append(coeff * value * sp.MatMul(*rest) if rest else coeff * value)
    return {w: c for w, c in ((w, simplify(c)) for w, c in collected.items()) if c != 0}


def check_words(name, expr, rules=None) -> bool:
    """Prove a symbolic-size matrix expression is zero under the hypotheses ``rules``."""
    left = words(expr, rules)
    shown = "reduces to 0" if not left else "residual " + " + ".join(
        f"({c})*{'*'.join(map(str, w))}" for w, c in left.items())
    return _record(name, not left, shown, "proved")


def expand_sums(expr):
    """Normal form for sums over a symbolic range: linear pieces split, constants pulled out.

    ``Sum(a x_j + b, (j, 1, n))`` becomes ``a Sum(x_j, (j, 1, n)) + b n``, repeatedly, so two
    expressions built from the same sums compare equal after ``simplify``.
    """
    def one(s):
        s = sp.factor_terms(s.expand())
        return s.doit() if isinstance(s, sp.Sum) else s.replace(lambda q: isinstance(q, sp.Sum), lambda q: q.doit())

    previous, expr = None, sp.expand(expr)
    while previous != expr:
        previous, expr = expr, sp.expand(expr.replace(lambda q: isinstance(q, sp.Sum), one))
    return expr


def _nonzero_at(expr, witness) -> bool:
    """``expr`` evaluated at ``witness`` is a nonzero number (some entry, for a matrix).

    Substitutes, evaluates sums (a symbolic range becomes concrete), and substitutes again so that
    indexed entries of the witness (``s[1]``) reach the evaluated terms.
    """
    value = sp.sympify(expr).subs(witness).doit().subs(witness)
    entries = list(value) if isinstance(value, sp.MatrixBase) else [value]
    return any(entry.is_number and entry != 0 for entry in map(sp.simplify, entries))


def refute(name, expr, *, witness=None, rules=None, simplify=sp.simplify) -> bool:
    """The wrong-identity check: ``expr == 0`` must be rejected by the machinery that proves.

    With ``rules``, the symbolic-size word form (:func:`words`) must be nonzero; otherwise
    ``simplify`` must leave a nonzero residual. With ``witness`` (a substitution dict), the
    expression must also be a nonzero number at that point.
    """
    if rules is not None:
        rejected = bool(words(expr, rules, simplify=simplify))
    else:
        rejected = not is_zero(_simplified(expr, simplify))
    if rejected and witness is not None:
        rejected = _nonzero_at(expr, witness)
    shown = ("rejected, as a wrong identity must be" + (f" (nonzero at {witness})" if witness else "")
             if rejected else "wrongly accepted (or not shown nonzero at the witness)")
    return _record(f"wrong: {name}", rejected, shown, "rejected")


def refute_nonnegative(name, expr, *, witness) -> bool:
    """The wrong-inequality check: ``expr >= 0`` is refuted by a point where ``expr`` is negative."""
    value = sp.simplify(sp.sympify(expr).subs(witness))
    rejected = bool(value.is_number and value.is_negative)
    shown = (f"rejected: {value} < 0 at {witness}" if rejected
             else f"wrongly not refuted: value {value} at {witness}")
    return _record(f"wrong: {name}", rejected, shown, "rejected")


def finish():
    """Print the summary line and exit: 1 on any failure or when no wrong identity was rejected."""
    if _counts["rejected"] == 0:
        failures.append("no wrong-identity check: the script never showed its machinery can fail")
    print(f"proved {_counts['proved']} identities, rejected {_counts['rejected']} wrong identities")
    if failures:
        print(f"{len(failures)} checks failed: {failures}")
        sys.exit(1)
    print("all identities hold")
    sys.exit(0)
