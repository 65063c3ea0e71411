"""The README's main command, `python -m flightnb demo`, runs end to end."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_the_tour_on_the_embedded_server() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flightnb", "demo", "--rows", "20000"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    out = done.stdout
    assert "serving on grpc://127.0.0.1:" in out
    assert "rows        20,000" in out
    assert "== Flight SQL query with parameters" in out and "avg_fare_eur" in out
    assert "stations, trips" in out
    assert "throughput" in out
