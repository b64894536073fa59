"""Fixtures shared by every test module."""

import pytest

from aimclib.system import USER_PRESET_ENV


@pytest.fixture(autouse=True)
def _no_user_presets(tmp_path, monkeypatch):
    """Point the user preset directory at an empty (not yet created) folder of the test's own,
    so presets in the user's ~/.config/aimclib/presets (a calibrated ``host``, a broken file)
    cannot change what the tests load or list. Tests that need user presets set the variable
    again themselves."""
    monkeypatch.setenv(USER_PRESET_ENV, str(tmp_path / "user-presets"))
