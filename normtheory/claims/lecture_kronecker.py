"""Lecture: spectra and eigenvectors of Kronecker products A (x) B (the curvature factors of a layer).

Source: Grosse, CSC 2541 Lecture 5 (``002_cd849d122e313ad8.txt``), slide "Internal Covariate Shift"
(the spectral decomposition of A (x) B). Symbolic identities: ``proofs/lecture_kronecker.py``.

Every property is a function of the implementation it checks, so the tests can show that it fails
on a deliberately broken variant; the claims run it on the library code (:mod:`normtheory.curvature`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from normtheory import curvature
from normtheory.random_matrices import random_symmetric
from normtheory.registry import LECTURE, Evidence, Verdict, claim, decide
from normtheory.roundoff import EPS64

ICS = 'slide "Internal Covariate Shift"'


def kron_eig_gaps(decompose: Callable[[torch.Tensor, torch.Tensor], curvature.KronEigen], *, cases: int = 60,
                  seed: int = 0) -> dict:
    """For symmetric A (p x p), B (q x q): residual ||(A(x)B) V - V diag(values)||, orthonormality of
    V and the eigenvalues against a dense eigvalsh of A(x)B, each in units of its round-off bound.

    Bound: eigh is backward stable with error <= c n eps ||.|| (c = 8 here), for the factors
    (n = p, q) and for the dense product (n = pq); products of the factors' eigenpairs add a
    few roundings. So every error is measured against 8 (pq + p + q) eps ||A||_2 ||B||_2.
    """
    rng = np.random.default_rng(seed)
    worst = {"residual": 0.0, "orthonormality": 0.0, "eigenvalues": 0.0}
    for i in range(cases):
        p, q = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        a, b = random_symmetric(rng, p, repeated=i % 3 == 0), random_symmetric(rng, q, repeated=i % 4 == 0)
        k = torch.kron(a, b)
        dec = decompose(a, b)
        scale = float(torch.linalg.matrix_norm(a, ord=2) * torch.linalg.matrix_norm(b, ord=2))
        unit = 8 * (p * q + p + q) * EPS64
        res = float((k @ dec.vectors - dec.vectors * dec.values).abs().max()) / (unit * scale)
        orth = float((dec.vectors.mT @ dec.vectors - torch.eye(p * q, dtype=a.dtype)).abs().max()) / unit
        ev = float((dec.values.sort().values - torch.linalg.eigvalsh(k)).abs().max()) / (unit * scale)
        for name, val in (("residual", res), ("orthonormality", orth), ("eigenvalues", ev)):
            worst[name] = max(worst[name], val)
    return worst


@claim(
    "L5-kronecker-eig",
    document=LECTURE,
    ref=ICS + " (spectral decomposition of A (x) B)",
    statement="For symmetric A = Q_A D_A Q_A^T and B = Q_B D_B Q_B^T, A (x) B = (Q_A (x) Q_B)"
              "(D_A (x) D_B)(Q_A (x) Q_B)^T: its eigenvalues are the products lambda_i nu_j, with "
              "eigenvectors r_i (x) s_j.",
    checked="For 60 random symmetric pairs (sizes 1..6, indefinite, some with repeated "
            "eigenvalues): the pairs (lambda_i nu_j, r_i (x) s_j) from curvature.kron_eigh satisfy "
            "(A(x)B) v = lambda v, are orthonormal, and their values equal a dense eigvalsh of "
            "A(x)B, all within 8(pq+p+q) eps ||A|| ||B||.",
    expect=Verdict.CONFIRMED,
    proof="proofs/lecture_kronecker.py",
)
def check_kronecker_eig() -> Evidence:
    found = kron_eig_gaps(curvature.kron_eigh)
    holds = max(found.values()) <= 1.0
    return Evidence(
        verdict=decide(holds_as_stated=holds),
        key="residual {residual:.2g}, orthonormality {orthonormality:.2g}, eigenvalues "
            "{eigenvalues:.2g} x tol (60 pairs)".format(**found),
        measured=found,
        tolerance=1.0,
        tolerance_reason="errors in units of the eigh backward-error bound 8(pq+p+q) eps ||A|| ||B||",
        counterexample=None if holds else found,
    )


def nonsymmetric_kron_facts(*, cases: int = 40, seed: int = 1) -> dict:
    """What survives for non-symmetric A, B.

    * eigenvalues of A(x)B = products lambda_i nu_j (complex in general), matched one-to-one
      (Hungarian assignment); the error bound is 16 pq eps kappa(V_A) kappa(V_B) ||A|| ||B||, the
      Bauer-Fike bound for the product's eigenvector matrix V_A (x) V_B;
    * r_i (x) s_j are eigenvectors (residual within the same bound);
    * the slide's factorization needs (Q_A (x) Q_B)^{-1}: with the transpose it fails;
    * defective factors: A = B = [[0, 1], [0, 0]] gives a 3-dimensional null space of A(x)A but only
      one product of eigenvectors, e1 (x) e1.
    """
    rng = np.random.default_rng(seed)
    worst_vals, worst_vecs, transpose_err = 0.0, 0.0, np.inf
    for _ in range(cases):
        p, q = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        a, b = rng.standard_normal((p, p)), rng.standard_normal((q, q))
        la, ra = np.linalg.eig(a)
        lb, rb = np.linalg.eig(b)
        k = np.kron(a, b)
        prods = np.kron(la, lb)
        vecs = np.kron(ra, rb)
        dense = np.linalg.eigvals(k)
        rows, cols = linear_sum_assignment(np.abs(dense[:, None] - prods[None, :]))
        scale = np.linalg.norm(a, 2) * np.linalg.norm(b, 2)
        bound = 16 * p * q * EPS64 * np.linalg.cond(ra) * np.linalg.cond(rb) * scale
        worst_vals = max(worst_vals, float(np.abs(dense[rows] - prods[cols]).max() / bound))
        worst_vecs = max(worst_vecs, float(np.abs(k @ vecs - vecs * prods).max() / bound))
        with_transpose = vecs @ np.diag(prods) @ vecs.T
        transpose_err = min(transpose_err, float(np.abs(with_transpose - k).max() / np.abs(k).max()))
    j = np.array([[0.0, 1.0], [0.0, 0.0]])
    defective = eigvector_completeness(j, j)
    return {"eigenvalue_err_over_tol": worst_vals, "eigenvector_residual_over_tol": worst_vecs,
            "transpose_factorization_min_rel_err": transpose_err,
            "defective_null_space_dim": defective["eigenspace_dim"],
            "defective_product_span_dim": defective["product_span_dim"]}


def _eigenspaces(m: np.ndarray, tol: float) -> list[tuple[complex, np.ndarray]]:
    """(eigenvalue, basis of its eigenspace) for each distinct eigenvalue (clustered within tol)."""
    from scipy.linalg import null_space

    values: list[complex] = []
    for lam in np.linalg.eigvals(m):
        if all(abs(lam - v) > tol for v in values):
            values.append(lam)
    eye = np.eye(m.shape[0])
    return [(v, null_space(m - v * eye, rcond=tol)) for v in values]


def eigvector_completeness(a: np.ndarray, b: np.ndarray, *, tol: float = 1e-10) -> dict:
    """Total dimension of the eigenspaces of A (x) B against the dimension of the span of all products
    r (x) s of eigenvectors of A and B (equal iff the products give a complete eigenbasis).

    ``tol`` clusters eigenvalues and sets the rank threshold; meant for small exact examples (integer
    entries), where both dimensions are decided far from it."""
    k = np.kron(a, b)
    eigenspace_dim = sum(basis.shape[1] for _, basis in _eigenspaces(k, tol))
    products = [np.kron(r, s) for _, ra in _eigenspaces(a, tol) for r in ra.T
                for _, rb in _eigenspaces(b, tol) for s in rb.T]
    span = int(np.linalg.matrix_rank(np.array(products).T, tol=tol)) if products else 0
    return {"eigenspace_dim": int(eigenspace_dim), "product_span_dim": span}


def replay_kronecker_eig_general(evidence: dict) -> dict:
    """Rerun the defective counterexample of L5-kronecker-eig-general from its JSON record."""
    ce = evidence["counterexample"]
    return eigvector_completeness(np.array(ce["a"], dtype=float), np.array(ce["b"], dtype=float))


@claim(
    "L5-kronecker-eig-general",
    document=LECTURE,
    ref=ICS + ' ("Therefore, ... the eigenvectors of A (x) B are r_i (x) s_j")',
    statement="If A has eigenvalues lambda_i (eigenvectors r_i) and B has nu_j (s_j), then A (x) B "
              "has eigenvalues lambda_i nu_j with eigenvectors r_i (x) s_j (stated after a symmetric "
              "decomposition, but worded for any A, B).",
    checked="For 40 random non-symmetric real pairs: eigenvalues of A(x)B equal the products "
            "(matched one-to-one) and r_i (x) s_j are eigenvectors, within the Bauer-Fike bound; the "
            "factorization with a transpose in place of the inverse fails; for the defective "
            "A = B = [[0,1],[0,0]], the eigenspace of A(x)B (null space, dim 3) is not spanned by "
            "products of eigenvectors (dim 1).",
    expect=Verdict.CORRECTED,
    replay=replay_kronecker_eig_general,
    proof="proofs/lecture_kronecker.py",
)
def check_kronecker_eig_general() -> Evidence:
    found = nonsymmetric_kron_facts()
    instance = {"a": [[0.0, 1.0], [0.0, 0.0]], "b": [[0.0, 1.0], [0.0, 0.0]], "dtype": "float64",
                "question": "dimension of all eigenspaces of A (x) B vs span of products r (x) s of eigenvectors"}
    instance["reproduces"] = replay_kronecker_eig_general({"counterexample": instance})
    products_hold = found["eigenvalue_err_over_tol"] <= 1 and found["eigenvector_residual_over_tol"] <= 1
    complete = found["defective_null_space_dim"] == found["defective_product_span_dim"]
    return Evidence(
        verdict=decide(holds_as_stated=products_hold and complete,
                       holds_corrected=products_hold and found["transpose_factorization_min_rel_err"] > 1e-3),
        key=f"products hold (err {found['eigenvalue_err_over_tol']:.2g} x tol); defective J (x) J: "
            f"eigenspace dim {found['defective_null_space_dim']} vs {found['defective_product_span_dim']} "
            "from products",
        measured=found,
        counterexample=instance,
        tolerance=1.0,
        tolerance_reason="Bauer-Fike: 16 pq eps kappa(V_A) kappa(V_B) ||A|| ||B|| per eigenvalue",
        corrected="For any square A, B the eigenvalues of A(x)B are the products lambda_i nu_j with "
                  "algebraic multiplicity (possibly complex) and each r_i (x) s_j is an eigenvector; "
                  "A(x)B = (P_A (x) P_B)(D_A (x) D_B)(P_A (x) P_B)^{-1} when both are diagonalizable "
                  "(inverse, not transpose). If A or B is defective, products of eigenvectors need "
                  "not span the eigenspaces: A = B = [[0,1],[0,0]] has a 3-dim null space of A(x)B "
                  "but only e1 (x) e1 as a product.",
    )
