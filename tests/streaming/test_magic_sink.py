"""``%flight get ... --sink`` and ``%%flight sql --sink`` in a real InteractiveShell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from flightnb.functions.sinks import WriteSummary
from flightnb.server import serve


@pytest.fixture(scope="module")
def sql_location() -> Iterator[str]:
    server = serve(sample_size=2000, block=False)
    try:
        yield server.location
    finally:
        server.shutdown()


def _shell(location: str) -> InteractiveShell:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "flightnb")
    ip.run_line_magic("flight", f"connect {location}")
    return ip


def _close(ip: InteractiveShell) -> None:
    magic = ip.magics_manager.registry["FlightMagic"]
    if magic.connection is not None:
        magic.connection.close()
        magic.connection = None
    InteractiveShell.clear_instance()


@pytest.fixture
def shell(flight_server: Any) -> Iterator[InteractiveShell]:
    ip = _shell(flight_server.location)
    yield ip
    _close(ip)


@pytest.fixture
def sql_shell(sql_location: str) -> Iterator[InteractiveShell]:
    ip = _shell(sql_location)
    yield ip
    _close(ip)


def test_get_sink_writes_the_file_and_prints_a_summary(
    shell: InteractiveShell, flight_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "numbers.parquet"
    summary = shell.run_line_magic("flight", f"get numbers --sink {target} --no-progress")
    assert isinstance(summary, WriteSummary) and summary.rows == 10_000
    assert pq.read_table(target).equals(flight_server.table("numbers"))
    assert "wrote 10,000 rows" in capsys.readouterr().out
    stream = tmp_path / "multi.arrows"
    shell.run_line_magic("flight", f"get multi ordered --sink {stream} --no-progress")
    assert ipc.open_stream(stream).read_all().num_rows == 300


def test_sink_mistakes_are_one_line_usage_errors(shell: InteractiveShell, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot tell the format"):
        shell.run_line_magic("flight", f"get numbers --sink {tmp_path / 'x.csv'}")
    with pytest.raises(UsageError, match="--bg"):
        shell.run_line_magic("flight", f"get numbers --bg --sink {tmp_path / 'x.parquet'}")
    assert list(tmp_path.iterdir()) == []


def test_cell_sql_sink(sql_shell: InteractiveShell, tmp_path: Path) -> None:
    target = tmp_path / "trips.arrow"
    sql_shell.user_ns["min_fare"] = 0
    summary = sql_shell.run_cell_magic(
        "flight",
        f"sql --sink {target} --no-progress",
        "SELECT * FROM trips WHERE fare > :min_fare",
    )
    assert summary.rows > 0
    assert ipc.open_file(target).read_all().num_rows == summary.rows
