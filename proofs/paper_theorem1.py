"""Theorem 1: weight decay on a scale-invariant weight is a learning-rate schedule (SGD and heavy ball).

Source: paper 001_b5a1945cc2ea1296.txt, Sec. 3.2, Theorem 1 and its proof, Eqs. (17)-(20), the
closing list {d_1, ..., d_T} and Fig. 3 (p_0 = 1, d_1 = 1/(1 - lambda eta)).

Claims: PAPER-thm1, PAPER-thm1-schedule, PAPER-thm1-momentum

Hypothesis (derived in proofs/lecture_euler.py and proofs/paper_gradients.py): the gradient of a
scale-invariant loss has degree -1, g(c U) = g(U)/c for c > 0. One coordinate stands for the whole
vector; the step identities are linear in U, U_prev and g, so they hold for every size. Derived:
  (1) SGD. The decay step W' = (1 - eta lam) W - eta g(W) from W = c U, and the decay-free step
      U' = U - eta d g(U). The normalized weights agree after the step (W' = c' U' with c' > 0) IFF
      c' = (1 - eta lam) c and d = 1/(c^2 (1 - eta lam)): W' - c' U' is a combination of U and g(U),
      which are linearly independent (g(U) is orthogonal to U and nonzero), so both coefficients must
      vanish; sympy solves that linear system and finds exactly one solution (the "only if"), and
      the solution makes W' - c' U' vanish identically (the "if"). The recursion c_{t+1} = (1 - eta lam)
      c_t is solved (rsolve): c_t = (1 - eta lam)^t c_0, so the step from t to t+1 uses
      d = 1/(c_0^2 (1 - eta lam)^(2t+1)): Eq. (18)'s d_q with p_q at the step's START, and Fig. 3's
      d_1 = 1/(1 - lam eta) for the first step. Wrong variant rejected: the closing list's
      1/(p_{q+1}^2 (1 - lam eta)) (p at the step's end) for the same step.
  (2) heavy ball, two-step form (torch's SGD momentum with a varying LR): decay run
      W_{t+1} = (1 + mu - eta lam) W_t - mu W_{t-1} - eta g(W_t); decay-free run
      U_{t+1} = U_t + mu r (U_t - U_{t-1}) - eta_t g(U_t), r = eta_t/eta_{t-1}. With W_t = c_t U_t and
      W_{t-1} = c_{t-1} U_{t-1}, W_{t+1} = c_{t+1} U_{t+1} holds for linearly independent U_t, U_{t-1},
      g IFF eta_t = eta/(c_t c_{t+1}), r = c_{t-1}/c_{t+1} and c_{t+1} = (1 + mu - eta lam) c_t - mu c_{t-1}
      (unique solution of the three coefficient equations); r is then consistent with the previous
      step's eta_{t-1} = eta/(c_{t-1} c_t) (the induction closes). First step from zero buffers:
      c_1 = (1 - eta lam) c_0, as for SGD. Wrong variant rejected: c_{t+1} = (1 - eta lam) c_t.
  (3) the recursion's characteristic roots are real iff the discriminant is >= 0; it factors as
      (x - (1 - sqrt mu)^2)(x - (1 + sqrt mu)^2) with x = eta lam, so (for x < (1 + sqrt mu)^2, every
      practical step) the roots are real iff eta lam <= (1 - sqrt mu)^2. Wrong variant rejected:
      (x - (1 - mu)^2)(x - (1 + mu)^2).
"""

import sympy as sp
from _identity import check, finish, refute

eta, lam, mu = sp.symbols("eta lambda mu", positive=True)
c, c_prev = sp.symbols("c c_prev", positive=True)
c_next, d = sp.symbols("c_next d")  # unknowns: no sign assumed, so solve() cannot drop a solution
U, U_prev, g = sp.symbols("U U_prev g")  # one coordinate of U_t, U_{t-1} and of g(U_t)
q = 1 - eta * lam


def coefficients(expr, basis):
    """Coefficients of an expression linear in the independent vectors ``basis``."""
    expr = sp.expand(expr)
    assert sp.expand(expr - sum(expr.coeff(v) * v for v in basis)) == 0, "not linear in the basis"
    return [expr.coeff(v) for v in basis]


# (1) SGD
W_next = q * (c * U) - eta * g / c  # decay step from W = c U, with g(c U) = g(U)/c
U_next = U - eta * d * g
eqs = coefficients(W_next - c_next * U_next, [U, g])
sols = sp.solve(eqs, [c_next, d], dict=True)
print("SGD: the coefficient equations have the solutions", sols)
check("SGD: exactly one solution (only if)", len(sols) - 1)
sol = sols[0]
check("SGD: c' = (1 - eta lam) c", sol[c_next] - q * c)
check("SGD: d = 1/(c^2 (1 - eta lam))", sol[d] - 1 / (c**2 * q))
check("SGD: with it, W' - c' U' = 0 identically (if)", sp.expand((W_next - c_next * U_next).subs(sol)))
t = sp.Symbol("t", integer=True, nonnegative=True)
c0 = sp.Symbol("c_0", positive=True)
cseq = sp.Function("p")
c_t = sp.rsolve(cseq(t + 1) - q * cseq(t), cseq(t), {cseq(0): c0})
print("p_t from p_{t+1} = (1 - eta lam) p_t, p_0 = c_0:", c_t)
d_t = sol[d].subs(c, c_t)  # multiplier of the step from t to t+1
check("SGD: step t -> t+1 uses d = 1/(c_0^2 (1 - eta lam)^(2t+1))",
      sp.powsimp(sp.expand_power_base(d_t * c0**2 * q ** (2 * t + 1), force=True), force=True) - 1)
check("SGD: first step with p_0 = 1 uses 1/(1 - lam eta) (Fig. 3)", d_t.subs({t: 0, c0: 1}) - 1 / q)
d_listed = 1 / (c_t.subs(t, t + 1) ** 2 * q)  # the closing list: p at the step's end
refute("the closing list's d = 1/(p_{t+1}^2 (1 - lam eta)) for the step t -> t+1", d_t - d_listed,
       witness={t: 0, c0: 1, eta: sp.Rational(1, 10), lam: 1})

# (2) heavy ball
eta_t, r = sp.symbols("eta_t r")  # unknowns
Wm_next = (1 + mu - eta * lam) * (c * U) - mu * (c_prev * U_prev) - eta * g / c
Um_next = U + mu * r * (U - U_prev) - eta_t * g
eqs_m = coefficients(Wm_next - c_next * Um_next, [U, U_prev, g])
sols_m = sp.solve(eqs_m, [c_next, eta_t, r], dict=True)
print("heavy ball: the coefficient equations have the solutions", sols_m)
check("heavy ball: exactly one solution (only if)", len(sols_m) - 1)
sm = sols_m[0]
check("heavy ball: c_{t+1} = (1 + mu - eta lam) c_t - mu c_{t-1}", sm[c_next] - ((1 + mu - eta * lam) * c - mu * c_prev))
check("heavy ball: eta_t = eta/(c_t c_{t+1})", sm[eta_t] - eta / (c * sm[c_next]))
check("heavy ball: r = eta_t/eta_{t-1} with the previous step's eta_{t-1} = eta/(c_{t-1} c_t) (induction)",
      sm[r] - sm[eta_t] / (eta / (c_prev * c)))
check("heavy ball: with it, W_{t+1} - c_{t+1} U_{t+1} = 0 identically (if)", sp.simplify((Wm_next - c_next * Um_next).subs(sm)))
first = coefficients(q * (c0 * U) - eta * g / c0 - c_next * (U - eta_t * g), [U, g])  # zero buffers: plain SGD
sf = sp.solve(first, [c_next, eta_t], dict=True)
check("heavy ball, first step: c_1 = (1 - eta lam) c_0, eta_0 = eta/(c_0 c_1)",
      (len(sf) - 1) ** 2 + (sf[0][c_next] - q * c0) ** 2 + (sf[0][eta_t] - eta / (c0 * q * c0)) ** 2)
refute("heavy ball: c_{t+1} = (1 - eta lam) c_t", sm[c_next] - q * c,
       witness={mu: sp.Rational(9, 10), c: 1, c_prev: 2, eta: sp.Rational(1, 10), lam: 1})

# (3) the characteristic roots
x = sp.Symbol("x", positive=True)
alpha = sp.Symbol("alpha")
charpoly = alpha**2 - (1 + mu - x) * alpha + mu  # from c_{t+1} = (1 + mu - x) c_t - mu c_{t-1}
disc = sp.discriminant(charpoly, alpha)
check("discriminant = (x - (1 - sqrt mu)^2)(x - (1 + sqrt mu)^2)",
      sp.expand(disc - (x - (1 - sp.sqrt(mu)) ** 2) * (x - (1 + sp.sqrt(mu)) ** 2)))
refute("discriminant = (x - (1 - mu)^2)(x - (1 + mu)^2)", disc - (x - (1 - mu) ** 2) * (x - (1 + mu) ** 2),
       witness={x: sp.Rational(1, 10), mu: sp.Rational(1, 4)})

finish()
