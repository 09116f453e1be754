"""Every derivation script in proofs/ runs and exits 0 (it exits non-zero when an identity fails)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROOFS = sorted(p for p in (Path(__file__).resolve().parent.parent / "proofs").glob("*.py")
                if not p.name.startswith("_"))  # _identity.py is the scripts' shared helper


def test_there_are_proofs():
    assert PROOFS, "proofs/ holds no derivation script"


@pytest.mark.parametrize("script", PROOFS, ids=[p.stem for p in PROOFS])
def test_proof_script_exits_zero(script):
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
