"""Scale (and shift) invariance of WN, WS and batch norm, and how an eps changes it.

Source: paper 001_b5a1945cc2ea1296.txt, Eqs. (2)-(3), (5), (7) (WN and WS are independent of the
weight's magnitude, WS also of its mean) and Eq. (23) (WS with eps outside the square root, as
implemented); lecture 002_cd849d122e313ad8.txt, slide "Batch Normalization" (BN without eps) and slide
"Implicit Learning Rate Decay" (BN(A W^T) = BN(A W^T Gamma) for positive diagonal Gamma; the network as
a whole is invariant).

Claims: PAPER-wn-scale-invariance, PAPER-ws-affine-invariance, PAPER-ws-eps-invariance,
L5-bn-unit-rescaling, L5-bn-eps, L5-bn-input-shift-rescale, CONF-torch-batch-norm-invariance,
CONF-torch-batch-norm-eps

Sizes are symbolic: a weight has n entries w_j, a batch N values z_b (sums over symbolic ranges).
Derived, with alpha > 0, beta real, gamma > 0:
  (1) WN: ||alpha w||^2 = alpha^2 ||w||^2, so (alpha w)/||alpha w|| = w/||w||. Wrong variant rejected:
      w/(||w|| + eps) is scale invariant.
  (2) WS_eps(w)_i = (w_i - mean)/(std + eps): for V = alpha w + beta, mean(V) = alpha mean(w) + beta,
      V_i - mean(V) = alpha (w_i - mean(w)), var(V) = alpha^2 var(w); hence WS_eps(V) = r WS_eps(w) with
      r = alpha (sigma + eps)/(alpha sigma + eps) > 0 (one factor for the whole channel), r = 1 for
      eps = 0 (Eq. (3)'s invariance to magnitude and mean), r - 1 = eps (alpha - 1)/(alpha sigma + eps).
      Wrong variant rejected: r = 1 with eps > 0 (exact invariance of Eq. (23)).
  (3) BN without eps, one unit over a batch: BN(gamma z) = BN(z) and BN(z + delta) = BN(z); columns are
      normalized separately, so BN(A W^T Gamma) = BN(A W^T) for every positive diagonal Gamma. With eps
      added to the variance, BN_eps(gamma z) = BN_eps(z) * gamma sqrt(var + eps)/sqrt(gamma^2 var + eps).
      Wrong variant rejected: BN_eps exactly invariant.
      Shifting or rescaling the layer's INPUT (slide "A Wrinkle"): the unit's pre-activation
      sum_d (c a_bd + delta_d) w_d = c y_b + sum_d delta_d w_d is a positive multiple plus a constant over
      the batch, so BN(phi-input) is unchanged for every w (c > 0); the result is the same function of w.
  (4) a layer z_b = sum_i x_{b,i} WS_eps(V)_i followed by BN (eps = 0): z(V) = r z(w) by linearity, so
      BN(z(V)) = BN(z(w)): with BN after it, the WS_eps layer is exactly invariant to alpha and beta.
"""

import sympy as sp
from _identity import check, check_nonnegative, expand_sums, finish, refute

n, N = sp.symbols("n N", integer=True, positive=True)
i, j, b = sp.symbols("i j b", integer=True, positive=True)
alpha, gamma, eps = sp.symbols("alpha gamma epsilon", positive=True)
beta, delta = sp.symbols("beta delta", real=True)
w = sp.IndexedBase("w", real=True)
x = sp.IndexedBase("x", real=True)
z = sp.IndexedBase("z", real=True)


def mean(entry, k, size):
    return sp.Sum(entry(k), (k, 1, size)) / size


def var(entry, k, size):
    mu = mean(entry, k, size)
    return sp.Sum((entry(k) - mu) ** 2, (k, 1, size)) / size


def same(name, left, right):
    return check(name, expand_sums(left - right))


# (1) WN
sq = sp.Sum(w[j] ** 2, (j, 1, n))
same("||alpha w||^2 = alpha^2 ||w||^2", sp.Sum((alpha * w[j]) ** 2, (j, 1, n)), alpha**2 * sq)
S = sp.Symbol("S", positive=True)  # ||w||^2 > 0
check("(alpha w_i)/||alpha w|| = w_i/||w||", alpha * w[i] / sp.sqrt(alpha**2 * S) - w[i] / sp.sqrt(S))
refute("w/(||w|| + eps) is scale invariant", alpha * w[i] / (sp.sqrt(alpha**2 * S) + eps) - w[i] / (sp.sqrt(S) + eps),
       witness={alpha: 2, S: 1, eps: 1, w[i]: 1})

# (2) WS_eps under W -> alpha W + beta
W_ = lambda k: w[k]  # noqa: E731
V_ = lambda k: alpha * w[k] + beta  # noqa: E731
same("mean(alpha w + beta) = alpha mean(w) + beta", mean(V_, j, n), alpha * mean(W_, j, n) + beta)
same("V_i - mean(V) = alpha (w_i - mean(w))", V_(i) - mean(V_, j, n), alpha * (W_(i) - mean(W_, j, n)))
same("var(alpha w + beta) = alpha^2 var(w)", var(V_, j, n), alpha**2 * var(W_, j, n))
sigma = sp.Symbol("sigma", positive=True)  # std(w); then std(V) = sqrt(alpha^2 sigma^2) = alpha sigma
c_i = sp.Symbol("c_i", real=True)  # w_i - mean(w)
ws_w = c_i / (sigma + eps)
ws_V = alpha * c_i / (sp.sqrt(alpha**2 * sigma**2) + eps)
r = sp.simplify(ws_V / ws_w)
print("WS_eps(alpha w + beta)/WS_eps(w) =", r)
check("the ratio is r = alpha (sigma + eps)/(alpha sigma + eps), the same for every i", r - alpha * (sigma + eps) / (alpha * sigma + eps))
check("r - 1 = eps (alpha - 1)/(alpha sigma + eps)", r - 1 - eps * (alpha - 1) / (alpha * sigma + eps))
check("eps = 0: r = 1 (Eq. (3): independent of magnitude and mean)", r.subs(eps, 0) - 1)
check_nonnegative("r >= 0 (a product and quotient of positive terms)", r, r)
refute("WS_eps exactly invariant (r = 1) with eps > 0", r - 1, witness={alpha: 2, sigma: 1, eps: 1})

# (3) BN over a batch of N, one unit
Z = lambda k: z[k]  # noqa: E731
gZ = lambda k: gamma * z[k]  # noqa: E731
sZ = lambda k: z[k] + delta  # noqa: E731
same("mean(gamma z) = gamma mean(z)", mean(gZ, b, N), gamma * mean(Z, b, N))
same("var(gamma z) = gamma^2 var(z)", var(gZ, b, N), gamma**2 * var(Z, b, N))
same("mean(z + delta) = mean(z) + delta", mean(sZ, b, N), mean(Z, b, N) + delta)
same("var(z + delta) = var(z)", var(sZ, b, N), var(Z, b, N))
vz = sp.Symbol("v", positive=True)  # var(z) > 0
d_b = sp.Symbol("d_b", real=True)  # z_b - mean(z)
bn = d_b / sp.sqrt(vz)
check("BN(gamma z)_b = gamma d_b/sqrt(gamma^2 v) = BN(z)_b", gamma * d_b / sp.sqrt(gamma**2 * vz) - bn)
check("BN(z + delta)_b = d_b/sqrt(v) = BN(z)_b", (d_b + delta - delta) / sp.sqrt(vz) - bn)
bn_eps_ratio = (gamma * d_b / sp.sqrt(gamma**2 * vz + eps)) / (d_b / sp.sqrt(vz + eps))
check("BN_eps(gamma z) = BN_eps(z) gamma sqrt(v + eps)/sqrt(gamma^2 v + eps)",
      bn_eps_ratio - gamma * sp.sqrt(vz + eps) / sp.sqrt(gamma**2 * vz + eps))
check("BN_eps factor at eps = 0 is 1", bn_eps_ratio.subs(eps, 0) - 1)
refute("BN_eps exactly scale invariant", bn_eps_ratio - 1, witness={gamma: 2, vz: 1, eps: 1})

# the layer's input shifted and rescaled: a_bd -> c a_bd + delta_d, one unit with weights w_d
cs = sp.Symbol("c", positive=True)
A = sp.IndexedBase("A", real=True)
dlt = sp.IndexedBase("delta", real=True)
pre = lambda row: sp.Sum((cs * A[row, j] + dlt[j]) * w[j], (j, 1, n))  # noqa: E731
same("input c a + delta: pre-activation = c y_b + sum_d delta_d w_d (same constant for every b)",
     pre(b), cs * sp.Sum(A[b, j] * w[j], (j, 1, n)) + sp.Sum(dlt[j] * w[j], (j, 1, n)))
shift = sp.Symbol("shift", real=True)  # sum_d delta_d w_d, the same for the whole batch
check("BN(c y + shift)_b = c d_b/sqrt(c^2 v) = BN(y)_b", (cs * d_b + shift - shift) / sp.sqrt(cs**2 * vz) - bn)

# (4) a WS_eps layer followed by BN
B = sp.IndexedBase("B", real=True)  # WS_eps(w), the standardized weight
layer_V = sp.Sum(x[b, j] * r * B[j], (j, 1, n))
same("z_b(V) = sum_j x_bj r B_j = r z_b(w)", layer_V, r * sp.Sum(x[b, j] * B[j], (j, 1, n)))
# so BN(z(V)) = BN(r z(w)) = BN(z(w)) by (3) with gamma = r > 0
check("BN(r z)_b = BN(z)_b with r > 0", (r * d_b / sp.sqrt(r**2 * vz)) - bn)

finish()
