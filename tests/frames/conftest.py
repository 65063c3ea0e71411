"""Fixtures of the conversion tests, and the polars and pandas versions they ran against.

The header line matters in CI, which runs these tests twice: in the main environment (the
newest polars) and with the newest polars 1.x on ``PYTHONPATH`` (see ``.ci/run``).

Fixtures
--------
mixed_flight : str
    The ticket of a flight on ``flight_server`` of 10 batches of 500 rows with an int64
    column with nulls (``i``), float64 (``f``), bool (``b``), timestamp (``t``) and string
    (``s``) columns.
"""

from __future__ import annotations

from typing import Any

import pytest
from frame_tables import ROWS_PER_BATCH, mixed_table


def pytest_report_header() -> list[str]:
    lines = []
    for name in ("polars", "pandas"):
        try:
            module = __import__(name)
        except ImportError:
            lines.append(f"frames: {name} not installed")
        else:
            lines.append(f"frames: {name} {module.__version__} from {module.__file__}")
    return lines


@pytest.fixture(scope="session")
def mixed_flight(flight_server: Any) -> str:
    ticket = "frames/mixed"
    flight_server.add_table(ticket, mixed_table(), max_chunksize=ROWS_PER_BATCH)
    return ticket
