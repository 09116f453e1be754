r"""``normtheory audit``: certified per-layer spectral norms of a PyTorch model.

For every weight layer (``nn.Linear``, ``nn.Conv1d/2d/3d`` with any stride, dilation, groups and
padding mode, ``nn.ConvTranspose1d/2d/3d`` (the adjoint of a convolution, zero padding), eval-mode ``nn.BatchNorm*``; weights under torch's ``weight_norm`` / ``spectral_norm``
parametrizations are read through the parametrization) the audit reports

* :math:`\sigma_1(R)` of the reshaped weight matrix :math:`R` (``out x in/groups*prod k``, what torch's
  ``spectral_norm`` normalizes) as a certified bracket ``[lower, upper]``;
* the layer's operator norm :math:`\lVert A\rVert_2` as a linear map at the input size the layer sees
  (exact via FFT for circular padding, a certified bracket otherwise; see
  :mod:`normtheory.audit._operator`), and the ratio :math:`\lVert A\rVert_2/\sigma_1(R)`;
* the known analytic bounds between the two;
* for normalized layers, the gradient scale :math:`1/\lVert v\rVert` of the raw parameter and the
  effective learning-rate factor :math:`1/\lVert v\rVert^2` (scale-invariant loss: the direction moves
  by :math:`\eta/\lVert v\rVert^2` per unit gradient), and for ``spectral_norm`` torch's own estimate
  of :math:`\sigma_1` beside the certified value.

Then the product of the per-layer operator-norm upper bounds: an upper bound on the Lipschitz
constant (Euclidean norms) **only** of a feed-forward chain of these layers in module order with
1-Lipschitz activations and pooling; the audit checks from the forward pass whether the model is
such a chain (each leaf's input is the previous leaf's output) and says so.

Python API: :func:`audit_model` returns an :class:`AuditReport` whose ``layers`` are
:class:`LayerAudit` objects; ``report.to_json()`` is the JSON the command writes.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from normtheory.audit._certify import SigmaBracket, bracket, sigma_bracket
from normtheory.audit._operator import (ConvGeometry, analytic_bounds, conv_operator_norm,
                                        kernel_extent)

__all__ = ["AuditError", "LayerAudit", "AuditReport", "audit_model", "load_model",
           "add_arguments", "main", "SigmaBracket", "sigma_bracket"]

_FORWARD_CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED_CONV_TYPES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_CONV_TYPES = _FORWARD_CONV_TYPES + _TRANSPOSED_CONV_TYPES
_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
CAVEATS = (
    "The product of per-layer operator-norm upper bounds bounds the Lipschitz constant (l2 norms) "
    "only for a feed-forward chain of these layers in module order with 1-Lipschitz activations "
    "and pooling (ReLU, max-pool, average-pool); it is not a valid bound for residual connections "
    "(x + f(x) has constant up to 1 + Lip f), concatenations, attention, or train-mode batch norm "
    "(batch statistics depend on the whole batch; eval-mode BN is the diagonal map used here).",
    "Operator norms are for the input size given; for zero padding they grow with the size "
    "toward the sup over frequencies of the kernel's transfer matrix.",
    "Biases do not change the Lipschitz constant and are ignored.",
)


class AuditError(ValueError):
    """Bad input to the audit: the message names the layer or argument and the problem."""


@dataclass
class LayerAudit:
    """The audit of one layer (the same data as one entry of the JSON report)."""

    name: str
    type: str
    weight_shape: list[int]
    matrix_shape: list[int]
    input_shape: list[int] | None
    output_shape: list[int] | None
    sigma_matrix: SigmaBracket
    operator_norm: SigmaBracket
    operator_exact: bool
    ratio: tuple[float, float]
    analytic_bounds: dict[str, Any] = field(default_factory=dict)
    geometry: dict[str, Any] = field(default_factory=dict)
    parametrization: str | None = None
    normalization: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("sigma_matrix", "operator_norm")}
        out["sigma_matrix"] = self.sigma_matrix.to_json()
        out["operator_norm"] = self.operator_norm.to_json()
        out["ratio"] = {"lower": self.ratio[0], "upper": self.ratio[1]}
        return out


@dataclass
class AuditReport:
    layers: list[LayerAudit]
    unsupported: list[dict[str, str]]
    lipschitz_upper: float | None
    chain_verified: bool
    caveats: tuple[str, ...]
    input_shape: list[int] | None
    rtol: float
    seconds: float
    cpu_seconds: float = 0.0
    torch_version: str = torch.__version__

    def to_json(self) -> dict:
        return {"layers": [layer.to_json() for layer in self.layers], "unsupported": self.unsupported,
                "lipschitz_upper_chain": self.lipschitz_upper, "chain_verified": self.chain_verified,
                "caveats": list(self.caveats), "input_shape": self.input_shape, "rtol": self.rtol,
                "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "torch_threads": torch.get_num_threads(), "torch_version": self.torch_version}

    def to_markdown(self) -> str:
        lines = ["| layer | type | matrix | input | sigma_1(R) [lo, up] | ||A||_2 [lo, up] | ratio | note |",
                 "|---|---|---|---|---|---|---|---|"]
        for la in self.layers:
            s, o = la.sigma_matrix, la.operator_norm
            note = "exact (FFT)" if la.operator_exact and "FFT" in o.method else o.method
            if la.normalization:
                note += "; eff. LR factor " + f"{la.normalization.get('effective_lr_factor_max', float('nan')):.3g}"
            shape_in = "x".join(map(str, la.input_shape[1:])) if la.input_shape else "-"
            lines.append(f"| {la.name} | {la.type} | {la.matrix_shape[0]}x{la.matrix_shape[1]} | {shape_in} "
                         f"| [{s.lower:.6g}, {s.upper:.6g}] | [{o.lower:.6g}, {o.upper:.6g}] "
                         f"| {la.ratio[0]:.4g}-{la.ratio[1]:.4g} | {note} |")
        lines.append("")
        lip = "n/a" if self.lipschitz_upper is None else f"{self.lipschitz_upper:.6g}"
        lines.append(f"Product of per-layer upper bounds: {lip} (feed-forward chain verified from the "
                     f"forward pass: {'yes' if self.chain_verified else 'no'}). Audit took "
                     f"{self.seconds:.1f} s wall, {self.cpu_seconds:.1f} s CPU (torch "
                     f"{self.torch_version}, {torch.get_num_threads()} threads, rtol {self.rtol:g}).")
        if self.unsupported:
            lines.append("Unsupported layers (not audited): " + ", ".join(
                f"{u['name']} ({u['type']})" for u in self.unsupported))
        lines += ["", "Caveats:"] + [f"- {c}" for c in self.caveats]
        return "\n".join(lines) + "\n"


def _parametrization(module: nn.Module) -> tuple[str | None, dict]:
    """Name and normalization data of torch's parametrization (or legacy hook) on ``weight``."""
    plist = getattr(getattr(module, "parametrizations", None), "weight", None)
    if plist is not None:
        p = plist[0]
        kind = type(p).__name__
        if kind == "_WeightNorm":
            v = plist.original1.detach().to(torch.float64)
            dims = tuple(d for d in range(v.ndim) if d != (p.dim % v.ndim)) if p.dim is not None else None
            norms = torch.linalg.vector_norm(v, dim=dims) if dims is not None else torch.linalg.vector_norm(v)
            return "weight_norm", _lr_factors(norms)
        if kind == "_SpectralNorm":
            w = plist.original.detach().to(torch.float64)
            mat = p._reshape_weight_to_matrix(w) if hasattr(p, "_reshape_weight_to_matrix") else w.reshape(w.shape[0], -1)
            est = float(torch.vdot(p._u.to(torch.float64), mat @ p._v.to(torch.float64)))
            br = sigma_bracket(mat)
            data = _lr_factors(torch.tensor([est]))
            data.update({"torch_sigma_estimate": est, "original_sigma_certified": br.to_json(),
                         "estimate_rel_error": float((est - br.estimate) / br.estimate),
                         "n_power_iterations": p.n_power_iterations})
            return "spectral_norm", data
        return kind, {}
    if hasattr(module, "weight_v") and hasattr(module, "weight_g"):  # legacy torch.nn.utils.weight_norm
        v = module.weight_v.detach().to(torch.float64)
        return "weight_norm (legacy hook)", _lr_factors(torch.linalg.vector_norm(v.reshape(v.shape[0], -1), dim=1))
    return None, {}


def _lr_factors(norms: torch.Tensor) -> dict:
    return {"grad_scale_min": float((1 / norms).min()), "grad_scale_max": float((1 / norms).max()),
            "effective_lr_factor_min": float((1 / norms**2).min()),
            "effective_lr_factor_max": float((1 / norms**2).max())}


def _check_weight(name: str, w: torch.Tensor) -> torch.Tensor:
    if not w.dtype.is_floating_point:
        raise AuditError(f"layer {name}: weight has non-floating dtype {w.dtype}")
    if not bool(torch.isfinite(w).all()):
        bad = int((~torch.isfinite(w)).sum())
        raise AuditError(f"layer {name}: weight contains {bad} NaN/Inf entries")
    return w.detach().to(torch.float64)


def _trace_shapes(model: nn.Module, input_shape: tuple[int, ...], leaves: dict[str, nn.Module]):
    """Forward a zero batch of one; record each leaf's input/output shapes and whether the leaves
    form a chain (each leaf's input tensor is the previous leaf's output tensor)."""
    shapes: dict[str, tuple] = {}
    order: list[tuple[str, int, int]] = []
    handles = []

    def pre(name):
        def hook(mod, inputs):
            x = inputs[0]
            if isinstance(mod, _FORWARD_CONV_TYPES):
                nd = mod.weight.ndim - 2
                spatial = tuple(x.shape[-nd:])
                pad = mod.padding if not isinstance(mod.padding, str) else (0,) * nd
                ext = tuple(d * (k - 1) + 1 for d, k in zip(mod.dilation, mod.weight.shape[2:]))
                if isinstance(mod.padding, str) and mod.padding == "same":
                    pad = tuple((e - 1) // 2 for e in ext)
                if any(n + 2 * p < e for n, p, e in zip(spatial, pad, ext)):
                    raise AuditError(f"layer {name} ({type(mod).__name__}): input spatial size {spatial} "
                                     f"with padding {tuple(pad)} is smaller than the dilated kernel "
                                     f"extent {ext}; use a larger --input-shape")
        return hook

    def post(name):
        def hook(mod, inputs, output):
            shapes[name] = (tuple(inputs[0].shape), tuple(output.shape))
            order.append((name, id(inputs[0]), id(output)))
        return hook

    for name, mod in leaves.items():
        handles.append(mod.register_forward_pre_hook(pre(name)))
        handles.append(mod.register_forward_hook(post(name)))
    try:
        param = next(model.parameters(), None)
        dtype = param.dtype if param is not None and param.dtype.is_floating_point else torch.float32
        with torch.no_grad():
            out = model(torch.zeros((1,) + tuple(input_shape), dtype=dtype))
    except AuditError:
        raise
    except Exception as err:  # torch's own shape errors: say which input shape was tried
        raise AuditError(f"forward pass at input shape {tuple(input_shape)} failed: "
                         f"{type(err).__name__}: {err}") from err
    finally:
        for h in handles:
            h.remove()
    chain = bool(order) and all(order[i][1] == order[i - 1][2] for i in range(1, len(order)))
    chain = chain and len({n for n, _, _ in order}) == len(order) and order[-1][2] == id(out)
    return shapes, chain


def _transposed_geometry(mod: nn.Module, out_shape: tuple[int, ...]) -> ConvGeometry:
    r"""A transposed convolution is the adjoint of the convolution with the same weight, stride,
    padding, dilation and groups acting on inputs of the transposed layer's *output* size (that
    convolution maps them back to the transposed layer's input size exactly when every
    ``output_padding < stride``), so :math:`\lVert A^T\rVert_2 = \lVert A\rVert_2`. Its weight
    ``(in, out/groups, *k)`` is read as a convolution weight ``(out_conv, in_conv/groups, *k)``."""
    nd = mod.weight.ndim - 2
    if mod.padding_mode != "zeros":
        raise AuditError(f"{type(mod).__name__} with padding_mode={mod.padding_mode!r} is not supported")
    if any(op >= s for op, s in zip(mod.output_padding, mod.stride)):
        raise AuditError(f"{type(mod).__name__} with output_padding {tuple(mod.output_padding)} >= stride "
                         f"{tuple(mod.stride)} is not the adjoint of a convolution; not supported")
    return ConvGeometry(mod.out_channels, tuple(out_shape[-nd:]), tuple(mod.stride), tuple(mod.padding),
                        tuple(mod.dilation), mod.groups, "zeros")


def _geometry(mod: nn.Module, in_shape: tuple[int, ...]) -> ConvGeometry:
    nd = mod.weight.ndim - 2
    pad = mod.padding
    if isinstance(pad, str):
        ext = [d * (k - 1) + 1 for d, k in zip(mod.dilation, mod.weight.shape[2:])]
        if pad == "valid":
            pad = (0,) * nd
        elif all((e - 1) % 2 == 0 for e in ext):
            pad = tuple((e - 1) // 2 for e in ext)
        else:
            raise AuditError("padding='same' with an even dilated kernel pads asymmetrically; not supported")
    return ConvGeometry(mod.in_channels, tuple(in_shape[-nd:]), tuple(mod.stride), tuple(pad),
                        tuple(mod.dilation), mod.groups, mod.padding_mode)


def audit_model(model: nn.Module, input_shape: tuple[int, ...] | None = None, *, rtol: float = 1e-6,
                progress: bool = False, allow_unsupported: bool = False) -> AuditReport:
    """Audit every weight layer of ``model`` (see the module docstring).

    Args:
        model: an ``nn.Module``; it is put in eval mode for the audit (so ``spectral_norm``
            parametrizations do not run their power iteration) and restored afterwards.
        input_shape: ``(C, H, W)`` (or ``(C, L)``, ``(C, D, H, W)``, ``(features,)``) without the
            batch dimension; needed when the model has convolutions.
        rtol: target relative width of the certified brackets.
        progress: show a tqdm progress bar on stderr.
        allow_unsupported: audit the supported layers even when others carry parameters; they are
            still listed in ``report.unsupported`` and the Lipschitz product is then ``None``.

    Raises:
        AuditError: no weight layer, unsupported parametrized layers (unless allowed), NaN/Inf
            weights, an input shape too small for a kernel, a failing forward pass.
    """
    if not isinstance(model, nn.Module):
        raise AuditError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(rtol, float) and 0 < rtol < 1):
        raise AuditError(f"rtol must be a float in (0, 1), got {rtol!r}")
    start, cpu_start = time.perf_counter(), time.process_time()
    leaves = {n: m for n, m in model.named_modules() if n and _is_leaf(n, m)}
    if _is_leaf("", model):
        leaves = {type(model).__name__: model}
    supported, unsupported = {}, []
    for name, mod in leaves.items():
        if isinstance(mod, (nn.Linear,) + _CONV_TYPES):
            supported[name] = mod
        elif isinstance(mod, _BN_TYPES) and mod.track_running_stats and mod.running_var is not None:
            supported[name] = mod
        elif any(True for _ in mod.parameters(recurse=False)) or any(
                True for _ in getattr(mod, "parametrizations", {})):
            unsupported.append({"name": name, "type": type(mod).__name__})
    if not any(isinstance(m, (nn.Linear,) + _CONV_TYPES) for m in supported.values()):
        extra = f"; unsupported parametrized layers: {_names(unsupported)}" if unsupported else ""
        raise AuditError(f"model {type(model).__name__} has no Linear, Conv or ConvTranspose layer to audit{extra}")
    if unsupported and not allow_unsupported:
        raise AuditError(f"unsupported layer types with parameters (not audited): {_names(unsupported)}; "
                         "pass allow_unsupported=True (--allow-unsupported) to audit the rest")
    has_conv = any(isinstance(m, _CONV_TYPES) for m in supported.values())
    if has_conv and input_shape is None:
        raise AuditError("the model has convolutions: give input_shape (--input-shape C,H,W)")
    was_training = {m: m.training for m in model.modules()}
    model.eval()
    try:
        for name, mod in supported.items():
            if mod.weight is not None:
                _check_weight(name, mod.weight)
        shapes, chain = ({}, False) if input_shape is None else _trace_shapes(model, tuple(input_shape), leaves)
        layers = _audit_layers(supported, shapes, rtol, progress)
    finally:
        for m, flag in was_training.items():
            m.train(flag)
    if input_shape is None:  # Linear-only model: chain in registration order is assumed, not verified
        chain = False
    lip = None if unsupported else math.prod(float(la.operator_norm.upper) for la in layers)
    return AuditReport(layers, unsupported, lip, chain, CAVEATS,
                       None if input_shape is None else list(input_shape), rtol,
                       time.perf_counter() - start, time.process_time() - cpu_start)


def _is_leaf(name: str, module: nn.Module) -> bool:
    """A layer: no children except torch's ``parametrizations`` container, and not inside one."""
    if ".parametrizations." in f".{name}." or name.endswith("parametrizations"):
        return False
    return all(child == "parametrizations" for child, _ in module.named_children())


def _names(items: list[dict]) -> str:
    return ", ".join(f"{u['name']} ({u['type']})" for u in items)


def _audit_layers(supported: dict, shapes: dict, rtol: float, progress: bool) -> list[LayerAudit]:
    from tqdm.auto import tqdm

    out = []
    bar = tqdm(supported.items(), desc="audit", unit="layer", disable=not progress, file=sys.stderr)
    for name, mod in bar:
        bar.set_postfix_str(name, refresh=False)
        if isinstance(mod, _BN_TYPES) and mod.weight is None:
            w = torch.ones(mod.num_features, dtype=torch.float64)
        else:
            w = _check_weight(name, mod.weight)
        in_shape, out_shape = shapes.get(name, (None, None))
        if name in supported and isinstance(mod, _CONV_TYPES) and in_shape is None:
            raise AuditError(f"layer {name} was not called in the forward pass; cannot size its operator")
        param, norm = _parametrization(mod)
        if isinstance(mod, _BN_TYPES):
            scale = w / torch.sqrt(mod.running_var.detach().to(torch.float64) + mod.eps)
            value = float(scale.abs().max())
            br = bracket(value, value, "diagonal (eval-mode BN: gamma/sqrt(var+eps))", rtol=rtol)
            out.append(LayerAudit(name, type(mod).__name__, list(w.shape), [w.numel(), w.numel()],
                                  _list(in_shape), _list(out_shape), br, br, True, (1.0, 1.0)))
            continue
        mat = w.reshape(w.shape[0], -1)
        sig = sigma_bracket(mat, rtol=rtol)
        if isinstance(mod, nn.Linear):
            op, exact, geo, bounds = sig, True, {}, {}
        else:
            g = (_transposed_geometry(mod, out_shape) if isinstance(mod, _TRANSPOSED_CONV_TYPES)
                 else _geometry(mod, in_shape))
            try:
                op, exact = conv_operator_norm(w, g, rtol=rtol, matrix=sig)
            except ValueError as err:  # a cost refused up front
                raise AuditError(f"layer {name}: {err}") from err
            geo = {"stride": list(g.stride), "padding": list(g.padding), "dilation": list(g.dilation),
                   "groups": g.groups, "padding_mode": g.padding_mode,
                   "kernel_extent": list(kernel_extent(w, g))}
            bounds = analytic_bounds(w, g, sig)
        ratio = ((float(op.lower) / float(sig.upper), float(op.upper) / float(sig.lower))
                 if sig.lower > 0 else (math.nan, math.nan))
        out.append(LayerAudit(name, type(mod).__name__, list(w.shape), list(mat.shape), _list(in_shape),
                              _list(out_shape), sig, op, exact, ratio, bounds, geo, param, norm))
    return out


def _list(shape):
    return None if shape is None else list(shape)


# ----------------------------------------------------------------------------------------- loading

def _import_factory(spec: str) -> Callable[[], nn.Module]:
    if ":" not in spec:
        raise AuditError(f"factory {spec!r} must look like 'package.module:function' or 'file.py:function'")
    mod_name, func = spec.rsplit(":", 1)
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.exists():
                raise AuditError(f"factory file {mod_name} does not exist")
            s = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(s)
            s.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ModuleNotFoundError as err:
        raise AuditError(f"cannot import {mod_name!r}: {err}") from err
    if not hasattr(module, func):
        raise AuditError(f"{mod_name!r} has no attribute {func!r}")
    return getattr(module, func)


def load_model(spec: str, *, factory: str | None = None, weights: str | None = None,
               kwargs: dict | None = None) -> nn.Module:
    """Build the model named by ``spec``.

    ``spec`` is ``module.path:factory`` (or ``file.py:factory``), a file saved with ``torch.save``
    holding a ``state_dict`` (then ``factory`` builds the module it is loaded into), or
    ``torchvision:NAME`` / a torchvision model name (needs torchvision). ``weights`` optionally loads
    a ``state_dict`` into a model built from a factory spec; ``kwargs`` go to the factory.
    """
    kwargs = kwargs or {}
    path = Path(spec)
    if path.suffix in (".pt", ".pth", ".bin") or (path.exists() and path.is_file()):
        if factory is None:
            raise AuditError(f"{spec}: a saved file needs --factory module:function to build the model")
        if not path.exists():
            raise AuditError(f"{spec}: no such file")
        model = _call_factory(factory, kwargs)
        weights = spec
    elif ":" in spec and not spec.startswith("torchvision:"):
        model = _call_factory(spec, kwargs)
    else:
        name = spec.split(":", 1)[-1]
        try:
            import torchvision.models as tvm
        except ImportError:
            raise AuditError(f"{spec!r} is not a 'module:factory' spec, and torchvision (needed for "
                             "torchvision model names) is not installed") from None
        try:
            model = tvm.get_model(name, weights=None)
        except Exception as err:
            raise AuditError(f"torchvision has no model {name!r}: {err}") from err
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as err:
            raise AuditError(f"{weights}: cannot load a state_dict ({type(err).__name__}: {err})") from err
        if not isinstance(state, dict):
            raise AuditError(f"{weights}: expected a state_dict, got {type(state).__name__}")
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise AuditError(f"{weights}: state_dict does not fit the model: {err}") from err
    return model


def _call_factory(spec: str, kwargs: dict) -> nn.Module:
    try:
        model = _import_factory(spec)(**kwargs)
    except AuditError:
        raise
    except Exception as err:
        raise AuditError(f"factory {spec!r} failed: {type(err).__name__}: {err}") from err
    if not isinstance(model, nn.Module):
        raise AuditError(f"factory {spec!r} returned {type(model).__name__}, not an nn.Module")
    return model


# --------------------------------------------------------------------------------------------- CLI

def _parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--input-shape must be comma-separated ints, got {text!r}")
    if not shape or any(s < 1 for s in shape):
        raise argparse.ArgumentTypeError(f"--input-shape entries must be >= 1, got {text!r}")
    return shape


def _parse_kwargs(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"--kwargs must be a JSON object: {err}")
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"--kwargs must be a JSON object, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="module.path:factory, file.py:factory, a saved state_dict file (with "
                             "--factory), or a torchvision model name (needs torchvision)")
    parser.add_argument("--factory", help="module.path:factory building the model a saved file is loaded into")
    parser.add_argument("--weights", help="a state_dict file to load into the factory's model")
    parser.add_argument("--kwargs", type=_parse_kwargs, default={}, metavar="JSON",
                        help='keyword arguments for the factory, e.g. \'{"arch": "resnet50"}\'')
    parser.add_argument("--input-shape", type=_parse_shape, metavar="C,H,W",
                        help="input shape without the batch dimension (needed for convolutions)")
    parser.add_argument("--rtol", type=float, default=1e-6, help="target relative bracket width")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write the report as Markdown")
    parser.add_argument("--allow-unsupported", action="store_true",
                        help="audit the supported layers even if other layers carry parameters")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    try:
        model = load_model(args.model, factory=args.factory, weights=args.weights, kwargs=args.kwargs)
        report = audit_model(model, args.input_shape, rtol=args.rtol, progress=not args.no_progress,
                             allow_unsupported=args.allow_unsupported)
    except AuditError as err:
        print(f"normtheory audit: error: {err}", file=sys.stderr)
        return 2
    text = report.to_markdown()
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(_finite(report.to_json()), indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value
