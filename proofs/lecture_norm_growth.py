"""Norm growth of a scale-invariant weight under SGD, and the sqrt(1 + k/k0) law.

Source: Grosse, CSC 2541 Lecture 5 (002_cd849d122e313ad8.txt), slides "Implicit Learning Rate
Decay". Derives, and exits 1 if any identity fails to simplify to zero:
  (1) Pythagoras: for g orthogonal to w, ||w - alpha g||^2 = ||w||^2 + alpha^2 ||g||^2 (either sign
      of the step: the slide writes w + alpha grad);
  (2) the normalized update: with grad J(w) = grad J(w_hat)/||w|| (degree -1),
      (w - alpha grad J(w)) / ||w|| = w_hat - (alpha/||w||^2) grad J(w_hat);
  (3) with ||grad J(w_hat)|| = G constant, s = ||w||^2 obeys s_{k+1} = s_k + c/s_k, c = alpha^2 G^2;
      the continuous version ds/dk = c/s has the solution s = s_0 sqrt(1 + k/k0), k0 = s_0^2/(2c);
  (4) the discrete recursion satisfies s_{k+1}^2 = s_k^2 + 2c + c^2/s_k^2 exactly, so the closed
      form is a lower bound: s_k^2 >= s_0^2 + 2ck = s_0^2 (1 + k/k0).
"""

import sys

import sympy as sp
from _identity import check, failures





n = 4
w = sp.Matrix(sp.symbols(f"w1:{n + 1}", real=True))
u = sp.Matrix(sp.symbols(f"u1:{n + 1}", real=True))
alpha = sp.Symbol("alpha", positive=True)
g = u - (u.dot(w) / w.dot(w)) * w  # the general vector orthogonal to w
check("<g, w> = 0", g.dot(w))
for sign in (-1, 1):
    step = w + sign * alpha * g
    check(f"||w {'+' if sign > 0 else '-'} alpha g||^2 - ||w||^2 - alpha^2 ||g||^2",
          step.dot(step) - w.dot(w) - alpha**2 * g.dot(g))

norm = sp.sqrt(w.dot(w))
grad_hat = g  # any gradient at w_hat: orthogonal to w_hat (scale invariance)
grad_w = grad_hat / norm  # degree -1 homogeneity: grad J(w) = grad J(w_hat) / ||w||
lhs = (w - alpha * grad_w) / norm
rhs = w / norm - alpha / norm**2 * grad_hat
check("normalized update with effective LR alpha/||w||^2", sp.simplify((lhs - rhs).dot(lhs - rhs)))

k, c, s0 = sp.symbols("k c s0", positive=True)
s = sp.Function("s")
solution = sp.dsolve(sp.Eq(s(k).diff(k), c / s(k)), s(k), ics={s(0): s0})
solutions = solution if isinstance(solution, list) else [solution]
positive = [sol.rhs for sol in solutions if sol.rhs.subs(k, 0) == s0]
k0 = s0**2 / (2 * c)
print("ds/dk = c/s, s(0) = s0 gives s(k) =", positive)
check("s(k) - s0 sqrt(1 + k/k0) with k0 = s0^2/(2c)", positive[0] - s0 * sp.sqrt(1 + k / k0))

sk = sp.Symbol("s_k", positive=True)
check("(s_k + c/s_k)^2 - (s_k^2 + 2c + c^2/s_k^2)", (sk + c / sk) ** 2 - (sk**2 + 2 * c + c**2 / sk**2))

# Sanity: a wrong k0 must not pass.
if sp.simplify(positive[0] - s0 * sp.sqrt(1 + k * c / s0**2)) == 0:
    failures.append("sanity: k0 = s0^2/c wrongly accepted")
else:
    print("ok   sanity: k0 = s0^2/c is rejected")

if failures:
    print(f"{len(failures)} identities failed: {failures}")
    sys.exit(1)
print("all identities hold")
