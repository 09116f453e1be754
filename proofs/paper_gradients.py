"""Jacobians of WN and WS (with and without eps) and what Eqs. (14), (16), (24) keep of them.

Source: paper 001_b5a1945cc2ea1296.txt, Sec. 3.2, Eqs. (14)-(16) (WN and WS update, effective LR
eta/||W|| and eta/std) and Sec. 5.1, Eqs. (23)-(24) (WS with eps, "not enough to prevent overflow").

Claims: PAPER-wn-gradient, PAPER-ws-gradient, PAPER-ws-eps-overflow, CONF-torch-weight-norm-gradient

Sizes are symbolic: w, h, 1 are n x 1 MatrixSymbols; hypotheses are rewriting rules. A Jacobian is
derived as the directional derivative d/dt f(w + t h) at t = 0 for an arbitrary direction h (sympy
differentiates the scalar normalizer in t); it equals J h for every h, which identifies J. Derived:
  (1) WN, A = w/K, K = ||w||: J = (I - A A^T)/K. Eq. (14)'s element-wise factor 1/K - w_i^2/K^3 is its
      diagonal; an off-diagonal entry is -w_i w_j/K^3, so the true gradient J^T dL/dA = (dL/dA -
      A (A^T dL/dA))/K is orthogonal to w (w^T J^T = 0) and scaled by 1/K, and Eq. (14) is not it.
      Wrong variant rejected: Eq. (14) as the gradient.
  (2) WS, c = C w (C = I - 1 1^T/n), v = sqrt(c^T c/n), B = c/v: J = (C - B B^T/n)/v; the diagonal is
      Eq. (16)'s factor (1 - 1/n - c_i^2/sum_j c_j^2)/v. Wrong variant rejected: J has no off-diagonal.
  (3) WS with eps (Eq. 23), B = c/(v + eps): J = (C - c c^T/(n v (v + eps)))/(v + eps); its diagonal is
      Eq. (24); J 1 = 0, J c = eps/(v + eps)^2 c, J u = u/(v + eps) for u orthogonal to 1 and c, so
      (J symmetric) ||J|| = 1/(v + eps) <= 1/eps. Every Eq. (24) factor lies in [-1/(v+eps), 1/(v+eps)]
      (with c_i^2 = theta n v^2, 0 <= theta <= 1): the lone std in its denominator does not make it blow
      up as v -> 0 (its limit is (n - 1)/(n eps), finite). Wrong variant rejected: the factor
      unbounded as v -> 0.
  (4) scale law: under w -> gamma w (gamma > 0), K, c, v scale by gamma and both Jacobians by 1/gamma:
      the eta/||W|| (eta/std) effective learning rate. Wrong variant rejected: 1/gamma^2.
"""

import sympy as sp
from _identity import check, check_nonnegative, check_words, finish, refute

n = sp.Symbol("n", integer=True, positive=True)
t = sp.Symbol("t", real=True)
K, v, eps, gamma = sp.symbols("K v epsilon gamma", positive=True)
p, q = sp.symbols("p q", real=True)  # p = w^T h (or c^T h), q = h^T h (or h^T C h): the t-dependence of the norm
w = sp.MatrixSymbol("w", n, 1)
h = sp.MatrixSymbol("h", n, 1)
one = sp.MatrixSymbol("one", n, 1)  # the all-ones vector
c = sp.MatrixSymbol("c", n, 1)  # centered weight
e_i = sp.MatrixSymbol("e_i", n, 1)  # basis vectors, i != j
e_j = sp.MatrixSymbol("e_j", n, 1)
wi, wj, ci, cj, gi = sp.symbols("w_i w_j c_i c_j g_i", real=True)
I = sp.Identity(n)


def directional(vector_at_t, scalar_at_t):
    """d/dt [vector(t) * scalar(t)] at t = 0, for vector(t) = v0 + t v1 (a MatrixSymbol expression)."""
    v0, v1 = vector_at_t
    return v1 * scalar_at_t.subs(t, 0) + v0 * sp.diff(scalar_at_t, t).subs(t, 0)


# (1) WN: A(w + t h) = (w + t h) / sqrt(K^2 + 2 t p + t^2 q)
dA = directional((w, h), 1 / sp.sqrt(K**2 + 2 * t * p + t**2 * q))
A = w / K
J_wn = (I - A * A.T) / K
wn_rules = {(w.T, h): p, (w.T, w): K**2}
check_words("WN: d/dt A(w + t h) = (I - A A^T)/K h for every h", dA - J_wn * h, wn_rules)
basis = {(e_i.T, e_i): 1, (e_j.T, e_j): 1, (e_i.T, e_j): 0, (e_i.T, w): wi, (e_j.T, w): wj}
check_words("WN: J_ii = 1/K - w_i^2/K^3 (Eq. (14)'s factor)", e_i.T * J_wn * e_i - (1 / K - wi**2 / K**3) * sp.Identity(1), basis)
check_words("WN: J_ij = -w_i w_j/K^3 for i != j", e_i.T * J_wn * e_j + wi * wj / K**3 * sp.Identity(1), basis)
g = sp.MatrixSymbol("g", n, 1)  # dL/dA
check_words("WN: w^T J^T g = 0 (the gradient is orthogonal to w)", w.T * J_wn.T * g, {(w.T, w): K**2})
grad_i = e_i.T * J_wn.T * g  # the true i-th gradient entry
refute("WN: Eq. (14) (1/K - w_i^2/K^3) g_i is the gradient entry", grad_i - (1 / K - wi**2 / K**3) * gi * sp.Identity(1),
       rules={**basis, (e_i.T, g): gi, (w.T, w): K**2})

# (2) WS: c(w + t h) = c + t C h; c^T C h = c^T h = p (1^T c = 0); (C h)^T (C h) = q
C = I - one * one.T / n
ws_rules = {(one.T, one): n, (one.T, c): 0, (c.T, h): p, (c.T, c): n * v**2}
dB = directional((c, C * h), 1 / sp.sqrt((n * v**2 + 2 * t * p + t**2 * q) / n))
Bv = c / v
J_ws = (C - Bv * Bv.T / n) / v
check_words("WS: d/dt B(w + t h) = (C - B B^T/n)/v h for every h", dB - J_ws * h, ws_rules)
ws_basis = {**ws_rules, (e_i.T, e_i): 1, (e_j.T, e_j): 1, (e_i.T, e_j): 0, (e_i.T, one): 1, (e_j.T, one): 1,
            (e_i.T, c): ci, (e_j.T, c): cj}
eq16 = (1 - 1 / n - ci**2 / (n * v**2)) / v  # sum_j c_j^2 = n v^2
check_words("WS: J_ii = Eq. (16)'s factor (1 - 1/n - c_i^2/sum_j c_j^2)/v", e_i.T * J_ws * e_i - eq16 * sp.Identity(1), ws_basis)
refute("WS: J_ij = 0 for i != j (Eq. (16) as the full gradient)", e_i.T * J_ws * e_j, rules=ws_basis)

# (3) WS with eps
dBe = directional((c, C * h), 1 / (sp.sqrt((n * v**2 + 2 * t * p + t**2 * q) / n) + eps))
J_eps = (C - c * c.T / (n * v * (v + eps))) / (v + eps)
check_words("WS+eps: d/dt B_eps(w + t h) = (C - c c^T/(n v (v+eps)))/(v+eps) h", dBe - J_eps * h, ws_rules)
eq24 = (1 - 1 / n - ci**2 / (n * (v + eps) * v)) / (v + eps)
check_words("WS+eps: J_ii = Eq. (24)", e_i.T * J_eps * e_i - eq24 * sp.Identity(1), ws_basis)
check_words("WS+eps: J 1 = 0", J_eps * one, ws_rules)
check_words("WS+eps: J c = eps/(v+eps)^2 c", J_eps * c - eps / (v + eps) ** 2 * c, ws_rules)
u = sp.MatrixSymbol("u", n, 1)
check_words("WS+eps: J u = u/(v+eps) for u orthogonal to 1 and c", J_eps * u - u / (v + eps),
            {**ws_rules, (one.T, u): 0, (c.T, u): 0})
check_nonnegative("WS+eps: 1/(v+eps) - eps/(v+eps)^2 >= 0 (the largest eigenvalue is 1/(v+eps))",
                  1 / (v + eps) - eps / (v + eps) ** 2, v / (v + eps) ** 2)
check_nonnegative("WS+eps: 1/eps - 1/(v+eps) >= 0", 1 / eps - 1 / (v + eps), v / (eps * (v + eps)))
theta = sp.Symbol("theta", nonnegative=True)  # c_i^2 = theta n v^2, 0 <= theta <= 1 (c_i^2 <= sum_j c_j^2)
phi, j = sp.symbols("phi j", nonnegative=True)  # 1 - theta = phi; n = 1 + j
f_i = eq24.subs(ci**2, theta * n * v**2)
check_nonnegative("Eq. (24) factor <= 1/(v+eps)", 1 / (v + eps) - f_i, (1 / n + theta * v / (v + eps)) / (v + eps))
check_nonnegative("Eq. (24) factor >= -1/(v+eps) (phi = 1 - theta, n = 1 + j)",
                  (f_i + 1 / (v + eps)).subs(n, 1 + j),
                  (j / (1 + j) + phi + theta * eps / (v + eps)) / (v + eps), relations={phi: 1 - theta})
limit = sp.limit(f_i, v, 0)
print("Eq. (24) factor as v -> 0 with c_i^2 = theta n v^2:", limit)
refute("the Eq. (24) factor is unbounded as v -> 0 (1/limit would be 0)", 1 / limit, witness={n: 2, eps: 1})

# (4) the scale law
check("WN: J(gamma w) = J(w)/gamma, entrywise factors", ((1 / (gamma * K) - (gamma * wi) ** 2 / (gamma * K) ** 3)
                                                         - (1 / K - wi**2 / K**3) / gamma))
check_words("WN: J(gamma w) = J(w)/gamma", (I - (gamma * w) * (gamma * w).T / (gamma * K) ** 2) / (gamma * K) - J_wn / gamma)
check_words("WS: J(gamma w) = J(w)/gamma", (C - (gamma * c) * (gamma * c).T / (n * (gamma * v) ** 2)) / (gamma * v) - J_ws / gamma)
refute("WN: J(gamma w) = J(w)/gamma^2",
       (I - (gamma * w) * (gamma * w).T / (gamma * K) ** 2) / (gamma * K) - J_wn / gamma**2, rules={})

finish()
