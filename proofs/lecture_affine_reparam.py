"""Affine reparameterization, the block formula for [R R^T]^-1, and the batch-centering gradient.

Source: lecture 002_cd849d122e313ad8.txt, slide "ICS and Invariance" (a~ = Sigma^(-1/2)(a - m),
W~ = W Sigma^(1/2), b~ = b + W m; R^-1 and [R R^T]^-1 as block Kronecker matrices, "supposed to
approximate H") and slide "A Wrinkle" (W_bar = S_bar^T A without, S_bar^T A~ with batch centering; the
statistics path is responsible).

Claims: L5-affine-reparam, L5-batch-centering-grad

Sizes are symbolic: W is M x D, S = Sigma^(1/2) is D x D symmetric and invertible, a batch has N rows;
entries are indexed over symbolic ranges (0-based, as sympy indexes matrices), sums are expanded with
_identity.expand_sums. Derived:
  (1) W~ a~ + b~ = W a + b (MatrixSymbols, S S^-1 = I).
  (2) column-major vec: the (j, i) entry of (S (x) I_M) vec(W) is sum_l S[j, l] W[i, l] = (W S^T)[i, j]
      = W~[i, j] because S is symmetric, and the i-th entry of (m^T (x) I_M) vec(W) plus b_i is b~_i:
      R^-1 theta = theta~ as on the slide. Wrong variant rejected: row-major vec with S (x) I_M (the
      entry becomes (S W)-shaped, not W S).
  (3) R^-T R^-1 = [[(Sigma + m m^T) (x) I, m (x) I], [m^T (x) I, I]] by block multiplication and the
      mixed-product rule (Sigma = S^T S), i.e. the slide's [R R^T]^-1 with its "1" read as I_M.
      (sympy's combine_kronecker doubles a sum of two Kronecker products, so each term is combined
      separately.) Wrong variant rejected: Sigma (x) I in the corner (m m^T dropped).
  (4) with batch mean m and biased covariance Sigma over N rows, E[a_d a_e] = Sigma_de + m_d m_e, so
      E[(a, 1)(a, 1)^T] (x) I_M is that block: the exact Gauss-Newton matrix of a linear layer under the
      squared loss. Wrong variant rejected: the unbiased covariance (N - 1) in place of N.
  (5) batch centering z_n = sum_d (a_nd - m_d) w_d, J = sum_n h(z_n) for any smooth h:
      dJ/dw_e = sum_n h'(z_n) (a_ne - m_e) = (S_bar^T A~)_e. Wrong variant rejected: the direct path
      S_bar^T A alone (it misses the statistics path's -m_e sum_n h'(z_n)).
"""

import sympy as sp
from _identity import check, check_words, expand_sums, finish, refute
from sympy.matrices.expressions.kronecker import KroneckerProduct as kron, combine_kronecker

M, D, N = sp.symbols("M D N", integer=True, positive=True)
i, j, l, k, n, d, e, rows_after, cols_after = sp.symbols("i j l k n d e rows_after cols_after", integer=True, nonnegative=True)
in_range = {M: i + 1 + rows_after, D: e + 1 + cols_after}  # 0 <= i <= M - 1 and 0 <= e <= D - 1, evident to sympy

# (1) the reparameterized layer computes the same function
Wm = sp.MatrixSymbol("W", M, D)
Sm = sp.MatrixSymbol("S", D, D)
mm = sp.MatrixSymbol("m", D, 1)
bm = sp.MatrixSymbol("b", M, 1)
am = sp.MatrixSymbol("a", D, 1)
check_words("W~ a~ + b~ = W a + b", (Wm * Sm) * (Sm.I * (am - mm)) + (bm + Wm * mm) - (Wm * am + bm),
            {(Sm, Sm.I): sp.Identity(D)})

# (2) R^-1 theta = theta~, entrywise; (X (x) Y)[p*rows(Y) + r, q*cols(Y) + c] = X[p, q] Y[r, c]
W, S, m, b = (sp.IndexedBase(name, real=True) for name in ("W", "S", "m", "b"))
vecW = lambda row, col: W[row, col]  # noqa: E731  vec(W)[col*M + row], column-major
top = sp.Sum(S[j, l] * sp.KroneckerDelta(i, k) * vecW(k, l), (k, 0, M - 1), (l, 0, D - 1)).subs(in_range).doit()
Wt_ij = sp.Sum(W[i, l] * S[l, j], (l, 0, D - 1)).subs(in_range)  # (W S)[i, j]
symmetric = lambda expr: expr.replace(lambda x: isinstance(x, sp.Indexed) and x.base == S,  # noqa: E731
                                      lambda x: S[tuple(sorted(x.indices, key=sp.default_sort_key))])
check("(S (x) I_M) vec(W) at (j, i) = (W S)[i, j] (S symmetric)", expand_sums(symmetric(top) - symmetric(Wt_ij)))
bottom = sp.Sum(m[l] * sp.KroneckerDelta(i, k) * vecW(k, l), (k, 0, M - 1), (l, 0, D - 1)).subs(in_range).doit() + b[i]
check("(m^T (x) I_M) vec(W) + b at i = b~_i = b_i + (W m)_i",
      expand_sums(bottom - (b[i] + sp.Sum(W[i, l] * m[l], (l, 0, D - 1)).subs(in_range))))
# row-major vec (torch's flatten) with the same block: a 2 x 2 counterexample suffices to reject it
Wx = sp.Matrix(2, 2, sp.symbols("w00 w01 w10 w11"))
Sx = sp.Matrix(2, 2, sp.symbols("s00 s01 s01 s11"))  # symmetric
rowvec = lambda X: sp.Matrix([X[r, c] for r in range(2) for c in range(2)])  # noqa: E731
refute("row-major vec with S (x) I_M (torch's flatten)", sp.kronecker_product(Sx, sp.eye(2)) * rowvec(Wx) - rowvec(Wx * Sx),
       witness={**dict(zip(Wx, (1, 2, 3, 4))), **{Sx[0, 0]: 1, Sx[0, 1]: 2, Sx[1, 1]: 3}})

# (3) R^-T R^-1, block by block
Id = sp.Identity(M)
Sigma = sp.MatrixSymbol("Sigma", D, D)
R_inv = sp.BlockMatrix([[kron(Sm, Id), sp.ZeroMatrix(D * M, M)], [kron(mm.T, Id), Id]])
product = sp.block_collapse(R_inv.T * R_inv)
target = [[kron(Sigma + mm * mm.T, Id), kron(mm, Id)], [kron(mm.T, Id), Id]]


def kron_terms(expr):
    """Expand sums inside Kronecker factors, combine each product term separately, then add."""
    expr = sp.expand(expr).expand(kroneckerproduct=True)
    terms = expr.args if isinstance(expr, sp.MatAdd) else (expr,)
    combined = [combine_kronecker(t).expand(kroneckerproduct=True) for t in terms]
    return sp.MatAdd(*combined).subs(Sm.T * Sm, Sigma).doit()


for (row, col), name in zip(((0, 0), (0, 1), (1, 0), (1, 1)), ("(Sigma + m m^T) (x) I", "m (x) I", "m^T (x) I", "I_M")):
    check(f"R^-T R^-1 block ({row}, {col}) = {name}", kron_terms(product.blocks[row, col] - target[row][col]), simplify=lambda x: x)
refute("R^-T R^-1 block (0, 0) = Sigma (x) I", kron_terms(product.blocks[0, 0] - kron(Sigma, Id)), simplify=lambda x: x)

# (4) the Gauss-Newton block from batch statistics
A = sp.IndexedBase("A", real=True)  # A[n, d]: N rows of activations
bb = sp.Symbol("bb", integer=True, nonnegative=True)  # a second batch index, where n is free
mean = lambda col, dummy=n: sp.Sum(A[dummy, col], (dummy, 0, N - 1)) / N  # noqa: E731  (one dummy name: sums compare)
second = sp.Sum(A[n, d] * A[n, e], (n, 0, N - 1)) / N
cov = sp.Sum((A[n, d] - mean(d)) * (A[n, e] - mean(e)), (n, 0, N - 1)) / N
check("E[a_d a_e] = Sigma_de + m_d m_e (biased covariance)", expand_sums(second - (cov + mean(d) * mean(e))))
refute("E[a_d a_e] = Sigma_de + m_d m_e with the unbiased covariance",
       expand_sums(second - (cov * N / (N - 1) + mean(d) * mean(e))),
       witness={N: 2, d: 0, e: 0, A[0, 0]: 1, A[1, 0]: 3})

# (5) the batch-centering gradient: by the chain rule dJ/dw_e = sum_n h'(z_n) dz_n/dw_e; the centered
# pre-activation z_n = y_n - mean_b y_b with y_n = sum_d a_nd w_d has a direct path (y_n) and a statistics
# path (the batch mean of y, which depends on w)
w = sp.IndexedBase("w", real=True)
y = lambda row: sp.Sum(A[row, d] * w[d], (d, 0, D - 1))  # noqa: E731
z = lambda row: y(row) - sp.Sum(y(bb), (bb, 0, N - 1)) / N  # noqa: E731
dz = sp.diff(z(n), w[e]).subs(in_range).doit()
check("dz_n/dw_e = a_ne - m_e, so dJ/dw_e = sum_n h'(z_n) (a_ne - m_e) = (S_bar^T A~)_e",
      expand_sums(dz - (A[n, e] - mean(e, bb))))
refute("dz_n/dw_e = a_ne (direct path only: W_bar = S_bar^T A)", expand_sums(dz - A[n, e]),
       witness={N: 2, n: 0, e: 0, A[0, 0]: 1, A[1, 0]: 3})

finish()
