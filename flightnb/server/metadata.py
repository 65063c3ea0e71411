"""Catalog metadata commands answered from DuckDB's catalog functions.

Each ``*_table`` function takes a DuckDB connection and the Flight SQL command, and returns the
result with the schema the Flight SQL spec fixes for that command (``*_SCHEMA``). Filter values
from the client are bound as query parameters; only identifiers read back from DuckDB's own
catalog are quoted into SQL text.

DuckDB's databases are Flight SQL catalogs and its schemas are db schemas. Table types are
``TABLE``, ``VIEW`` and ``LOCAL TEMPORARY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.dialects import DUCKDB, quote_identifier

__all__ = [
    "CATALOGS_SCHEMA",
    "DB_SCHEMAS_SCHEMA",
    "KEYS_SCHEMA",
    "PRIMARY_KEYS_SCHEMA",
    "TABLES_SCHEMA",
    "TABLES_SCHEMA_WITH_SCHEMA",
    "TABLE_TYPES",
    "TABLE_TYPES_SCHEMA",
    "XDBC_TYPE_INFO_SCHEMA",
    "catalogs_table",
    "cross_reference_table",
    "db_schemas_table",
    "exported_keys_table",
    "imported_keys_table",
    "primary_keys_table",
    "table_arrow_schema",
    "table_types_table",
    "tables_table",
    "xdbc_type_info_table",
]

_UTF8 = pa.utf8()

CATALOGS_SCHEMA = pa.schema([pa.field("catalog_name", _UTF8, nullable=False)])
DB_SCHEMAS_SCHEMA = pa.schema(
    [
        pa.field("catalog_name", _UTF8),
        pa.field("db_schema_name", _UTF8, nullable=False),
    ]
)
TABLES_SCHEMA = pa.schema(
    [
        pa.field("catalog_name", _UTF8),
        pa.field("db_schema_name", _UTF8),
        pa.field("table_name", _UTF8, nullable=False),
        pa.field("table_type", _UTF8, nullable=False),
    ]
)
TABLES_SCHEMA_WITH_SCHEMA = TABLES_SCHEMA.append(
    pa.field("table_schema", pa.binary(), nullable=False)
)
TABLE_TYPES_SCHEMA = pa.schema([pa.field("table_type", _UTF8, nullable=False)])
PRIMARY_KEYS_SCHEMA = pa.schema(
    [
        pa.field("catalog_name", _UTF8),
        pa.field("db_schema_name", _UTF8),
        pa.field("table_name", _UTF8, nullable=False),
        pa.field("column_name", _UTF8, nullable=False),
        pa.field("key_name", _UTF8),
        pa.field("key_sequence", pa.int32(), nullable=False),
    ]
)
KEYS_SCHEMA = pa.schema(
    [
        pa.field("pk_catalog_name", _UTF8),
        pa.field("pk_db_schema_name", _UTF8),
        pa.field("pk_table_name", _UTF8, nullable=False),
        pa.field("pk_column_name", _UTF8, nullable=False),
        pa.field("fk_catalog_name", _UTF8),
        pa.field("fk_db_schema_name", _UTF8),
        pa.field("fk_table_name", _UTF8, nullable=False),
        pa.field("fk_column_name", _UTF8, nullable=False),
        pa.field("key_sequence", pa.int32(), nullable=False),
        pa.field("fk_key_name", _UTF8),
        pa.field("pk_key_name", _UTF8),
        pa.field("update_rule", pa.uint8(), nullable=False),
        pa.field("delete_rule", pa.uint8(), nullable=False),
    ]
)
"""Result schema shared by GetExportedKeys, GetImportedKeys and GetCrossReference."""

XDBC_TYPE_INFO_SCHEMA = pa.schema(
    [
        pa.field("type_name", _UTF8, nullable=False),
        pa.field("data_type", pa.int32(), nullable=False),
        pa.field("column_size", pa.int32()),
        pa.field("literal_prefix", _UTF8),
        pa.field("literal_suffix", _UTF8),
        pa.field("create_params", pa.list_(pa.field("item", _UTF8, nullable=False))),
        pa.field("nullable", pa.int32(), nullable=False),
        pa.field("case_sensitive", pa.bool_(), nullable=False),
        pa.field("searchable", pa.int32(), nullable=False),
        pa.field("unsigned_attribute", pa.bool_()),
        pa.field("fixed_prec_scale", pa.bool_(), nullable=False),
        pa.field("auto_increment", pa.bool_()),
        pa.field("local_type_name", _UTF8),
        pa.field("minimum_scale", pa.int32()),
        pa.field("maximum_scale", pa.int32()),
        pa.field("sql_data_type", pa.int32(), nullable=False),
        pa.field("datetime_subcode", pa.int32()),
        pa.field("num_prec_radix", pa.int32()),
        pa.field("interval_precision", pa.int32()),
    ]
)

TABLE_TYPES = ("LOCAL TEMPORARY", "TABLE", "VIEW")

# Flight SQL filters name catalogs by equality and db schemas / tables by LIKE patterns whose
# escape character we announce as SQL_SEARCH_STRING_ESCAPE.
_LIKE = "LIKE ? ESCAPE '\\'"

_USER_OBJECTS = """
    SELECT database_name, schema_name, table_name,
           CASE WHEN temporary THEN 'LOCAL TEMPORARY' ELSE 'TABLE' END AS table_type
    FROM duckdb_tables() WHERE NOT internal
    UNION ALL
    SELECT database_name, schema_name, view_name,
           CASE WHEN temporary THEN 'LOCAL TEMPORARY' ELSE 'VIEW' END
    FROM duckdb_views() WHERE NOT internal
"""


def _rows(
    con: duckdb.DuckDBPyConnection, query: str, params: Sequence[Any]
) -> list[tuple[Any, ...]]:
    return con.execute(query, list(params)).fetchall()


def _table(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.Table.from_arrays(
        [pa.array(list(col), type=field.type) for col, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _optional_filter(
    clauses: list[str], params: list[Any], column: str, message: Any, field: str, op: str
) -> None:
    if message.HasField(field):
        clauses.append(f"{column} {op}")
        params.append(getattr(message, field))


def catalogs_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """CommandGetCatalogs: the attached databases."""
    rows = _rows(
        con,
        "SELECT database_name FROM duckdb_databases() WHERE NOT internal ORDER BY 1",
        [],
    )
    return _table(rows, CATALOGS_SCHEMA)


def db_schemas_table(con: duckdb.DuckDBPyConnection, command: sql.CommandGetDbSchemas) -> pa.Table:
    """CommandGetDbSchemas: the schemas of the user databases."""
    clauses = ["database_name IN (SELECT database_name FROM duckdb_databases() WHERE NOT internal)"]
    params: list[Any] = []
    _optional_filter(clauses, params, "database_name", command, "catalog", "= ?")
    _optional_filter(clauses, params, "schema_name", command, "db_schema_filter_pattern", _LIKE)
    query = (
        "SELECT database_name, schema_name FROM duckdb_schemas() WHERE "
        + " AND ".join(clauses)
        + " ORDER BY 1, 2"
    )
    return _table(_rows(con, query, params), DB_SCHEMAS_SCHEMA)


def table_arrow_schema(
    con: duckdb.DuckDBPyConnection, catalog: str, db_schema: str, table: str
) -> pa.Schema:
    """The Arrow schema of a table or view, with ``ARROW:FLIGHT:SQL:*`` column metadata."""
    qualified = ".".join(quote_identifier(part, DUCKDB) for part in (catalog, db_schema, table))
    relation = con.sql(f"SELECT * FROM {qualified} LIMIT 0")
    assert relation is not None
    schema = relation.to_arrow_table().schema
    columns = {
        name: (data_type, precision, scale, comment)
        for name, data_type, precision, scale, comment in _rows(
            con,
            "SELECT column_name, data_type, numeric_precision, numeric_scale, comment "
            "FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
            "AND table_name = ?",
            [catalog, db_schema, table],
        )
    }
    fields = []
    for field in schema:
        metadata = {
            "ARROW:FLIGHT:SQL:CATALOG_NAME": catalog,
            "ARROW:FLIGHT:SQL:DB_SCHEMA_NAME": db_schema,
            "ARROW:FLIGHT:SQL:TABLE_NAME": table,
        }
        if field.name in columns:
            data_type, precision, scale, comment = columns[field.name]
            metadata["ARROW:FLIGHT:SQL:TYPE_NAME"] = data_type
            if precision is not None:
                metadata["ARROW:FLIGHT:SQL:PRECISION"] = str(precision)
            if scale is not None:
                metadata["ARROW:FLIGHT:SQL:SCALE"] = str(scale)
            if comment:
                metadata["ARROW:FLIGHT:SQL:REMARKS"] = comment
        fields.append(field.with_metadata(metadata))
    return pa.schema(fields)


def tables_table(con: duckdb.DuckDBPyConnection, command: sql.CommandGetTables) -> pa.Table:
    """CommandGetTables: tables and views, with their IPC schemas when asked."""
    clauses = ["TRUE"]
    params: list[Any] = []
    _optional_filter(clauses, params, "database_name", command, "catalog", "= ?")
    _optional_filter(clauses, params, "schema_name", command, "db_schema_filter_pattern", _LIKE)
    _optional_filter(clauses, params, "table_name", command, "table_name_filter_pattern", _LIKE)
    if command.table_types:
        clauses.append("list_contains(?, table_type)")
        params.append(list(command.table_types))
    query = (
        f"SELECT * FROM ({_USER_OBJECTS}) WHERE " + " AND ".join(clauses) + " ORDER BY 1, 2, 3, 4"
    )
    rows = _rows(con, query, params)
    if not command.include_schema:
        return _table(rows, TABLES_SCHEMA)
    with_schema = [
        (*row, table_arrow_schema(con, row[0], row[1], row[2]).serialize().to_pybytes())
        for row in rows
    ]
    return _table(with_schema, TABLES_SCHEMA_WITH_SCHEMA)


def table_types_table() -> pa.Table:
    """CommandGetTableTypes."""
    return _table([(t,) for t in TABLE_TYPES], TABLE_TYPES_SCHEMA)


def primary_keys_table(
    con: duckdb.DuckDBPyConnection, command: sql.CommandGetPrimaryKeys
) -> pa.Table:
    """CommandGetPrimaryKeys: one row per column of the table's primary key."""
    clauses = ["constraint_type = 'PRIMARY KEY'", "table_name = ?"]
    params: list[Any] = [command.table]
    _optional_filter(clauses, params, "database_name", command, "catalog", "= ?")
    _optional_filter(clauses, params, "schema_name", command, "db_schema", "= ?")
    query = (
        "SELECT database_name, schema_name, table_name, constraint_column_names, "
        "constraint_name FROM duckdb_constraints() WHERE "
        + " AND ".join(clauses)
        + " ORDER BY 1, 2, 3, 5"
    )
    rows = [
        (catalog, schema, table, column, name, sequence)
        for catalog, schema, table, columns, name in _rows(con, query, params)
        for sequence, column in enumerate(columns, start=1)
    ]
    return _table(rows, PRIMARY_KEYS_SCHEMA)


def _foreign_keys(
    con: duckdb.DuckDBPyConnection, clauses: list[str], params: list[Any]
) -> pa.Table:
    # DuckDB keeps a foreign key in the schema of its table and names the referenced table
    # without qualification: it lives in the same catalog and schema.
    query = f"""
        SELECT fk.database_name, fk.schema_name, fk.referenced_table,
               fk.referenced_column_names, fk.table_name, fk.constraint_column_names,
               fk.constraint_name,
               (SELECT pk.constraint_name FROM duckdb_constraints() pk
                 WHERE pk.constraint_type = 'PRIMARY KEY'
                   AND pk.database_name = fk.database_name
                   AND pk.schema_name = fk.schema_name
                   AND pk.table_name = fk.referenced_table
                 LIMIT 1)
        FROM duckdb_constraints() fk
        WHERE fk.constraint_type = 'FOREIGN KEY' AND {" AND ".join(clauses)}
        ORDER BY 1, 2, 3, 5, 7
    """
    # DuckDB enforces neither cascading nor SET NULL/DEFAULT: every key behaves as NO ACTION.
    rule = sql.NO_ACTION
    rows = [
        (
            catalog,
            schema,
            pk_table,
            pk_column,
            catalog,
            schema,
            fk_table,
            fk_column,
            sequence,
            fk_name,
            pk_name,
            rule,
            rule,
        )
        for catalog, schema, pk_table, pk_columns, fk_table, fk_columns, fk_name, pk_name in _rows(
            con, query, params
        )
        for sequence, (pk_column, fk_column) in enumerate(
            zip(pk_columns, fk_columns, strict=True), start=1
        )
    ]
    return _table(rows, KEYS_SCHEMA)


def _scope(clauses: list[str], params: list[Any], message: Any, catalog: str, schema: str) -> None:
    _optional_filter(clauses, params, "fk.database_name", message, catalog, "= ?")
    _optional_filter(clauses, params, "fk.schema_name", message, schema, "= ?")


def exported_keys_table(
    con: duckdb.DuckDBPyConnection, command: sql.CommandGetExportedKeys
) -> pa.Table:
    """CommandGetExportedKeys: foreign keys that reference the given table."""
    clauses, params = ["fk.referenced_table = ?"], [command.table]
    _scope(clauses, params, command, "catalog", "db_schema")
    return _foreign_keys(con, clauses, params)


def imported_keys_table(
    con: duckdb.DuckDBPyConnection, command: sql.CommandGetImportedKeys
) -> pa.Table:
    """CommandGetImportedKeys: the foreign keys of the given table."""
    clauses, params = ["fk.table_name = ?"], [command.table]
    _scope(clauses, params, command, "catalog", "db_schema")
    return _foreign_keys(con, clauses, params)


def cross_reference_table(
    con: duckdb.DuckDBPyConnection, command: sql.CommandGetCrossReference
) -> pa.Table:
    """CommandGetCrossReference: foreign keys of ``fk_table`` that reference ``pk_table``."""
    clauses = ["fk.table_name = ?", "fk.referenced_table = ?"]
    params: list[Any] = [command.fk_table, command.pk_table]
    _scope(clauses, params, command, "fk_catalog", "fk_db_schema")
    _scope(clauses, params, command, "pk_catalog", "pk_db_schema")
    return _foreign_keys(con, clauses, params)


def _xdbc_rows() -> list[tuple[Any, ...]]:
    s = sql
    nullable, full, basic = s.NULLABILITY_NULLABLE, s.SEARCHABLE_FULL, s.SEARCHABLE_BASIC

    def numeric(
        name: str, code: int, size: int, radix: int, *, exact: bool = True, unsigned: bool = False
    ) -> tuple[Any, ...]:
        return (
            name,
            code,
            size,
            None,
            None,
            None,
            nullable,
            False,
            basic,
            unsigned,
            False,
            False,
            name,
            0 if exact else None,
            0 if exact else None,
            code,
            None,
            radix,
            None,
        )

    def text(name: str, code: int, prefix: str | None) -> tuple[Any, ...]:
        return (
            name,
            code,
            None,
            prefix,
            prefix,
            None,
            nullable,
            True,
            full,
            None,
            False,
            None,
            name,
            None,
            None,
            code,
            None,
            None,
            None,
        )

    def datetime(name: str, code: int, size: int, subcode: int) -> tuple[Any, ...]:
        return (
            name,
            code,
            size,
            "'",
            "'",
            None,
            nullable,
            False,
            basic,
            None,
            False,
            None,
            name,
            None,
            None,
            s.XDBC_DATETIME,
            subcode,
            None,
            None,
        )

    return [
        numeric("BOOLEAN", s.XDBC_BIT, 1, 2),
        numeric("TINYINT", s.XDBC_TINYINT, 3, 10),
        numeric("UTINYINT", s.XDBC_TINYINT, 3, 10, unsigned=True),
        numeric("BIGINT", s.XDBC_BIGINT, 19, 10),
        numeric("UBIGINT", s.XDBC_BIGINT, 20, 10, unsigned=True),
        text("BLOB", s.XDBC_VARBINARY, None),
        text("VARCHAR", s.XDBC_VARCHAR, "'"),
        # DECIMAL takes (precision, scale) and is the only type with a variable scale.
        (
            "DECIMAL",
            s.XDBC_DECIMAL,
            38,
            None,
            None,
            ["precision", "scale"],
            nullable,
            False,
            basic,
            False,
            True,
            False,
            "DECIMAL",
            0,
            38,
            s.XDBC_DECIMAL,
            None,
            10,
            None,
        ),
        numeric("INTEGER", s.XDBC_INTEGER, 10, 10),
        numeric("UINTEGER", s.XDBC_INTEGER, 10, 10, unsigned=True),
        numeric("SMALLINT", s.XDBC_SMALLINT, 5, 10),
        numeric("USMALLINT", s.XDBC_SMALLINT, 5, 10, unsigned=True),
        numeric("FLOAT", s.XDBC_REAL, 24, 2, exact=False),
        numeric("DOUBLE", s.XDBC_DOUBLE, 53, 2, exact=False),
        (
            "INTERVAL",
            s.XDBC_INTERVAL,
            None,
            "INTERVAL '",
            "'",
            None,
            nullable,
            False,
            basic,
            None,
            False,
            None,
            "INTERVAL",
            None,
            None,
            s.XDBC_INTERVAL,
            None,
            None,
            None,
        ),
        datetime("DATE", s.XDBC_DATE, 10, s.XDBC_SUBCODE_DATE),
        datetime("TIME", s.XDBC_TIME, 15, s.XDBC_SUBCODE_TIME),
        datetime("TIMESTAMP", s.XDBC_TIMESTAMP, 26, s.XDBC_SUBCODE_TIMESTAMP),
        datetime(
            "TIMESTAMP WITH TIME ZONE", s.XDBC_TIMESTAMP, 32, s.XDBC_SUBCODE_TIMESTAMP_WITH_TIMEZONE
        ),
    ]


def xdbc_type_info_table(command: sql.CommandGetXdbcTypeInfo) -> pa.Table:
    """CommandGetXdbcTypeInfo: DuckDB's types, ordered by data_type then type_name."""
    rows = sorted(_xdbc_rows(), key=lambda row: (row[1], row[0]))
    if command.HasField("data_type"):
        rows = [row for row in rows if row[1] == command.data_type]
    return _table(rows, XDBC_TYPE_INFO_SCHEMA)
