"""Theorem 1: weight decay on a scale-invariant weight is a learning-rate schedule (SGD and heavy ball).

Source: Li, Chen, Xia, Yang (001_b5a1945cc2ea1296.txt), Theorem 1, Eqs. (17)-(20). Derives, and
exits 1 if an identity fails to simplify to zero:
  (1) SGD: with W_t = c_t U_t, gradients g(cU) = g(U)/c, the decay step
      W' = (1 - eta lam) W - eta g(W) equals c_{t+1} U' for the decay-free step U' = U - eta d_t g(U)
      iff c_{t+1} = (1 - eta lam) c_t and d_t = 1/(c_t c_{t+1}) = 1/(c_t^2 (1 - eta lam))
      -- Eq. (18)'s d_q uses p_q of the step's start; the proof's closing list (p of the step's end)
      does not satisfy the identity;
  (2) heavy ball (two-step form W_{t+1} = (1 + mu - eta lam) W_t - mu W_{t-1} - eta g(W_t); decay-free
      U_{t+1} = (1 + r mu) U_t - r mu U_{t-1} - eta_t g(U_t), r = eta_t/eta_{t-1}): with
      eta_t = eta/(c_t c_{t+1}) and c_{t+1} = (1 + mu - eta lam) c_t - mu c_{t-1} the identity holds;
  (3) the recurrence's characteristic roots are real iff eta lam <= (1 - sqrt mu)^2 (the
      discriminant factors as (x - (1 - sqrt mu)^2)(x - (1 + sqrt mu)^2), x = eta lam).
"""

import sys

import sympy as sp
from _identity import check, failures





eta, lam, mu = sp.symbols("eta lambda mu", positive=True)
ct, cprev = sp.symbols("c_t c_prev", positive=True)
U, Uprev, G = sp.symbols("U U_prev G")  # one coordinate of U_t, U_{t-1} and of g(U_t)

# (1) SGD. W = c U, g(W) = G / c.
q = 1 - eta * lam
c_next = q * ct
d = 1 / (ct * c_next)
W_next = q * ct * U - eta * G / ct
U_next = U - eta * d * G
check("SGD: W_{t+1} - c_{t+1} U_{t+1}", sp.expand(W_next - c_next * U_next))
check("SGD: d_t = 1/(c_t^2 (1 - eta lam))", d - 1 / (ct**2 * q))
d_listed = 1 / (c_next**2 * q)  # the closing list: p at the step's end
check("SGD: the listed d (p_{t+1}) fails the identity",
      sp.expand(W_next - c_next * (U - eta * d_listed * G)), expect_zero=False)

# (2) heavy ball
c_next_m = (1 + mu - eta * lam) * ct - mu * cprev
eta_t = eta / (ct * c_next_m)
eta_prev = eta / (cprev * ct)
r = eta_t / eta_prev
W_next_m = (1 + mu - eta * lam) * ct * U - mu * cprev * Uprev - eta * G / ct
U_next_m = (1 + r * mu) * U - r * mu * Uprev - eta_t * G
check("heavy ball: W_{t+1} - c_{t+1} U_{t+1}", sp.simplify(W_next_m - c_next_m * U_next_m))

# first step from zero buffers is plain SGD: c_1 = (1 - eta lam) c_0
c0 = sp.Symbol("c_0", positive=True)
check("heavy ball, first step: W_1 - c_1 U_1 with c_1 = (1 - eta lam) c_0",
      sp.expand(q * c0 * U - eta * G / c0 - q * c0 * (U - eta / (c0 * q * c0) * G)))

# (3) discriminant
x = sp.Symbol("x", positive=True)
disc = (1 + mu - x) ** 2 - 4 * mu
check("discriminant - (x - (1 - sqrt mu)^2)(x - (1 + sqrt mu)^2)",
      sp.expand(disc - (x - (1 - sp.sqrt(mu)) ** 2) * (x - (1 + sp.sqrt(mu)) ** 2)))

sys.exit(1 if failures else 0)
