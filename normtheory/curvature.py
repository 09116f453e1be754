r"""Curvature of linear layers: Kronecker factors, the input-mean outlier, affine reparameterization
and K-FAC.

Conventions. A linear layer ``s = W a + b`` with ``W`` of shape ``(M, D)`` has the parameter vector
:math:`\theta = (\mathrm{vec}\,W, b)` with the *column-major* ``vec`` (stack the columns of ``W``),
so that :math:`W a + b = (\bar a^\top \otimes I_M)\,\theta` with the homogeneous input
:math:`\bar a = (a, 1)`. In this convention the Gauss-Newton matrix of the squared loss
:math:`\tfrac12\,\mathbb E\lVert W a + b - y\rVert^2` is exactly :math:`\bar A \otimes I_M` with
:math:`\bar A = \mathbb E[\bar a \bar a^\top]`, and K-FAC approximates the Fisher of a general
loss by :math:`\bar A \otimes S` (Grosse, CSC 2541 Lecture 5, ``002_cd849d122e313ad8.txt``, slide
"Internal Covariate Shift"; the Kronecker order matches the slides').

Source of every formula: the same lecture, slides "Internal Covariate Shift" (Kronecker
eigen-decomposition, ICS conditioning hypothesis) and "ICS and Invariance" (affine
reparameterization, :math:`[R R^\top]^{-1}`, K-FAC's invariance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from normtheory._validation import check_int_at_least, check_positive, check_real_tensor

__all__ = [
    "KronEigen",
    "kron_eigh",
    "vec",
    "unvec",
    "homogeneous_second_moment",
    "input_statistics",
    "psd_sqrt",
    "OutlierPrediction",
    "ics_outlier_prediction",
    "affine_reparameterize",
    "standardize_inputs",
    "reparam_inverse_jacobian",
    "quasi_diagonal_block",
    "gd_contraction",
    "kfac_step",
]


def _square(x: torch.Tensor, name: str) -> torch.Tensor:
    check_real_tensor(x, name, ndim=2)
    if x.shape[0] != x.shape[1]:
        raise ValueError(f"{name} must be square, got shape {tuple(x.shape)}")
    return x


def _symmetric(x: torch.Tensor, name: str) -> torch.Tensor:
    _square(x, name)
    # symmetric up to the round-off of forming it (entries of x^T x carry n eps relative error)
    if not torch.allclose(x, x.mT, rtol=0, atol=1e3 * torch.finfo(x.dtype).eps * float(x.abs().max())):
        raise ValueError(f"{name} must be symmetric")
    return x


def _psd(x: torch.Tensor, name: str, *, definite: bool = False) -> torch.Tensor:
    """``x`` must be symmetric positive semidefinite (or definite): a covariance, a second moment
    or a Fisher factor. An indefinite input has no meaning there and would silently give negative
    "curvature" (or a K-FAC step uphill), so it is refused, naming the argument.

    Semidefinite: ``eigvalsh`` is backward stable, so a PSD matrix's computed eigenvalues are
    ``>= -c n eps ||x||_2``; ``n eps ||x||_2`` (``c = 1``, the usual LAPACK constant bound) is the
    allowance. Definite: the Cholesky factorization must succeed (it does exactly for matrices
    that are numerically positive definite, which is what the solves need).
    """
    _symmetric(x, name)
    if definite:
        if int(torch.linalg.cholesky_ex(x).info) != 0:
            raise ValueError(f"{name} must be symmetric positive definite (its Cholesky factorization fails)")
        return x
    lam = torch.linalg.eigvalsh(x)
    allowance = x.shape[0] * float(torch.finfo(x.dtype).eps) * float(lam.abs().max())
    if float(lam[0]) < -allowance:
        raise ValueError(f"{name} must be positive semidefinite (smallest eigenvalue {float(lam[0]):.3g}, "
                         f"allowance for round-off {allowance:.3g})")
    return x


def _match(name: str, x: torch.Tensor, shape: tuple[int, ...], ref: str) -> None:
    """``x`` must have ``shape`` (which ``ref`` determines) and ``ref``'s dtype is checked by matmul."""
    if tuple(x.shape) != shape:
        raise ValueError(f"{name} must have shape {shape} to match {ref}, got {tuple(x.shape)}")


@dataclass(frozen=True)
class KronEigen:
    """Eigen-decomposition of ``A (x) B``: ``values[i*q + j] = lambda_i nu_j`` with eigenvector
    ``vectors[:, i*q + j] = r_i (x) s_j`` (``q`` = size of ``B``), in that (unsorted) order."""

    values: torch.Tensor
    vectors: torch.Tensor


def kron_eigh(a: torch.Tensor, b: torch.Tensor) -> KronEigen:
    r"""Eigenpairs of :math:`A \otimes B` for symmetric :math:`A, B` from those of the factors.

    With :math:`A = Q_A D_A Q_A^\top` and :math:`B = Q_B D_B Q_B^\top`, the mixed-product rule gives
    :math:`A \otimes B = (Q_A \otimes Q_B)(D_A \otimes D_B)(Q_A \otimes Q_B)^\top`, so the
    eigenvalues are :math:`\lambda_i \nu_j` with orthonormal eigenvectors :math:`r_i \otimes s_j`.
    Cost :math:`O(p^3 + q^3)` instead of :math:`O(p^3 q^3)` for a dense ``eigh`` of the product.

    Raises:
        ValueError: a factor that is not square and symmetric, NaN/Inf.  TypeError: integer dtype.
    """
    _symmetric(a, "a")
    _symmetric(b, "b")
    lam, r = torch.linalg.eigh(a)
    nu, s = torch.linalg.eigh(b)
    return KronEigen(values=torch.kron(lam, nu), vectors=torch.kron(r, s))


def vec(w: torch.Tensor) -> torch.Tensor:
    """Column-major vectorization (stack the columns of ``w``), the convention of the slides."""
    check_real_tensor(w, "w", ndim=2)
    return w.mT.reshape(-1)


def unvec(theta: torch.Tensor, rows: int) -> torch.Tensor:
    """Inverse of :func:`vec`: a ``(rows, len(theta)/rows)`` matrix."""
    check_real_tensor(theta, "theta", ndim=1)
    check_int_at_least(rows, "rows", 1)
    if theta.numel() % rows:
        raise ValueError(f"rows={rows} does not divide len(theta)={theta.numel()}")
    return theta.reshape(-1, rows).mT


def homogeneous_second_moment(a: torch.Tensor) -> torch.Tensor:
    r""":math:`\bar A = \frac1N \sum_n \bar a_n \bar a_n^\top` with :math:`\bar a = (a, 1)`.

    In block form :math:`\bar A = \begin{pmatrix}\Sigma + m m^\top & m\\ m^\top & 1\end{pmatrix}`
    with the batch mean :math:`m` and the (biased) batch covariance :math:`\Sigma`. ``a`` is
    ``(N, D)``.
    """
    check_real_tensor(a, "a", ndim=2)
    bar = torch.cat([a, torch.ones_like(a[:, :1])], dim=1)
    return bar.mT @ bar / a.shape[0]


def input_statistics(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch mean ``m`` (D,) and biased covariance ``Sigma`` (D, D) of ``a`` (N, D)."""
    check_real_tensor(a, "a", ndim=2)
    m = a.mean(dim=0)
    c = a - m
    return m, c.mT @ c / a.shape[0]


def psd_sqrt(sigma: torch.Tensor, *, inverse: bool = False) -> torch.Tensor:
    r"""Symmetric square root :math:`\Sigma^{1/2}` (or :math:`\Sigma^{-1/2}`) of an SPD matrix.

    The symmetric root matters: :math:`\mathrm{vec}(W\Sigma^{1/2}) = (\Sigma^{1/2}\otimes I)\,
    \mathrm{vec}\,W` needs :math:`(\Sigma^{1/2})^\top = \Sigma^{1/2}`.

    Raises:
        ValueError: a matrix that is not symmetric positive definite.
    """
    _symmetric(sigma, "sigma")
    lam, q = torch.linalg.eigh(sigma)
    if bool((lam <= 0).any()):
        raise ValueError(f"sigma must be positive definite (smallest eigenvalue {float(lam.min()):.3g})")
    root = lam.rsqrt() if inverse else lam.sqrt()
    return (q * root) @ q.mT


@dataclass(frozen=True)
class OutlierPrediction:
    r"""The ICS conditioning hypothesis for :math:`G = \bar A \otimes S` and what bounds it exactly.

    Attributes:
        nu: the slide's :math:`\nu = \lVert m\rVert^2 + 1`.
        rayleigh: :math:`\nu + m^\top\Sigma m/\nu`, the Rayleigh quotient of :math:`\bar A` at
            :math:`u = (m, 1)/\sqrt\nu`: a lower bound on :math:`\lambda_{\max}(\bar A)`.
        upper: :math:`\nu + \lVert\Sigma\rVert_2` (Weyl: :math:`\bar A = \mathrm{diag}(\Sigma, 0) +
            u u^\top \nu`), an upper bound on :math:`\lambda_{\max}(\bar A)`.
        predicted: the slide's M outlier eigenvalues :math:`\nu\,\lambda_i(S)`, descending.
        direction: :math:`u`, the predicted top eigenvector of :math:`\bar A`.
        angle_bound: Davis-Kahan bound :math:`\sin\angle(u, r_1) \le 2\lVert\Sigma\rVert_2/\nu`.
    """

    nu: float
    rayleigh: float
    upper: float
    predicted: torch.Tensor
    direction: torch.Tensor
    angle_bound: float


def ics_outlier_prediction(mean: torch.Tensor, sigma: torch.Tensor, s: torch.Tensor) -> OutlierPrediction:
    """Predicted outliers of ``homogeneous_second_moment (x) s`` from the input mean and covariance.

    Raises:
        ValueError: ``sigma`` (a covariance) or ``s`` (a Fisher factor) not symmetric positive
            semidefinite; shapes that do not match ``mean``.
    """
    check_real_tensor(mean, "mean", ndim=1)
    _psd(sigma, "sigma")
    _psd(s, "s")
    _match("sigma", sigma, (mean.shape[0],) * 2, "mean")
    nu = float(mean @ mean) + 1.0
    norm_sigma = float(torch.linalg.matrix_norm(sigma, ord=2))
    u = torch.cat([mean, mean.new_ones(1)]) / nu**0.5
    return OutlierPrediction(
        nu=nu, rayleigh=nu + float(mean @ sigma @ mean) / nu, upper=nu + norm_sigma,
        predicted=nu * torch.linalg.eigvalsh(s).flip(0), direction=u,
        angle_bound=min(1.0, 2 * norm_sigma / nu))


def affine_reparameterize(w: torch.Tensor, b: torch.Tensor, mean: torch.Tensor,
                          sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Weights for standardized inputs: :math:`\tilde W = W\Sigma^{1/2}`, :math:`\tilde b = b + W m`.

    Then :math:`\tilde W \tilde a + \tilde b = W a + b` for :math:`\tilde a = \Sigma^{-1/2}(a - m)`
    (see :func:`standardize_inputs`): the layer computes the same function.
    """
    check_real_tensor(w, "w", ndim=2)
    check_real_tensor(b, "b", ndim=1)
    check_real_tensor(mean, "mean", ndim=1)
    if w.shape[1] != mean.shape[0] or b.shape[0] != w.shape[0]:
        raise ValueError(f"shapes do not match: w {tuple(w.shape)}, b {tuple(b.shape)}, mean {tuple(mean.shape)}")
    _match("sigma", check_real_tensor(sigma, "sigma", ndim=2), (w.shape[1],) * 2, "w's input size")
    return w @ psd_sqrt(sigma), b + w @ mean


def standardize_inputs(a: torch.Tensor, mean: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    r""":math:`\tilde a = \Sigma^{-1/2}(a - m)` for each row of ``a`` (N, D).

    ``mean`` must have length D and ``sigma`` shape (D, D): a length-1 mean would broadcast and
    centre every input by the same number, silently.
    """
    check_real_tensor(a, "a", ndim=2)
    check_real_tensor(mean, "mean", ndim=1)
    _match("mean", mean, (a.shape[1],), "a's columns")
    _match("sigma", check_real_tensor(sigma, "sigma", ndim=2), (a.shape[1],) * 2, "a's columns")
    return (a - mean) @ psd_sqrt(sigma, inverse=True)


def reparam_inverse_jacobian(mean: torch.Tensor, sigma: torch.Tensor, out_dim: int) -> torch.Tensor:
    r"""The slides' :math:`R^{-1}`, mapping old to new parameters: :math:`\tilde\theta = R^{-1}\theta`.

    .. math:: R^{-1} = \begin{pmatrix}\Sigma^{1/2}\otimes I_M & 0\\ m^\top\otimes I_M & I_M\end{pmatrix}

    (the slide's bottom-right "1" is :math:`I_M`), in the column-major ``vec`` convention. Gradient
    descent on :math:`\tilde\theta` moves :math:`\theta = R\tilde\theta` by
    :math:`-\eta\,R R^\top \nabla_\theta J`: a preconditioner :math:`P = R R^\top`.
    """
    check_real_tensor(mean, "mean", ndim=1)
    check_int_at_least(out_dim, "out_dim", 1)
    _match("sigma", check_real_tensor(sigma, "sigma", ndim=2), (mean.shape[0],) * 2, "mean")
    eye = torch.eye(out_dim, dtype=mean.dtype)
    d = mean.shape[0]
    top = torch.cat([torch.kron(psd_sqrt(sigma), eye), mean.new_zeros(d * out_dim, out_dim)], dim=1)
    bottom = torch.cat([torch.kron(mean[None, :], eye), eye], dim=1)
    return torch.cat([top, bottom], dim=0)


def quasi_diagonal_block(mean: torch.Tensor, sigma: torch.Tensor, out_dim: int) -> torch.Tensor:
    r"""The slides' block formula for :math:`[R R^\top]^{-1}`:

    .. math:: \begin{pmatrix}(\Sigma + m m^\top)\otimes I & m\otimes I\\ m^\top\otimes I & I\end{pmatrix}
              = \bar A \otimes I_M,

    which is also the exact Gauss-Newton matrix of the squared loss when :math:`m, \Sigma` are the
    input statistics (:func:`homogeneous_second_moment`).
    """
    check_real_tensor(mean, "mean", ndim=1)
    check_int_at_least(out_dim, "out_dim", 1)
    _symmetric(sigma, "sigma")
    _match("sigma", sigma, (mean.shape[0],) * 2, "mean")
    top = torch.cat([sigma + torch.outer(mean, mean), mean[:, None]], dim=1)
    bottom = torch.cat([mean[None, :], mean.new_ones(1, 1)], dim=1)
    return torch.kron(torch.cat([top, bottom], dim=0), torch.eye(out_dim, dtype=mean.dtype))


@dataclass(frozen=True)
class Contraction:
    """Gradient descent on a quadratic with Hessian H and step ``lr``: e_{t+1} = (I - lr H) e_t.

    Attributes: ``rate`` = max_i |1 - lr lambda_i| (worst-case contraction per step), ``condition``
    = lambda_max / lambda_min, ``steps_per_decade`` = ln(10)/(-ln rate) (steps to gain one digit).
    """

    rate: float
    condition: float
    steps_per_decade: float
    eigenvalues: torch.Tensor


def gd_contraction(hessian: torch.Tensor, *, lr: float | None = None) -> Contraction:
    r"""Worst-case linear rate of gradient descent on :math:`\tfrac12 e^\top H e`.

    With ``lr = None`` the step is :math:`1/\lambda_{\max}`, giving rate
    :math:`1 - 1/\kappa` (:math:`\kappa = \lambda_{\max}/\lambda_{\min}`).

    Raises:
        ValueError: H not symmetric positive definite; lr <= 0.
    """
    _symmetric(hessian, "hessian")
    lam = torch.linalg.eigvalsh(hessian)
    if float(lam[0]) <= 0:
        raise ValueError(f"hessian must be positive definite (smallest eigenvalue {float(lam[0]):.3g})")
    lr = 1.0 / float(lam[-1]) if lr is None else check_positive(lr, "lr")
    rate = float((1 - lr * lam).abs().max())
    # in float64 (torch.tensor(10.0) would be float32 and lose 9 digits)
    decade = math.inf if rate >= 1 else math.log(10.0) / -math.log(rate)
    return Contraction(rate=rate, condition=float(lam[-1] / lam[0]), steps_per_decade=decade, eigenvalues=lam)


def kfac_step(w_bar: torch.Tensor, grad: torch.Tensor, a_bar: torch.Tensor, s: torch.Tensor, *,
              lr: float) -> torch.Tensor:
    r"""One K-FAC step on a layer's augmented weight :math:`\bar W = [W\ b]` (M, D+1):

    .. math:: \bar W \leftarrow \bar W - \eta\, S^{-1}\, \nabla_{\bar W} J\, \bar A^{-1},

    i.e. :math:`\theta \leftarrow \theta - \eta(\bar A\otimes S)^{-1}\nabla_\theta J` in the
    column-major ``vec``. Under an affine change of the layer's input :math:`\bar a' = U\bar a`
    (``U`` invertible, last row ``(0, ..., 0, 1)``), :math:`\bar A' = U\bar A U^\top` and
    :math:`\nabla' = \nabla U^\top`, so the step in the new coordinates is the old step times
    :math:`U^{-1}`: K-FAC commutes with the reparameterization. Damping added to ``s`` keeps this;
    damping added to ``a_bar`` does not. Returns a new tensor (inputs are not modified).

    Raises:
        ValueError: ``a_bar`` or ``s`` not symmetric positive definite (an indefinite factor
            would turn the step uphill along some direction); shapes that do not match.
    """
    check_real_tensor(w_bar, "w_bar", ndim=2)
    check_real_tensor(grad, "grad", ndim=2)
    _psd(a_bar, "a_bar", definite=True)
    _psd(s, "s", definite=True)
    lr = check_positive(lr, "lr")
    if grad.shape != w_bar.shape or a_bar.shape[0] != w_bar.shape[1] or s.shape[0] != w_bar.shape[0]:
        raise ValueError(f"shapes do not match: w_bar {tuple(w_bar.shape)}, grad {tuple(grad.shape)}, "
                         f"a_bar {tuple(a_bar.shape)}, s {tuple(s.shape)}")
    right = torch.linalg.solve(a_bar, grad.mT).mT  # grad A^{-1} (A symmetric)
    return w_bar - lr * torch.linalg.solve(s, right)
