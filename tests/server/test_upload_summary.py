"""Uploads say what they did: ``write_flight`` and ``df.flight.put`` return a PutSummary."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import flightnb
from flightnb.functions.write import PutSummary, write_flight
from flightnb.server import FlightSqlServer

TABLE = pa.table({"n": pa.array(range(1000), pa.int64()), "s": [str(i) for i in range(1000)]})


def test_an_upload_reports_rows_sent_and_stored(sql_server: FlightSqlServer) -> None:
    summary = write_flight(
        sql_server.location, TABLE, path="upload_summary", progress=False, max_chunksize=300
    )
    assert isinstance(summary, PutSummary)
    assert (summary.rows, summary.batches, summary.rows_written) == (1000, 4, 1000)
    assert summary.bytes > TABLE.nbytes // 2 and summary.seconds > 0
    assert "1,000 rows" in str(summary) and "1,000 stored" in str(summary)
    # Again: the table exists, and the server refuses to append silently ...
    with pytest.raises(flightnb.FlightError, match="exists"):
        write_flight(sql_server.location, TABLE, path="upload_summary", progress=False)
    # ... unless asked to.
    again = write_flight(
        sql_server.location, TABLE, path="upload_summary?mode=append", progress=False
    )
    assert again.rows_written == 1000
    total = flightnb.read_flight(
        sql_server.location, sql="SELECT count(*) AS c FROM upload_summary"
    )
    assert total["c"].to_pylist() == [2000]


def test_a_plain_flight_server_reports_no_stored_count(flight_server: Any) -> None:
    summary = write_flight(flight_server.location, TABLE, path="summary/plain", progress=False)
    assert summary.rows == 1000 and summary.rows_written is None
    assert flight_server.uploads["summary/plain"].equals(TABLE)


def test_the_accessor_returns_the_summary(sql_server: FlightSqlServer) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3]})
    import flightnb.pandas  # noqa: F401  (registers df.flight)

    summary = frame.flight.put(sql_server.location, path="upload_accessor", progress=False)
    assert summary.rows_written == 3


@pytest.mark.parametrize("rows", [1, 200_000])
def test_a_refused_upload_reports_the_servers_reason_every_time(
    sql_server: FlightSqlServer, rows: int
) -> None:
    # The server refuses while the client is still writing; grpcio's own write would report
    # INTERNAL "Internal error from Core" instead of the server's status most of the time.
    table = pa.table({"x": pa.array(range(rows), pa.int64())})
    for _ in range(20):
        with pytest.raises(flightnb.FlightInvalidArgumentError, match="unknown path option"):
            write_flight(sql_server.location, table, path="refused?mode=upsert", progress=False)
