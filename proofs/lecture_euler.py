"""Euler's theorem for positively homogeneous functions, and the scale-invariant corollaries.

Source: Grosse, CSC 2541 Lecture 5 (002_cd849d122e313ad8.txt), slide "Implicit Learning Rate Decay".

Every function positively homogeneous of degree k on R^3 \\ {0} can be written
f(w) = r^k h(w / r) with r = ||w|| and h its restriction to the unit sphere. With h an arbitrary
(undefined) smooth function, this script derives
  (1) <grad f(w), w> = k f(w)                       (Euler's identity)
  (2) grad f(gamma w) = gamma^(k-1) grad f(w)       for gamma > 0
  (3) k = 0: <grad f(w), w> = 0 and grad f(gamma w) = grad f(w) / gamma
and exits 1 if any of them fails to simplify to zero.
"""

import sys

import sympy as sp
import _identity
from _identity import failures

w1, w2, w3 = sp.symbols("w1 w2 w3", real=True)
k = sp.Symbol("k", real=True)
gamma = sp.Symbol("gamma", positive=True)
h = sp.Function("h")
w = (w1, w2, w3)


def homogeneous(k_value, point):
    r = sp.sqrt(sum(c**2 for c in point))
    return r**k_value * h(*(c / r for c in point))


def gradient(expr):
    return [sp.diff(expr, c) for c in w]




S = sp.Symbol("S", positive=True)  # stands for r^2 = w1^2 + w2^2 + w3^2


def reduce(expr):
    """Simplify using r^2 = S > 0 (sympy does not combine powers of a sum of squares by itself)."""
    expr = expr.subs(w1**2 + w2**2 + w3**2, S)
    expr = sp.expand_power_base(sp.powdenest(expr, force=True), force=True)
    expr = sp.expand(expr).subs(w3**2, S - w1**2 - w2**2)
    expr = sp.simplify(sp.powsimp(sp.expand(expr), force=True))
    return sp.simplify(expr.subs(S, w1**2 + w2**2 + w3**2))



def check(name, expr, expect_zero=True):
    return _identity.check(name, expr, expect_zero, simplify=reduce)


f = homogeneous(k, w)
grad = gradient(f)
check("Euler: <grad f, w> - k f", sum(g * c for g, c in zip(grad, w)) - k * f)

scaled = homogeneous(k, tuple(gamma * c for c in w))
check("f(gamma w) - gamma^k f(w)", scaled - gamma**k * f)
for i, c in enumerate(w):
    # d/dw_i of f(gamma w) is gamma * (grad f)(gamma w); so (grad f)(gamma w) = d/dw_i f(gamma w) / gamma
    grad_at_scaled = sp.diff(scaled, c) / gamma
    check(f"grad_{i} f(gamma w) - gamma^(k-1) grad_{i} f(w)", grad_at_scaled - gamma ** (k - 1) * grad[i])

f0 = homogeneous(0, w)
grad0 = gradient(f0)
check("scale invariant: <grad J, w>", sum(g * c for g, c in zip(grad0, w)))
scaled0 = homogeneous(0, tuple(gamma * c for c in w))
for i, c in enumerate(w):
    check(f"scale invariant: grad_{i} J(gamma w) - grad_{i} J(w) / gamma",
          sp.diff(scaled0, c) / gamma - grad0[i] / gamma)

# The simplifier must not prove false statements: wrong degrees do not reduce to zero.
for name, wrong in (("<grad f, w> - (k+1) f", sum(g * c for g, c in zip(grad, w)) - (k + 1) * f),
                    ("grad_0 f(gamma w) - gamma^k grad_0 f(w)", sp.diff(scaled, w1) / gamma - gamma**k * grad[0])):
    if reduce(wrong) == 0:
        print(f"FAIL sanity: the wrong identity {name} simplified to 0")
        failures.append(f"sanity: {name}")
    else:
        print(f"ok   sanity: the wrong identity {name} does not simplify to 0")

if failures:
    print(f"{len(failures)} identities failed: {failures}")
    sys.exit(1)
print("all identities hold")
