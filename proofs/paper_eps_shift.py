"""The L2 and eps-shifted L2 objectives in (k) for WN and (m, v) for WS, and their gradients.

Source: Li, Chen, Xia, Yang (001_b5a1945cc2ea1296.txt), Eqs. (10), (13), (25)-(28). Derives, and
exits 1 if an identity fails to simplify to zero:
  (1) plain L2: d/dk (1/2 lam k^2) = lam k > 0 on k > 0: no stationary point, the infimum 0 is not
      attained (no global minimum, Eq. (4));
  (2) eps-shifted (Eq. 25): d/dk = lam (k - eps), zero only at k = eps, second derivative lam > 0:
      the global minimum over k > 0 is k = eps (eps > 0), with value 0;
  (3) WS (Eq. 26): gradient in (m, v) vanishes only at (0, eps), Hessian lam n I positive definite;
  (4) Eq. (27) and Eq. (28) are the gradients of the penalties in W (n = 3, symbolic);
  (5) n (m^2 + v^2) = ||W||^2 (eps = 0 is the plain L2) and ||B||^2 = n (so ||B|| = sqrt n, not n).
"""

import sys

import sympy as sp
from _identity import check, failures





lam, eps, k, v = sp.symbols("lambda epsilon k v", positive=True)
m = sp.Symbol("m", real=True)

plain = lam * k**2 / 2
print("plain L2: d/dk =", sp.diff(plain, k), "; stationary points on k > 0:", sp.solve(sp.diff(plain, k), k))
check("plain L2: solve(d/dk = 0) on k > 0 is empty", len(sp.solve(sp.diff(plain, k), k)))

shifted = lam * (k - eps) ** 2 / 2
crit = sp.solve(sp.diff(shifted, k), k)
print("eps-shifted: d/dk =", sp.factor(sp.diff(shifted, k)), "; stationary points:", crit)
check("eps-shifted: the only stationary point is k = eps", (len(crit) - 1) + (crit[0] - eps) ** 2)
check("eps-shifted: second derivative - lam", sp.diff(shifted, k, 2) - lam)
check("eps-shifted: value at k = eps", shifted.subs(k, eps))

n = sp.Symbol("n", positive=True, integer=True)
ws = lam * n * (m**2 + (v - eps) ** 2) / 2
sol = sp.solve([sp.diff(ws, m), sp.diff(ws, v)], [m, v], dict=True)
print("WS eps-shifted: stationary points", sol)
check("WS: stationary point is (m, v) = (0, eps)", len(sol) - 1 + sol[0][m] ** 2 + (sol[0][v] - eps) ** 2)
check("WS: Hessian - lam n I", (sp.hessian(ws, (m, v)) - lam * n * sp.eye(2)).norm() ** 2)

N = 3
w = sp.Matrix(sp.symbols("w1:4", real=True))
norm = sp.sqrt(w.dot(w))
pen_wn = lam * (norm - eps) ** 2 / 2
grad_wn = sp.Matrix([sp.diff(pen_wn, wi) for wi in w])
check("Eq. (27): grad - lam (1 - eps/||W||) W", sp.simplify(grad_wn - lam * (1 - eps / norm) * w).norm() ** 2)

mean = sum(w) / N
c = w - mean * sp.ones(N, 1)
std = sp.sqrt(c.dot(c) / N)
pen_ws = lam * N * (mean**2 + (std - eps) ** 2) / 2
grad_ws = sp.Matrix([sp.diff(pen_ws, wi) for wi in w])
eq28 = lam * ((1 - eps / std) * w + eps / std * mean * sp.ones(N, 1))
check("Eq. (28): grad - lam ((1 - eps/v) W + eps/v mean)", sp.simplify(grad_ws - eq28).norm() ** 2)
check("Eq. (28) without the mean term is wrong",
      sp.simplify(grad_ws - lam * (1 - eps / std) * w)[0], expect_zero=False)

check("n (m^2 + v^2) - ||W||^2", sp.expand(N * (mean**2 + std**2) - w.dot(w)))
b = c / std
check("||B||^2 - n", sp.simplify(b.dot(b) - N))
check("||B||^2 - n^2 (Eq. (26) as printed) is not zero", sp.simplify(b.dot(b) - N**2), expect_zero=False)

sys.exit(1 if failures else 0)
