"""Kronecker eigen-decomposition and the outlier eigenvalue of uncentered activations.

Source: lecture 002_cd849d122e313ad8.txt, slide "Internal Covariate Shift" (the K-FAC block
G = A (x) S; the spectral decomposition of A (x) B for symmetric A, B; "the eigenvalues of A (x) B are
lambda_i nu_j, the eigenvectors r_i (x) s_j"; the ICS Conditioning Hypothesis: M large eigenvalues
nu lambda_i with nu = ||m||^2 + 1 and eigenvectors m (x) v).

Claims: L5-kronecker-eig, L5-kronecker-eig-general, L5-ics-outlier

Sizes are symbolic (A is a x a, B is b x b, MatrixSymbols); the mixed-product rule
(A (x) B)(C (x) D) = (A C) (x) (B D) is sympy's combine_kronecker, and hypotheses are substitutions.
Derived:
  (1) symmetric A = Q_A D_A Q_A^T, B = Q_B D_B Q_B^T with orthogonal Q: (Q_A (x) Q_B)(D_A (x) D_B)
      (Q_A (x) Q_B)^T = A (x) B and (Q_A (x) Q_B)^T (Q_A (x) Q_B) = I, so A (x) B is diagonalised by
      Q_A (x) Q_B with eigenvalues lambda_i nu_j.
  (2) for ANY A, B (no symmetry): A r = lambda r and B s = nu s give (A (x) B)(r (x) s) =
      lambda nu (r (x) s): every product of eigenpairs is an eigenpair; with P_A, P_B invertible,
      A (x) B = (P_A (x) P_B)(D_A (x) D_B)(P_A (x) P_B)^-1, so for diagonalizable factors these are all
      of them. The converse fails for defective factors: J = [[0, 1], [0, 0]] has a 1-dimensional
      eigenspace, J (x) J a 3-dimensional one, so products of eigenvectors span only 1 of 3 (a
      counterexample: 2 x 2 by nature). Wrong variant rejected: eigenvalue lambda + nu.
  (3) uncentered activations a with mean m and covariance Sigma, a_bar = (a, 1), m_bar = (m, 1),
      A_bar = E[a_bar a_bar^T] = m_bar m_bar^T + P^T Sigma P (P drops the homogeneous coordinate):
      m_bar^T A_bar m_bar / m_bar^T m_bar = nu + m^T Sigma m / nu >= nu = ||m||^2 + 1, so A_bar's top
      eigenvalue is at least nu (exactly nu, eigenvector m_bar, when Sigma = 0); for G = A_bar (x) S,
      (m_bar m_bar^T (x) S)(m_bar (x) v) = nu lambda (m_bar (x) v) for every eigenpair (lambda, v) of S: up to
      M eigenvalues nu lambda_i with eigenvectors m_bar (x) v. Wrong variant rejected: nu = ||m||^2.
"""

import sympy as sp
from _identity import check, check_nonnegative, check_words, finish, refute
from sympy.matrices.expressions.kronecker import KroneckerProduct as kron, combine_kronecker

a, b, D, M = sp.symbols("a b D M", integer=True, positive=True)
lam, nu = sp.symbols("lambda nu", real=True)
QA, DA, A = (sp.MatrixSymbol(name, a, a) for name in ("Q_A", "D_A", "A"))
QB, DB, B = (sp.MatrixSymbol(name, b, b) for name in ("Q_B", "D_B", "B"))
r = sp.MatrixSymbol("r", a, 1)
s = sp.MatrixSymbol("s", b, 1)


def kron_reduce(facts):
    """Mixed-product rule, then the hypotheses ``facts`` (exact subexpressions), then evaluation."""
    def reduce(expr):
        expr = sp.expand(expr)
        terms = expr.args if isinstance(expr, sp.MatAdd) else (expr,)  # combine_kronecker fails on some sums
        return sp.simplify(sp.MatAdd(*(combine_kronecker(t).subs(facts).doit() for t in terms)).doit())

    return reduce


# (1) symmetric factors
sym = {QA * DA * QA.T: A, QB * DB * QB.T: B, QA.T * QA: sp.Identity(a), QB.T * QB: sp.Identity(b)}
Q = kron(QA, QB)
check("(Q_A (x) Q_B)(D_A (x) D_B)(Q_A (x) Q_B)^T = A (x) B", Q * kron(DA, DB) * Q.T - kron(A, B), simplify=kron_reduce(sym))
check("(Q_A (x) Q_B)^T (Q_A (x) Q_B) = I", Q.T * Q - sp.Identity(a * b), simplify=kron_reduce(sym))

# (2) any A, B
eig = {A * r: lam * r, B * s: nu * s}
check("(A (x) B)(r (x) s) = lambda nu (r (x) s)", kron(A, B) * kron(r, s) - lam * nu * kron(r, s), simplify=kron_reduce(eig))
refute("(A (x) B)(r (x) s) = (lambda + nu)(r (x) s)", kron(A, B) * kron(r, s) - (lam + nu) * kron(r, s),
       simplify=kron_reduce(eig))
PA, PB = sp.MatrixSymbol("P_A", a, a), sp.MatrixSymbol("P_B", b, b)
diagonalizable = {PA * DA * PA.I: A, PB * DB * PB.I: B}
P = kron(PA, PB)
check("A (x) B = (P_A (x) P_B)(D_A (x) D_B)(P_A (x) P_B)^-1 (inverse of a Kronecker product: (x) of inverses)",
      P * kron(DA, DB) * kron(PA.I, PB.I) - kron(A, B), simplify=kron_reduce(diagonalizable))
check("(P_A (x) P_B)(P_A^-1 (x) P_B^-1) = I", P * kron(PA.I, PB.I) - sp.Identity(a * b), simplify=kron_reduce({}))
J = sp.Matrix([[0, 1], [0, 0]])
dim_J, dim_JJ = len(J.nullspace()), len(sp.kronecker_product(J, J).nullspace())
print(f"defective J: dim null(J) = {dim_J}, dim null(J (x) J) = {dim_JJ}; products of eigenvectors span {dim_J**2}")
check("defective: dim null(J (x) J) - dim span(products of eigenvectors) = 3 - 1", (dim_JJ - dim_J**2) - 2)

# (3) the outlier eigenvalue: m_bar = P^T m + e, with P = [I_D, 0] and e the homogeneous coordinate
m = sp.MatrixSymbol("m", D, 1)
Pd = sp.MatrixSymbol("P", D, D + 1)
e = sp.MatrixSymbol("e", D + 1, 1)
Sigma = sp.MatrixSymbol("Sigma", D, D)
q = sp.Symbol("q", nonnegative=True)  # m^T Sigma m >= 0 (Sigma is a covariance)
mm = sp.Symbol("mm", nonnegative=True)  # ||m||^2
nu_m = sp.Symbol("nu", positive=True)
blocks = {(Pd, Pd.T): sp.Identity(D), (Pd, e): sp.ZeroMatrix(D, 1), (e.T, e): 1, (m.T, m): mm, (m.T, Sigma, m): q}
mbar = Pd.T * m + e
check_words("P m_bar = m", Pd * mbar - m, blocks)
check_words("nu = m_bar^T m_bar = ||m||^2 + 1", mbar.T * mbar - (mm + 1) * sp.Identity(1), blocks)
refute("nu = ||m||^2 (the homogeneous coordinate forgotten)", mbar.T * mbar - mm * sp.Identity(1), rules=blocks)
Abar = mbar * mbar.T + Pd.T * Sigma * Pd
check_words("m_bar^T A_bar m_bar = nu^2 + m^T Sigma m", mbar.T * Abar * mbar - ((mm + 1) ** 2 + q) * sp.Identity(1), blocks)
check_nonnegative("Rayleigh quotient - nu = m^T Sigma m / nu >= 0, so lambda_max(A_bar) >= nu", (nu_m**2 + q) / nu_m - nu_m, q / nu_m)
mb = sp.MatrixSymbol("m_bar", D + 1, 1)  # with m_bar^T m_bar = nu, just derived
S_ = sp.MatrixSymbol("S", M, M)
v = sp.MatrixSymbol("v", M, 1)
outlier = {mb.T * mb: nu_m * sp.Identity(1), S_ * v: lam * v}
check("(m_bar m_bar^T (x) S)(m_bar (x) v) = nu lambda (m_bar (x) v)",
      kron(mb * mb.T, S_) * kron(mb, v) - nu_m * lam * kron(mb, v), simplify=kron_reduce(outlier))

finish()
