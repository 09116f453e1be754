"""Euler's theorem for positively homogeneous functions, and the scale-invariant corollaries.

Source: lecture 002_cd849d122e313ad8.txt, slide "Implicit Learning Rate Decay" (g homogeneous of degree
k: grad g(gamma x) = gamma^(k-1) grad g(x); BN is scale invariant, so grad J(gamma w) = grad J(w)/gamma).

Claims: L5-euler, L5-scale-invariant-gradient

Every function positively homogeneous of degree k on R^d without 0 can be written f(w) = r^k h(w/r)
with r = ||w|| and h its restriction to the unit sphere. With h an arbitrary (undefined) smooth
function and r kept as an unevaluated function with dr/dw_i = w_i/r (the only other fact used is
r^2 = w_1^2 + ... + w_d^2), this script derives, for d = 2, 3 and 4:
  (1) <grad f(w), w> = k f(w)                       (Euler's identity)
  (2) f(gamma w) = gamma^k f(w) and grad f(gamma w) = gamma^(k-1) grad f(w) for gamma > 0
  (3) k = 0: <grad f(w), w> = 0 and grad f(gamma w) = grad f(w)/gamma
Wrong variants rejected: <grad f, w> = (k+1) f, and grad f(gamma w) = gamma^k grad f(w).
The dimension is not symbolic: sympy cannot differentiate an undefined function of a symbolic number
of arguments (h(w_1/r, ..., w_d/r) with d a symbol), so three dimensions stand in for it; nothing in
the derivation depends on d beyond the number of coordinates.
"""

import sympy as sp
from _identity import check, finish, refute

k = sp.Symbol("k", real=True)
gamma, r = sp.symbols("gamma r", positive=True)
h = sp.Function("h")


def derive(d):
    """The identities in R^d, differentiating r = ||w|| by the rule dr/dw_i = w_i/r."""
    w = sp.symbols(f"w1:{d + 1}", real=True)
    R = sp.Function("R")(*w)  # ||w||, kept unevaluated so sympy applies the chain rule
    chain = {sp.Derivative(R, c): c / R for c in w}

    def homogeneous(k_value, scale=1):
        """f(scale w) = (scale r)^k h(w/r): ||scale w|| = scale ||w|| for scale > 0."""
        return (scale * R) ** k_value * h(*(scale * c / (scale * R) for c in w))

    def partial(expr, c):
        return sp.diff(expr, c).subs(chain)

    rest = r**2 - sum(c**2 for c in w[:-1])
    high_power = lambda x: x.is_Pow and x.base == w[-1] and x.exp.is_Integer and x.exp >= 2  # noqa: E731

    def reduce(expr):
        """Expand with R -> r and w_d^e -> w_d^(e-2) (r^2 - w_1^2 - ... - w_{d-1}^2), the only fact about r."""
        expr = sp.expand(expr.subs(R, r))
        while expr.has(sp.Pow) and expr.find(high_power):
            expr = sp.expand(expr.replace(high_power, lambda x: w[-1] ** (x.exp - 2) * rest))
        return sp.simplify(sp.powsimp(expr, force=True))

    f = homogeneous(k)
    grad = [partial(f, c) for c in w]
    euler = sum(g * c for g, c in zip(grad, w))
    check(f"d = {d}, Euler: <grad f, w> = k f", euler - k * f, simplify=reduce)
    scaled = homogeneous(k, gamma)
    check(f"d = {d}: f(gamma w) = gamma^k f(w)", scaled - gamma**k * f, simplify=reduce)
    for i, c in enumerate(w):
        # d/dw_i of f(gamma w) is gamma (grad_i f)(gamma w), so (grad_i f)(gamma w) = d/dw_i f(gamma w) / gamma
        check(f"d = {d}: grad_{i + 1} f(gamma w) = gamma^(k-1) grad_{i + 1} f(w)",
              partial(scaled, c) / gamma - gamma ** (k - 1) * grad[i], simplify=reduce)
    f0 = homogeneous(0)
    grad0 = [partial(f0, c) for c in w]
    check(f"d = {d}, scale invariant: <grad J, w> = 0", sum(g * c for g, c in zip(grad0, w)), simplify=reduce)
    scaled0 = homogeneous(0, gamma)
    for i, c in enumerate(w):
        check(f"d = {d}, scale invariant: grad_{i + 1} J(gamma w) = grad_{i + 1} J(w)/gamma",
              partial(scaled0, c) / gamma - grad0[i] / gamma, simplify=reduce)
    refute(f"d = {d}: <grad f, w> = (k+1) f", euler - (k + 1) * f, simplify=reduce)
    refute(f"d = {d}: grad_1 f(gamma w) = gamma^k grad_1 f(w)", partial(scaled, w[0]) / gamma - gamma**k * grad[0],
           simplify=reduce)


for dimension in (2, 3, 4):
    derive(dimension)

finish()
