"""The ``systemic`` command: every sub-command answers --help (registered lazily, by name), and validate and report
really run on a generated council."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from systemic_lib.cli import _COMMANDS, main

ROOT = Path(__file__).resolve().parent.parent
IMPORT_COMMANDS = ("cases", "demand", "events")


@pytest.mark.parametrize("args", [[name] for name in sorted(_COMMANDS)] + [["import", c] for c in IMPORT_COMMANDS])
def test_every_sub_command_has_help(args):
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: main {' '.join(args)}") and "--help" in result.output


def _loaded_after(args) -> str:
    code = (
        f"import sys\nfrom systemic_lib.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in ('systemic_lib.run.batch', 'papermill', 'nbconvert') if m in sys.modules))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    ).stdout


def test_top_level_help_lists_every_command_and_one_command_imports_only_its_own_module():
    out = _loaded_after(["--help"])
    for name in _COMMANDS:
        assert f"  {name} " in out
    assert "LOADED []" in _loaded_after(["validate", "--help"])  # the batch's modules load only for `report`


def test_unknown_command_is_refused():
    result = CliRunner().invoke(main, ["reprot"])
    assert result.exit_code == 2 and "No such command 'reprot'" in result.output


def test_validate_runs_on_a_generated_council(council_factory):
    good = council_factory("testshire")
    bad = council_factory("badshire", demand="contact_id,service,received_at,channel\nC1,waste,not a date,phone\n")
    result = CliRunner().invoke(main, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert f"{good}: ok (0 errors" in result.output
    result = CliRunner().invoke(main, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: FAILED (1 errors" in result.output and "demand.csv, row 2, column 'received_at'" in result.output


@pytest.mark.slow
def test_report_runs_on_a_generated_council(council_factory, tmp_path):
    """The real demand notebook for one service of Testshire, through the installed entry point's code path."""
    council = council_factory("testshire")
    out = tmp_path / "reports"
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "systemic_lib.cli",
            "report",
            str(council),
            "--out",
            str(out),
            "--stage",
            "demand",
            "--service",
            "housing-repairs",
            "-j",
            "1",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Rendered 1 of 1 reports" in ran.stdout and f"Reports: {out / 'index.html'}" in ran.stdout
    figures = json.loads((out / "testshire" / "housing-repairs" / "demand.json").read_text())
    assert (figures["value"], figures["failure"], figures["unclassified"]) == (4, 4, 2)  # see conftest's Testshire
    assert (out / "testshire" / "housing-repairs" / "demand.html").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(j["service"], j["stage"], j["status"]) for j in manifest["jobs"]] == [("housing-repairs", "demand", "ok")]
