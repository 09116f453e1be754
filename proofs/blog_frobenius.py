"""Blog (Relevance and Investigation): Frobenius norms, Frobenius penalties, singular values, rank.

Derives and checks symbolically:
1. ||W||_F^2 = trace(W^T W) = sum of squared singular values (2 x 2, W = U diag(s1, s2) V^T).
2. Depth 2, scalar per singular direction: a^2 + b^2 - 2 a b = (a - b)^2 >= 0, so
   min {a^2 + b^2 : a b = p} = 2 p (balanced a = b = sqrt(p)); the factor penalty is the nuclear norm.
3. Minimiser of 1/2 (p - y)^2 + lam p over p >= 0 is p = y - lam when y > lam (soft threshold), and
   the single-matrix ridge minimiser of 1/2 (w - y)^2 + lam/2 w^2 is w = y / (1 + lam) (never 0).
Exits 1 if an identity fails to simplify to zero.
"""

import sys

import sympy as sp
from _identity import check, failures





a, b, s1, s2 = sp.symbols("a b s1 s2", positive=True)
U = sp.Matrix([[sp.cos(a), -sp.sin(a)], [sp.sin(a), sp.cos(a)]])
V = sp.Matrix([[sp.cos(b), -sp.sin(b)], [sp.sin(b), sp.cos(b)]])
W = U * sp.diag(s1, s2) * V.T
check("||W||_F^2 = s1^2 + s2^2", sum(x ** 2 for x in W) - (s1 ** 2 + s2 ** 2))
check("||W||_F^2 - (s1 + s2)^2 = -2 s1 s2 (the stated 'sum of singular values' differs)",
      sum(x ** 2 for x in W) - (s1 + s2) ** 2 + 2 * s1 * s2)

x, y_, p, lam, y = sp.symbols("x y_ p lam y", positive=True)
check("a^2 + b^2 - 2ab = (a-b)^2", a ** 2 + b ** 2 - 2 * a * b - (a - b) ** 2)
check("balanced a = b = sqrt(p) attains 2p", (sp.sqrt(p) ** 2 + sp.sqrt(p) ** 2) - 2 * p)
sol = sp.solve(sp.diff((p - y) ** 2 / 2 + lam * p, p), p)
check("stationary point of 1/2 (p-y)^2 + lam p is y - lam", sol[0] - (y - lam))
w = sp.symbols("w")
sol_w = sp.solve(sp.diff((w - y) ** 2 / 2 + lam * w ** 2 / 2, w), w)
check("ridge minimiser is y/(1+lam)", sol_w[0] - y / (1 + lam))

sys.exit(1 if failures else 0)
