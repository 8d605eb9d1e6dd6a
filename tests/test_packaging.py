"""The two dependency lists (pyproject.toml for pip, environment.yml for conda) must agree."""

import re
import tomllib

import yaml

from systemic_lib import config

# conda-forge names where they differ from PyPI's
CONDA_NAMES = {"graphviz": "python-graphviz"}


def _name_spec(requirement: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$", requirement)  # pip extras: conda has none
    return m.group(1).lower(), m.group(3).replace(" ", "")


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    pyproject = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    pip_reqs = project["dependencies"] + project["optional-dependencies"]["test"]
    expected = {CONDA_NAMES.get(n, n): s for n, s in map(_name_spec, pip_reqs)}

    env = yaml.safe_load((config.PROJECT_ROOT / "environment.yml").read_text())
    conda = dict(_name_spec(d) for d in env["dependencies"] if isinstance(d, str))
    for not_python_pkg in ("python", "pip", "graphviz"):
        conda.pop(not_python_pkg, None)

    assert conda == expected


def test_console_command_is_declared():
    pyproject = tomllib.loads((config.PROJECT_ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["systemic"] == "systemic_lib.cli:main"
