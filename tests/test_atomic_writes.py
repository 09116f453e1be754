"""normtheory._io: a write interrupted at any point leaves the old file whole (issue 14).

Each test interrupts a write the way it happens to users: a process killed mid-write, a disk that
fills half-way, a rename that fails, a figure whose drawing raises while its PNG is written. The
broken variant (a plain ``Path.write_bytes``, which truncates first) loses the file under the
same interruption, so the tests can fail.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from normtheory import _io, cli, figures, report

ROOT = Path(__file__).resolve().parent.parent
OLD = b"old contents that must survive\n" * 100


class _HalfWriter:
    """A file object whose ``write`` writes half of the data, then fails like a full disk."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        self._f.flush()
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def _fill_half_then_fail(monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(_io.os, "fdopen", lambda fd, mode: _HalfWriter(real_fdopen(fd, mode)))


def _no_temp_left(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_disk_full_half_way_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "data.json"
    target.write_bytes(OLD)
    _fill_half_then_fail(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        _io.atomic_write_bytes(target, b"new" * 1000)
    assert target.read_bytes() == OLD and _no_temp_left(tmp_path)


def test_broken_variant_truncating_writer_loses_the_file(tmp_path, monkeypatch):
    """The plain write the issue found (truncate, then write) under the same interruption."""
    target = tmp_path / "data.json"
    target.write_bytes(OLD)

    def plain_write(path, data):
        with open(path, "wb") as f:
            _HalfWriter(f).write(data)

    with pytest.raises(OSError):
        plain_write(target, b"new" * 1000)
    assert target.read_bytes() != OLD


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "page.md"
    target.write_bytes(OLD)

    def refuse(src, dst):
        raise PermissionError("rename refused")

    monkeypatch.setattr(_io.os, "replace", refuse)
    with pytest.raises(PermissionError):
        _io.atomic_write_text(target, "new")
    assert target.read_bytes() == OLD and _no_temp_left(tmp_path)


_KILLED_WRITER = """
import os, sys, time
from normtheory import _io
real_fdopen = os.fdopen
class Slow:
    def __init__(self, f): self.f = f
    def write(self, data):
        self.f.write(data[: len(data) // 2]); self.f.flush()
        print("half", flush=True); time.sleep(60)
    def __getattr__(self, n): return getattr(self.f, n)
    def __enter__(self): return self
    def __exit__(self, *e): self.f.close()
_io.os.fdopen = lambda fd, mode: Slow(real_fdopen(fd, mode))
_io.atomic_write_bytes(sys.argv[1], b"new" * 100000)
"""


def test_process_killed_mid_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "README.md"
    target.write_bytes(OLD)
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "half"  # it is inside the write now
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert target.read_bytes() == OLD
    # a kill -9 cannot clean up: at most a stray hidden temp file beside it, never a truncated target
    assert all(p.name.startswith(".README.md.") for p in tmp_path.iterdir() if p != target)


def test_permissions_of_a_replaced_file_are_kept(tmp_path):
    target = tmp_path / "README.md"
    target.write_bytes(OLD)
    target.chmod(0o644)
    _io.atomic_write_text(target, "new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 and target.read_text() == "new"


def test_new_file_gets_the_umask_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = _io.atomic_write_text(tmp_path / "new.json", "{}")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0600


def test_writing_onto_a_folder_is_refused(tmp_path):
    with pytest.raises(_io.OutputPathError, match="is a directory"):
        _io.atomic_write_text(tmp_path, "x")


def _a_file(folder: Path) -> Path:
    (folder / "file").write_text("x")
    return folder / "file"


@pytest.mark.parametrize("make, what, match", [
    (lambda d: d, "--json", "is a directory"),
    (lambda d: d / "missing" / "out.json", "--json", "does not exist"),
    (lambda d: _a_file(d) / "out.json", "--json", "is not a folder"),
])
def test_output_file_checks(tmp_path, make, what, match):
    with pytest.raises(_io.OutputPathError, match=match):
        _io.check_output_file(make(tmp_path), what)


def test_output_dir_checks(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(_io.OutputPathError, match="not a folder"):
        _io.check_output_dir(tmp_path / "file", "--out")
    with pytest.raises(_io.OutputPathError, match="cannot be created"):
        _io.check_output_dir(tmp_path / "file" / "sub", "--out")
    assert _io.check_output_dir(tmp_path / "new" / "sub", "--out") == tmp_path / "new" / "sub"
    assert not (tmp_path / "new").exists()  # a check creates nothing


# ------------------------------------------------------------------ interrupted CLI runs


def test_verify_json_interrupted_by_a_full_disk_keeps_the_old_report(tmp_path, monkeypatch, capsys):
    out = tmp_path / "report.json"
    old = json.dumps({"claims": [], "environment": {}}).encode()
    out.write_bytes(old)
    monkeypatch.setattr(report, "run_claims", lambda claims, progress=None: [])
    _fill_half_then_fail(monkeypatch)
    assert cli.main(["verify", "--quiet", "--only", "L5-bn-eps", "--json", str(out)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == ["normtheory verify: error: [Errno 28] No space left on device"]
    assert out.read_bytes() == old  # still valid JSON, not half a file
    json.loads(out.read_bytes())


def test_figures_interrupted_while_saving_keep_the_committed_png(tmp_path, monkeypatch):
    png = tmp_path / "job.png"
    png.write_bytes(OLD)

    class HalfFigure:
        def savefig(self, buffer, **kwargs):
            buffer.write(b"\x89PNG half")
            raise KeyboardInterrupt  # the user pressed ctrl-C while the PNG was being encoded

    job = figures.FigureJob("job", lambda: (HalfFigure(), {"x": 1.0}))
    with pytest.raises(KeyboardInterrupt):
        figures.write_figures(tmp_path, [job])
    assert png.read_bytes() == OLD and _no_temp_left(tmp_path)


@pytest.mark.slow  # three figure runs of ~15 s each (most of it importing the claims)
def test_killed_figures_run_never_truncates(tmp_path):
    """Kill ``normtheory figures`` repeatedly at different moments: every PNG is old or whole."""
    out = tmp_path / "figs"
    done = subprocess.run([sys.executable, "-m", "normtheory", "figures", "--out", str(out), "--only", "L5-euler"],
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert done.returncode == 0, done.stderr
    whole = (out / "L5-euler.png").read_bytes()
    for delay in (0.5, 2.0):
        proc = subprocess.Popen([sys.executable, "-m", "normtheory", "figures", "--out", str(out), "--only",
                                 "L5-euler"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        for line in proc.stderr:  # wait until it is drawing, then kill it a little later
            if b"drawing" in line:
                break
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert (out / "L5-euler.png").read_bytes() == whole
