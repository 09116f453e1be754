"""The derivation scripts in proofs/: each runs, proves what it says, and shows it can fail.

A script passes when it exits 0, prints no ``FAIL`` line, and ends with ``_identity.finish()``'s
summary ``proved N identities, rejected K wrong identities`` with N >= 1 and K >= 1. Reading the
output as well as the exit status catches a script that exits 0 after a failed check; requiring
K >= 1 catches a script whose wrong-identity check was removed. The mechanism itself is tested on
tiny scripts written to ``tmp_path`` (a broken one must be caught, a sound one must pass), and on a
real script with its ``refute`` calls cut out by ``ast``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROOFS_DIR = Path(__file__).resolve().parent.parent / "proofs"
SCRIPTS = sorted(p for p in PROOFS_DIR.glob("*.py") if not p.name.startswith("_"))  # _identity.py: shared helper
SUMMARY = re.compile(r"^proved (\d+) identities, rejected (\d+) wrong identities$", re.MULTILINE)
SOURCE_FILE = re.compile(r"\b00[012]_[0-9a-f]{16}\.txt\b")
CLAIMS_LINE = re.compile(r"^Claims:\s*(.+?)(?:\n\s*\n|\Z)", re.MULTILINE | re.DOTALL)
CLAIM_ID = re.compile(r"\b(?:BLOG|PAPER|L5|CONF)-[A-Za-z0-9-]*[A-Za-z0-9]\b")
TIMEOUT_S = 240  # generous: a script takes seconds alone, but the test machine is shared


def run_script(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PROOFS_DIR))  # scripts in tmp_path import _identity too
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=env, cwd=path.parent)


def problems(done: subprocess.CompletedProcess) -> list[str]:
    """Everything wrong with one run of a derivation script (empty when it passed)."""
    found = []
    if done.returncode != 0:
        found.append(f"exit status {done.returncode}")
    found += [f"failed check: {line}" for line in done.stdout.splitlines() if line.startswith("FAIL")]
    summary = SUMMARY.findall(done.stdout)
    if not summary:
        found.append("no summary line: the script did not end with _identity.finish()")
    else:
        proved, rejected = map(int, summary[-1])
        if proved == 0:
            found.append("proved no identity")
        if rejected == 0:
            found.append("rejected no wrong identity: no wrong-identity check")
    return found


def claim_ids(path: Path) -> list[str]:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    block = CLAIMS_LINE.search(doc)
    return CLAIM_ID.findall(block.group(1)) if block else []


def test_there_are_proofs():
    assert len(SCRIPTS) >= 11, [p.name for p in SCRIPTS]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_proves_and_rejects(script):
    done = run_script(script)
    assert not problems(done), "\n".join(problems(done)) + "\n" + done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_docstring_names_source_place_and_claims(script):
    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    assert SOURCE_FILE.search(doc), f"{script.name}: docstring names no source document file"
    assert claim_ids(script), f"{script.name}: docstring has no 'Claims:' paragraph with claim ids"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script_is_self_contained_and_ends_with_finish(script):
    tree = ast.parse(script.read_text())
    code = ast.unparse([node for node in tree.body if not (  # the docstring may cite the documents
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))])
    assert "shared" not in code and "seeds" not in code, f"{script.name} refers to the shared documents"
    calls = {node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "refute" in calls, f"{script.name} has no wrong-identity check"
    last = tree.body[-1]
    assert (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
            and getattr(last.value.func, "id", None) == "finish"), f"{script.name} does not end with finish()"


def test_claim_ids_exist_and_linked_proofs_name_them():
    from normtheory.claims import all_claims

    registered = {c.id: c for c in all_claims()}
    named = {cid: script for script in SCRIPTS for cid in claim_ids(script)}
    unknown = sorted(set(named) - set(registered))
    assert not unknown, f"proof docstrings name claims that are not registered: {unknown}"
    for cid, claim in registered.items():
        if claim.proof:
            path = PROOFS_DIR.parent / claim.proof
            assert path.is_file(), f"{cid}: proof={claim.proof} does not exist"
            assert cid in claim_ids(path), f"{cid}: {claim.proof}'s docstring does not list it"


# --- the mechanism: it must catch broken scripts (and pass a sound one) -----------------------

SOUND = '''
    """A sound tiny script."""
    import sympy as sp
    from _identity import check, refute, finish
    x = sp.Symbol("x", positive=True)
    check("(x+1)^2 = x^2 + 2x + 1", (x + 1)**2 - (x**2 + 2*x + 1))
    refute("(x+1)^2 = x^2 + 1", (x + 1)**2 - (x**2 + 1), witness={x: 1})
    finish()
'''


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "tiny.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_mechanism_passes_a_sound_script(tmp_path):
    done = run_script(write(tmp_path, SOUND))
    assert problems(done) == [], done.stdout + done.stderr


def test_mechanism_catches_exit_zero_after_failed_check(tmp_path):
    body = SOUND.replace("x**2 + 2*x + 1))", "x**2 + 2*x))").replace("finish()", "import sys; sys.exit(0)")
    done = run_script(write(tmp_path, body))
    assert done.returncode == 0  # the broken script lies with its exit status ...
    assert any(p.startswith("failed check") for p in problems(done))  # ... and is caught anyway
    assert "no summary line: the script did not end with _identity.finish()" in problems(done)


def test_mechanism_catches_failed_check_even_with_finish(tmp_path):
    done = run_script(write(tmp_path, SOUND.replace("x**2 + 2*x + 1))", "x**2 + 2*x))")))
    assert done.returncode == 1 and any(p.startswith("failed check") for p in problems(done))


def test_mechanism_catches_a_removed_wrong_identity_check(tmp_path):
    body = "\n".join(line for line in textwrap.dedent(SOUND).splitlines() if not line.startswith("refute("))
    done = run_script(write(tmp_path, body))
    assert done.returncode == 1
    assert "rejected no wrong identity: no wrong-identity check" in problems(done)


def test_mechanism_catches_a_wrong_identity_that_is_accepted(tmp_path):
    body = SOUND.replace("(x**2 + 1), witness", "(x**2 + 2*x + 1), witness")  # a true identity: not rejected
    done = run_script(write(tmp_path, body))
    assert done.returncode == 1 and any("wrong: " in p for p in problems(done))


def test_mechanism_catches_a_witness_that_does_not_refute(tmp_path):
    # (x+1)^2 - (x^2 + 1) = 2x is nonzero as an expression but zero at x = 0: that point shows nothing
    body = SOUND.replace("x = sp.Symbol(\"x\", positive=True)", "x = sp.Symbol(\"x\")").replace(
        "witness={x: 1}", "witness={x: 0}")
    done = run_script(write(tmp_path, body))
    assert done.returncode == 1 and any("wrong: " in p for p in problems(done))


def _without_refutes(source: str) -> str:
    """The script with every statement that calls refute() or refute_nonnegative() removed."""

    class Cut(ast.NodeTransformer):
        def generic_visit(self, node):
            super().generic_visit(node)
            for field in ("body", "orelse"):
                block = getattr(node, field, None)
                if isinstance(block, list) and block and all(isinstance(s, ast.stmt) for s in block):
                    kept = [s for s in block if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
                                                     and str(getattr(s.value.func, "id", "")).startswith("refute"))]
                    setattr(node, field, kept or ([ast.Pass()] if field == "body" else []))
            return node

    return ast.unparse(ast.fix_missing_locations(Cut().visit(ast.parse(source))))


def test_mechanism_catches_a_real_script_without_its_wrong_identity_checks(tmp_path):
    script = PROOFS_DIR / "paper_eps_shift.py"  # one of the fastest; every script calls refute (tested above)
    cut = _without_refutes(script.read_text())
    assert not [n for n in ast.walk(ast.parse(cut))
                if isinstance(n, ast.Call) and str(getattr(n.func, "id", "")).startswith("refute")]
    path = tmp_path / script.name
    path.write_text(cut)
    done = run_script(path)
    assert done.returncode == 1
    assert "rejected no wrong identity: no wrong-identity check" in problems(done)
