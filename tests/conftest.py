"""Fixtures shared by every test module, and the hypothesis profile."""

import os

import pytest
from hypothesis import settings

from aimclib.system import USER_PRESET_ENV

# In CI (the CI variable set, as .ci/run's hosts do) property tests draw the same examples on
# every run, so a result does not depend on the run; elsewhere they draw new ones, and a
# failure found is kept in .hypothesis/ and replayed first.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _no_user_presets(tmp_path, monkeypatch):
    """Point the user preset directory at an empty (not yet created) folder of the test's own,
    so presets in the user's ~/.config/aimclib/presets (a calibrated ``host``, a broken file)
    cannot change what the tests load or list. Tests that need user presets set the variable
    again themselves."""
    monkeypatch.setenv(USER_PRESET_ENV, str(tmp_path / "user-presets"))
