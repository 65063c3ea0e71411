"""Statement queries through flightnb's Flight SQL client, checked against ADBC."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sql_client_helpers import RecordingObserver, adbc_query

import flightnb
from flightnb import (
    AsyncFlightSqlClient,
    FlightArgumentError,
    FlightSqlClient,
)
from flightnb.server import FlightSqlServer

UTC = dt.timezone.utc

TYPES_QUERY = """
    SELECT 12.345::DECIMAL(10, 3) AS d,
           123456789012.5::DECIMAL(38, 2) AS big,
           TIMESTAMPTZ '2024-03-01 12:00:00+02' AS ts,
           TIMESTAMP '2024-03-01 12:00:00' AS naive,
           DATE '2024-02-29' AS day,
           [1, NULL, 3] AS l,
           [[1], [], NULL] AS nested,
           {'a': 1, 'b': NULL, 'c': [1.5]} AS s,
           NULL::VARCHAR AS n,
           NULL::INTEGER AS ni,
           'ünïcode ✓' AS text,
           '\\x00\\xff'::BLOB AS raw
"""


def test_query_matches_adbc(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    query = "SELECT * FROM trips ORDER BY trip_id"
    table = sql_client.query(query)
    assert table.num_rows == 5000
    assert table.equals(adbc_query(adbc_conn, query))


def test_types_through_sql(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    table = sql_client.query(TYPES_QUERY)
    assert table.equals(adbc_query(adbc_conn, TYPES_QUERY))
    schema = table.schema
    assert schema.field("d").type == pa.decimal128(10, 3)
    assert schema.field("big").type == pa.decimal128(38, 2)
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert schema.field("naive").type == pa.timestamp("us")
    assert pa.types.is_list(schema.field("l").type)
    assert pa.types.is_struct(schema.field("s").type)
    row = table.to_pylist()[0]
    assert row["d"] == Decimal("12.345")
    assert row["big"] == Decimal("123456789012.50")
    assert row["ts"] == dt.datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert row["day"] == dt.date(2024, 2, 29)
    assert row["l"] == [1, None, 3]
    assert row["nested"] == [[1], [], None]
    assert row["s"] == {"a": 1, "b": None, "c": [1.5]}
    assert row["n"] is None and row["ni"] is None
    assert row["text"] == "ünïcode ✓"
    assert row["raw"] == b"\x00\xff"


def test_sample_table_types(sql_client: FlightSqlClient) -> None:
    schema = sql_client.query("SELECT * FROM trips LIMIT 3").schema
    assert pa.types.is_dictionary(schema.field("rider_type").type)  # a DuckDB ENUM
    assert schema.field("fare").type == pa.decimal128(8, 2)
    assert schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("route").type.num_fields == 4


def test_empty_result_keeps_schema(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    query = "SELECT trip_id, fare, tags FROM trips WHERE false"
    table = sql_client.query(query)
    assert table.num_rows == 0
    assert table.schema.names == ["trip_id", "fare", "tags"]
    assert table.equals(adbc_query(adbc_conn, query))


def test_execute_returns_a_readable_flight_info(sql_client: FlightSqlClient) -> None:
    info = sql_client.execute("SELECT station_id, name FROM stations ORDER BY station_id")
    assert info.schema is not None and info.schema.names == ["station_id", "name"]
    reader = sql_client.flight_client.do_get(info.endpoints[0].ticket)
    table = reader.read_all()
    assert table.equals(
        sql_client.query("SELECT station_id, name FROM stations ORDER BY station_id")
    )


def test_execute_with_parameters_stays_readable(sql_server: FlightSqlServer) -> None:
    with FlightSqlClient(sql_server.location) as client:
        info = client.execute("SELECT station_id FROM stations WHERE station_id <= ?", [3])
        table = client.flight_client.do_get(info.endpoints[0].ticket).read_all()
        assert sorted(table.column(0).to_pylist()) == [1, 2, 3]
        assert len(client.async_client._statements) == 1
    # Closing the client closed the statement it kept for that FlightInfo.
    assert not client.async_client._statements


@pytest.mark.parametrize(
    "parameters",
    [
        ["member", Decimal("2.50")],
        ("member", Decimal("2.50")),
        {"1": "member", "2": Decimal("2.50")},
        pa.record_batch({"1": ["member"], "2": pa.array([Decimal("2.50")])}),
    ],
    ids=["list", "tuple", "dict", "record_batch"],
)
def test_positional_parameters_match_adbc(
    sql_client: FlightSqlClient, adbc_conn: Any, parameters: Any
) -> None:
    query = "SELECT trip_id, fare FROM trips WHERE rider_type = ? AND fare > ? ORDER BY trip_id"
    table = sql_client.query(query, parameters)
    expected = adbc_query(adbc_conn, query, ("member", Decimal("2.50")))
    assert 0 < table.num_rows < 5000
    assert table.equals(expected)


def test_named_parameters_follow_the_parameter_schema(sql_client: FlightSqlClient) -> None:
    query = "SELECT $city AS city, $n AS n, count(*) AS c FROM stations WHERE city = $city"
    # The dict's order differs from the statement's; ":" and "$" prefixes are allowed.
    table = sql_client.query(query, {"n": 7, ":city": "Oslo"})
    row = table.to_pylist()[0]
    assert row["city"] == "Oslo" and row["n"] == 7
    expected = sql_client.query("SELECT count(*) AS c FROM stations WHERE city = 'Oslo'")
    assert row["c"] == expected.column(0)[0].as_py() > 0


def test_many_parameter_rows_run_once_each(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    rows = pa.table({"id": pa.array([3, 1, 2], pa.int32())})
    table = sql_client.query("SELECT station_id, name FROM stations WHERE station_id = ?", rows)
    assert table.column("station_id").to_pylist() == [3, 1, 2]
    expected = adbc_query(
        adbc_conn,
        "SELECT station_id, name FROM stations WHERE station_id IN (1, 2, 3) ORDER BY station_id",
    )
    assert table.sort_by("station_id").equals(expected)


def test_data_frame_parameters(sql_client: FlightSqlClient) -> None:
    query = "SELECT ? * 2 AS doubled"
    assert sql_client.query(query, pd.DataFrame({"x": [1, 2]})).column(0).to_pylist() == [2, 4]
    assert sql_client.query(query, pl.DataFrame({"x": [5]})).column(0).to_pylist() == [10]


def test_parameter_values_keep_their_arrow_types(
    sql_client: FlightSqlClient, adbc_conn: Any
) -> None:
    values = (
        Decimal("12.345"),
        dt.datetime(2024, 3, 1, 10, tzinfo=UTC),
        [1, None, 3],
        {"a": 1, "b": "x"},
        None,
        b"\x00\x01",
    )
    query = "SELECT ? AS d, ? AS ts, ? AS l, ? AS s, ? AS n, ? AS b"
    table = sql_client.query(query, list(values))
    assert table.to_pylist() == [dict(zip(["d", "ts", "l", "s", "n", "b"], values, strict=True))]
    assert table.schema.field("d").type == pa.decimal128(5, 3)
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.equals(adbc_query(adbc_conn, query, values))


def test_parameters_are_data_not_sql(sql_client: FlightSqlClient) -> None:
    hostile = "x'; DROP TABLE stations; --"
    table = sql_client.query(
        "SELECT ? AS v, count(*) AS n FROM stations WHERE name = ?", [hostile, hostile]
    )
    assert table.to_pylist() == [{"v": hostile, "n": 0}]
    assert sql_client.query("SELECT count(*) FROM stations").column(0)[0].as_py() == 200


def test_large_multi_batch_result(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    query = "SELECT i, i * 2 AS j, 'row ' || i::VARCHAR AS s FROM range(200000) t(i) ORDER BY i"
    observer = RecordingObserver()
    table = sql_client.query(query, observer=observer)
    assert table.num_rows == 200_000
    assert table.column("i").num_chunks >= 200  # the server streams 1000-row batches
    assert table.column("j")[199_999].as_py() == 399_998
    assert table.equals(adbc_query(adbc_conn, query))
    progress = [rows for name, rows in observer.calls if name == "progressed"]
    assert progress[-1] == 200_000
    assert observer.names()[0] == "started" and observer.names()[-1] == "finished"


def test_read_flight_sql_to_pandas_and_polars(sql_server: FlightSqlServer, adbc_conn: Any) -> None:
    query = "SELECT station_id, name, capacity FROM stations WHERE capacity > ? ORDER BY 1"
    expected = adbc_query(adbc_conn, query, (30,))
    df = flightnb.read_flight(sql_server.location, sql=query, parameters=[30], to="pandas")
    assert df.equals(expected.to_pandas())
    frame = flightnb.read_flight(sql_server.location, sql=query, parameters=[30], to="polars")
    assert frame.equals(pl.from_arrow(expected))
    plain = flightnb.read_flight(
        sql_server.location, sql="SELECT 1 AS one", parameters=None, to="pandas", progress=False
    )
    assert plain.to_dict("records") == [{"one": 1}]


def test_read_flight_sql_with_clients_and_async(sql_server: FlightSqlServer) -> None:
    query = "SELECT count(*) AS n FROM trips WHERE fare > ?"
    with FlightSqlClient(sql_server.location) as client:
        via_sql_client = flightnb.read_flight(client, sql=query, parameters=[2])
        via_flight_client = flightnb.read_flight(client.flight_client, sql=query, parameters=[2])
    assert via_sql_client.equals(via_flight_client)

    async def run() -> pa.Table:
        async with AsyncFlightSqlClient(sql_server.location) as client:
            return await flightnb.read_flight_async(client, sql=query, parameters=[2], timeout=30)

    assert asyncio.run(run()).equals(via_sql_client)


def test_read_flight_sql_argument_checks(sql_server: FlightSqlServer) -> None:
    with pytest.raises(FlightArgumentError, match="exactly one"):
        flightnb.read_flight(sql_server.location, sql="SELECT 1", path="trips")
    with pytest.raises(FlightArgumentError, match="parameters= goes with sql="):
        flightnb.read_flight(sql_server.location, path="trips", parameters=[1])


def test_async_client(sql_server: FlightSqlServer, adbc_conn: Any) -> None:
    async def run() -> tuple[pa.Table, pa.Table, pa.Table]:
        async with AsyncFlightSqlClient(sql_server.location) as client:
            plain = await client.query("SELECT * FROM stations ORDER BY station_id")
            async with client.prepare("SELECT name FROM stations WHERE station_id = ?") as stmt:
                first = await stmt.query([1])
            stmt2 = await client.prepare("SELECT name FROM stations WHERE station_id = ?")
            try:
                second = await stmt2.query((2,))
            finally:
                await stmt2.close()
            assert stmt.closed and stmt2.closed
            return plain, first, second

    plain, first, second = asyncio.run(run())
    assert plain.equals(adbc_query(adbc_conn, "SELECT * FROM stations ORDER BY station_id"))
    assert first.equals(adbc_query(adbc_conn, "SELECT name FROM stations WHERE station_id = 1"))
    assert second.column(0).to_pylist() == plain.column("name").to_pylist()[1:2]


def test_concurrent_async_queries(sql_server: FlightSqlServer) -> None:
    async def run() -> list[int]:
        async with AsyncFlightSqlClient(sql_server.location) as client:
            tables = await asyncio.gather(
                *(client.query("SELECT * FROM trips WHERE trip_id % 4 = ?", [i]) for i in range(4))
            )
        return [t.num_rows for t in tables]

    assert sum(asyncio.run(run())) == 5000
