"""Packaging: the sdist and wheel build, pass ``twine check``, and the wheel installed (not editable)
into a fresh virtual environment runs ``normtheory verify --only`` on one claim of each kind, from
outside the checkout, so every file verify reads must come from the wheel's package data.

The build runs on a copy of the sources (building in the checkout would leave a
``normtheory.egg-info`` there whose stale metadata shadows the installed entry points), without
build isolation (the running environment's setuptools; nothing is downloaded). The fresh venv gets
the wheel with ``--no-deps`` and sees the running environment's dependencies (torch, numpy, ...)
through a ``.pth`` line, like ``--system-site-packages`` would for a system install; a ``.pth``
line adds a folder without running that folder's own ``.pth`` files, so the checkout's editable
install stays invisible there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: one fast claim of each kind (the recorded verdict); the analogue reads recorded results, which
#: must be package data
ONE_OF_EACH_KIND = {
    "PAPER-ws-cwn": "confirmed",
    "PAPER-dynamic-decay": "corrected",
    "PAPER-thm1-adam": "refuted",
    "PAPER-table3-analogue": "analogue",
    "PAPER-eps-gains-vs-selection": "inconclusive",
}


def _run(cmd, *, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    pytest.importorskip("build", reason="the `build` package is not installed (pip install build; .ci/run does)")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "normtheory", src / "normtheory",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src], cwd=src)
    return out


def test_sdist_and_wheel_metadata_pass_twine_check(dist):
    pytest.importorskip("twine", reason="twine is not installed (pip install twine; .ci/run does)")
    files = sorted(dist.glob("*.whl")) + sorted(dist.glob("*.tar.gz"))
    assert len(files) == 2, files
    result = _run([sys.executable, "-m", "twine", "check", "--strict", *files], cwd=dist)
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_wheel_holds_the_package_data_and_the_pytest_entry_point(dist):
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("normtheory/report_templates/index.html", "normtheory/report_templates/report.js",
                   "normtheory/reproduce/results/eps-sensitivity.json", "normtheory/pytest_plugin.py"):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]" in text and "normtheory.pytest_plugin" in text


@pytest.fixture(scope="module")
def fresh_venv(dist, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=venv.parent).stdout.strip())
    (site / "_running_env_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (wheel,) = dist.glob("*.whl")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "--quiet", wheel], cwd=venv.parent)
    return venv


def _clean_env(venv: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_installed_wheel_imports_from_the_venv_not_the_checkout(fresh_venv, tmp_path):
    out = _run([fresh_venv / "bin" / "python", "-c", "import normtheory; print(normtheory.__file__)"],
               cwd=tmp_path, env=_clean_env(fresh_venv)).stdout.strip()
    assert Path(out).is_relative_to(fresh_venv), out


def test_installed_wheel_verifies_one_claim_of_each_kind(fresh_venv, tmp_path):
    report = tmp_path / "verify.json"
    _run([fresh_venv / "bin" / "normtheory", "verify", "--quiet", "--json", report, "--only",
          *ONE_OF_EACH_KIND], cwd=tmp_path, env=_clean_env(fresh_venv))
    verdicts = {c["id"]: c["verdict"] for c in json.loads(report.read_text())["claims"]}
    assert verdicts == ONE_OF_EACH_KIND


def test_installed_wheel_writes_the_html_report(fresh_venv, tmp_path):
    script = ("import sys; from pathlib import Path; from normtheory import report; "
              "from normtheory.claims import get_claims; from normtheory.html_report import write_html_report; "
              "print(write_html_report(report.run_claims(get_claims(['PAPER-ws-cwn'])), Path(sys.argv[1]), "
              "figures_dir=None))")
    _run([fresh_venv / "bin" / "python", "-c", script, tmp_path / "html"], cwd=tmp_path, env=_clean_env(fresh_venv))
    page = (tmp_path / "html" / "claims" / "PAPER-ws-cwn.html").read_text()
    assert "Statement checked" in page and "no tests/ folder beside this installation" in page
