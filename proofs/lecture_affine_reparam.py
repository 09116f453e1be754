"""Affine reparameterization, the block formula for [R R^T]^{-1}, and the batch-centering gradient
(Lecture 5, slides "ICS and Invariance" and "A Wrinkle").

Derives (D = 2 inputs, M = 2 outputs, generic symbols), and exits 1 if any identity fails:
  (1) W~ a~ + b~ = W a + b for W~ = W S, b~ = b + W m, a~ = S^{-1}(a - m), S = Sigma^{1/2} symmetric;
  (2) column-major vec: theta~ = R^{-1} theta with the slide's R^{-1} = [[S (x) I, 0], [m^T (x) I, I]];
  (3) [R R^T]^{-1} = R^{-T} R^{-1} = [[(Sigma + m m^T) (x) I, m (x) I], [m^T (x) I, I]] (the slide's
      block formula, with its "1" read as I_M);
  (4) for a batch of N = 3 inputs with mean m and biased covariance Sigma, E[(a,1)(a,1)^T] (x) I_M
      equals that block: the formula is the exact Gauss-Newton matrix of the squared loss;
  (5) batch centering Z = (I - 11^T/N) A W^T with any J = sum_n h(z_n): dJ/dW = S_bar^T A~ with
      S_bar = dJ/dZ and A~ = (I - 11^T/N) A.
"""

import sys

import sympy as sp
from _identity import check, failures
from sympy import kronecker_product as kron





D, M = 2, 2
s11, s12, s22 = sp.symbols("s11 s12 s22", real=True)
S = sp.Matrix([[s11, s12], [s12, s22]])  # Sigma^{1/2}, symmetric
Sigma = S * S
m = sp.Matrix(sp.symbols("m1 m2", real=True))
W = sp.Matrix(M, D, sp.symbols("w11 w12 w21 w22", real=True))
b = sp.Matrix(sp.symbols("b1 b2", real=True))
a = sp.Matrix(sp.symbols("x1 x2", real=True))
I = sp.eye(M)


def vec(X):
    return sp.Matrix([X[i, j] for j in range(X.shape[1]) for i in range(X.shape[0])])


Wt, bt = W * S, b + W * m
at = S.inv() * (a - m)
check("W~ a~ + b~ - (W a + b)", Wt * at + bt - (W * a + b))

R_inv = sp.BlockMatrix([[kron(S, I), sp.zeros(D * M, M)], [kron(m.T, I), I]]).as_explicit()
theta = sp.Matrix.vstack(vec(W), b)
theta_t = sp.Matrix.vstack(vec(Wt), bt)
check("R^{-1} theta - theta~ (column-major vec)", R_inv * theta - theta_t)

block = sp.BlockMatrix([[kron(Sigma + m * m.T, I), kron(m, I)], [kron(m.T, I), I]]).as_explicit()
check("R^{-T} R^{-1} - slide's block", R_inv.T * R_inv - block)

# row-major vec (torch's flatten) would need I (x) S instead: show the slide's order fails there
vec_r = sp.Matrix([W[i, j] for i in range(M) for j in range(D)])
vec_rt = sp.Matrix([Wt[i, j] for i in range(M) for j in range(D)])
if sp.simplify(kron(S, I) * vec_r - vec_rt) == sp.zeros(D * M, 1):
    failures.append("sanity: row-major vec wrongly accepted with S (x) I")
else:
    print("ok   sanity: the slide's S (x) I is the column-major convention (row-major needs I (x) S)")

N = 3
xs = [sp.Matrix(sp.symbols(f"a{n}_1:{D + 1}", real=True)) for n in range(N)]
mean = sum(xs, sp.zeros(D, 1)) / N
cov = sum(((x - mean) * (x - mean).T for x in xs), sp.zeros(D, D)) / N
second = sum((sp.Matrix.vstack(x, sp.Matrix([1])) * sp.Matrix.vstack(x, sp.Matrix([1])).T for x in xs),
             sp.zeros(D + 1, D + 1)) / N
block_data = sp.BlockMatrix([[kron(cov + mean * mean.T, I), kron(mean, I)], [kron(mean.T, I), I]]).as_explicit()
check("E[(a,1)(a,1)^T] (x) I - block(batch mean, batch covariance)", kron(second, I) - block_data)

# (5) batch-centering gradient, one output unit (M = 1), N = 3, D = 2, generic h
A = sp.Matrix([[xs[n][j] for j in range(D)] for n in range(N)])
w = sp.Matrix(1, D, sp.symbols("v1 v2", real=True))
C = sp.eye(N) - sp.ones(N, N) / N
h = sp.Function("h")
Z = C * A * w.T
J = sum(h(Z[n]) for n in range(N))
grad = sp.Matrix([[sp.diff(J, w[0, j]) for j in range(D)]])
zs = sp.symbols("z1:4")
S_bar = sp.Matrix([sp.diff(h(zs[n]), zs[n]).subs(zs[n], Z[n]) for n in range(N)])
check("dJ/dW - S_bar^T A~", grad - S_bar.T * (C * A))
direct = S_bar.T * A  # the direct path alone
if sp.simplify(grad - direct) == sp.zeros(1, D):
    failures.append("sanity: direct path wrongly accepted")
else:
    print("ok   sanity: the direct path S_bar^T A alone is rejected")

if failures:
    print(f"{len(failures)} identities failed: {failures}")
    sys.exit(1)
print("all identities hold")
