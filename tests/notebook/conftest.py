"""Notebook tests see no connection settings of the machine they run on."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def no_connection_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FLIGHTNB_URI/FLIGHTNB_TOKEN, and a connections file that does not exist."""
    monkeypatch.delenv("FLIGHTNB_URI", raising=False)
    monkeypatch.delenv("FLIGHTNB_TOKEN", raising=False)
    monkeypatch.setenv("FLIGHTNB_CONNECTIONS", str(tmp_path / "no-connections.toml"))
