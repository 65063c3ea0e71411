"""The DuckDB Flight SQL server seen through the ADBC Flight SQL driver, an independent client."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import adbc_driver_manager as adbc
import pyarrow as pa
import pytest
from bearer import adbc_connect

from flightnb.server import FlightSqlServer

UTC = dt.timezone.utc


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _query(conn: Any, query: str, parameters: Any = None) -> pa.Table:
    with conn.cursor() as cur:
        cur.execute(query, parameters)
        return cur.fetch_arrow_table()


def test_query_types(adbc_conn: Any) -> None:
    table = _query(adbc_conn, "SELECT * FROM trips ORDER BY trip_id")
    assert table.num_rows == 5000
    schema = table.schema
    assert schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("fare").type == pa.decimal128(8, 2)
    assert pa.types.is_dictionary(schema.field("rider_type").type)
    assert pa.types.is_list(schema.field("tags").type)
    assert schema.field("route").type.num_fields == 4
    first = table.slice(0, 1).to_pylist()[0]
    assert first["trip_id"] == 1
    assert isinstance(first["fare"], Decimal)
    assert first["started_at"].utcoffset() == dt.timedelta(0)
    assert set(first["route"]) == {"from_lat", "from_lon", "to_lat", "to_lon"}
    assert 0 < table.column("note").null_count < table.num_rows
    assert table.column("tags").null_count > 0


def test_query_literals_and_nulls(adbc_conn: Any) -> None:
    table = _query(
        adbc_conn,
        """
        SELECT 12.345::DECIMAL(10, 3) AS d,
               TIMESTAMPTZ '2024-03-01 12:00:00+02' AS ts,
               [1, NULL, 3] AS l,
               {'a': 1, 'b': NULL} AS s,
               NULL::VARCHAR AS n
    """,
    )
    row = table.to_pylist()[0]
    assert row["d"] == Decimal("12.345")
    assert row["ts"] == dt.datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert row["l"] == [1, None, 3]
    assert row["s"] == {"a": 1, "b": None}
    assert row["n"] is None


def test_aggregate(adbc_conn: Any) -> None:
    table = _query(
        adbc_conn,
        "SELECT rider_type::VARCHAR AS r, count(*) AS n FROM trips GROUP BY ALL ORDER BY r",
    )
    assert table.column("r").to_pylist() == ["casual", "member", "staff"]
    assert sum(table.column("n").to_pylist()) == 5000


def test_updates(adbc_conn: Any) -> None:
    name = _name("upd")
    with adbc_conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (id INTEGER, label VARCHAR)")
        cur.execute(f"INSERT INTO {name} VALUES (1, 'a'), (2, 'b'), (3, NULL)")
        assert cur.fetchall() == [(3,)]
        cur.execute(f"UPDATE {name} SET label = 'z' WHERE id >= 2")
        assert cur.fetchall() == [(2,)]
        cur.execute(f"SELECT * FROM {name} ORDER BY id")
        assert cur.fetchall() == [(1, "a"), (2, "z"), (3, "z")]
        cur.execute(f"DROP TABLE {name}")


def test_prepared_statement_with_parameters(adbc_conn: Any) -> None:
    with adbc_conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM trips WHERE rider_type = ? AND fare > ? AND started_at >= ?",
            ("member", Decimal("2.50"), dt.datetime(2024, 7, 1, tzinfo=UTC)),
        )
        (count,) = cur.fetchone()
    expected = (
        _query(
            adbc_conn,
            """
        SELECT count(*) AS n FROM trips WHERE rider_type = 'member' AND fare > 2.50
          AND started_at >= TIMESTAMPTZ '2024-07-01 00:00:00+00'
    """,
        )
        .column(0)[0]
        .as_py()
    )
    assert count == expected > 0


def test_prepared_statement_reuse_and_schema(adbc_conn: Any) -> None:
    with adbc_conn.cursor() as cur:
        cur.adbc_prepare("SELECT trip_id, fare FROM trips WHERE trip_id = ?")
        params = pa.schema(cur.adbc_statement.get_parameter_schema())
        assert params.names == ["1"]  # DuckDB names positional parameters by position
        for trip_id in (7, 11):
            cur.execute("SELECT trip_id, fare FROM trips WHERE trip_id = ?", (trip_id,))
            assert cur.fetchall()[0][0] == trip_id


def test_prepared_update_many_rows(adbc_conn: Any) -> None:
    name = _name("many")
    rows = [(i, f"label {i}", Decimal(i) / 4) for i in range(50)]
    with adbc_conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (id INTEGER, label VARCHAR, x DECIMAL(6, 2))")
        cur.executemany(f"INSERT INTO {name} VALUES (?, ?, ?)", rows)
        assert cur.rowcount == 50
        cur.execute(f"SELECT count(*), sum(x) FROM {name}")
        assert cur.fetchall() == [(50, Decimal("306.25"))]


def test_parameters_are_bound_not_spliced(adbc_conn: Any) -> None:
    hostile = "x'; DROP TABLE stations; --"
    table = _query(adbc_conn, "SELECT ? AS v", (hostile,))
    assert table.column("v").to_pylist() == [hostile]
    assert _query(adbc_conn, "SELECT count(*) FROM stations").column(0)[0].as_py() > 0


@pytest.mark.parametrize("mode", ["create", "append", "replace", "create_append"])
def test_ingest_modes(adbc_conn: Any, mode: str) -> None:
    name = _name(f"ing_{mode}")
    first = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "when": pa.array(
                [dt.datetime(2024, 1, 1, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    second = pa.table(
        {
            "id": pa.array([3], pa.int64()),
            "when": pa.array([dt.datetime(2024, 2, 1, tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
        }
    )
    with adbc_conn.cursor() as cur:
        assert cur.adbc_ingest(name, first, mode="create") == 2
        if mode == "create":
            with pytest.raises(adbc.Error, match="already exists") as info:
                cur.adbc_ingest(name, second, mode="create")
            assert info.value.status_code == adbc.AdbcStatusCode.ALREADY_EXISTS
            assert "Traceback" not in str(info.value) and ".py" not in str(info.value)
            expected = [1, 2]
        else:
            assert cur.adbc_ingest(name, second, mode=mode) == 1
            expected = [3] if mode == "replace" else [1, 2, 3]
        cur.execute(f'SELECT id, "when" FROM {name} ORDER BY id')
        result = cur.fetch_arrow_table()
    assert result.column("id").to_pylist() == expected
    assert result.schema.field("when").type == pa.timestamp("us", tz="UTC")


def test_ingest_append_to_missing_table_fails(adbc_conn: Any) -> None:
    with adbc_conn.cursor() as cur, pytest.raises(adbc.Error, match="does not exist"):
        cur.adbc_ingest(_name("missing"), pa.table({"a": [1]}), mode="append")


def test_get_objects(adbc_conn: Any) -> None:
    objects = adbc_conn.adbc_get_objects(depth="all", table_name_filter="trip%").read_all()
    catalogs = objects.to_pylist()
    memory = next(c for c in catalogs if c["catalog_name"] == "memory")
    main = next(s for s in memory["catalog_db_schemas"] if s["db_schema_name"] == "main")
    assert [t["table_name"] for t in main["db_schema_tables"]] == ["trips"]
    columns = [c["column_name"] for c in main["db_schema_tables"][0]["table_columns"]]
    assert columns[:3] == ["trip_id", "started_at", "ended_at"]


def test_get_table_schema_and_types(adbc_conn: Any) -> None:
    schema = adbc_conn.adbc_get_table_schema("stations")
    assert schema.names == ["station_id", "name", "city", "capacity", "location", "opened_on"]
    assert schema.field("capacity").type == pa.int16()
    assert adbc_conn.adbc_get_table_types() == ["LOCAL TEMPORARY", "TABLE", "VIEW"]


def test_get_info(adbc_conn: Any, sql_server: FlightSqlServer) -> None:
    info = adbc_conn.adbc_get_info()
    assert info["vendor_name"] == "flightnb DuckDB Flight SQL server"
    assert "DuckDB" in info["vendor_version"]
    assert info["vendor_arrow_version"] == pa.__version__


def test_transaction_commit_and_rollback(sql_server: FlightSqlServer) -> None:
    name = _name("txn")
    with adbc_connect(sql_server, autocommit=True) as setup, setup.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (id INTEGER)")
    with adbc_connect(sql_server) as conn:  # DB-API default: autocommit off
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {name} VALUES (1)")
        conn.commit()
        with conn.cursor() as cur:
            cur.execute(f"INSERT INTO {name} VALUES (2)")
            cur.execute(f"SELECT count(*) FROM {name}")
            assert cur.fetchall() == [(2,)]  # the transaction sees its own write
        conn.rollback()
    with adbc_connect(sql_server, autocommit=True) as other, other.cursor() as cur:
        cur.execute(f"SELECT id FROM {name} ORDER BY id")
        assert cur.fetchall() == [(1,)]


def test_uncommitted_writes_are_invisible_to_others(sql_server: FlightSqlServer) -> None:
    name = _name("iso")
    with adbc_connect(sql_server, autocommit=True) as other, other.cursor() as seen:
        seen.execute(f"CREATE TABLE {name} (id INTEGER)")
        with adbc_connect(sql_server) as conn, conn.cursor() as cur:
            cur.execute(f"INSERT INTO {name} VALUES (1)")
            seen.execute(f"SELECT count(*) FROM {name}")
            assert seen.fetchall() == [(0,)]
            conn.commit()
        seen.execute(f"SELECT count(*) FROM {name}")
        assert seen.fetchall() == [(1,)]


def test_syntax_error(adbc_conn: Any) -> None:
    with adbc_conn.cursor() as cur, pytest.raises(adbc.ProgrammingError) as info:
        cur.execute("SELEC 1")
    assert info.value.status_code == adbc.AdbcStatusCode.INVALID_ARGUMENT
    assert 'syntax error at or near "SELEC"' in str(info.value)


def test_unknown_table(adbc_conn: Any) -> None:
    with adbc_conn.cursor() as cur, pytest.raises(adbc.ProgrammingError) as info:
        cur.execute("SELECT * FROM no_such_table")
    assert info.value.status_code == adbc.AdbcStatusCode.NOT_FOUND
    assert "Table with name no_such_table does not exist" in str(info.value)


def test_constraint_violation(adbc_conn: Any) -> None:
    with adbc_conn.cursor() as cur, pytest.raises(adbc.Error, match="Constraint Error"):
        cur.execute(
            "INSERT INTO stations (station_id, name, city, capacity) VALUES (1, 'dup', 'x', 1)"
        )
