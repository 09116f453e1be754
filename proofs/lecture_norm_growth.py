"""Norm growth of a scale-invariant weight under SGD, the effective learning rate, and the sqrt(1 + k/k0) law.

Source: lecture 002_cd849d122e313ad8.txt, slides "Implicit Learning Rate Decay": the canonicalized
update (effective LR alpha ||w||^-1 on grad J(w), alpha ||w||^-2 on grad J(w_hat)), the Pythagorean
slide (||w^(k+1)||^2 = ||w^(k)||^2 + alpha^2 ||grad J||^2), the sqrt(1 + k/k0) slide, and "explicitly
normalize each w_j to unit norm: then the effective LR is just alpha".

Claims: L5-norm-growth, L5-effective-lr, L5-sqrt-decay, L5-counteract-lr-decay

Hypotheses (derived in proofs/lecture_euler.py): grad J(w) is orthogonal to w and has degree -1,
grad J(w) = grad J(w_hat)/||w||. Vectors are MatrixSymbols of symbolic size n. Derived:
  (1) Pythagoras: for w^T g = 0, ||w + sigma alpha g||^2 = ||w||^2 + alpha^2 ||g||^2 for either sign
      sigma (the slide writes w + alpha grad; SGD subtracts). Wrong variant rejected: alpha for alpha^2.
  (2) the canonicalized update: (w - alpha grad J(w))/||w|| = w_hat - (alpha/||w||) grad J(w)
      = w_hat - (alpha/||w||^2) grad J(w_hat); the slide's approximation replaces 1/||w - alpha grad J||
      by 1/||w||, and the exact ratio is ||w||/||w - alpha grad J(w)|| = (1 + alpha^2 G^2/||w||^4)^(-1/2)
      = 1 - alpha^2 G^2/(2 ||w||^4) + O(alpha^4) (G = ||grad J(w_hat)||): second order in alpha. Wrong
      variant rejected: a first-order error 1 - alpha G/||w||^2.
  (3) with G constant, s = ||w||^2 obeys s_{k+1} = s_k + c/s_k, c = alpha^2 G^2 (from (1)); the continuous
      version ds/dk = c/s, s(0) = s_0 is solved (dsolve): s = s_0 sqrt(1 + k/k0), k0 = s_0^2/(2c), so the
      effective LR alpha/s decays as 1/sqrt(1 + k/k0). Wrong variant rejected: k0 = s_0^2/c.
  (4) the discrete recursion, by induction on k: s_{k+1}^2 = s_k^2 + 2c + c^2/s_k^2, s_k increases, and
      s_0^2 (1 + k/k0) <= s_k^2 <= s_0^2 (1 + k/k0) + k c^2/s_0^2: the sqrt law bounds the squared norm
      from below and the gap grows at most linearly with a factor c^2/s_0^2 (small when c << s_0^2).
  (5) explicit normalization: with ||w|| = 1 the effective LR alpha/||w||^2 is alpha.
"""

import sympy as sp
from _identity import check, check_nonnegative, check_words, finish, refute

n = sp.Symbol("n", integer=True, positive=True)
w = sp.MatrixSymbol("w", n, 1)
g = sp.MatrixSymbol("g", n, 1)
alpha, s, G = sp.symbols("alpha s G", positive=True)  # s = ||w||^2

# (1) Pythagoras
orth = {(w.T, g): sp.ZeroMatrix(1, 1)}
for sign in (-1, 1):
    step = w + sign * alpha * g
    check_words(f"||w {'+' if sign > 0 else '-'} alpha g||^2 = ||w||^2 + alpha^2 ||g||^2",
                step.T * step - w.T * w - alpha**2 * g.T * g, orth)
step = w - alpha * g
refute("||w - alpha g||^2 = ||w||^2 + alpha ||g||^2", step.T * step - w.T * w - alpha * g.T * g, rules=orth)

# (2) the canonicalized update; grad J(w) = gh / ||w|| with gh = grad J(w_hat)
norm = sp.sqrt(s)
gh = sp.MatrixSymbol("gh", n, 1)
grad_w = gh / norm
check_words("(w - alpha grad J(w))/||w|| = w_hat - (alpha/||w||) grad J(w)",
            (w - alpha * grad_w) / norm - (w / norm - alpha / norm * grad_w))
check_words("(w - alpha grad J(w))/||w|| = w_hat - (alpha/||w||^2) grad J(w_hat)",
            (w - alpha * grad_w) / norm - (w / norm - alpha / s * gh))
# exact normalizer: ||w - alpha grad J(w)||^2 = s + alpha^2 G^2/s, by (1) with ||grad J(w)||^2 = G^2/s
check_words("||w - alpha grad J(w)||^2 = s + alpha^2 G^2/s",
            (w - alpha * grad_w).T * (w - alpha * grad_w) - (s + alpha**2 * G**2 / s) * sp.Identity(1),
            {(w.T, gh): sp.ZeroMatrix(1, 1), (w.T, w): s, (gh.T, gh): G**2})
ratio = norm / sp.sqrt(s + alpha**2 * G**2 / s)
series = sp.series(ratio, alpha, 0, 4).removeO()
check("||w||/||w - alpha grad J|| = 1 - alpha^2 G^2/(2 s^2) + O(alpha^4)", series - (1 - alpha**2 * G**2 / (2 * s**2)))
refute("||w||/||w - alpha grad J|| = 1 - alpha G/s + O(alpha^2) (a first-order error)",
       sp.series(ratio, alpha, 0, 2).removeO() - (1 - alpha * G / s), witness={alpha: 1, G: 1, s: 1})

# (3) the recursion and its continuous version
c, s0 = sp.symbols("c s0", positive=True)
k = sp.Symbol("k", nonnegative=True)
check_words("s_{k+1} = ||w - alpha grad J(w)||^2 = s + c/s with c = alpha^2 G^2",
            (w - alpha * grad_w).T * (w - alpha * grad_w) - (s + (alpha**2 * G**2) / s) * sp.Identity(1),
            {(w.T, gh): sp.ZeroMatrix(1, 1), (w.T, w): s, (gh.T, gh): G**2})
S = sp.Function("S")
solution = sp.dsolve(sp.Eq(S(k).diff(k), c / S(k)), S(k), ics={S(0): s0})
solutions = solution if isinstance(solution, list) else [solution]
positive = [sol.rhs for sol in solutions if sp.simplify(sol.rhs.subs(k, 0) - s0) == 0]
print("ds/dk = c/s, s(0) = s0 gives s(k) =", positive)
k0 = s0**2 / (2 * c)
check("one solution through s0: s(k) = s0 sqrt(1 + k/k0), k0 = s0^2/(2c)",
      (len(positive) - 1) + sp.simplify(positive[0] - s0 * sp.sqrt(1 + k / k0)) ** 2)
refute("k0 = s0^2/c", positive[0] - s0 * sp.sqrt(1 + k * c / s0**2), witness={s0: 1, c: 1, k: 1})

# (4) the discrete recursion, by induction on k; P = s_k^2
sk, P = sp.symbols("s_k P", positive=True)
e, h, b = sp.symbols("e h b", nonnegative=True)
kk = sp.Symbol("kk", integer=True, nonnegative=True)
s_next = sk + c / sk
check("s_{k+1}^2 = s_k^2 + 2c + c^2/s_k^2", sp.expand(s_next**2 - (sk**2 + 2 * c + c**2 / sk**2)))
check_nonnegative("s_{k+1} - s_k = c/s_k >= 0 (so s_k >= s0)", s_next - sk, c / sk)
next_sq = P + 2 * c + c**2 / P  # s_{k+1}^2 in terms of P = s_k^2
lower = s0**2 + 2 * c * kk  # induction hypothesis: P = lower + e, e >= 0
check_nonnegative("lower bound step: s_{k+1}^2 - (s0^2 + 2c(k+1)) >= 0 when s_k^2 = s0^2 + 2ck + e",
                  (next_sq - (s0**2 + 2 * c * (kk + 1))).subs(P, lower + e), e + c**2 / (lower + e))
check("s0^2 + 2ck = s0^2 (1 + k/k0)", lower - s0**2 * (1 + kk / k0))
upper = s0**2 + 2 * c * kk + kk * c**2 / s0**2  # induction hypothesis: P = upper - h, h >= 0
check("upper bound step: upper_{k+1} - s_{k+1}^2 = h + c^2/s0^2 - c^2/s_k^2 when s_k^2 = upper_k - h",
      (s0**2 + 2 * c * (kk + 1) + (kk + 1) * c**2 / s0**2 - next_sq).subs(P, upper - h)
      - (h + c**2 / s0**2 - c**2 / (upper - h)))
check_nonnegative("c^2/s0^2 - c^2/s_k^2 >= 0 since s_k^2 = s0^2 + b, b >= 0 (s_k increases)",
                  c**2 / s0**2 - c**2 / (s0**2 + b), c**2 * b / (s0**2 * (s0**2 + b)))

# (5) explicit normalization
check("||w|| = 1: effective LR alpha/||w||^2 = alpha", (alpha / s).subs(s, 1) - alpha)

finish()
