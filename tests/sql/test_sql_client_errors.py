"""Server errors come back as typed FlightError subclasses carrying the server's message."""

from __future__ import annotations

from typing import Any

import adbc_driver_manager as adbc
import pyarrow as pa
import pytest
from sql_client_helpers import unique_name

from flightnb import (
    FlightAlreadyExistsError,
    FlightArgumentError,
    FlightArgumentTypeError,
    FlightError,
    FlightInvalidArgumentError,
    FlightNotFoundError,
    FlightNotImplementedError,
    FlightSqlClient,
)

SYNTAX = ("SELEC 1", 'syntax error at or near "SELEC"', FlightInvalidArgumentError)
# The embedded server names a missing table NOT_FOUND (not a malformed request).
UNKNOWN_TABLE = (
    "SELECT * FROM no_such_table",
    "Table with name no_such_table does not exist",
    FlightNotFoundError,
)


@pytest.mark.parametrize(
    ("query", "message", "error"), [SYNTAX, UNKNOWN_TABLE], ids=["syntax", "unknown_table"]
)
def test_bad_sql_is_a_typed_error_like_adbc(
    sql_client: FlightSqlClient, adbc_conn: Any, query: str, message: str, error: type
) -> None:
    code = "INVALID_ARGUMENT" if error is FlightInvalidArgumentError else "NOT_FOUND"
    calls = [
        lambda: sql_client.query(query),
        lambda: sql_client.execute(query),
        lambda: sql_client.query(query + " WHERE 1 = ?" if "FROM" in query else query, [1]),
        lambda: sql_client.execute_update(query),
        lambda: sql_client.prepare(query),
    ]
    for call in calls:
        with pytest.raises(error) as info:
            call()
        assert info.value.code == code
        assert message in info.value.message
        assert "Traceback" not in info.value.message and ".py" not in info.value.message
    with adbc_conn.cursor() as cur, pytest.raises(adbc.Error) as adbc_info:
        cur.execute(query)
    assert adbc_info.value.status_code == getattr(adbc.AdbcStatusCode, code)
    assert message in str(adbc_info.value)


def test_constraint_violation(sql_client: FlightSqlClient) -> None:
    with pytest.raises(FlightInvalidArgumentError, match="Constraint Error"):
        sql_client.execute_update(
            "INSERT INTO stations (station_id, name, city, capacity) VALUES (?, 'd', 'x', 1)",
            [1],
        )


# Uploads the server rejects before reading carry no rows here: a client still writing when
# the server's status arrives can get grpc core's INTERNAL "Internal error from Core" instead
# of that status (a race in the Flight client's DoPut writer, not in the SQL layer).
NO_ROWS = pa.table({"a": pa.array([], pa.int64())})


def test_unsupported_calls_are_not_implemented(sql_client: FlightSqlClient) -> None:
    with pytest.raises(FlightNotImplementedError, match="temporary ingestion is not supported"):
        sql_client.ingest(unique_name("tmp"), NO_ROWS, temporary=True)
    with pytest.raises(FlightNotImplementedError, match="DuckDB has no savepoints"):
        sql_client.flight_client.do_action("BeginSavepoint", b"")


def test_ingest_errors(sql_client: FlightSqlClient) -> None:
    name = unique_name("ing_err")
    with pytest.raises(FlightNotFoundError, match="does not exist"):
        sql_client.ingest(name, NO_ROWS, mode="append")
    assert sql_client.ingest(name, pa.table({"a": [1]})) == 1
    with pytest.raises(FlightAlreadyExistsError, match="already exists"):
        sql_client.ingest(name, NO_ROWS, mode="create")
    with pytest.raises(FlightArgumentError, match="mode='upsert' is not one of"):
        sql_client.ingest(name, pa.table({"a": [1]}), mode="upsert")  # type: ignore[arg-type]
    with pytest.raises(FlightArgumentTypeError, match="cannot use a dict as data"):
        sql_client.ingest(name, {"a": [1]})


def test_parameter_mistakes_are_caught_before_the_server(sql_client: FlightSqlClient) -> None:
    with pytest.raises(FlightArgumentError, match="takes 2 parameter"):
        sql_client.query("SELECT ? + ?", [1])
    with pytest.raises(FlightArgumentError, match="missing b; unknown c"):
        sql_client.query("SELECT $a + $b", {"a": 1, "c": 2})
    with pytest.raises(FlightArgumentTypeError, match="cannot use a set"):
        sql_client.query("SELECT ?", {1, 2})


def test_errors_are_flight_errors_with_the_server_detail(sql_client: FlightSqlClient) -> None:
    with pytest.raises(FlightError) as info:
        sql_client.query("SELECT 1 / 'x'")
    assert info.value.code == "INVALID_ARGUMENT"
    assert "Conversion Error" in info.value.message or "Binder Error" in info.value.message
