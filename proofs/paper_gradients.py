"""Jacobians of WN and WS (with and without eps) and what Eqs. (14), (16), (24) keep of them.

Source: Li, Chen, Xia, Yang (001_b5a1945cc2ea1296.txt), Eqs. (14)-(16), (23)-(24). Derives for a
symbolic weight with n = 3 entries, and exits 1 if any identity fails to simplify to zero:
  (1) d(W/||W||)/dW = (I - A A^T)/||W||; Eq. (14)'s element-wise factor is its diagonal only, and
      the off-diagonal part is not zero (so Eq. (14) is not the gradient);
  (2) d((W - m)/v)/dW = (I - 11^T/n - B B^T/n)/v; Eq. (16)'s factor is its diagonal only;
  (3) with eps (Eq. 23): J = (I - 11^T/n - c c^T/(n v (v+eps)))/(v+eps); its diagonal is Eq. (24);
      J c = eps/(v+eps)^2 c and J u = u/(v+eps) for u orthogonal to 1 and c, so ||J|| = 1/(v+eps) <= 1/eps;
  (4) the gradients scale as 1/c under W -> c W (c > 0): the eta/||W|| law.
"""

import sys

import sympy as sp
from _identity import check, failures





def zero_matrix(m):
    return sp.simplify(m) == sp.zeros(*m.shape)


n = 3
w = sp.Matrix(sp.symbols("w1:4", real=True))
eye = sp.eye(n)
ones = sp.ones(n, 1)

# (1) WN
k = sp.sqrt(w.dot(w))
a = w / k
J = a.jacobian(w)
check("WN: J - (I - A A^T)/||W||", sp.simplify(J - (eye - a * a.T) / k).norm() ** 2)
eq14_diag = sp.Matrix([1 / k - w[i] ** 2 / k**3 for i in range(n)])
check("WN: diag(J) - Eq. (14) factor", sp.simplify(sp.Matrix([J[i, i] for i in range(n)]) - eq14_diag).norm() ** 2)
check("WN: off-diagonal J[0,1] (Eq. (14) drops it)", J[0, 1], expect_zero=False)

# (2) WS
mean = sum(w) / n
c = w - mean * ones
v = sp.sqrt(c.dot(c) / n)
b = c / v
Jws = b.jacobian(w)
check("WS: J - (I - 11^T/n - B B^T/n)/v", sp.simplify(Jws - (eye - ones * ones.T / n - b * b.T / n) / v).norm() ** 2)
eq16_diag = sp.Matrix([(1 - sp.Rational(1, n) - c[i] ** 2 / c.dot(c)) / v for i in range(n)])
check("WS: diag(J) - Eq. (16) factor", sp.simplify(sp.Matrix([Jws[i, i] for i in range(n)]) - eq16_diag).norm() ** 2)
check("WS: off-diagonal J[0,1] (Eq. (16) drops it)", Jws[0, 1], expect_zero=False)

# (3) WS with eps
eps = sp.Symbol("epsilon", positive=True)
weps = c / (v + eps)
Je = weps.jacobian(w)
closed = (eye - ones * ones.T / n - c * c.T / (n * v * (v + eps))) / (v + eps)
check("WS+eps: J - closed form", sp.simplify(Je - closed).norm() ** 2)
eq24 = sp.Matrix([(1 - sp.Rational(1, n) - c[i] ** 2 / (n * (v + eps) * v)) / (v + eps) for i in range(n)])
check("WS+eps: diag(J) - Eq. (24)", sp.simplify(sp.Matrix([closed[i, i] for i in range(n)]) - eq24).norm() ** 2)
check("WS+eps: J c - eps/(v+eps)^2 c", sp.simplify(closed * c - eps / (v + eps) ** 2 * c).norm() ** 2)
u = c.cross(ones)  # orthogonal to both 1 and c (n = 3)
check("WS+eps: J u - u/(v+eps) for u _|_ 1, c", sp.simplify(closed * u - u / (v + eps)).norm() ** 2)
check("WS+eps: c c^T term's eigenvalue ||c||^2/(n v (v+eps)) - v/(v+eps)",
      c.dot(c) / (n * v * (v + eps)) - v / (v + eps))

# (4) scale law
cs = sp.Symbol("c", positive=True)
check("WN: J(cW) - J(W)/c", sp.simplify(J.subs({wi: cs * wi for wi in w}, simultaneous=True) - J / cs).norm() ** 2)
check("WS: J(cW) - J(W)/c", sp.simplify(Jws.subs({wi: cs * wi for wi in w}, simultaneous=True) - Jws / cs).norm() ** 2)

# sanity: a wrong law (1/c^2) must be rejected
check("sanity: WN J(cW) - J(W)/c^2 is not zero",
      sp.simplify(J.subs({wi: cs * wi for wi in w}, simultaneous=True) - J / cs**2)[0, 0], expect_zero=False)

sys.exit(1 if failures else 0)
