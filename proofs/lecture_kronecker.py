"""Kronecker eigen-decomposition (Lecture 5, slide "Internal Covariate Shift").

Derives, and exits 1 if any identity fails to simplify to zero:
  (1) mixed product: (A (x) B)(r (x) s) = (A r) (x) (B s) for generic 2x2 A, B and vectors r, s;
  (2) symmetric A = Q_A D_A Q_A^T, B = Q_B D_B Q_B^T (rotations by generic angles):
      A (x) B = (Q_A (x) Q_B)(D_A (x) D_B)(Q_A (x) Q_B)^T and Q_A (x) Q_B is orthogonal, so the
      eigenpairs are (lambda_i nu_j, r_i (x) s_j);
  (3) non-symmetric, diagonalizable: A (x) B = (P_A (x) P_B)(D_A (x) D_B)(P_A (x) P_B)^{-1};
  (4) defective: J = [[0,1],[0,0]] has null space span(e1), but J (x) J has a 3-dimensional null
      space, so products of eigenvectors do not span it (the slide's eigenvector statement needs
      diagonalizable factors).
"""

import sys

import sympy as sp
from _identity import check, failures
from sympy import kronecker_product as kron





a = sp.Matrix(2, 2, sp.symbols("a11 a12 a21 a22"))
b = sp.Matrix(2, 2, sp.symbols("b11 b12 b21 b22"))
r = sp.Matrix(sp.symbols("r1 r2"))
s = sp.Matrix(sp.symbols("s1 s2"))
check("(A(x)B)(r(x)s) - (Ar)(x)(Bs)", kron(a, b) * kron(r, s) - kron(a * r, b * s))

t1, t2 = sp.symbols("theta phi", real=True)
l1, l2, n1, n2 = sp.symbols("lambda1 lambda2 nu1 nu2", real=True)


def rot(t):
    return sp.Matrix([[sp.cos(t), -sp.sin(t)], [sp.sin(t), sp.cos(t)]])


qa, qb = rot(t1), rot(t2)
A = qa * sp.diag(l1, l2) * qa.T
B = qb * sp.diag(n1, n2) * qb.T
q = kron(qa, qb)
check("A(x)B - (Qa(x)Qb)(Da(x)Db)(Qa(x)Qb)^T", kron(A, B) - q * kron(sp.diag(l1, l2), sp.diag(n1, n2)) * q.T)
check("(Qa(x)Qb)^T (Qa(x)Qb) - I", q.T * q - sp.eye(4))
for i, li in enumerate((l1, l2)):
    for j, nj in enumerate((n1, n2)):
        v = kron(qa[:, i], qb[:, j])
        check(f"(A(x)B) (r{i+1}(x)s{j+1}) - lambda{i+1} nu{j+1} (r{i+1}(x)s{j+1})", kron(A, B) * v - li * nj * v)

pa = sp.Matrix(2, 2, sp.symbols("p11 p12 p21 p22"))
pb = sp.Matrix(2, 2, sp.symbols("g11 g12 g21 g22"))
An, Bn = pa * sp.diag(l1, l2) * pa.inv(), pb * sp.diag(n1, n2) * pb.inv()
P = kron(pa, pb)
check("non-symmetric: A(x)B - (Pa(x)Pb)(Da(x)Db)(Pa(x)Pb)^-1", kron(An, Bn) - P * kron(sp.diag(l1, l2), sp.diag(n1, n2)) * P.inv())

J = sp.Matrix([[0, 1], [0, 0]])
null_j = J.nullspace()
null_jj = kron(J, J).nullspace()
print(f"defective J: dim null(J) = {len(null_j)}, dim null(J (x) J) = {len(null_jj)}; "
      f"products of eigenvectors span dim {len(null_j) ** 2}")
if not (len(null_j) == 1 and len(null_jj) == 3):
    failures.append("defective counterexample")

# Sanity: the Kronecker *sum* of eigenvalues must be rejected.
v = kron(qa[:, 0], qb[:, 0])
if sp.simplify(kron(A, B) * v - (l1 + n1) * v) == sp.zeros(4, 1):
    failures.append("sanity: lambda + nu wrongly accepted")
else:
    print("ok   sanity: lambda_i + nu_j is rejected")

if failures:
    print(f"{len(failures)} identities failed: {failures}")
    sys.exit(1)
print("all identities hold")
