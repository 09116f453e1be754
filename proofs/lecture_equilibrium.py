"""Exponential learning rate (Li and Arora 2020) and the weight-decay equilibrium of a
scale-invariant weight (Lecture 5, slide "Implicit Learning Rate Decay", counter-measures).

Derives, and exits 1 if any identity fails to simplify to zero:
  (1) with grad L(c x) = grad L(x)/c, decay-free heavy ball with LR eta_t = eta alpha^-(2t+1) on
      x_t = alpha^-t w_t reproduces heavy ball with weight decay on w_t exactly when
      alpha^2 - (1 + mu - eta lam) alpha + mu = 0; the first step matches when the decay-free
      buffer starts at (1 - 1/alpha) w_0/eta; mu = 0 gives alpha = 1 - eta lam, i.e. the paper's
      Theorem 1 multipliers d_t = (1 - eta lam)^-(2t+1);
  (2) s = ||w||^2 under SGD + WD: s' = q^2 s + eta^2 G^2/s (q = 1 - eta lam, Pythagoras, g perp w);
      fixed point s* = eta G / sqrt(eta lam (2 - eta lam)); effective LR eta/s* =
      sqrt(eta lam (2 - eta lam))/G; angular step eta G/s* = sqrt(eta lam (2 - eta lam));
      contraction (s' - s*)/(s - s*) = q^2 - eta^2 G^2/(s s*) exactly, -> 2 q^2 - 1 at s = s*.
"""

import sys

import sympy as sp
from _identity import check, failures





eta, lam, G = sp.symbols("eta lambda G", positive=True)
mu = sp.Symbol("mu", nonnegative=True)
alpha = sp.Symbol("alpha", positive=True)
t = sp.Symbol("t", integer=True, nonnegative=True)
w_prev, w_now, g = sp.symbols("w_prev w_now g")  # components of w_{t-1}, w_t and grad L(w_t)

# (1) decay run: w_{t+1} = (1 + mu - eta lam) w_t - mu w_{t-1} - eta g
w_next = (1 + mu - eta * lam) * w_now - mu * w_prev - eta * g
# decay-free run on x_t = c_t w_t with grad L(x_t) = g / c_t:
c = lambda k: alpha ** (-k)  # noqa: E731
eta_t = lambda k: eta * alpha ** (-(2 * k + 1))  # noqa: E731
x_now, x_prev = c(t) * w_now, c(t - 1) * w_prev
x_next = x_now + mu * eta_t(t) / eta_t(t - 1) * (x_now - x_prev) - eta_t(t) * g / c(t)
residual = sp.simplify(x_next / c(t + 1) - w_next)
poly = alpha**2 - (1 + mu - eta * lam) * alpha + mu
# the residual is a multiple of w_now times the characteristic polynomial
check("x_{t+1}/c_{t+1} - w_{t+1} = w_t (alpha^2 - (1+mu-eta lam) alpha + mu)/alpha",
      residual - w_now * poly / alpha)
root = ((1 + mu - eta * lam) + sp.sqrt((1 + mu - eta * lam) ** 2 - 4 * mu)) / 2
check("the larger root solves the characteristic equation", poly.subs(alpha, root))
# first step: decay run w_1 = (1 - eta lam) w_0 - eta g (zero buffer); decay-free: x_1 = w_0 - eta_0 (mu b0 + g/1)
w0, b0 = sp.symbols("w0 b0")
w1 = (1 - eta * lam) * w0 - eta * g
x1 = w0 - eta_t(0) * (mu * b0 + g)
b0_needed = (1 - 1 / alpha) * w0 / eta
first = sp.simplify((x1 / c(1) - w1).subs(b0, b0_needed))
check("first step matches with b0 = (1 - 1/alpha) w0/eta (remainder mod the characteristic polynomial)",
      sp.rem(sp.numer(sp.together(first)), poly, alpha))
u = sp.Symbol("u", positive=True)  # u = 1 - eta lam > 0 (a step must not flip w)
check("mu = 0: alpha = 1 - eta lam", (root.subs(mu, 0) - (1 - eta * lam)).subs(lam, (1 - u) / eta))
check("mu = 0: eta_t/eta = (1 - eta lam)^-(2t+1) (paper's Theorem 1 d_t)",
      (eta_t(t) / eta).subs(alpha, 1 - eta * lam) - (1 - eta * lam) ** (-(2 * t + 1)))

# (2) equilibrium
q = 1 - eta * lam
s, s_star = sp.symbols("s s_star", positive=True)
f = q**2 * s + eta**2 * G**2 / s
fixed = [r for r in sp.solve(sp.Eq(f, s), s) if r.is_positive is not False]
print("fixed points of s' = q^2 s + eta^2 G^2/s:", fixed)
s_pred = eta * G / sp.sqrt(eta * lam * (2 - eta * lam))
check("s* = eta G/sqrt(eta lam (2 - eta lam)) is a fixed point", f.subs(s, s_pred) - s_pred)
check("effective LR eta/s* = sqrt(eta lam (2 - eta lam))/G", eta / s_pred - sp.sqrt(eta * lam * (2 - eta * lam)) / G)
check("angular step eta G/s* = sqrt(eta lam (2 - eta lam))", eta * G / s_pred - sp.sqrt(eta * lam * (2 - eta * lam)))
check("(f(s) - s*)/(s - s*) = q^2 - eta^2 G^2/(s s*)", sp.simplify((f - s_pred) / (s - s_pred) - (q**2 - eta**2 * G**2 / (s * s_pred))))
check("f'(s*) = 2 q^2 - 1", sp.diff(f, s).subs(s, s_pred) - (2 * q**2 - 1))

# Sanity: the naive fixed point without the second-order term (s* = eta G/sqrt(2 eta lam)) is rejected
if sp.simplify(f.subs(s, eta * G / sp.sqrt(2 * eta * lam)) - eta * G / sp.sqrt(2 * eta * lam)) == 0:
    failures.append("sanity: approximate fixed point wrongly accepted")
else:
    print("ok   sanity: s* = eta G/sqrt(2 eta lam) (dropping (eta lam)^2) is rejected as exact")

if failures:
    print(f"{len(failures)} identities failed: {failures}")
    sys.exit(1)
print("all identities hold")
