r"""Operator norms of N-d convolutions as linear maps on a given input size (float64).

A convolution layer without its bias is a linear map :math:`A: \mathbb R^{C_{in}\times N} \to
\mathbb R^{C_{out}\times O}`; its operator norm :math:`\lVert A\rVert_2` is the layer's Lipschitz
constant, generally *not* :math:`\sigma_1(R)` of the reshaped kernel :math:`R` (``out x in/groups*prod k``)
that torch's ``spectral_norm`` uses.

* **Circular padding, stride 1, 2p = d(k-1)** (output size = input size): :math:`A` is a
  multichannel circular convolution, block-diagonalized by the DFT, so
  :math:`\lVert A\rVert_2 = \max_f \sigma_1(\hat K(f))` over the :math:`\prod N` frequencies, where
  :math:`\hat K(f)` is the :math:`C_{out}\times C_{in}/g` matrix of the kernel's DFT (block diagonal over
  groups). Exact up to the SVD's rounding.
* **Any other case**: lower bound from power iteration on :math:`A^T A` (the layer's own conv and
  its exact adjoint, autograd's vector-Jacobian product), warm-started at the top mode of the
  circulant embedding; its Rayleigh quotient :math:`\lVert Av\rVert/\lVert v\rVert` is a valid lower
  bound. (ARPACK's Lanczos converged too slowly on the clustered spectra of random convs.) Upper bound: zero padding then the convolution is a row restriction of a circular
  convolution on any length :math:`M \ge N + p` per dimension (no output reads a wrapped input), and
  striding only removes rows, so :math:`\lVert A\rVert_2 \le \min_M \max_f \sigma_1(\hat K_M(f))`.
  Reflect/replicate padding first apply a 0/1 padding map :math:`P` with
  :math:`\lVert P\rVert_2 = \sqrt{\max\text{copies of one input}}`, so the bound is multiplied by it.
  Small maps (at most ``EXPLICIT_MAX`` inputs and outputs) are instead built explicitly and given the
  certified Gram-squaring bracket of :mod:`normtheory.audit._certify`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from normtheory.audit._certify import SigmaBracket, bracket, sigma_bracket
from normtheory.roundoff import U64, gamma
from normtheory.spectral.power import LinearOperator, power_iteration, randn_on

EXPLICIT_MAX = 1536
# Relative error allowed for max_f sigma_1(K_hat(f)) from the FFT and the small SVDs, both
# backward stable with errors ~ (log2 M + C) u relative (Higham, Sec. 24.1); 1e-12 = 2^13 u
# covers log2 M + C up to a few thousand with a constant of 2. Not a proved bound: the FFT case is
# reported with this margin, and the other cases use it only for the circulant upper bound.
FFT_REL = 1e-12
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@dataclass(frozen=True)
class ConvGeometry:
    """What defines the linear map of a convolution layer at one input size."""

    in_channels: int
    spatial: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    padding_mode: str

    @property
    def dims(self) -> int:
        return len(self.spatial)


def apply_conv(weight: torch.Tensor, x: torch.Tensor, geo: ConvGeometry) -> torch.Tensor:
    """The layer's linear part: pad as torch's ConvNd does, then convolve without bias."""
    conv = _CONV[geo.dims]
    if geo.padding_mode != "zeros":
        pad = [p for q in reversed(geo.padding) for p in (q, q)]
        x = F.pad(x, pad, mode=geo.padding_mode)
        return conv(x, weight, None, geo.stride, 0, geo.dilation, geo.groups)
    return conv(x, weight, None, geo.stride, geo.padding, geo.dilation, geo.groups)


def kernel_extent(weight: torch.Tensor, geo: ConvGeometry) -> tuple[int, ...]:
    return tuple(d * (k - 1) + 1 for d, k in zip(geo.dilation, weight.shape[2:]))


MAX_FFT_BYTES = 4 << 30  # the circulant blocks of one layer: refuse above 4 GiB (say so up front)


def fft_bytes(weight: torch.Tensor, size: tuple[int, ...]) -> int:
    """Memory the circulant blocks need: the kernel on the grid (float64) and its complex128 DFT."""
    return math.prod(size) * weight.shape[0] * weight.shape[1] * (8 + 16 + 16)


def _circulant_blocks(weight: torch.Tensor, size: tuple[int, ...], geo: ConvGeometry):
    """The kernel's DFT blocks on ``size`` (shape (groups, *size, out/g, in/g)) and their sigma_1.
    Raises ``ValueError`` with the estimate when they would need more than ``MAX_FFT_BYTES``."""
    need = fft_bytes(weight, size)
    if need > MAX_FFT_BYTES:
        raise ValueError(f"the FFT bound on grid {tuple(size)} with a {tuple(weight.shape)} kernel needs about "
                         f"{need / 2**30:.1f} GiB (limit {MAX_FFT_BYTES / 2**30:.0f} GiB); use a smaller input size")
    out_ch, in_g = weight.shape[:2]
    g = geo.groups
    kern = torch.zeros((out_ch, in_g) + tuple(size), dtype=torch.float64)
    index = (slice(None), slice(None)) + tuple(
        slice(0, d * (k - 1) + 1, d) for d, k in zip(geo.dilation, weight.shape[2:]))
    kern[index] = weight.detach().to(torch.float64)
    spectrum = torch.fft.fftn(kern, dim=tuple(range(2, 2 + geo.dims)))
    blocks = spectrum.reshape((g, out_ch // g, in_g) + tuple(size))
    blocks = blocks.permute((0,) + tuple(range(3, 3 + geo.dims)) + (1, 2))
    return blocks, torch.linalg.matrix_norm(blocks, ord=2)


def circulant_norm(weight: torch.Tensor, size: tuple[int, ...], geo: ConvGeometry) -> float:
    r"""max_f sigma_1(K_hat(f)) of the circular convolution on ``size`` (kernel dilated, per group)."""
    return float(_circulant_blocks(weight, size, geo)[1].max())


def circulant_top_input(blocks: torch.Tensor, norms: torch.Tensor, size: tuple[int, ...],
                        geo: ConvGeometry) -> torch.Tensor:
    """A plane wave at the circulant's top frequency times that block's top right singular vector,
    restricted to the layer's input grid: a warm start for the power iteration on A^T A."""
    in_g = blocks.shape[-1]
    top = np.unravel_index(int(norms.argmax()), tuple(norms.shape))
    _, _, vh = torch.linalg.svd(blocks[tuple(int(i) for i in top)])
    vec = vh[0].conj()                                   # (in_g,) top right singular vector
    grids = torch.meshgrid(*[torch.arange(n, dtype=torch.float64) for n in geo.spatial], indexing="ij")
    phase = sum(2 * math.pi * int(f) * grid / m for f, grid, m in zip(top[1:], grids, size))
    wave = torch.exp(1j * phase)
    x = torch.zeros((1, geo.in_channels) + geo.spatial, dtype=torch.complex128)
    x[0, int(top[0]) * in_g:(int(top[0]) + 1) * in_g] = vec.reshape((-1,) + (1,) * geo.dims) * wave
    return x.real if float(x.real.norm()) >= float(x.imag.norm()) else x.imag


def _padding_copies(geo: ConvGeometry) -> float:
    """||P||_2 of the padding map: sqrt of the most copies of one input entry."""
    copies = 1
    for n, p in zip(geo.spatial, geo.padding):
        if p == 0:
            continue
        if geo.padding_mode == "reflect":
            copies *= 2
        elif geo.padding_mode == "replicate":
            copies *= p + 1
        elif geo.padding_mode == "circular":
            copies *= 1 + math.ceil(2 * p / n)
    return math.sqrt(copies)


def embedding_size(weight: torch.Tensor, geo: ConvGeometry) -> tuple[int, ...]:
    """The smallest circulant size the conv map embeds into without wrap-around."""
    ext = kernel_extent(weight, geo)
    if geo.padding_mode != "zeros":  # pad explicitly, then a valid convolution on the padded size
        return tuple(max(n + 2 * p, e) for n, p, e in zip(geo.spatial, geo.padding, ext))
    return tuple(max(n + p, e) for n, p, e in zip(geo.spatial, geo.padding, ext))


def strided_circulant_norm(weight: torch.Tensor, size: tuple[int, ...], geo: ConvGeometry) -> float:
    r"""Exact norm of the *strided* circular convolution on ``size`` (each ``size_i`` a multiple of
    ``stride_i``): with ``L = size / stride``, an input index ``o s + t`` splits as
    ``t = phi + s q`` into ``prod s`` polyphase components ``x_phi[r] = x[r s + phi]`` on the grid
    ``L``, and ``y = sum_phi K_phi * x_phi`` is a stride-1 circular convolution there with kernels
    ``K_phi[q] = K[phi + s q]``; the DFT on ``L`` block-diagonalises it into the
    ``out/g x (in/g prod s)`` matrices ``[K_hat_phi(f)]_phi``, whose largest sigma_1 is the norm."""
    assert all(m % st == 0 for m, st in zip(size, geo.stride))
    out_ch, in_g = weight.shape[:2]
    g, nd = geo.groups, geo.dims
    if fft_bytes(weight, size) > MAX_FFT_BYTES:
        raise ValueError(f"the strided FFT bound on grid {tuple(size)} with a {tuple(weight.shape)} kernel "
                         f"needs about {fft_bytes(weight, size) / 2**30:.1f} GiB (limit "
                         f"{MAX_FFT_BYTES / 2**30:.0f} GiB); use a smaller input size")
    kern = torch.zeros((out_ch, in_g) + tuple(size), dtype=torch.float64)
    index = (slice(None), slice(None)) + tuple(
        slice(0, d * (k - 1) + 1, d) for d, k in zip(geo.dilation, weight.shape[2:]))
    kern[index] = weight.detach().to(torch.float64)
    L = tuple(m // st for m, st in zip(size, geo.stride))
    split = kern.reshape((out_ch, in_g) + tuple(x for l_, st in zip(L, geo.stride) for x in (l_, st)))
    q_dims = tuple(2 + 2 * i for i in range(nd))          # the L axes; phases at 3 + 2 i
    spectrum = torch.fft.fftn(split, dim=q_dims)
    # (g, out/g, in_g, L1, s1, L2, s2, ...) -> (g, L1, L2, ..., out/g, in_g, s1, s2, ...)
    spectrum = spectrum.reshape((g, out_ch // g) + spectrum.shape[1:])
    perm = (0,) + tuple(3 + 2 * i for i in range(nd)) + (1, 2) + tuple(4 + 2 * i for i in range(nd))
    blocks = spectrum.permute(perm).reshape((g,) + L + (out_ch // g, -1))
    return float(torch.linalg.matrix_norm(blocks, ord=2).max())


def _strided_size(weight: torch.Tensor, geo: ConvGeometry) -> tuple[int, ...]:
    return tuple(-(-m // st) * st for m, st in zip(embedding_size(weight, geo), geo.stride))


def fft_upper_bound(weight: torch.Tensor, geo: ConvGeometry, norms: torch.Tensor | None = None) -> float:
    """Rigorous upper bound via the smallest circulant embedding (see the module docstring): the
    stride-1 circulant on the embedding size, and, for a strided layer, the strided circulant on
    that size rounded up to multiples of the stride (striding keeps every s-th output row of the
    strided circulant just as it does of the stride-1 one, so both bound the layer; the strided one
    is far tighter)."""
    if norms is None:
        norms = _circulant_blocks(weight, embedding_size(weight, geo), geo)[1]
    best = float(norms.max())
    if any(st > 1 for st in geo.stride):
        best = min(best, strided_circulant_norm(weight, _strided_size(weight, geo), geo))
    return best * (1 + FFT_REL) * (_padding_copies(geo) if geo.padding_mode != "zeros" else 1.0)


def is_exact_circular(weight: torch.Tensor, geo: ConvGeometry) -> bool:
    """Circular padding with ``2 p = extent - 1`` and every size a multiple of its stride: the layer
    *is* the (strided) circular convolution on the input grid, so the FFT norm is exact."""
    ext = kernel_extent(weight, geo)
    return (geo.padding_mode == "circular"
            and all(2 * p == e - 1 for p, e in zip(geo.padding, ext))
            and all(n >= e and n % st == 0 for n, e, st in zip(geo.spatial, ext, geo.stride)))


def is_pointwise(weight: torch.Tensor, geo: ConvGeometry) -> bool:
    """A 1x1 kernel with zero padding: A = blockdiag(W_g) applied per selected pixel, norm sigma_1(W)."""
    return all(k == 1 for k in weight.shape[2:]) and (geo.padding_mode == "zeros" or
                                                         all(p == 0 for p in geo.padding))


def _explicit(weight: torch.Tensor, geo: ConvGeometry) -> torch.Tensor:
    n_in = geo.in_channels * math.prod(geo.spatial)
    eye = torch.eye(n_in, dtype=torch.float64).reshape((n_in, geo.in_channels) + geo.spatial)
    out = apply_conv(weight, eye, geo)
    return out.reshape(n_in, -1).T


def _conv_operator(weight: torch.Tensor, geo: ConvGeometry) -> LinearOperator:
    """The layer's linear map and its exact adjoint (autograd's vector-Jacobian product)."""
    def adjoint(y):
        x = torch.zeros((y.shape[0], geo.in_channels) + geo.spatial, dtype=y.dtype, requires_grad=True)
        with torch.enable_grad():
            out = apply_conv(weight, x, geo)
            (g,) = torch.autograd.grad(out, x, y)
        return g
    return LinearOperator(lambda x: apply_conv(weight, x, geo), adjoint,
                          (geo.in_channels,) + geo.spatial, torch.float64, "cpu", 1)


def power_lower(weight: torch.Tensor, geo: ConvGeometry, *, iters: int = 30, seed: int = 0,
                start: torch.Tensor | None = None, rtol: float | None = None,
                generator: torch.Generator | None = None) -> tuple[float, int]:
    r"""Rigorous lower bound :math:`\lVert A x\rVert/\lVert x\rVert` from the core's power
    iteration on :math:`A^T A` (:func:`normtheory.spectral.power_iteration` with the conv and its
    exact adjoint), warm-started at ``start`` (by default the top mode of the circulant embedding,
    so few steps are needed): ``iters`` steps, or until the residual is below ``rtol / 4``
    relative (at most ``iters``). Any vector gives a valid lower bound once the rounding of the
    convolution and the norm is removed: each output is an inner product of at most
    ``C_in/g prod k`` terms, so :math:`\lVert\mathrm{fl}(Ax) - Ax\rVert \le \gamma_{n}
    \lVert A\rVert_{\text{entrywise}}` and we subtract ``gamma_{n+len+2}`` relative. Returns
    ``(bound, steps)``."""
    weight = weight.detach().to(torch.float64)
    if start is None:
        size = embedding_size(weight, geo)
        start = circulant_top_input(*_circulant_blocks(weight, size, geo), size, geo)
    if float(start.norm()) == 0:
        gen = generator or torch.Generator().manual_seed(seed)
        start = randn_on(start.shape, dtype=torch.float64, device="cpu", generator=gen)
    op = _conv_operator(weight, geo)
    if rtol is None:
        res = power_iteration(op, iters=iters, v0=start)
    else:
        res = power_iteration(op, rtol=rtol / 4, max_iters=iters, v0=start)
    terms = weight[0].numel() + math.prod(geo.spatial) * weight.shape[0] + 2
    return float(res.sigma) * (1 - 2 * gamma(terms)) * (1 - 4 * U64), res.iterations


def conv_operator_norm(weight: torch.Tensor, geo: ConvGeometry, *, rtol: float = 1e-6,
                       matrix: SigmaBracket | None = None, max_iters: int = 100,
                       generator: torch.Generator | None = None, details: bool = False):
    """Bracket on ||A||_2 of the conv map; returns (bracket, exact) with ``exact`` for the FFT
    and 1x1 cases, and with ``details=True`` also a dict (kind, value, iterations, bounds)."""
    weight = weight.detach().to(torch.float64)

    def done(br, exact, **info):
        return (br, exact, info) if details else (br, exact)

    reads_input = all(any(0 <= o * s - p < n for o in range((n + 2 * p - 1) // s + 1))
                      for n, s, p in zip(geo.spatial, geo.stride, geo.padding))
    if is_pointwise(weight, geo) and reads_input:
        groups = weight.reshape(geo.groups, weight.shape[0] // geo.groups, weight.shape[1])
        if geo.groups == 1 and matrix is not None:
            return done(bracket(matrix.lower, matrix.upper, "1x1 kernel: sigma_1 of the matrix",
                                rtol=rtol, iterations=matrix.iterations), True, kind="explicit")
        from normtheory.spectral.certify import certify_brackets
        br = certify_brackets(list(groups), rtol=rtol)
        return done(bracket(br.lower.max(), br.upper.max(), "1x1 kernel: max over groups of sigma_1",
                            rtol=rtol, iterations=br.iterations), True, kind="explicit")
    if is_exact_circular(weight, geo):
        value = (circulant_norm(weight, geo.spatial, geo) if all(st == 1 for st in geo.stride)
                 else strided_circulant_norm(weight, geo.spatial, geo))
        return done(bracket(value * (1 - FFT_REL), value * (1 + FFT_REL), "FFT (circular, exact)",
                            rtol=rtol), True, kind="fft", value=value, bounds={"fft": value})
    n_in = geo.in_channels * math.prod(geo.spatial)
    size = embedding_size(weight, geo)
    blocks, norms = _circulant_blocks(weight, size, geo)
    upper = fft_upper_bound(weight, geo, norms)
    bounds = {"circulant_embedding": upper}
    if n_in <= EXPLICIT_MAX:
        a = _explicit(weight, geo)
        if a.shape[0] <= EXPLICIT_MAX:
            br = sigma_bracket(a, rtol=rtol)
            return done(bracket(br.lower, torch.minimum(br.upper, torch.tensor(upper, dtype=torch.float64)),
                                "explicit matrix, Gram squaring", rtol=rtol, iterations=br.iterations),
                        False, kind="explicit", bounds=bounds)
    lower, steps = power_lower(weight, geo, start=circulant_top_input(blocks, norms, size, geo),
                               iters=max_iters, rtol=rtol, generator=generator)
    return done(bracket(lower, max(upper, lower), "power-iteration lower / circulant-embedding upper",
                        rtol=rtol, iterations=steps), False, kind="power", iterations=steps, bounds=bounds)


def analytic_bounds(weight: torch.Tensor, geo: ConvGeometry, matrix: SigmaBracket) -> dict:
    r"""Known bounds between ||A||_2 and sigma_1(R) (R the reshaped kernel).

    * Upper, zero padding: A = R U with U the im2col map; an input entry is read by at most
      :math:`c = \prod_i \lceil k_i / (s_i/\gcd(s_i, d_i)) \rceil` windows, so
      :math:`\lVert U\rVert_2 \le \sqrt c` and :math:`\lVert A\rVert_2 \le \sqrt c\,\sigma_1(R)`
      (for stride 1: :math:`\sqrt{\prod k_i}`).
    * Lower, exact circular case (N >= extent): by Parseval, for the top left singular vector u of
      R, :math:`\operatorname{mean}_f \lVert \hat K(f)^H u\rVert^2 = \lVert R^H u\rVert^2`, so
      :math:`\lVert A\rVert_2 \ge \sigma_1(R)`.
    """
    out: dict = {}
    if geo.padding_mode == "zeros" or is_exact_circular(weight, geo):
        c = math.prod(math.ceil(k / (s // math.gcd(s, d))) for k, s, d in
                      zip(weight.shape[2:], geo.stride, geo.dilation))
        out["upper_sqrt_windows_times_sigma_R"] = math.sqrt(c) * float(matrix.upper)
        out["windows_per_input"] = c
    if is_exact_circular(weight, geo):
        out["lower_sigma_R_circular"] = float(matrix.lower)
    return out


__all__ = ["ConvGeometry", "apply_conv", "conv_operator_norm", "analytic_bounds", "circulant_norm",
           "fft_upper_bound", "kernel_extent", "power_lower"]
