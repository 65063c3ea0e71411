"""The CommandGetSqlInfo result: one row per SqlInfo code, its value in a dense union.

The Flight SQL spec fixes the result schema; each value sits in the union member that its code
prescribes (a string, a bool, an int64 limit, an int32 ordinal or bitmask, a list of strings, or
a map from int32 to a list of int32).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from flightnb._proto import FlightSql_pb2 as sql

__all__ = [
    "SQL_INFO_SCHEMA",
    "Int32",
    "SqlInfoValue",
    "duckdb_sql_info",
    "sql_info_table",
]

_STRING, _BOOL, _BIGINT, _INT32, _STRING_LIST, _INT32_MAP = range(6)

SQL_INFO_SCHEMA = pa.schema(
    [
        pa.field("info_name", pa.uint32(), nullable=False),
        pa.field(
            "value",
            pa.dense_union(
                [
                    pa.field("string_value", pa.utf8()),
                    pa.field("bool_value", pa.bool_()),
                    pa.field("bigint_value", pa.int64()),
                    pa.field("int32_bitmask", pa.int32()),
                    pa.field("string_list", pa.list_(pa.utf8())),
                    pa.field("int32_to_int32_list_map", pa.map_(pa.int32(), pa.list_(pa.int32()))),
                ],
                type_codes=[_STRING, _BOOL, _BIGINT, _INT32, _STRING_LIST, _INT32_MAP],
            ),
            nullable=False,
        ),
    ]
)
"""The result schema of CommandGetSqlInfo."""


@dataclass(frozen=True)
class Int32:
    """An int32 ordinal or bitmask value; a plain ``int`` is sent as an int64."""

    value: int


SqlInfoValue = str | bool | int | Int32 | Sequence[str] | Mapping[int, Sequence[int]]
"""What a SqlInfo code can hold; the Python type picks the union member."""


def _member(value: SqlInfoValue) -> int:
    # bool before int: bool is a subclass of int.
    if isinstance(value, str):
        return _STRING
    if isinstance(value, bool):
        return _BOOL
    if isinstance(value, Int32):
        return _INT32
    if isinstance(value, int):
        return _BIGINT
    if isinstance(value, Mapping):
        return _INT32_MAP
    return _STRING_LIST


def sql_info_table(values: Mapping[int, SqlInfoValue], requested: Iterable[int] = ()) -> pa.Table:
    """Build the CommandGetSqlInfo result for ``requested`` codes (all known when empty).

    Codes the server does not know are left out, as the spec allows.

    Examples
    --------
    >>> sql_info_table({0: "demo", 3: False}, [3]).to_pylist()
    [{'info_name': 3, 'value': False}]
    """
    codes = list(requested) or sorted(values)
    codes = [code for code in codes if code in values]
    children: list[list[object]] = [[] for _ in range(6)]
    type_ids: list[int] = []
    offsets: list[int] = []
    for code in codes:
        value = values[code]
        member = _member(value)
        type_ids.append(member)
        offsets.append(len(children[member]))
        if isinstance(value, Int32):
            children[member].append(value.value)
        elif member == _INT32_MAP:
            assert isinstance(value, Mapping)
            children[member].append(list(value.items()))
        elif member == _STRING_LIST:
            assert not isinstance(value, (str, Mapping))
            children[member].append(list(value))  # type: ignore[arg-type]
        else:
            children[member].append(value)
    union_type = SQL_INFO_SCHEMA.field("value").type
    arrays = [pa.array(child, type=union_type.field(i).type) for i, child in enumerate(children)]
    union = pa.UnionArray.from_dense(
        pa.array(type_ids, type=pa.int8()),
        pa.array(offsets, type=pa.int32()),
        arrays,
        [union_type.field(i).name for i in range(6)],
        list(union_type.type_codes),
    )
    return pa.Table.from_arrays([pa.array(codes, type=pa.uint32()), union], schema=SQL_INFO_SCHEMA)


def _bits(*flags: int) -> Int32:
    mask = 0
    for flag in flags:
        mask |= 1 << flag
    return Int32(mask)


def duckdb_sql_info(
    *,
    server_name: str,
    server_version: str,
    arrow_version: str,
    read_only: bool,
    keywords: Sequence[str] = (),
) -> dict[int, SqlInfoValue]:
    """The SqlInfo values of the DuckDB-backed server.

    Parameters
    ----------
    server_name, server_version, arrow_version : str
        Reported as FLIGHT_SQL_SERVER_NAME, _VERSION and _ARROW_VERSION.
    read_only : bool
        Whether the database was opened read-only.
    keywords : sequence of str
        SQL keywords of the dialect (from ``duckdb_keywords()``).
    """
    s = sql
    convert_targets = [
        s.SQL_CONVERT_BIGINT,
        s.SQL_CONVERT_INTEGER,
        s.SQL_CONVERT_SMALLINT,
        s.SQL_CONVERT_TINYINT,
        s.SQL_CONVERT_DECIMAL,
        s.SQL_CONVERT_FLOAT,
        s.SQL_CONVERT_REAL,
        s.SQL_CONVERT_VARCHAR,
    ]
    return {
        s.FLIGHT_SQL_SERVER_NAME: server_name,
        s.FLIGHT_SQL_SERVER_VERSION: server_version,
        s.FLIGHT_SQL_SERVER_ARROW_VERSION: arrow_version,
        s.FLIGHT_SQL_SERVER_READ_ONLY: read_only,
        s.FLIGHT_SQL_SERVER_SQL: True,
        s.FLIGHT_SQL_SERVER_SUBSTRAIT: False,
        s.FLIGHT_SQL_SERVER_TRANSACTION: Int32(s.SQL_SUPPORTED_TRANSACTION_TRANSACTION),
        s.FLIGHT_SQL_SERVER_CANCEL: True,
        s.FLIGHT_SQL_SERVER_BULK_INGESTION: True,
        s.FLIGHT_SQL_SERVER_INGEST_TRANSACTIONS_SUPPORTED: True,
        s.FLIGHT_SQL_SERVER_STATEMENT_TIMEOUT: Int32(0),
        s.FLIGHT_SQL_SERVER_TRANSACTION_TIMEOUT: Int32(0),
        s.SQL_DDL_CATALOG: False,
        s.SQL_DDL_SCHEMA: True,
        s.SQL_DDL_TABLE: True,
        # DuckDB matches names case-insensitively, quoted or not, and keeps the spelling.
        s.SQL_IDENTIFIER_CASE: Int32(s.SQL_CASE_SENSITIVITY_CASE_INSENSITIVE),
        s.SQL_IDENTIFIER_QUOTE_CHAR: '"',
        s.SQL_QUOTED_IDENTIFIER_CASE: Int32(s.SQL_CASE_SENSITIVITY_CASE_INSENSITIVE),
        s.SQL_ALL_TABLES_ARE_SELECTABLE: True,
        s.SQL_NULL_ORDERING: Int32(s.SQL_NULLS_SORTED_AT_END),
        s.SQL_KEYWORDS: list(keywords),
        s.SQL_SEARCH_STRING_ESCAPE: "\\",
        s.SQL_EXTRA_NAME_CHARACTERS: "",
        s.SQL_SUPPORTS_COLUMN_ALIASING: True,
        s.SQL_NULL_PLUS_NULL_IS_NULL: True,
        s.SQL_SUPPORTS_CONVERT: {
            source: [t for t in convert_targets if t != source] for source in convert_targets
        },
        s.SQL_SUPPORTS_TABLE_CORRELATION_NAMES: True,
        s.SQL_SUPPORTS_DIFFERENT_TABLE_CORRELATION_NAMES: False,
        s.SQL_SUPPORTS_EXPRESSIONS_IN_ORDER_BY: True,
        s.SQL_SUPPORTS_ORDER_BY_UNRELATED: True,
        s.SQL_SUPPORTED_GROUP_BY: _bits(s.SQL_GROUP_BY_UNRELATED, s.SQL_GROUP_BY_BEYOND_SELECT),
        s.SQL_SUPPORTS_LIKE_ESCAPE_CLAUSE: True,
        s.SQL_SUPPORTS_NON_NULLABLE_COLUMNS: True,
        s.SQL_SUPPORTED_GRAMMAR: _bits(s.SQL_MINIMUM_GRAMMAR, s.SQL_CORE_GRAMMAR),
        s.SQL_ANSI92_SUPPORTED_LEVEL: _bits(s.ANSI92_ENTRY_SQL, s.ANSI92_INTERMEDIATE_SQL),
        s.SQL_SUPPORTS_INTEGRITY_ENHANCEMENT_FACILITY: False,
        s.SQL_OUTER_JOINS_SUPPORT_LEVEL: Int32(s.SQL_FULL_OUTER_JOINS),
        s.SQL_SCHEMA_TERM: "schema",
        s.SQL_PROCEDURE_TERM: "",
        s.SQL_CATALOG_TERM: "database",
        s.SQL_CATALOG_AT_START: True,
        s.SQL_SCHEMAS_SUPPORTED_ACTIONS: Int32(0),
        s.SQL_CATALOGS_SUPPORTED_ACTIONS: Int32(0),
        s.SQL_SUPPORTED_POSITIONED_COMMANDS: Int32(0),
        s.SQL_SELECT_FOR_UPDATE_SUPPORTED: False,
        s.SQL_STORED_PROCEDURES_SUPPORTED: False,
        s.SQL_SUPPORTED_SUBQUERIES: _bits(
            s.SQL_SUBQUERIES_IN_COMPARISONS,
            s.SQL_SUBQUERIES_IN_EXISTS,
            s.SQL_SUBQUERIES_IN_INS,
            s.SQL_SUBQUERIES_IN_QUANTIFIEDS,
        ),
        s.SQL_CORRELATED_SUBQUERIES_SUPPORTED: True,
        s.SQL_SUPPORTED_UNIONS: _bits(s.SQL_UNION, s.SQL_UNION_ALL),
        # DuckDB sets no fixed limits on these; 0 means "none or unknown".
        s.SQL_MAX_COLUMN_NAME_LENGTH: 0,
        s.SQL_MAX_COLUMNS_IN_SELECT: 0,
        s.SQL_MAX_COLUMNS_IN_TABLE: 0,
        s.SQL_MAX_STATEMENT_LENGTH: 0,
        s.SQL_MAX_TABLE_NAME_LENGTH: 0,
        # MVCC with snapshots: reads repeat within a transaction.
        s.SQL_DEFAULT_TRANSACTION_ISOLATION: Int32(s.SQL_TRANSACTION_REPEATABLE_READ),
        s.SQL_TRANSACTIONS_SUPPORTED: True,
        s.SQL_SUPPORTED_TRANSACTIONS_ISOLATION_LEVELS: _bits(s.SQL_TRANSACTION_REPEATABLE_READ),
        s.SQL_DATA_DEFINITION_CAUSES_TRANSACTION_COMMIT: False,
        s.SQL_DATA_DEFINITIONS_IN_TRANSACTIONS_IGNORED: False,
        s.SQL_SUPPORTED_RESULT_SET_TYPES: _bits(s.SQL_RESULT_SET_TYPE_FORWARD_ONLY),
        s.SQL_BATCH_UPDATES_SUPPORTED: True,
        s.SQL_SAVEPOINTS_SUPPORTED: False,
        s.SQL_NAMED_PARAMETERS_SUPPORTED: False,
        s.SQL_LOCATORS_UPDATE_COPY: False,
        s.SQL_STORED_FUNCTIONS_USING_CALL_SYNTAX_SUPPORTED: False,
    }
