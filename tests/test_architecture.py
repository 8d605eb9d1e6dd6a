"""The house's shape, enforced: the import-linter contracts (run as the real `lint-imports`), a deliberately added
upward import caught, analysis free of display code, and style by tools (ruff's format and lint, with complexity)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from systemic_lib import config

ROOT = config.PROJECT_ROOT
LINT = Path(sys.executable).with_name("lint-imports")
MYPY = Path(sys.executable).with_name("mypy")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_contracts_are_kept():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_a_deliberate_cycle_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "systemic_lib", tmp_path / "systemic_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    words = tmp_path / "systemic_lib" / "words.py"  # the lowest layer now imports a stage
    words.write_text(words.read_text() + "\nfrom systemic_lib.analysis import demand  # noqa: E402,F401\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "systemic_lib.words is not allowed to import systemic_lib.analysis" in done.stdout.replace("\n", " ")


def test_a_stage_importing_another_breaks_the_independence_contract(tmp_path):
    shutil.copytree(ROOT / "systemic_lib", tmp_path / "systemic_lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    measure = tmp_path / "systemic_lib" / "analysis" / "measure.py"
    measure.write_text(measure.read_text() + "\nfrom systemic_lib.analysis import demand  # noqa: E402,F401\n")
    done = _lint(tmp_path)
    assert done.returncode != 0 and "Stages stand alone" in done.stdout and "BROKEN" in done.stdout


def test_every_notebook_has_a_stage_module_checked_against_the_stage_contract():
    """``analysis.modules.STAGE_MODULES`` is typed ``dict[str, StageModule]``: mypy (below) checks each module's five
    functions against the contract; here, that every notebook the batch runs has its module there."""
    from systemic_lib.analysis.modules import STAGE_MODULES

    assert set(STAGE_MODULES) == set(config.ALL_STAGES)


def test_a_stage_module_without_a_stage_function_fails_the_type_checker(tmp_path):
    """The type checker catches a stage module that lost one of the five functions (here: a copy of the contract's
    functions without ``questions``) where it is used as a ``StageModule``."""
    (tmp_path / "broken_stage.py").write_text(
        "def load(stage): ...\ndef headline(data) -> str: ...\ndef figures(data) -> dict: ...\n"
        "def period(data) -> tuple: ...\n"
    )
    (tmp_path / "check.py").write_text(
        "import broken_stage\nfrom systemic_lib.analysis.contract import StageModule\n\n"
        "module: StageModule = broken_stage\n"
    )
    done = subprocess.run(
        [str(MYPY), "--ignore-missing-imports", "--cache-dir", str(ROOT / ".mypy_cache"), "check.py"],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode != 0 and "StageModule" in done.stdout and "questions" in done.stdout, done.stdout[-3000:]


RUFF = Path(sys.executable).with_name("ruff")
CODE = ["systemic_lib", "tests", "benchmarks"]


def test_code_is_formatted_by_ruff():
    done = subprocess.run([str(RUFF), "format", "--check", *CODE], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_code_passes_ruff_lint_with_complexity_rules():
    done = subprocess.run([str(RUFF), "check", *CODE], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_every_library_module_lives_in_a_layer_folder():
    entry = {"__init__.py", "config.py", "errors.py", "words.py"}
    loose = sorted(p.name for p in (ROOT / "systemic_lib").glob("*.py") if p.name not in entry)
    assert not loose, f"modules outside a layer folder: {loose}"


# ------------------------------------------------------------------ issue 23, item 4: tests that cannot look away
def test_a_missing_oracle_fails_on_ci_and_skips_elsewhere(monkeypatch):
    """pm4py, the real logs in ../shared, Graphviz's dot, Chromium and lifelines are oracles: on CI (CI=true) a
    missing one fails the test that needs it instead of skipping it quietly."""
    from conftest import missing_oracle, needs_file

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="missing on CI"):
        needs_file(ROOT / "no-such-log.xes.gz")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        missing_oracle("pm4py", "install it")


def test_no_test_skips_an_oracle_by_itself():
    """Every skip in the suite goes through conftest.missing_oracle (so CI fails instead), except the optional
    name redactor, which is a feature a council may switch on, not an oracle."""
    import re

    found = []
    for path in sorted((ROOT / "tests").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"pytest\.skip\(|importorskip|mark\.skipif", text):
            if "presidio" not in text[m.start() : m.start() + 150] and path.name != "test_architecture.py":
                line = text[: m.start()].count("\n") + 1
                found.append(f"{path.name}:{line}: {text.splitlines()[line - 1].strip()}")
    allowed = [f for f in found if f.startswith("conftest.py:") and 'pytest.skip(f"{what} is missing' in f]
    assert found == allowed and len(allowed) == 1, "\n".join(found)


def test_the_library_passes_the_type_checker():
    """mypy over systemic_lib with the settings in pyproject.toml (the stage contract, tables, jobs, engines)."""
    done = subprocess.run([str(MYPY)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
