"""Plain and eps-shifted L2 in the (A, k) and (B, m, v) decompositions: minima and gradients.

Source: paper 001_b5a1945cc2ea1296.txt, Sec. 3.1 Eqs. (4), (8)-(13) (the decomposition, no global
minimum), Sec. 4 Eqs. (21)-(22), Sec. 5.2 Eqs. (25)-(26) (eps-shifted L2, ||B|| = n) and
Eqs. (27)-(28) (gradients of the two penalties).

Claims: PAPER-no-global-minimum, PAPER-wd-optimal-direction, PAPER-eps-shift-minimum,
PAPER-eps-shift-gradients, PAPER-ws-constraint

Sizes are symbolic: w, h, 1 are n x 1 MatrixSymbols with the stated hypotheses as rewriting rules; a
gradient G is identified by G^T h = d/dt penalty(w + t h) at t = 0 for every direction h. Derived:
  (1) plain L2 on k = ||W|| > 0: d/dk (lam k^2/2) = lam k > 0, no stationary point; for any W and
      alpha = 1/(1 + beta) in (0, 1), alpha W has the same loss term (scale invariance) and a penalty
      smaller by lam k^2 (1 - alpha^2)/2 > 0: no global minimum (Eq. (4)); min over (A, k) of
      L(A) + lam k^2/2 splits into min_A L(A) + inf_k lam k^2/2, and the infimum 0 is not attained.
      Wrong variant rejected: "alpha W is never better".
  (2) eps-shifted (Eq. 25): d/dk lam (k - eps)^2/2 = lam (k - eps), zero only at k = eps, curvature
      lam > 0, value 0: the global minimum is A = A*, k = eps with value min_A L(A).
  (3) WS (Eq. 26): the gradient in (m, v) vanishes only at (0, eps), Hessian lam n I.
  (4) Eq. (27): grad of lam/2 (||W|| - eps)^2 is lam (1 - eps/||W||) W; Eq. (28): grad of
      lam n/2 (m^2 + (v - eps)^2) is lam ((1 - eps/v) W + (eps/v) mean 1). Wrong variant rejected:
      Eq. (28) without the mean term.
  (5) W = c + m 1 with 1^T c = 0: ||W||^2 = n (m^2 + v^2) (eps = 0 is the plain L2), and the
      standardized B = c/v has ||B||^2 = n, so ||B|| = sqrt(n), not n as Eq. (26) prints. Wrong variant
      rejected: ||B||^2 = n^2.
"""

import sympy as sp
from _identity import check, check_nonnegative, check_words, finish, refute, refute_nonnegative

lam, eps, k, v, beta, K = sp.symbols("lambda epsilon k v beta K", positive=True)
m = sp.Symbol("m", real=True)
n = sp.Symbol("n", integer=True, positive=True)

# (1) plain L2
plain = lam * k**2 / 2
check("plain L2: solve(d/dk = 0) on k > 0 is empty", len(sp.solve(sp.diff(plain, k), k)))
alpha = 1 / (1 + beta)
check_nonnegative("penalty(W) - penalty(alpha W) = lam k^2 (1 - alpha^2)/2 >= 0",
                  plain - plain.subs(k, alpha * k), lam * k**2 * beta * (beta + 2) / (2 * (1 + beta) ** 2))
check("inf over k > 0 of lam k^2/2 is 0 (limit k -> 0+)", sp.limit(plain, k, 0, "+"))
refute_nonnegative("alpha W is never better: penalty(alpha W) - penalty(W) >= 0",
                   plain.subs(k, alpha * k) - plain, witness={lam: 1, k: 1, beta: 1})

# (2) eps-shifted
shifted = lam * (k - eps) ** 2 / 2
crit = sp.solve(sp.diff(shifted, k), k)
print("eps-shifted: d/dk =", sp.factor(sp.diff(shifted, k)), "; stationary points:", crit)
check("eps-shifted: the only stationary point is k = eps", (len(crit) - 1) + (crit[0] - eps) ** 2)
check("eps-shifted: second derivative - lam", sp.diff(shifted, k, 2) - lam)
check("eps-shifted: value at k = eps", shifted.subs(k, eps))

# (3) WS, Eq. (26)
ws = lam * n * (m**2 + (v - eps) ** 2) / 2
sol = sp.solve([sp.diff(ws, m), sp.diff(ws, v)], [m, v], dict=True)
print("WS eps-shifted: stationary points", sol)
check("WS: stationary point is (m, v) = (0, eps)", len(sol) - 1 + sol[0][m] ** 2 + (sol[0][v] - eps) ** 2)
check("WS: Hessian - lam n I", sp.hessian(ws, (m, v)) - lam * n * sp.eye(2))

# (4) the gradients, symbolic n
t = sp.Symbol("t", real=True)
p, q, r1 = sp.symbols("p q r1", real=True)  # w^T h (or c^T h), the t^2 coefficient, 1^T h
w = sp.MatrixSymbol("w", n, 1)
h = sp.MatrixSymbol("h", n, 1)
one = sp.MatrixSymbol("one", n, 1)
c = sp.MatrixSymbol("c", n, 1)
norm_t = sp.sqrt(K**2 + 2 * t * p + t**2 * q)  # ||w + t h||
d_wn = sp.diff(lam * (norm_t - eps) ** 2 / 2, t).subs(t, 0)
check_words("Eq. (27): (lam (1 - eps/||W||) W)^T h = d/dt penalty(w + t h)",
            (lam * (1 - eps / K) * w).T * h - d_wn * sp.Identity(1), {(w.T, h): p})
m_t = m + t * r1 / n
v_t = sp.sqrt((n * v**2 + 2 * t * p + t**2 * q) / n)  # (c + t C h)^T (c + t C h)/n, c^T C h = c^T h = p
d_ws = sp.diff(lam * n * (m_t**2 + (v_t - eps) ** 2) / 2, t).subs(t, 0)
W_ws = c + m * one
ws_rules = {(c.T, h): p, (one.T, h): r1, (one.T, c): 0, (one.T, one): n}
eq28 = lam * ((1 - eps / v) * W_ws + eps / v * m * one)
check_words("Eq. (28): (lam ((1 - eps/v) W + eps/v mean 1))^T h = d/dt penalty(w + t h)",
            eq28.T * h - d_ws * sp.Identity(1), ws_rules)
refute("Eq. (28) without the mean term", (lam * (1 - eps / v) * W_ws).T * h - d_ws * sp.Identity(1), rules=ws_rules)

# (5) ||W||^2 = n (m^2 + v^2) and ||B||^2 = n
dec = {(one.T, c): 0, (one.T, one): n, (c.T, c): n * v**2}
check_words("||c + m 1||^2 = n (m^2 + v^2)", W_ws.T * W_ws - n * (m**2 + v**2) * sp.Identity(1), dec)
B = c / v
check_words("||B||^2 = n", B.T * B - n * sp.Identity(1), dec)
refute("||B||^2 = n^2 (Eq. (26) as printed: ||B|| = n)", B.T * B - n**2 * sp.Identity(1), rules=dec)
refute("||B|| = n at n = 2", sp.sqrt(n) - n, witness={n: 2})

finish()
