"""Spectral Norm Scaling: power iteration on W^T W, the rank-one correction, and the init norms.

Source: blog 000_c4f6666b093bc660.txt, section "Norm Scaling" (initialisation times sqrt(d_k/d_{k-1});
power method on W_k^T W_k with u_1 = W_k v_1 / sigma_1; the update W_k + u_1 v_1^T (sigma* - sigma_1)
and the note after it), section "Scaling Effects on Spectral Norms" (subtracting the best rank-one
approximation decreases the spectral norm) and "Conclusion" (the other outer products untouched).

Claims: BLOG-power-gram, BLOG-power-rate, BLOG-rank1-spectrum, BLOG-rank1-caveat,
BLOG-rank1-decreases, BLOG-spectral-scaling, BLOG-rank1-error, BLOG-init-norms

Sizes are symbolic (W is m x n, MatrixSymbol) except in (5), whose 2 x 2 matrix holds the norms of
the four blocks and is 2 x 2 by construction. Hypotheses are stated as rewriting rules (e.g. W v = s u,
u^T u = 1) and are the only facts used. Derived, with t = sigma* the target:
  (1) from W v1 = s1 u1 and W^T u1 = s1 v1: W^T W v1 = s1^2 v1, so power iteration on W^T W finds
      the eigenvalue s1^2 (the blog's "eigenvalue = singular value" holds for its square root) and
      u1 = W v1 / s1.  Wrong variant rejected: W^T W v1 = s1 v1.
  (2) power iteration x_{k+1} = W^T W x_k: the component v_i^T x_k equals s_i^(2k) v_i^T x_0 (induction
      step derived with symbolic sizes); so tan theta_k = (s2/s1)^(2k) tan theta_0 with two components,
      and with more, each further component shrinks at least as fast (x -> x^(4k) is increasing).
      Wrong variant rejected: the rate (s2/s1)^k.
  (3) exact correction: W = s1 u v^T + R with R v = 0, u^T R = 0 (the other SVD terms). W' = W +
      (t - s1) u v^T has W'^T W' = t^2 v v^T + R^T R, so v is a right singular vector with singular value
      t and W'^T W' = W^T W on v's orthogonal complement: the other singular values and their outer
      products are unchanged; ||W'||_F^2 = ||W||_F^2 - s1^2 + t^2. Hence ||W'|| = max(t, s2) (not t
      when s2 > t: the blog's own caveat), and ||W'|| <= s1 exactly when t <= s1 (it decreases only
      for a target below s1). Wrong variants rejected: the sign (s1 - t), "||W'|| <= s1" at t > s1.
  (4) power-iteration vectors: with any unit v^ and u^ = W v^/s^ (s^ = ||W v^||), W' = W + (t - s^) u^ v^^T
      maps v^ to t u^ exactly; in orthonormal bases starting with u^, v^ it is [[t, r^T], [0, F]].
  (5) for B = [[t, rho], [0, f]] (rho = ||r||, f = ||F||; that ||W'|| <= ||B|| is the standard block-norm
      lemma, not derived here because sympy has no symbolic-size operator norm): with N = ||B||,
      N >= max(t, f) for all t, f, rho >= 0; N <= t + rho for f <= t (and symmetrically); and for f < t,
      N = t + t rho^2 / (2 (t^2 - f^2)) + O(rho^4). Wrong variant rejected: without the 1/2.
  (6) orthogonal init: Q m x n with Q Q^T = I_m (m <= n) or Q^T Q = I_n (m >= n), c = sqrt(m/n):
      every singular value of c Q is c and ||c Q||_F^2 = min(m, n) m/n. Wrong variants rejected:
      max(m, n) m/n, and the spectral norm c^2 (sigma^2 for sigma).
"""

import sympy as sp
from _identity import check, check_nonnegative, check_words, finish, refute, refute_nonnegative

m, n = sp.symbols("m n", integer=True, positive=True)
W = sp.MatrixSymbol("W", m, n)
u = sp.MatrixSymbol("u", m, 1)
v = sp.MatrixSymbol("v", n, 1)
R = sp.MatrixSymbol("R", m, n)
s1, t = sp.symbols("s1 t", positive=True)

# (1) the Gram matrix's top eigenpair, from the singular pair alone
pair = {(W, v): s1 * u, (W.T, u): s1 * v}
check_words("W^T W v1 = s1^2 v1", W.T * W * v - s1**2 * v, pair)
check_words("u1 = W v1 / s1", W * v / s1 - u, pair)
refute("W^T W v1 = s1 v1 (eigenvalue read as the singular value)", W.T * W * v - s1 * v, rules=pair)

# (2) power iteration: one step multiplies the v_i-component by s_i^2 (induction step), so after k
# steps it is s_i^(2k) times its start
x_k = sp.MatrixSymbol("x_k", n, 1)
k = sp.Symbol("k", integer=True, nonnegative=True)
c1, c2, s2 = sp.symbols("c1 c2 s2", positive=True)
check_words("v1^T (W^T W x_k) = s1^2 v1^T x_k", v.T * (W.T * W) * x_k - s1**2 * v.T * x_k, pair)
component = lambda s, c, kk: s ** (2 * kk) * c  # noqa: E731  (the induction hypothesis, to be verified)
check("induction: s^2 * s^(2k) c = s^(2(k+1)) c", sp.powsimp(s1**2 * component(s1, c1, k) - component(s1, c1, k + 1)))
check("base: s^0 c = c", component(s1, c1, 0) - c1)
tan_k = component(s2, c2, k) / component(s1, c1, k)  # ratio of the two derived components
check("tan theta_k = (s2/s1)^(2k) tan theta_0", sp.powsimp(sp.expand_power_base(tan_k - (s2 / s1) ** (2 * k) * c2 / c1,
                                                                              force=True), force=True))
x = sp.Symbol("x", positive=True)
kp = sp.Symbol("k", integer=True, positive=True)
check_nonnegative("d/dx x^(4k) = 4k x^(4k-1) >= 0 (later components shrink at least as fast)",
                  sp.diff(x ** (4 * kp), x), 4 * kp * x ** (4 * kp - 1))
refute("tan theta_k = (s2/s1)^k tan theta_0", tan_k - (s2 / s1) ** k * c2 / c1,
       witness={s1: 2, s2: 1, c1: 1, c2: 1, k: 1})

# (3) the exact correction
svd = {(u.T, u): 1, (v.T, v): 1, (R, v): sp.ZeroMatrix(m, 1), (u.T, R): sp.ZeroMatrix(1, n)}
W_svd = s1 * u * v.T + R
W_new = W_svd + (t - s1) * u * v.T
check_words("W'^T W' = t^2 v v^T + R^T R", W_new.T * W_new - (t**2 * v * v.T + R.T * R), svd)
check_words("W' W'^T = t^2 u u^T + R R^T", W_new * W_new.T - (t**2 * u * u.T + R * R.T), svd)
check_words("W'^T W' v = t^2 v (v stays a right singular vector, value t)", W_new.T * W_new * v - t**2 * v, svd)
y = sp.MatrixSymbol("y", n, 1)
perp = {**svd, (v.T, y): sp.ZeroMatrix(1, 1)}
check_words("W'^T W' y = W^T W y for y orthogonal to v (other singular pairs unchanged)",
            W_new.T * W_new * y - W_svd.T * W_svd * y, perp)
check_words("W'^T W' - W^T W = (t^2 - s1^2) v v^T",
            W_new.T * W_new - W_svd.T * W_svd - (t**2 - s1**2) * v * v.T, svd)
# ||.||_F^2 = trace(.^T .), and trace(v v^T) = v^T v (cyclic):
check_words("||W'||_F^2 - ||W||_F^2 = (t^2 - s1^2) v^T v = t^2 - s1^2",
            (t**2 - s1**2) * v.T * v - (t**2 - s1**2) * sp.Identity(1), svd)
W_sign = W_svd - (t - s1) * u * v.T
refute("sign error: W - (t - s1) u v^T has W^T W = t^2 v v^T + R^T R",
       W_sign.T * W_sign - (t**2 * v * v.T + R.T * R), rules=svd)
# ||W'|| = max(t, s2) with s2 = ||R|| <= s1: it is at most s1 iff t <= s1
a, b = sp.symbols("a b", nonnegative=True)
check_nonnegative("case t >= s2: s1 - ||W'|| = s1 - t >= 0 when t = s1 - a", s1 - (s1 - a), a)
check_nonnegative("case t < s2: s1 - ||W'|| = s1 - s2 >= 0 (s2 = s1 - b, SVD order)", s1 - (s1 - b), b)
check_nonnegative("only if: t = s1 + a gives ||W'|| - s1 >= t - s1 = a (so ||W'|| <= s1 forces a = 0)", (s1 + a) - s1, a)
s2_ = sp.Symbol("s2", positive=True)
refute_nonnegative("||W'|| <= s1 for every target", s1 - sp.Max(t, s2_), witness={s1: 1, t: 2, s2_: sp.Rational(1, 2)})
refute("||W'|| = t (the target) whatever s2", sp.Max(t, s2_) - t, witness={t: 1, s2_: 2})

# (4) power-iteration vectors: W' v^ = t u^ exactly
s_hat = sp.Symbol("s_hat", positive=True)
approx = {(W, v): s_hat * u, (v.T, v): 1}
W_hat = W + (t - s_hat) * u * v.T
check_words("W' v^ = t u^ with u^ = W v^ / s^", W_hat * v - t * u, approx)
refute("sign error: (W - (t - s^) u^ v^^T) v^ = t u^", (W - (t - s_hat) * u * v.T) * v - t * u, rules=approx)

# (5) the 2 x 2 matrix of block norms
rho, f, e = sp.symbols("rho f e", nonnegative=True)
B = sp.Matrix([[t, rho], [0, f]])
G = B.T * B
L = sp.Symbol("L")
roots = sp.solve((G - L * sp.eye(2)).det(), L)
disc = G.trace() ** 2 - 4 * G.det()
lam = (G.trace() + sp.sqrt(disc)) / 2
check("(tr + sqrt(tr^2 - 4 det))/2 (the + root, the larger) is a root of det(B^T B - L I)",
      sp.Mul(*[(r - lam) for r in roots]) if len(roots) == 2 else sp.Symbol("not_two_roots"))
# lam >= t^2: lam - t^2 = (sqrt(disc) - (t^2 - rho^2 - f^2))/2 and disc - (t^2 - rho^2 - f^2)^2 = 4 t^2 rho^2 >= 0,
# so sqrt(disc) >= |t^2 - rho^2 - f^2|
check("lam - t^2 = (sqrt(disc) - (t^2 - rho^2 - f^2))/2", lam - t**2 - (sp.sqrt(disc) - (t**2 - rho**2 - f**2)) / 2)
check_nonnegative("disc - (t^2 - rho^2 - f^2)^2 >= 0, so N >= t", disc - (t**2 - rho**2 - f**2) ** 2, 4 * t**2 * rho**2)
check("lam - f^2 = (sqrt(disc) - (f^2 - t^2 - rho^2))/2", lam - f**2 - (sp.sqrt(disc) - (f**2 - t**2 - rho**2)) / 2)
check_nonnegative("disc - (f^2 - t^2 - rho^2)^2 >= 0, so N >= f", disc - (f**2 - t**2 - rho**2) ** 2, 4 * f**2 * rho**2)
# N <= t + rho for f <= t (write t = f + e): (t + rho)^2 - lam = (Lhs - sqrt(disc))/2 with Lhs >= 0, Lhs^2 >= disc
lhs = 2 * (t + rho) ** 2 - G.trace()
check("(t + rho)^2 - lam = (2 (t + rho)^2 - tr - sqrt(disc))/2", (t + rho) ** 2 - lam - (lhs - sp.sqrt(disc)) / 2)
lhs_e = sp.expand(lhs.subs(t, f + e))
check_nonnegative("2 (t + rho)^2 - tr >= 0 for t = f + e", lhs_e, lhs_e)
gap_e = sp.expand((lhs**2 - disc).subs(t, f + e))
check_nonnegative("(2 (t + rho)^2 - tr)^2 - disc >= 0 for t = f + e, so N <= t + rho", gap_e, gap_e)
# for f < t: sqrt(disc) = D0 sqrt(1 + z) with D0 = t^2 - f^2 > 0, z = O(rho^2); expand in rho
D0 = t**2 - f**2
z = (2 * rho**2 * (t**2 + f**2) + rho**4) / D0**2
check("disc = D0^2 (1 + z)", disc - D0**2 * (1 + z))
check_nonnegative("D0 = t^2 - f^2 >= 0 for t = f + e", sp.expand(D0.subs(t, f + e)), e * (e + 2 * f))
N_series = sp.series(sp.sqrt((G.trace() + D0 * sp.sqrt(1 + z)) / 2), rho, 0, 4).removeO()
check("N = t + t rho^2/(2 (t^2 - f^2)) + O(rho^4) for t > f", N_series - (t + t * rho**2 / (2 * (t**2 - f**2))))
refute("N = t + t rho^2/(t^2 - f^2) + O(rho^4) (factor 1/2 dropped)",
       N_series - (t + t * rho**2 / (t**2 - f**2)), witness={f: 1, t: 2, rho: 1})
refute_nonnegative("N <= t + rho also for f > t (the bound needs max(t, f))",
                   (t + rho) ** 2 - lam, witness={t: 1, f: 3, rho: 0})

# (6) scaled orthogonal init
Q = sp.MatrixSymbol("Q", m, n)
c = sp.sqrt(m / n)
wide = {(Q, Q.T): sp.Identity(m)}  # m <= n: orthonormal rows
tall = {(Q.T, Q): sp.Identity(n)}  # m >= n: orthonormal columns
check_words("(cQ)(cQ)^T = (m/n) I_m (m <= n): every singular value is c", (c * Q) * (c * Q).T - (m / n) * sp.Identity(m), wide)
check_words("(cQ)^T (cQ) = (m/n) I_n (m >= n): every singular value is c", (c * Q).T * (c * Q) - (m / n) * sp.Identity(n), tall)
j = sp.Symbol("j", integer=True, nonnegative=True)
# ||cQ||_F^2 = trace of the Gram matrix just proved to be (m/n) I
fro_wide = sp.trace((m / n) * sp.Identity(m))
fro_tall = sp.trace((m / n) * sp.Identity(n))
check("||cQ||_F^2 = min(m, n) m/n for m <= n (n = m + j)", (fro_wide - sp.Min(m, n) * m / n).subs(n, m + j))
check("||cQ||_F^2 = min(m, n) m/n for m >= n (m = n + j)", (fro_tall - sp.Min(m, n) * m / n).subs(m, n + j))
refute("||cQ||_F^2 = max(m, n) m/n", fro_wide - sp.Max(m, n) * m / n, witness={m: 2, n: 3})
refute("spectral norm c^2 = m/n (sigma^2 for sigma)", c**2 - c, witness={m: 2, n: 3})

finish()
