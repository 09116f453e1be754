"""Recorded results: where a number that this run did not compute came from.

A *record* is a JSON file ``{"provenance": {...}, "result": {...}}``. Its provenance holds the
fields of :data:`normtheory.registry.PROVENANCE_FIELDS`:

* ``command`` -- the command line that regenerates the record;
* ``code_version`` -- :func:`code_version` of the source files the experiment runs (a SHA-256
  over their relative names and bytes), so that any edit to them makes the record stale;
* ``date`` -- UTC time the record was written (ISO 8601, seconds);
* ``machine`` -- :func:`machine`: OS, architecture, CPU count, Python and torch versions, threads.

:func:`load_record` refuses a record whose ``code_version`` differs from today's code
(:class:`StaleRecordError`) and a missing one (:class:`MissingRecordError`); both messages name the
command that regenerates it. There is no fallback: a caller that shows recorded numbers either has a
current record or fails. :func:`write_record` writes atomically (a temporary file in the same folder,
then :func:`os.replace`), so a reader never sees half a file.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any, Iterable

from normtheory._io import atomic_write_text

__all__ = ["code_version", "machine", "provenance", "write_record", "load_record",
           "RecordError", "MissingRecordError", "StaleRecordError"]

_PACKAGE_ROOT = Path(__file__).resolve().parent  # .../normtheory


class RecordError(RuntimeError):
    """A recorded result cannot be used; the message says how to regenerate it."""


class MissingRecordError(RecordError, FileNotFoundError):
    """The record file is absent."""


class StaleRecordError(RecordError):
    """The record was produced by code that has changed since."""


def _source_files(name: str) -> list[str]:
    """``name`` (a module file or a package folder, relative to ``normtheory``) as source files."""
    path = _PACKAGE_ROOT / name
    if path.is_file():
        return [name]
    if path.is_dir():
        return sorted(p.relative_to(_PACKAGE_ROOT).as_posix() for p in path.rglob("*.py"))
    # a module may have become a package (or the reverse) since the list was written
    alt = _PACKAGE_ROOT / (name[:-3] if name.endswith(".py") else name + ".py")
    if alt.exists():
        return _source_files(alt.relative_to(_PACKAGE_ROOT).as_posix())
    raise FileNotFoundError(f"code_version: no source file or package normtheory/{name}")


def code_version(modules: Iterable[str]) -> str:
    """SHA-256 (hex) over the source of ``modules``: paths relative to the ``normtheory`` package
    (``"reproduce/training.py"``; a package folder or a module that became one counts as all its
    ``.py`` files). For each file, in sorted order: its name, a NUL byte, its bytes, a NUL byte.
    Names enter the hash so that moving code between files changes it."""
    names = sorted({f for m in modules for f in _source_files(m)})
    if not names:
        raise ValueError("modules must name at least one source file")
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0" + (_PACKAGE_ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()


def machine() -> str:
    """A one-line description of this machine and software (no host name, no user name)."""
    import torch

    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def provenance(command: str, version: str, *, date: str | None = None) -> dict[str, str]:
    """The provenance fields for a record made now by ``command`` from code ``version``."""
    if not command or not version:
        raise ValueError("provenance needs a non-empty command and code version")
    when = date or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return {"command": command, "code_version": version, "date": when, "machine": machine()}


def write_record(path: Path, result: dict[str, Any], prov: dict[str, str]) -> None:
    """Write ``{"provenance": prov, "result": result}`` atomically as deterministic JSON."""
    from normtheory.registry import PROVENANCE_FIELDS, _jsonable

    missing = [f for f in PROVENANCE_FIELDS if not prov.get(f)]
    if missing:
        raise ValueError(f"write_record: provenance lacks {', '.join(missing)}")
    text = json.dumps(_jsonable({"provenance": prov, "result": result}), indent=1,
                      sort_keys=True) + "\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # the package's results folder
    atomic_write_text(path, text)


def load_record(path: Path, *, code_version: str, command: str) -> tuple[dict, dict]:
    """``(result, provenance)`` of the record at ``path``, made by code ``code_version``.

    Raises:
        MissingRecordError: the file does not exist.
        StaleRecordError: it has no provenance, or was made by other code.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingRecordError(f"recorded result {path.name} is missing; regenerate it with "
                                 f"`{command}`")
    data = json.loads(path.read_text())
    prov = data.get("provenance") if isinstance(data, dict) else None
    if not isinstance(prov, dict) or "result" not in data:
        raise StaleRecordError(f"recorded result {path.name} has no provenance; regenerate it with "
                               f"`{command}`")
    if prov.get("code_version") != code_version:
        raise StaleRecordError(
            f"recorded result {path.name} was made by code version "
            f"{str(prov.get('code_version'))[:12]}, but the experiment's code is now "
            f"{code_version[:12]}; regenerate it with `{command}`")
    return data["result"], prov
