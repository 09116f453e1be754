"""Atomic file writes and output-path checks: a user's file is replaced whole or not at all.

:func:`atomic_write_bytes` / :func:`atomic_write_text` write to a temporary file in the same folder
(so that the final rename never crosses a file system), flush it to disk, give it the permissions
the target has (or the ones a newly created file would get under the current umask: ``mkstemp``'s
own ``0600`` would silently make a replaced README private), and ``os.replace`` it over the target:
atomic on POSIX and Windows. When anything fails before the rename (an exception, a full disk, an
interrupt), the temporary file is removed and the old file is untouched; a process killed outright
leaves at most a stray ``.NAME.*.tmp`` beside it, never a truncated target.

:func:`check_output_file` and :func:`check_output_dir` say, before any work starts, whether a path
can be written, so that a long run does not end in an error about its output path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["OutputPathError", "atomic_write_bytes", "atomic_write_text", "check_output_file",
           "check_output_dir"]


class OutputPathError(ValueError):
    """An output path that cannot be written (a folder, a missing or read-only parent, ...)."""


def _mode_for(path: Path) -> int:
    """The permission bits the written file gets: the target's, else ``0o666`` minus the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace ``path`` by ``data`` atomically (see the module docstring); returns the path.

    The parent folder must exist (nothing is created silently in a mistyped place); the target,
    if present, must be a regular file.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path} is a directory, not a file")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """:func:`atomic_write_bytes` of ``text`` encoded (UTF-8 by default, newlines as given)."""
    return atomic_write_bytes(path, text.encode(encoding))


def check_output_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` can be written as a file: not a folder, its parent an existing writable folder,
    and the file itself (if present) writable. Raises :class:`OutputPathError` naming ``what``
    (e.g. ``"--json"``) otherwise; creates nothing."""
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise OutputPathError(f"{what}: {path} is a directory, not a file")
    if not parent.exists():
        raise OutputPathError(f"{what}: folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputPathError(f"{what}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what}: folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"{what}: {path} is not writable")
    return path


def check_output_dir(path: str | os.PathLike, what: str) -> Path:
    """``path`` is (or can be created as) a writable folder: not a file, and its nearest existing
    ancestor a writable folder. Raises :class:`OutputPathError` naming ``what``; creates nothing."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise OutputPathError(f"{what}: {path} exists and is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputPathError(f"{what}: folder {path} is not writable")
        return path
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"{what}: {ancestor} is not a folder, so {path} cannot be created")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what}: folder {ancestor} is not writable, so {path} cannot be created")
    return path
