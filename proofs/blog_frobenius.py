"""Frobenius norms, Frobenius penalties, singular values and rank.

Source: blog 000_c4f6666b093bc660.txt, section "Relevance and Investigation" (penalising the layers'
Frobenius norms "enforces that the sum of the singular values is one, which can lead to weight
matrices of rank one"), section "Norm Scaling" (the Frobenius algorithm W / ||W||_F times the initial
norm) and "Conclusion" (penalties enforce low rank).

Claims: BLOG-frobenius-sum, BLOG-frobenius-scaling, BLOG-frobenius-rank-deep,
BLOG-frobenius-rank-single, BLOG-ns-rank

Sizes are symbolic (MatrixSymbol m x n, rank r, sums over symbolic ranges); hypotheses are rewriting
rules and are the only facts used. Derived:
  (1) thin SVD W = U D V^T (U^T U = V^T V = I_r, D = diag(s_1..s_r)): W^T W = V D^2 V^T, so
      ||W||_F^2 = tr(W^T W) = tr(D^2 V^T V) = sum_i s_i^2 -- the sum of SQUARED singular values. A
      Frobenius constraint ||W||_F = 1 fixes sum s_i^2 = 1, not sum s_i = 1. Wrong variants rejected:
      ||W||_F^2 = (sum s_i)^2, and "sum s_i^2 = 1 implies sum s_i = 1" (witness s = (1/sqrt 2, 1/sqrt 2)).
  (2) Frobenius Norm Scaling: ||c W / ||W||_F||_F = c for any W != 0. Wrong variant rejected: dividing
      by ||W||_F^2.
  (3) depth 2, P = W2 W1 = U D V^T: the balanced factors W2 = U D^(1/2), W1 = D^(1/2) V^T reproduce P
      and cost ||W1||_F^2 + ||W2||_F^2 = 2 sum s_i = 2 ||P||_* (the nuclear norm, the SUM of singular
      values: this is where the blog's "sum" is right). The matching lower bound for general sizes
      (||P||_* <= ||W1||_F ||W2||_F, von Neumann's trace inequality) is not derived here: sympy has
      no symbolic-size singular value or trace inequality machinery; per singular direction it is
      a^2 + b^2 - 2 a b = (a - b)^2 >= 0 (derived). With the per-direction loss 1/2 (p - y)^2 the
      penalised problem is 1/2 (p - y)^2 + lam p on p >= 0, minimised at p = y - lam when y > lam and
      at p = 0 when y <= lam (soft threshold: weak directions are removed, rank drops), while a single
      matrix with ridge 1/2 (w - y)^2 + lam/2 w^2 has w = y/(1 + lam), never 0 for y != 0. Wrong variant
      rejected: the deep minimiser read as y/(1 + lam).
  (4) one matrix, one sample x (n x 1) with target y (m x 1), loss 1/2 ||W x - y||^2 + lam/2 ||W||_F^2:
      the gradient is (W x - y) x^T + lam W; W* = y x^T/(x^T x + lam) makes it zero, and W* is an outer
      product (rank <= 1) for all m, n. Gradient descent W' = W - eta grad multiplies the part of W
      outside span(x^T), W P with P = I - x x^T/(x^T x), by exactly (1 - eta lam): with lam > 0 it decays
      and GD ends at rank one; with lam = 0 it is kept (W0 P, rank up to min(m, n - 1)), so the rank
      of W0 survives. Wrong variant rejected: the factor (1 + eta lam).
"""

import sympy as sp
from _identity import check, check_nonnegative, check_words, finish, refute, refute_nonnegative

m, n, r = sp.symbols("m n r", integer=True, positive=True)
i = sp.Symbol("i", integer=True, positive=True)
s = sp.IndexedBase("s", positive=True)  # singular values s_1..s_r

# (1) ||W||_F^2 = sum of squared singular values
U = sp.MatrixSymbol("U", m, r)
V = sp.MatrixSymbol("V", n, r)
D = sp.MatrixSymbol("D", r, r)  # diag(s_1..s_r); D^T = D
svd = {(U.T, U): sp.Identity(r), (V.T, V): sp.Identity(r), (D.T,): D}
W = U * D * V.T
check_words("W^T W = V D^2 V^T", W.T * W - V * D * D * V.T, svd)
check_words("tr(V D^2 V^T) = tr(D^2 V^T V) = tr(D^2) (cyclic trace)", D * D * V.T * V - D * D, svd)
fro_sq = sp.Sum(s[i] ** 2, (i, 1, r))  # tr(D^2) for D = diag(s_1..s_r)
sum_s = sp.Sum(s[i], (i, 1, r))
refute("||W||_F^2 = (sum_i s_i)^2", fro_sq - sum_s**2, witness={r: 2, s[1]: 1, s[2]: 1})
half = 1 / sp.sqrt(2)
check("s = (1/sqrt 2, 1/sqrt 2) meets ||W||_F = 1", fro_sq.subs(r, 2).doit().subs({s[1]: half, s[2]: half}) - 1)
refute("||W||_F = 1 implies sum_i s_i = 1", sum_s - 1, witness={r: 2, s[1]: half, s[2]: half})

# (2) Frobenius Norm Scaling
c, F = sp.symbols("c F", positive=True)  # F = ||W||_F^2 = tr(W^T W) > 0
check("||c W/||W||_F||_F^2 = (c^2/F) tr(W^T W) = c^2", (c / sp.sqrt(F)) ** 2 * F - c**2)
refute("dividing by ||W||_F^2 also gives norm c", (c / F) ** 2 * F - c**2, witness={c: 1, F: 4})

# (3) depth 2: the balanced factorisation costs 2 ||P||_*
Dh = sp.MatrixSymbol("Dh", r, r)  # D^(1/2) = diag(sqrt s_i)
balanced = {**svd, (Dh, Dh): D, (Dh.T,): Dh}
W2, W1 = U * Dh, Dh * V.T
check_words("W2 W1 = U D V^T = P", W2 * W1 - U * D * V.T, balanced)
check_words("||W1||_F^2 = tr(V D V^T) = tr(D V^T V) = tr(D)", Dh * V.T * V * Dh - D, balanced)
check_words("||W2||_F^2 = tr(Dh U^T U Dh) = tr(D)", W2.T * W2 - D, balanced)
a, b, p, y, lam, d = sp.symbols("a b p y lam d", positive=True)
check_nonnegative("a^2 + b^2 - 2ab >= 0, equality iff a = b", a**2 + b**2 - 2 * a * b, (a - b) ** 2)
check("balanced a = b = sqrt(p) costs 2p", 2 * sp.sqrt(p) ** 2 - 2 * p)
deep = (p - y) ** 2 / 2 + lam * p
stationary = sp.solve(sp.diff(deep, p), p)
check("deep: the stationary point of 1/2 (p - y)^2 + lam p is p = y - lam (one point, curvature 1)",
      (len(stationary) - 1) + (stationary[0] - (y - lam)) ** 2 + (sp.diff(deep, p, 2) - 1) ** 2)
check_nonnegative("deep, y <= lam (lam = y + d): d/dp >= 0 on p >= 0, minimum at p = 0",
                  sp.diff(deep, p).subs(lam, y + d), p + d)
single = (p - y) ** 2 / 2 + lam * p**2 / 2
ridge = sp.solve(sp.diff(single, p), p)
check("single ridge: the stationary point is y/(1 + lam) (never 0 for y != 0)",
      (len(ridge) - 1) + (ridge[0] - y / (1 + lam)) ** 2)
refute("deep minimiser = y/(1 + lam)", stationary[0] - y / (1 + lam), witness={y: 3, lam: 1})
refute_nonnegative("deep: d/dp >= 0 on p >= 0 also when y > lam", sp.diff(deep, p), witness={p: 0, y: 2, lam: 1})

# (4) one matrix, one sample
Wm = sp.MatrixSymbol("W", m, n)
x = sp.MatrixSymbol("x", n, 1)
yv = sp.MatrixSymbol("y", m, 1)
q, eta = sp.symbols("q eta", positive=True)  # q = x^T x
sample = {(x.T, x): q}
grad = lambda M: (M * x - yv) * x.T + lam * M  # noqa: E731  d/dW of 1/2 ||W x - y||^2 + lam/2 ||W||_F^2
W_star = yv * x.T / (q + lam)
check_words("grad at W* = y x^T/(x^T x + lam) vanishes (W* is an outer product: rank <= 1)", grad(W_star), sample)
P = sp.Identity(n) - x * x.T / q
check_words("x^T P = 0", x.T * P, sample)
W_next = Wm - eta * grad(Wm)
check_words("GD: W' P = (1 - eta lam) W P", W_next * P - (1 - eta * lam) * Wm * P, sample)
check_words("GD, lam = 0: W' P = W P (the part outside span(x^T) is kept)",
            (Wm - eta * (Wm * x - yv) * x.T) * P - Wm * P, sample)
refute("GD: W' P = (1 + eta lam) W P", W_next * P - (1 + eta * lam) * Wm * P, rules=sample)

finish()
