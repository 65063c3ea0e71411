"""Updates, prepared statements, ingestion, transactions and cancellation, against ADBC."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from sql_client_helpers import adbc_query, unique_name

from flightnb import (
    AsyncFlightSqlClient,
    CancelStatus,
    FlightArgumentError,
    FlightCancelledError,
    FlightNotFoundError,
    FlightSqlClient,
)
from flightnb.server import FlightSqlServer

UTC = dt.timezone.utc


def _adbc_update(conn: Any, query: str) -> int:
    with conn.cursor() as cur:
        cur.adbc_statement.set_sql_query(query)
        return int(cur.adbc_statement.execute_update())


def _twin_tables(sql_client: FlightSqlClient, adbc_conn: Any, ddl: str) -> tuple[str, str]:
    """Two empty tables of the same definition: one per client."""
    ours, theirs = unique_name("ours"), unique_name("adbc")
    sql_client.execute_update(ddl.format(name=ours))
    _adbc_update(adbc_conn, ddl.format(name=theirs))
    return ours, theirs


def _contents(sql_client: FlightSqlClient, name: str) -> pa.Table:
    return sql_client.query(f"SELECT * FROM {name} ORDER BY ALL")


def test_execute_update_counts_match_adbc(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    ours, theirs = _twin_tables(
        sql_client, adbc_conn, "CREATE TABLE {name} (id INTEGER, label VARCHAR)"
    )
    for template in (
        "INSERT INTO {name} VALUES (1, 'a'), (2, 'b'), (3, NULL)",
        "UPDATE {name} SET label = 'z' WHERE id >= 2",
        "DELETE FROM {name} WHERE id = 1",
    ):
        mine = sql_client.execute_update(template.format(name=ours))
        assert mine == _adbc_update(adbc_conn, template.format(name=theirs)) > 0
    assert _contents(sql_client, ours).equals(_contents(sql_client, theirs))


def test_execute_update_with_parameter_rows(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    ours, theirs = _twin_tables(
        sql_client, adbc_conn, "CREATE TABLE {name} (id INTEGER, label VARCHAR, x DECIMAL(6, 2))"
    )
    rows = [(i, f"label {i}", Decimal(i) / 4) for i in range(50)]
    data = pa.table(
        {
            "id": pa.array([r[0] for r in rows], pa.int32()),
            "label": [r[1] for r in rows],
            "x": pa.array([r[2] for r in rows], pa.decimal128(6, 2)),
        }
    )
    assert sql_client.execute_update(f"INSERT INTO {ours} VALUES (?, ?, ?)", data) == 50
    with adbc_conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {theirs} VALUES (?, ?, ?)", rows)
        assert cur.rowcount == 50
    assert _contents(sql_client, ours).equals(_contents(sql_client, theirs))
    # One row of values, and a hostile value that stays data.
    hostile = "'; DROP TABLE stations; --"
    assert (
        sql_client.execute_update(
            f"INSERT INTO {ours} VALUES (?, ?, ?)", [99, hostile, Decimal("1.25")]
        )
        == 1
    )
    stored = sql_client.query(f"SELECT label FROM {ours} WHERE id = 99")
    assert stored.column(0).to_pylist() == [hostile]
    assert sql_client.query("SELECT count(*) FROM stations").column(0)[0].as_py() == 200


def test_prepared_statement_matches_adbc(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    query = "SELECT trip_id, fare, started_at FROM trips WHERE trip_id = ?"
    with sql_client.prepare(query) as stmt:
        with adbc_conn.cursor() as cur:
            adbc_parameters = cur.adbc_prepare(query)
        assert stmt.parameter_schema is not None
        assert stmt.parameter_schema.names == adbc_parameters.names == ["1"]
        assert stmt.dataset_schema == adbc_query(adbc_conn, query, (1,)).schema
        for trip_id in (7, 11, 4999):
            table = stmt.query([trip_id])
            assert table.equals(adbc_query(adbc_conn, query, (trip_id,)))
        stmt.bind([5])
        assert stmt.parameters is not None and stmt.parameters.num_rows == 1
        assert stmt.query().column("trip_id").to_pylist() == [5]
        info = stmt.execute()
        assert info.schema is not None and info.schema.names == ["trip_id", "fare", "started_at"]
        handle = stmt.handle
    assert stmt.closed
    with pytest.raises(FlightArgumentError, match="closed"):
        stmt.query([1])
    # The server forgot the handle.
    from flightnb._proto import FlightSql_pb2 as sql
    from flightnb.protocol.commands import pack
    from flightnb.types import FlightDescriptor

    command = sql.CommandPreparedStatementQuery(prepared_statement_handle=handle)
    with pytest.raises(FlightNotFoundError, match="unknown or closed prepared statement"):
        sql_client.flight_client.get_flight_info(FlightDescriptor.for_command(pack(command)))


def test_prepared_update(sql_client: FlightSqlClient) -> None:
    name = unique_name("prep_upd")
    sql_client.execute_update(f"CREATE TABLE {name} (id INTEGER, tag VARCHAR)")
    with sql_client.prepare(f"INSERT INTO {name} VALUES ($id, $tag)") as stmt:
        assert stmt.parameter_schema is not None
        assert sorted(stmt.parameter_schema.names) == ["id", "tag"]
        assert stmt.execute_update({"tag": "a", "id": 1}) == 1
        assert stmt.execute_update(pa.table({"tag": ["b", "c"], "id": [2, 3]})) == 2
    with sql_client.prepare(f"DELETE FROM {name} WHERE id > 1") as stmt:
        assert stmt.execute_update() == 2
    assert sql_client.query(f"SELECT * FROM {name}").to_pylist() == [{"id": 1, "tag": "a"}]


def _ingest_data(kind: str) -> Any:
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "when": pa.array(
                [
                    dt.datetime(2024, 1, 1, tzinfo=UTC),
                    None,
                    dt.datetime(2024, 6, 1, 12, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "price": pa.array([Decimal("1.50"), None, Decimal("3.25")], pa.decimal128(8, 2)),
            "tags": pa.array([["a"], [], None], pa.list_(pa.string())),
        }
    )
    if kind == "table":
        return table
    if kind == "batch":
        return table.to_batches()[0]
    if kind == "reader":
        return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=1))
    if kind == "pandas":
        return table.select(["id", "tags"]).to_pandas()
    return pl.from_arrow(table)


@pytest.mark.parametrize("kind", ["table", "batch", "reader", "pandas", "polars"])
def test_ingest_data_kinds_match_adbc(
    sql_client: FlightSqlClient, adbc_conn: Any, kind: str
) -> None:
    ours, theirs = unique_name("ing"), unique_name("ing_adbc")
    assert sql_client.ingest(ours, _ingest_data(kind)) == 3
    with adbc_conn.cursor() as cur:
        assert cur.adbc_ingest(theirs, _ingest_data(kind), mode="create") == 3
    assert _contents(sql_client, ours).equals(_contents(sql_client, theirs))


@pytest.mark.parametrize("mode", ["append", "replace", "create_append"])
def test_ingest_modes_match_adbc(sql_client: FlightSqlClient, adbc_conn: Any, mode: str) -> None:
    first = pa.table({"id": pa.array([1, 2], pa.int64())})
    second = pa.table({"id": pa.array([3], pa.int64())})
    ours, theirs = unique_name(f"ing_{mode}"), unique_name(f"ing_{mode}_adbc")
    assert sql_client.ingest(ours, first, mode="create") == 2
    assert sql_client.ingest(ours, second, mode=mode) == 1
    with adbc_conn.cursor() as cur:
        cur.adbc_ingest(theirs, first, mode="create")
        cur.adbc_ingest(theirs, second, mode=mode)
    assert _contents(sql_client, ours).equals(_contents(sql_client, theirs))
    expected = [3] if mode == "replace" else [1, 2, 3]
    assert _contents(sql_client, ours).column("id").to_pylist() == expected


def test_ingest_into_schema_and_catalog(sql_client: FlightSqlClient) -> None:
    schema = unique_name("sch")
    sql_client.execute_update(f"CREATE SCHEMA {schema}")
    data = pa.table({"x": [1, 2]})
    assert sql_client.ingest("t", data, schema=schema, catalog="memory") == 2
    assert sql_client.ingest("t", data, schema=schema, mode="append") == 2
    assert sql_client.query(f"SELECT count(*) FROM {schema}.t").column(0)[0].as_py() == 4


def test_transaction_commit_and_rollback(sql_client: FlightSqlClient, adbc_conn: Any) -> None:
    name = unique_name("txn")
    sql_client.execute_update(f"CREATE TABLE {name} (id INTEGER)")
    with sql_client.begin_transaction() as txn:
        assert sql_client.execute_update(f"INSERT INTO {name} VALUES (1)", transaction=txn) == 1
        sql_client.ingest(
            name, pa.table({"id": pa.array([2], pa.int32())}), mode="append", transaction=txn
        )
        inside = sql_client.query(f"SELECT count(*) FROM {name}", transaction=txn)
        assert inside.column(0)[0].as_py() == 2
        # Others (here ADBC) do not see uncommitted rows.
        assert adbc_query(adbc_conn, f"SELECT count(*) FROM {name}").column(0)[0].as_py() == 0
    assert txn.closed
    assert adbc_query(adbc_conn, f"SELECT count(*) FROM {name}").column(0)[0].as_py() == 2

    txn = sql_client.begin_transaction()
    with sql_client.prepare(f"INSERT INTO {name} VALUES (?)", transaction=txn) as stmt:
        assert stmt.execute_update([3]) == 1
    txn.rollback()
    assert sql_client.query(f"SELECT id FROM {name} ORDER BY id").column(0).to_pylist() == [1, 2]
    with pytest.raises(FlightArgumentError, match="already committed or rolled back"):
        sql_client.query("SELECT 1", transaction=txn)
    with pytest.raises(FlightArgumentError, match="already committed or rolled back"):
        txn.commit()


def test_transaction_rolls_back_on_error(sql_server: FlightSqlServer) -> None:
    name = unique_name("txn_err")

    async def run() -> list[Any]:
        async with AsyncFlightSqlClient(sql_server.location) as client:
            await client.execute_update(f"CREATE TABLE {name} (id INTEGER)")
            with pytest.raises(ZeroDivisionError):
                async with client.begin_transaction() as txn:
                    await client.execute_update(f"INSERT INTO {name} VALUES (1)", transaction=txn)
                    raise ZeroDivisionError
            assert txn.closed
            txn2 = await client.begin_transaction()
            async with txn2:
                await client.execute_update(f"INSERT INTO {name} VALUES (2)", transaction=txn2)
            table = await client.query(f"SELECT id FROM {name}")
            return table.column(0).to_pylist()

    assert asyncio.run(run()) == [2]


def test_cancel_a_planned_query(sql_client: FlightSqlClient) -> None:
    info = sql_client.execute("SELECT * FROM trips")
    assert sql_client.cancel(info) is CancelStatus.CANCELLED
    with pytest.raises(FlightCancelledError, match="cancelled"):
        sql_client.flight_client.do_get(info.endpoints[0].ticket).read_all()
    # A statement that already ran while planning cannot be cancelled.
    done = sql_client.execute("SELECT 1 WHERE false UNION ALL SELECT 2; SELECT 3")
    assert sql_client.cancel(done) is CancelStatus.NOT_CANCELLABLE


def test_results_read_whole_still_stream_in_batches(
    sql_client: FlightSqlClient, sql_server: Any
) -> None:
    # A transaction's results are read whole by DuckDB (chunks of up to a million rows);
    # the server still sends them in batches of its batch size.
    rows = 5 * sql_server.batch_size + 7
    with sql_client.begin_transaction() as txn:
        result = sql_client.query(f"SELECT range AS x FROM range({rows})", transaction=txn)
    assert result.num_rows == rows
    sizes = [len(chunk) for chunk in result.column("x").chunks]
    assert max(sizes) <= sql_server.batch_size and len(sizes) >= 6


def test_get_schema_of_a_query_and_the_binding_probe(
    sql_client: FlightSqlClient, adbc_conn: Any
) -> None:
    query = "SELECT trip_id, fare, started_at FROM trips"
    schema = sql_client.get_schema(query)
    with adbc_conn.cursor() as cur:
        assert schema.equals(cur.adbc_execute_schema(query))
    with sql_client.prepare(query) as statement:
        before = statement.query()
        assert statement.probe_binding() is True  # this server binds parameters
        after = statement.query()
    assert before.schema.equals(schema) and after.equals(before)  # the probe changed nothing
