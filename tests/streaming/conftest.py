"""Fixtures of the streaming tests; the helpers live in ``streaming_servers``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streaming_servers import PartsServer


@pytest.fixture
def parts_server() -> Iterator[PartsServer]:
    with PartsServer() as server:
        yield server


@pytest.fixture
def second_parts_server() -> Iterator[PartsServer]:
    with PartsServer() as server:
        yield server
