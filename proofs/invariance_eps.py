"""How an epsilon breaks the scale invariance of weight standardization and batch norm.

Sources: Li et al. (001_b5a1945cc2ea1296.txt) Eq. (23), WS with eps outside the square root;
Grosse, Lecture 5 (002_cd849d122e313ad8.txt), BN invariance (slide "Implicit Learning Rate Decay"),
for BN with an eps added to the variance as in practice. Derives, exiting 1 on failure:
  (1) WS_eps: WS_eps(alpha W + beta) = alpha c/(alpha sigma + eps) with c = W - mean, so the
      relative change of the output is |alpha (sigma+eps)/(alpha sigma+eps) - 1|
      = eps |alpha - 1| / (alpha sigma + eps), and it is zero for eps = 0;
  (2) BN_eps: scaling a unit by gamma > 0 multiplies its output by gamma sqrt(v+eps)/sqrt(gamma^2 v+eps),
      which is 1 for eps = 0.
"""

import sys

import sympy as sp
from _identity import check, failures

alpha, sigma, eps, gamma, v = sp.symbols("alpha sigma epsilon gamma v", positive=True)




ratio = alpha * (sigma + eps) / (alpha * sigma + eps)  # WS_eps(alpha W + beta) / WS_eps(W), entrywise
check("ratio - 1 - eps (alpha - 1)/(alpha sigma + eps)", ratio - 1 - eps * (alpha - 1) / (alpha * sigma + eps))
check("WS ratio at eps = 0 is 1", ratio.subs(eps, 0) - 1)

# BN_eps(gamma x) = gamma (x - mu) / sqrt(gamma^2 v + eps); BN_eps(x) = (x - mu)/sqrt(v + eps)
factor = gamma * sp.sqrt(v + eps) / sp.sqrt(gamma**2 * v + eps)
check("BN factor at eps = 0 is 1", factor.subs(eps, 0) - 1)
check("BN factor^2 - gamma^2 (v+eps)/(gamma^2 v+eps)", factor**2 - gamma**2 * (v + eps) / (gamma**2 * v + eps))
if sp.simplify(factor - 1) == 0:
    failures.append("sanity: BN factor with eps > 0 wrongly simplified to 1")
else:
    print("ok   sanity: with eps > 0 the BN factor is not identically 1")

if failures:
    print(f"{len(failures)} identities failed: {failures}")
    sys.exit(1)
print("all identities hold")
