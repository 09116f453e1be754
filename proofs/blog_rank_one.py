"""Blog (Norm Scaling): the rank-one correction, the init norms, and power iteration's rate.

Derives and checks symbolically:
1. With exact singular pairs, W' = W + (t - s1) u1 v1^T has singular values {t, s2, ...} and
   ||W'||_F^2 = ||W||_F^2 - s1^2 + t^2 (3 x 3 case with a general orthogonal parametrisation).
2. With approximate vectors, W' = [[t, rho], [0, f]] in suitable bases (block norms): the 2x2 norm
   satisfies max(t, f) <= N <= max(t, f) + rho and, for f < t,
   N = t + t rho^2 / (2 (t^2 - f^2)) + O(rho^4).
3. Scaled orthogonal init c Q (Q Q^T = I, m <= n, c = sqrt(m/n)): sigma = c, ||.||_F^2 = m c^2.
4. Power iteration, two components: tan theta_k = (s2/s1)^(2k) tan theta_0 exactly.
Exits 1 if an identity fails to simplify to zero.
"""

import sys

import sympy as sp
from _identity import check, failures





# 1. exact correction, 3 x 3 with rotations U, V (one angle each suffices for the identity)
a, b, s1, s2, s3, t = sp.symbols("a b s1 s2 s3 t", positive=True)
U = sp.rot_axis3(a)
V = sp.rot_axis1(b)
S = sp.diag(s1, s2, s3)
W = U * S * V.T
u1, v1 = U[:, 0], V[:, 0]
Wc = W + (t - s1) * u1 * v1.T
check("W' = U diag(t, s2, s3) V^T", sp.simplify(Wc - U * sp.diag(t, s2, s3) * V.T))
fro = lambda M: sum(x ** 2 for x in M)
check("||W'||_F^2 = ||W||_F^2 - s1^2 + t^2", fro(Wc) - (fro(W) - s1 ** 2 + t ** 2))

# 2. the 2x2 block bound
rho, f = sp.symbols("rho f", nonnegative=True)
B = sp.Matrix([[t, rho], [0, f]])
G = B.T * B
lam = (G.trace() + sp.sqrt(G.trace() ** 2 - 4 * G.det())) / 2  # largest eigenvalue of B^T B
check("lambda is an eigenvalue of B^T B", sp.expand((G - lam * sp.eye(2)).det()))
# N^2 <= (max(t,f) + rho)^2: for t >= f, (t + rho)^2 - lam >= 0  <=>  2 (t+rho)^2 - tr >= sqrt(tr^2 - 4 det)
lhs = 2 * (t + rho) ** 2 - G.trace()
gap = sp.expand(lhs ** 2 - (G.trace() ** 2 - 4 * G.det()))
# gap = 4 (t+rho)^2 [(t+rho)^2 - tr] + 4 det ; with f <= t substitute f = t - d, d >= 0
d = sp.symbols("d", nonnegative=True)
gap_d = sp.factor(sp.expand(gap.subs(f, t - d)))
print("   (t+rho)^2 bound margin with f = t - d:", gap_d)
check("margin is a polynomial with nonnegative coefficients in (t, rho, d) up to d <= t",
      0 if all(c >= 0 for c in sp.Poly(sp.expand(gap.subs(f, t - d).subs(t, d + sp.Symbol("e", nonnegative=True))),
                                         rho, d, sp.Symbol("e", nonnegative=True)).coeffs()) else 1)
check("lhs = 2(t+rho)^2 - tr >= 0 for f <= t (t = f + e)",
      0 if all(c >= 0 for c in sp.Poly(sp.expand(lhs.subs(t, f + sp.Symbol("e", nonnegative=True))),
                                         rho, f, sp.Symbol("e", nonnegative=True)).coeffs()) else 1)
# lambda_approx = t^2 + t^2 rho^2 / (t^2 - f^2) is a root of det(G - lambda I) up to O(rho^4):
lam_approx = t ** 2 + t ** 2 * rho ** 2 / (t ** 2 - f ** 2)
charpoly = sp.expand(sp.together((G - lam_approx * sp.eye(2)).det() * (t ** 2 - f ** 2) ** 2))
poly = sp.Poly(charpoly, rho)
low = sum(poly.coeff_monomial(rho ** j) * rho ** j for j in range(4))
check("det(G - lambda_approx I) = O(rho^4) (orders rho^0..rho^3 vanish)", sp.expand(low))
N_series = sp.series(sp.sqrt(lam_approx), rho, 0, 4).removeO()
check("sqrt(lambda_approx) = t + t rho^2/(2 (t^2 - f^2)) + O(rho^4)",
      N_series - (t + t * rho ** 2 / (2 * (t ** 2 - f ** 2))))
check("N >= t (lambda >= t^2): lambda - t^2 at rho = 0, f <= t", sp.simplify(lam.subs({rho: 0, f: t / 2}) - t ** 2))

# 3. scaled orthogonal init: Q with orthonormal rows (m = 2, n = 3 generic example)
m_, n_ = 2, 3
Q = (sp.rot_axis3(a) * sp.rot_axis1(b))[:m_, :]
c = sp.sqrt(sp.Rational(m_, n_))
check("(cQ)(cQ)^T = (m/n) I", sp.simplify((c * Q) * (c * Q).T - sp.Rational(m_, n_) * sp.eye(m_)))
check("||cQ||_F^2 = min(m,n) m/n", sp.simplify(fro(c * Q) - m_ * sp.Rational(m_, n_)))

# 4. power iteration rate with two components
c1, c2, k = sp.symbols("c1 c2 k", positive=True)
tan_k = (c2 * s2 ** (2 * k)) / (c1 * s1 ** (2 * k))
check("tan theta_k = (s2/s1)^(2k) tan theta_0", sp.simplify(tan_k - (s2 / s1) ** (2 * k) * (c2 / c1)))

sys.exit(1 if failures else 0)
