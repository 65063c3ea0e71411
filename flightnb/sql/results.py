"""Decoding Flight SQL result tables into Python: SqlInfo values and table schemas."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.errors import FlightArgumentError, FlightArgumentTypeError, FlightDecodeError

__all__ = [
    "SqlInfoValues",
    "decode_sql_info",
    "sql_info_code",
    "table_schemas",
    "update_count",
]


def sql_info_code(info: int | str) -> int:
    """The numeric SqlInfo code of a code or an enum name such as ``"SQL_KEYWORDS"``."""
    if isinstance(info, bool):
        raise FlightArgumentTypeError(f"not a SqlInfo code: {info!r}")
    if isinstance(info, int):
        return info
    try:
        return int(sql.SqlInfo.Value(str(info).upper()))
    except ValueError:
        raise FlightArgumentError(f"unknown SqlInfo name {info!r}") from None


def _name(code: int) -> int | str:
    try:
        return str(sql.SqlInfo.Name(code))
    except ValueError:
        return code


class SqlInfoValues(dict):  # type: ignore[type-arg]
    """What :meth:`get_sql_info` returns: SqlInfo values keyed by enum name.

    Codes the Flight SQL spec names are keyed by their name (``"FLIGHT_SQL_SERVER_NAME"``);
    other codes (server-specific ones) by their number. Look-ups accept either form.

    Examples
    --------
    >>> info = SqlInfoValues({"FLIGHT_SQL_SERVER_NAME": "demo", 10_000: True})
    >>> info[0], info["FLIGHT_SQL_SERVER_NAME"], info[10_000]
    ('demo', 'demo', True)
    """

    def _key(self, key: object) -> object:
        if isinstance(key, int) and not isinstance(key, bool):
            return _name(key)
        if isinstance(key, str) and not dict.__contains__(self, key):
            try:
                return _name(sql_info_code(key))
            except FlightArgumentError:
                return key
        return key

    def __missing__(self, key: object) -> Any:
        other = self._key(key)
        if other != key and dict.__contains__(self, other):
            return dict.__getitem__(self, other)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or dict.__contains__(self, self._key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def _python_value(scalar: pa.Scalar) -> Any:
    value = scalar.as_py()
    if isinstance(scalar, pa.UnionScalar) and pa.types.is_map(scalar.value.type):
        return dict(value) if value is not None else None
    return value


def decode_sql_info(table: pa.Table) -> SqlInfoValues:
    """The CommandGetSqlInfo result as ``{name or code: Python value}``.

    The dense union members become ``str``, ``bool``, ``int`` (int64 values, int32 ordinals
    and bitmasks), ``list[str]``, or ``dict[int, list[int]]``.
    """
    if "info_name" not in table.column_names or "value" not in table.column_names:
        raise FlightDecodeError(
            f"not a SqlInfo result: columns {table.column_names}", where="GetSqlInfo result"
        )
    values = SqlInfoValues()
    for code, scalar in zip(
        table.column("info_name").to_pylist(), table.column("value"), strict=True
    ):
        values[_name(int(code))] = _python_value(scalar)
    return values


def table_schemas(tables: pa.Table) -> dict[tuple[str | None, str | None, str], pa.Schema]:
    """Decode the ``table_schema`` column of a ``get_tables(include_schema=True)`` result.

    Returns
    -------
    dict
        ``{(catalog_name, db_schema_name, table_name): pyarrow.Schema}``, in row order.

    Examples
    --------
    >>> from flightnb.sql import FlightSqlClient
    >>> with FlightSqlClient("grpc://127.0.0.1:8815") as client:
    ...     tables = client.get_tables(table_name_filter_pattern="trips", include_schema=True)
    >>> table_schemas(tables)[("memory", "main", "trips")].names[:2]
    ['trip_id', 'started_at']
    """
    if "table_schema" not in tables.column_names:
        raise FlightArgumentError(
            "the table has no table_schema column; call get_tables(include_schema=True)"
        )
    keys: Iterable[tuple[Any, Any, Any]] = zip(
        tables.column("catalog_name").to_pylist(),
        tables.column("db_schema_name").to_pylist(),
        tables.column("table_name").to_pylist(),
        strict=True,
    )
    schemas = {}
    for key, raw in zip(keys, tables.column("table_schema").to_pylist(), strict=True):
        try:
            schemas[key] = pa.ipc.read_schema(pa.py_buffer(raw))
        except (pa.ArrowException, TypeError) as exc:
            raise FlightDecodeError(
                f"table_schema of {key[2]!r} is not an IPC schema: {exc}", where="GetTables result"
            ) from exc
    return schemas


def update_count(app_metadata: bytes) -> int | None:
    """The ``record_count`` of a Flight SQL ``DoPutUpdateResult``, or None if it is not one.

    Plain Flight servers put anything in a PutResult's ``app_metadata``; a message counts as a
    DoPutUpdateResult only when it parses as one and says exactly that (no other fields).

    Examples
    --------
    >>> update_count(b"\\x08\\x03")
    3
    >>> update_count(b"first") is None
    True
    """
    if not app_metadata:
        return None
    try:
        result = sql.DoPutUpdateResult.FromString(app_metadata)
    except Exception:  # protobuf's DecodeError, or anything a bad message raises
        return None
    if result.SerializeToString() != app_metadata:
        return None
    return int(result.record_count)
