"""pyproject.toml and environment.yml must name the same packages with the same ranges."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge names where they differ (extras become separate conda packages).
PIP_TO_CONDA = {"dask[distributed]": ("dask", "distributed")}


def _split(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)\s*(.*)$", req)
    assert m, f"cannot parse requirement {req!r}"
    return m.group(1).lower(), m.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    out = {}
    for req in reqs:
        name, spec = _split(req)
        for conda_name in PIP_TO_CONDA.get(name, (name,)):
            out[conda_name] = spec
    return out


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "conda-forge" in env["channels"]
    out = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith(("python=", "pip")):
            name, spec = _split(dep)
            out[name] = spec
    return out


def test_same_packages_and_ranges():
    pyproject, environment = _pyproject(), _environment()
    assert sorted(pyproject) == sorted(environment)
    for name, spec in pyproject.items():
        assert environment[name] == spec, f"{name}: pyproject {spec!r} != environment.yml"


def test_every_dependency_has_a_range():
    for name, spec in _pyproject().items():
        assert ">=" in spec and "<" in spec, f"{name} needs a tested range, got {spec!r}"


def test_environment_installs_the_package_and_python_311():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-e ." in pip
