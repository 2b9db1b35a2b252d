"""Shared test fixtures: every test gets its own Candor user-data folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def candor_home(tmp_path_factory, monkeypatch):
    """Isolate the user data folder (models, queue, autosave, recent files) per test."""
    home = tmp_path_factory.mktemp("candor_home")
    monkeypatch.setenv("CANDOR_HOME", str(home))
    return home
