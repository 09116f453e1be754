"""Exponential learning rate (Li and Arora 2020) and the weight-decay equilibrium of a scale-invariant weight.

Source: lecture 002_cd849d122e313ad8.txt, slide "Implicit Learning Rate Decay", the list "Counteracting
the implicit LR effect" (exponentially increasing LR schedule; use weight decay); the Pythagorean
slide for the norm recursion.

Claims: L5-exp-lr-equivalence, L5-counteract-lr-decay, L5-wd-equilibrium

Hypothesis (derived in proofs/lecture_euler.py): the gradient of a scale-invariant loss has degree -1,
g(k x) = g(x)/k, and is orthogonal to x. Vectors are MatrixSymbols of symbolic size n (part 2) or one
coordinate standing for a step that is linear in the vectors (part 1). Derived:
  (1) heavy ball with weight decay on w, w_{t+1} = (1 + mu - eta lam) w_t - mu w_{t-1} - eta g(w_t), and
      decay-free heavy ball on x with LR eta_t, x_{t+1} = x_t + mu r (x_t - x_{t-1}) - eta_t g(x_t),
      r = eta_t/eta_{t-1}. With x_t = k_t w_t, x_{t+1} = k_{t+1} w_{t+1} holds for independent w_t,
      w_{t-1}, g iff (unique solution of the coefficient equations) eta_t = eta k_t k_{t+1},
      r = k_{t+1}/k_{t-1} (consistent with eta_{t-1} = eta k_{t-1} k_t) and
      k_t (1 + mu k_{t+1}/k_{t-1}) = (1 + mu - eta lam) k_{t+1}. Geometric scales k_t = alpha^-t solve it
      iff alpha^2 - (1 + mu - eta lam) alpha + mu = 0, and then eta_t = eta alpha^-(2t+1): an exponentially
      increasing LR. mu = 0 gives alpha = 1 - eta lam and eta_t = eta (1 - eta lam)^-(2t+1) (the paper's
      Theorem 1 multipliers, derived there independently). First step: the decay-free buffer must start
      at (1 - 1/alpha) w_0/eta (solved, reduced modulo the characteristic polynomial). Wrong variant
      rejected: eta_t = eta alpha^-2t.
  (2) SGD + WD on a scale-invariant w, s = ||w||^2, q = 1 - eta lam, ||g(w)|| = G/||w||:
      ||q w - eta g||^2 = q^2 s + eta^2 G^2/s (Pythagoras, symbolic n); for 0 < eta lam < 2 the one positive fixed point solved
      from f(s) = s is s* = eta G/sqrt(eta lam (2 - eta lam)); effective LR eta/s* =
      sqrt(eta lam (2 - eta lam))/G (constant: no decay); angular step eta G/s* = sqrt(eta lam (2 - eta lam));
      (f(s) - s*)/(s - s*) = q^2 - eta^2 G^2/(s s*) exactly, -> 2 q^2 - 1 = f'(s*) at s = s*. Wrong variant
      rejected: the first-order fixed point eta G/sqrt(2 eta lam).
"""

import sympy as sp
from _identity import check, check_words, finish, refute

eta, lam, G = sp.symbols("eta lambda G", positive=True)
mu = sp.Symbol("mu", positive=True)
alpha, beta = sp.symbols("alpha beta", positive=True)
t = sp.Symbol("t", integer=True, nonnegative=True)
w_now, w_prev, g = sp.symbols("w_now w_prev g")  # one coordinate of w_t, w_{t-1}, g(w_t)
k_prev, k_now = sp.symbols("k_prev k_now", positive=True)
k_next, eta_t, r = sp.symbols("k_next eta_t r")  # unknowns: no sign assumed


def coefficients(expr, basis):
    """Coefficients of an expression linear in the independent vectors ``basis``."""
    expr = sp.expand(expr)
    assert sp.expand(expr - sum(expr.coeff(v) * v for v in basis)) == 0, "not linear in the basis"
    return [expr.coeff(v) for v in basis]


# (1) the exponential schedule
w_next = (1 + mu - eta * lam) * w_now - mu * w_prev - eta * g
x_now, x_prev = k_now * w_now, k_prev * w_prev
x_next = x_now + mu * r * (x_now - x_prev) - eta_t * g / k_now  # g(x_t) = g(w_t)/k_t
sols = sp.solve(coefficients(x_next - k_next * w_next, [w_now, w_prev, g]), [k_next, eta_t, r], dict=True)
print("coefficient equations solved:", sols)
check("exactly one solution (only if)", len(sols) - 1)
sol = sols[0]
check("eta_t = eta k_t k_{t+1}", sol[eta_t] - eta * k_now * sol[k_next])
check("r = k_{t+1}/k_{t-1} = eta_t/eta_{t-1} with eta_{t-1} = eta k_{t-1} k_t", sol[r] - sol[eta_t] / (eta * k_prev * k_now))
recursion = k_now * (1 + mu * k_next / k_prev) - (1 + mu - eta * lam) * k_next  # the w_t coefficient, r substituted
check("k_{t+1} solves k_t (1 + mu k_{t+1}/k_{t-1}) = (1 + mu - eta lam) k_{t+1}", sp.simplify(recursion.subs(k_next, sol[k_next])))
geometric = sp.simplify(recursion.subs({k_prev: alpha ** -(t - 1), k_now: alpha**-t, k_next: alpha ** -(t + 1)}))
poly = alpha**2 - (1 + mu - eta * lam) * alpha + mu
check("k_t = alpha^-t: the recursion is alpha^-(t+2) (alpha^2 - (1 + mu - eta lam) alpha + mu), zero iff the bracket is",
      sp.expand(sp.powsimp(sp.expand(geometric * alpha ** (t + 2)))) - sp.expand(poly))
eta_sched = (eta * k_now * k_next).subs({k_now: alpha**-t, k_next: alpha ** -(t + 1)})
check("eta_t = eta alpha^-(2t+1)", sp.powsimp(eta_sched - eta * alpha ** (-(2 * t + 1))))
refute("eta_t = eta alpha^-2t", eta_sched - eta * alpha ** (-2 * t), witness={eta: 1, alpha: sp.Rational(1, 2), t: 1})
alpha0 = sp.solve(poly.subs(mu, 0), alpha)
print("mu = 0: roots", alpha0)
check("mu = 0: the one root is alpha = 1 - eta lam", (len(alpha0) - 1) + (alpha0[0] - (1 - eta * lam)) ** 2)
check("mu = 0: eta_t = eta (1 - eta lam)^-(2t+1)", sp.powsimp(eta_sched.subs(alpha, alpha0[0]) - eta * (1 - eta * lam) ** (-(2 * t + 1))))
# first step: decay run from a zero buffer w_1 = (1 - eta lam) w_0 - eta g; decay-free x_0 = w_0 (k_0 = 1),
# x_1 = w_0 - eta_0 (mu b_0 + g) with eta_0 = eta k_0 k_1, k_1 = 1/alpha, and b_0 = gamma w_0 + delta g unknown
w0 = sp.Symbol("w0")
gam, dlt = sp.symbols("gamma delta")
x1 = w0 - eta / alpha * (mu * (gam * w0 + dlt * g) + g)
w1 = (1 - eta * lam) * w0 - eta * g
buf = sp.solve(coefficients(x1 - w1 / alpha, [w0, g]), [gam, dlt], dict=True)
print("first-step buffer:", buf)
check("first step: b_0 = gamma w_0 with gamma = (1 - 1/alpha)/eta (mod the characteristic polynomial), delta = 0",
      sp.rem(sp.numer(sp.together(buf[0][gam] - (1 - 1 / alpha) / eta)), poly, alpha) + buf[0][dlt] + (len(buf) - 1))

# (2) the weight-decay equilibrium, symbolic size n
n = sp.Symbol("n", integer=True, positive=True)
w = sp.MatrixSymbol("w", n, 1)
gv = sp.MatrixSymbol("g", n, 1)
s = sp.Symbol("s", positive=True)
q = 1 - eta * lam
facts = {(w.T, gv): sp.ZeroMatrix(1, 1), (w.T, w): s, (gv.T, gv): G**2 / s}
step = q * w - eta * gv
f = q**2 * s + eta**2 * G**2 / s
check_words("||q w - eta g||^2 = q^2 s + eta^2 G^2/s (g orthogonal to w)", step.T * step - f * sp.Identity(1), facts)
v = sp.Symbol("v", positive=True)  # eta lam = 2v/(1+v) covers exactly 0 < eta lam < 2 (stable steps)
in_u = {lam: 2 * v / ((1 + v) * eta)}
fixed = [root for root in sp.solve(sp.Eq(f.subs(in_u), s), s) if root.is_positive]
print("positive fixed points of s' = q^2 s + eta^2 G^2/s (0 < eta lam < 2):", fixed)
s_star = eta * G / sp.sqrt(eta * lam * (2 - eta * lam))
check("one positive fixed point, s* = eta G/sqrt(eta lam (2 - eta lam))",
      (len(fixed) - 1) + sp.simplify(fixed[0] - s_star.subs(in_u)) ** 2)
check("effective LR eta/s* = sqrt(eta lam (2 - eta lam))/G", eta / s_star - sp.sqrt(eta * lam * (2 - eta * lam)) / G)
check("angular step eta G/s* = sqrt(eta lam (2 - eta lam))", eta * G / s_star - sp.sqrt(eta * lam * (2 - eta * lam)))
check("(f(s) - s*)/(s - s*) = q^2 - eta^2 G^2/(s s*)", sp.simplify((f - s_star) / (s - s_star) - (q**2 - eta**2 * G**2 / (s * s_star))))
check("f'(s*) = 2 q^2 - 1", sp.diff(f, s).subs(s, s_star) - (2 * q**2 - 1))
naive = eta * G / sp.sqrt(2 * eta * lam)
refute("s* = eta G/sqrt(2 eta lam) is a fixed point (drops (eta lam)^2)", f.subs(s, naive) - naive,
       witness={eta: sp.Rational(1, 2), lam: 1, G: 1})

finish()
