"""The named analogues: their protocols (in-run and full), their code, and their recorded results.

Each analogue has two sizes of one protocol:

* ``inrun`` -- reduced (fewer seeds, epochs, models) so that ``normtheory verify`` computes it in a
  few seconds on 2 cores; the claims decide from it;
* ``full`` -- the size whose results are *recorded* in ``normtheory/reproduce/results/NAME.json``
  (package data) by ``normtheory reproduce NAME --save``, with provenance
  (:mod:`normtheory.provenance`), and rerun by ``normtheory reproduce --check``.

:func:`code_version` hashes the source files an analogue runs (``CODE``); :func:`recorded` refuses a
record made by other code, naming the command that regenerates it. This module computes runs; what
they mean for a document's statement is decided in :mod:`normtheory.claims.blog_analogues` and
:mod:`normtheory.claims.paper_analogues`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import torch

from normtheory import provenance
from normtheory.reproduce import RESULTS_DIR
from normtheory.reproduce.runner import check_jobs

__all__ = ["EXPERIMENTS", "FORMS", "Experiment", "run", "inrun", "recorded", "save", "dumps",
           "code_version", "command"]

FORMS = ("inrun", "full")

_COMMON = ("reproduce/__init__.py", "reproduce/data.py", "reproduce/models.py",
           "reproduce/training.py", "reproduce/runner.py", "reproduce/experiments.py", "reparam.py",
           "_validation.py")


@dataclass(frozen=True)
class Experiment:
    """An analogue: ``runner(**protocol, jobs=, threads=, progress=)`` and its two protocols."""

    name: str
    runner: Callable[..., dict]
    protocols: dict[str, dict[str, Any]]
    code: tuple[str, ...]


def _norm_scaling(**kw):
    from normtheory.reproduce.norm_scaling import run_norm_scaling
    return run_norm_scaling(**kw)


def _scaling_cost(*, jobs, **kw):
    from normtheory.reproduce.norm_scaling import run_scaling_cost
    return run_scaling_cost(**kw)  # timed in one process whatever jobs says (see its docstring)


def _wd_sweep(*, configs=None, **kw):
    from normtheory.reproduce.weight_decay import run_sweep, sweep_grid
    return run_sweep(configs=[tuple(c) for c in configs] if configs else sweep_grid(), **kw)


def _eps_sensitivity(**kw):
    from normtheory.reproduce.weight_decay import run_eps_sensitivity
    return run_eps_sensitivity(**kw)


def _warmup(**kw):
    from normtheory.reproduce.weight_decay import run_warmup
    return run_warmup(**kw)


# The spectral modules the training runs execute (NormScaling's warm-started power estimator, its
# float64 reference targets); the cost comparison also runs NormScaling's default Gram estimator
# (spectral/certify.py). Listing only what runs keeps an edit to, say, the convolution bounds from
# invalidating these records.
_NS = ("reproduce/norm_scaling.py", "scaling.py", "spectral/__init__.py", "spectral/_input.py",
       "spectral/power.py", "spectral/reference.py")
_COST = _NS + ("spectral/certify.py",)
_WD = ("reproduce/weight_decay.py", "regularizers.py")

#: In-run forms: about 5-6 s of 2-core CPU per claim that uses them (verify's budget).
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    Experiment("norm-scaling", _norm_scaling,
               {"inrun": {"models": ("mlp3",), "seeds": 4, "epochs": 4},
                "full": {"models": ("mlp3", "mlp5", "cnn"), "seeds": 5, "epochs": 10}},
               _COMMON + _NS),
    Experiment("scaling-cost", _scaling_cost,
               {"inrun": {"widths": (128,), "steps": 3, "rounds": 9},
                "full": {"widths": (128, 512), "steps": 10, "rounds": 7}},
               _COMMON + _COST),
    Experiment("wd-sweep", _wd_sweep,
               {"inrun": {"configs": (("wn", "sgd", 0.0, None), ("wn", "sgd", 10.0, None),
                                      ("wn", "sgd", 10.0, 1e-3), ("ws", "sgd", 0.0, None),
                                      ("ws", "sgd", 10.0, None), ("ws", "sgd", 10.0, 1e-3),
                                      ("wn", "adam", 1e-2, None)),
                          "seeds": 3, "epochs": 3},
                "full": {"configs": None, "seeds": 5, "epochs": 8}},
               _COMMON + _WD),
    Experiment("eps-sensitivity", _eps_sensitivity,
               {"inrun": {"seeds": 3, "epochs": 3}, "full": {"seeds": 5, "epochs": 8}},
               _COMMON + _WD),
    Experiment("warmup", _warmup,
               {"inrun": {"seeds": 3, "epochs": 3}, "full": {"seeds": 5, "epochs": 20}},
               _COMMON + _WD),
)}


def _get(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose from {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def code_version(name: str) -> str:
    """SHA-256 of the source files the analogue ``name`` runs (:func:`provenance.code_version`)."""
    return provenance.code_version(_get(name).code)


def command(name: str) -> str:
    """The command that regenerates the recorded result of ``name``."""
    _get(name)
    return f"normtheory reproduce {name} --save --jobs 2"


def run(name: str, *, form: str = "full", jobs: int = 1, threads: int = 1,
        progress: bool = False) -> dict:
    """Run analogue ``name`` in ``form`` ("inrun" or "full"); the result is a deterministic
    function of ``(name, form, threads)`` for every ``jobs`` (timings excepted)."""
    exp = _get(name)
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    check_jobs(jobs)
    check_jobs(threads, "threads")
    result = exp.runner(**exp.protocols[form], jobs=jobs, threads=threads, progress=progress)
    result.update({"form": form, "threads": threads, "torch": torch.__version__})
    return result


def dumps(result: dict) -> str:
    """Deterministic JSON text (sorted keys; inf/nan written as strings)."""
    from normtheory.registry import _jsonable
    return json.dumps(_jsonable(result), indent=1, sort_keys=True) + "\n"


@lru_cache(maxsize=None)
def _inrun_text(name: str, threads: int) -> str:
    return dumps(run(name, form="inrun", threads=threads))


def inrun(name: str, *, threads: int = 1) -> dict:
    """The in-run form's result, computed once per process and thread count (several claims
    share a run); a fresh copy each call."""
    return json.loads(_inrun_text(name, threads))


def record_path(name: str):
    _get(name)
    return RESULTS_DIR / f"{name}.json"


def recorded(name: str) -> tuple[dict, dict]:
    """``(result, provenance)`` of the recorded full run of ``name``.

    Raises :class:`normtheory.provenance.MissingRecordError` or
    :class:`~normtheory.provenance.StaleRecordError` (its code has changed since), each naming the
    command that regenerates the record."""
    return provenance.load_record(record_path(name), code_version=code_version(name),
                                  command=command(name))


def save(name: str, result: dict, *, jobs: int, version: str) -> dict:
    """Write ``result`` (a full run) as the recorded result of ``name``, atomically, with its
    provenance; returns the provenance. ``version`` is :func:`code_version` taken *before* the run:
    if the code changed while it ran, the result belongs to neither version and is refused."""
    if result.get("form") != "full":
        raise ValueError("only a full run can be recorded")
    now = code_version(name)
    if now != version:
        raise provenance.StaleRecordError(
            f"the code of {name} changed while it ran ({version[:12]} -> {now[:12]}); nothing "
            f"recorded; rerun `{command(name)}`")
    prov = provenance.provenance(f"normtheory reproduce {name} --save --jobs {jobs}", version)
    provenance.write_record(record_path(name), result, prov)
    return prov
