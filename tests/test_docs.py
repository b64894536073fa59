"""docs/model.md names every system parameter, and the README points to it."""

import dataclasses
from pathlib import Path

import pytest

from aimclib.system import SECTIONS

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "model.md").read_text()


@pytest.mark.parametrize("section,name", [(s, f.name) for s, cls in SECTIONS.items()
                                          for f in dataclasses.fields(cls)])
def test_every_parameter_is_explained(section, name):
    assert name in DOC, f"docs/model.md does not mention {section}.{name}"


def test_readme_points_to_the_model():
    assert "docs/model.md" in (ROOT / "README.md").read_text()


def test_limits_page_lists_every_limit():
    from aimclib import validation
    page = (ROOT / "docs" / "limits.md").read_text()
    limits = [name for name in dir(validation) if name.startswith(("MAX_", "MEMORY_"))]
    assert len(limits) >= 8
    for name in limits:
        assert f"`{name}`" in page, f"docs/limits.md does not list {name}"
