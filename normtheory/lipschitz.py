r"""Lipschitz bounds of bias-free MLPs and the Norm Scaling initialisation targets.

For :math:`f(x) = W_L\,\phi(W_{L-1} \cdots \phi(W_1 x))` with an activation :math:`\phi` that is
1-Lipschitz (ReLU, tanh), the Jacobian at any point where it exists is
:math:`J(x) = W_L D_{L-1}(x) W_{L-1} \cdots D_1(x) W_1`, :math:`D_k` diagonal with entries in
:math:`[0, 1]`, so by submultiplicativity

.. math:: \|f(x) - f(y)\| \le \prod_k \sigma_1(W_k)\, \|x - y\|.

The blog's initialisation scales a (semi-)orthogonal :math:`Q_k` by :math:`\sqrt{d_k/d_{k-1}}`;
the targets telescope, :math:`\prod_{k \le K} \sqrt{d_k/d_{k-1}} = \sqrt{d_K/d_0}`, and when the
widths are monotone the partial products :math:`W_K \cdots W_1` are :math:`\sqrt{d_K/d_0}` times
a partial isometry (all :math:`\min(d_K, d_0)` singular values equal), because products of
row-orthonormal (or of column-orthonormal) matrices stay row- (column-) orthonormal.

For a conv kernel ``(out, in, kh, kw)`` "the size of the output of layer k" has two readings:
the reshaped matrix's dimensions (``out`` and ``in kh kw``; what
:func:`normtheory.scaling.scaled_orthogonal_` uses) or the feature maps' sizes
(``out H_out W_out`` and ``in H W``); :func:`conv_init_targets` gives both.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from normtheory._validation import check_int_at_least

__all__ = ["ACTIVATIONS", "mlp_forward", "mlp_jacobians", "layer_spectral_norms", "lipschitz_product_bound",
           "partial_products", "telescoped_target", "conv_output_size", "conv_init_targets"]


ACTIVATIONS = ("relu", "tanh", "identity")


def _activation(name: str) -> tuple[Callable, Callable]:
    """(phi, phi') for an activation name; phi' is evaluated at the pre-activation."""
    if name == "relu":
        return torch.relu, lambda z: (z > 0).to(z.dtype)
    if name == "tanh":
        return torch.tanh, lambda z: 1 - torch.tanh(z) ** 2
    if name == "identity":
        return (lambda z: z), torch.ones_like
    raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


def _check_weights(weights) -> list[torch.Tensor]:
    weights = list(weights)
    if not weights:
        raise ValueError("weights must hold at least one matrix")
    for k, w in enumerate(weights):
        if not isinstance(w, torch.Tensor) or w.ndim != 2:
            raise ValueError(f"weights[{k}] must be a 2-D tensor")
        if k and w.shape[1] != weights[k - 1].shape[0]:
            raise ValueError(f"weights[{k}] has {w.shape[1]} columns, weights[{k - 1}] {weights[k - 1].shape[0]} rows")
    return weights


def mlp_forward(weights, x: torch.Tensor, *, activation: str = "relu") -> torch.Tensor:
    """``W_L phi(... phi(W_1 x))`` for a batch ``x`` of shape ``(N, d_0)`` (rows are samples)."""
    weights = _check_weights(weights)
    phi, _ = _activation(activation)
    h = x
    for w in weights[:-1]:
        h = phi(h @ w.T)
    return h @ weights[-1].T


def mlp_jacobians(weights, x: torch.Tensor, *, activation: str = "relu") -> torch.Tensor:
    r"""Jacobians :math:`J(x_n) = W_L D_{L-1} \cdots D_1 W_1` at every row of ``x`` ``(N, d_0)``:
    shape ``(N, d_L, d_0)``; :math:`D_k = \mathrm{diag}(\phi'(z_k))` (ReLU: 1 where ``z > 0``)."""
    weights = _check_weights(weights)
    phi, dphi = _activation(activation)
    J = weights[0].expand(x.shape[0], *weights[0].shape)
    h = x
    for w, w_next in zip(weights[:-1], weights[1:]):
        z = h @ w.T
        h = phi(z)
        J = w_next @ (dphi(z).unsqueeze(-1) * J)
    return J


def layer_spectral_norms(weights) -> torch.Tensor:
    """``sigma_1(W_k)`` of every layer (LAPACK SVD: backward stable, relative error ~ n eps)."""
    return torch.stack([torch.linalg.matrix_norm(w, ord=2) for w in _check_weights(weights)])


def lipschitz_product_bound(weights) -> float:
    r"""``prod_k sigma_1(W_k)``: an upper bound on the Lipschitz constant of the MLP for every
    1-Lipschitz activation (see the module docstring)."""
    return float(torch.prod(layer_spectral_norms(weights)))


def partial_products(weights) -> list[torch.Tensor]:
    """``[W_1, W_2 W_1, ..., W_L ... W_1]`` (the linear network's maps from the input to layer k)."""
    out, p = [], None
    for w in _check_weights(weights):
        p = w if p is None else w @ p
        out.append(p)
    return out


def telescoped_target(widths) -> list[float]:
    r"""``prod_{j <= k} sqrt(d_j / d_{j-1})`` for k = 1..L, computed factor by factor (as the
    targets are saved per layer); equals ``sqrt(d_k / d_0)`` up to round-off."""
    widths = [check_int_at_least(w, f"widths[{i}]", 1) for i, w in enumerate(widths)]
    if len(widths) < 2:
        raise ValueError("widths must list at least an input and an output width")
    out, p = [], 1.0
    for a, b in zip(widths[:-1], widths[1:]):
        p *= math.sqrt(b / a)
        out.append(p)
    return out


def conv_output_size(n: int, kernel: int, stride: int, padding: int) -> int:
    """Spatial output size of a convolution (dilation 1): ``floor((n + 2p - k)/s) + 1``."""
    return (n + 2 * padding - kernel) // stride + 1


def conv_init_targets(shape, input_size: int, *, stride: int, padding: int) -> dict[str, float]:
    r"""The initial spectral-norm target ``sqrt(d_k/d_{k-1})`` of a conv kernel of ``shape``
    ``(out, in, kh, kw)`` on square ``input_size`` inputs, under both readings of ``d_k``:

    * ``"reshaped"``: ``sqrt(out / (in kh kw))`` (the out x (in kh kw) matrix view);
    * ``"feature_map"``: ``sqrt(out H_out W_out / (in H W))`` (the sizes of the layer's output
      and input);
    * ``"channels"``: ``sqrt(out / in)`` (the conclusion's "input and output channel sizes").
    """
    out_c, in_c, kh, kw = (int(s) for s in shape)
    n_out = conv_output_size(input_size, kh, stride, padding) * conv_output_size(input_size, kw, stride, padding)
    return {"reshaped": math.sqrt(out_c / (in_c * kh * kw)),
            "feature_map": math.sqrt(out_c * n_out / (in_c * input_size ** 2)),
            "channels": math.sqrt(out_c / in_c)}
