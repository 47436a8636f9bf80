"""Shared test fixtures."""

import shutil

import pytest


@pytest.fixture(scope="session")
def chromium_path():
    """Path of the system Chromium; browser tests skip (with the reason) where there is none."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("no Chromium on this machine: apt-get install chromium")
    return path
