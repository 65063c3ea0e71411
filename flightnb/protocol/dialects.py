"""The SQL dialects of Flight SQL servers: how each quotes identifiers and reads literals.

Whoever writes SQL text for a server asks here: the polars scan (its filters and columns), the
Dask reader (its partition queries) and the embedded DuckDB server (the names it reads back from
its own catalog). A client learns a server's dialect from SqlInfo's ``FLIGHT_SQL_SERVER_NAME``
(:func:`dialect_for`); the embedded server is :data:`DUCKDB`.

Examples
--------
>>> quote_identifier('trip "id', DUCKDB)
'"trip ""id"'
>>> quote_identifier("trip`id", dialect_for("MySQL 8.0"))
'`trip``id`'
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DUCKDB",
    "GENERIC",
    "Dialect",
    "LiteralRules",
    "dialect_for",
    "quote_identifier",
]


@dataclass(frozen=True)
class LiteralRules:
    """How a server's SQL reads literals (the conservative choice when unknown)."""

    #: ``'it''s'`` is one string with a quote (false in Spark, which joins adjacent literals).
    doubles_quotes: bool = True
    #: A backslash inside quotes is an ordinary character (false in MySQL and Spark, and
    #: unknown for an unknown server).
    backslash_is_literal: bool = False
    #: ``DATE '2024-01-01'``, ``TIME '...'``, ``TIMESTAMP '...'`` are understood.
    typed_literals: bool = True
    #: ``CAST('2.5' AS DOUBLE PRECISION)`` and ``CAST('1.50' AS DECIMAL(10, 2))`` are understood
    #: (not by Deephaven's SQL).
    casts: bool = True
    #: ``TIMESTAMPTZ '2024-01-01 00:00:00+00:00'`` is understood.
    zoned_timestamps: bool = False


@dataclass(frozen=True)
class Dialect:
    """What the generated SQL needs to know about a server's SQL."""

    name: str
    #: The character that quotes identifiers (doubled inside a name).
    quote: str = '"'
    #: NaN = NaN is true and NaN sorts above every number, as in polars.
    nan_like_polars: bool = False
    #: How values are written into the SQL when the server does not bind parameters.
    literals: LiteralRules = field(default_factory=LiteralRules)
    #: The ``ESCAPE`` character of ``LIKE`` patterns (DataFusion takes only a backslash).
    like_escape: str = "!"
    #: ``LIKE`` is understood (``str.starts_with`` stays local where not: Deephaven).
    like: bool = True


#: Standard SQL, for a server whose name says nothing known.
GENERIC = Dialect("generic")
#: DuckDB, the embedded server's database.
DUCKDB = Dialect(
    "duckdb",
    nan_like_polars=True,
    literals=LiteralRules(backslash_is_literal=True, zoned_timestamps=True),
)
_PLAIN_BACKSLASH = LiteralRules(backslash_is_literal=True)
_POSTGRES_LITERALS = LiteralRules(zoned_timestamps=True)
_MYSQL = Dialect("mysql", quote="`")
_SPARK = Dialect("spark", quote="`", literals=LiteralRules(doubles_quotes=False))
# DataFusion orders floats by IEEE totalOrder (-0.0 < 0.0): floats stay local.
_DATAFUSION = Dialect("datafusion", literals=_PLAIN_BACKSLASH, like_escape="\\")
_DIALECTS = (
    ("duckdb", DUCKDB),
    # standard_conforming_strings may be off on a PostgreSQL server: backslashes stay local.
    ("postgres", Dialect("postgres", nan_like_polars=True, literals=_POSTGRES_LITERALS)),
    ("mysql", _MYSQL),
    ("mariadb", _MYSQL),
    ("spark", _SPARK),
    ("databricks", _SPARK),
    ("dremio", Dialect("dremio")),
    ("sqlite", Dialect("sqlite", literals=LiteralRules(True, True, typed_literals=False))),
    ("roapi", _DATAFUSION),
    ("datafusion", _DATAFUSION),
    # Deephaven's SQL has no LIKE, CAST, decimal or typed date and time literals.
    (
        "deephaven",
        Dialect(
            "deephaven",
            literals=LiteralRules(backslash_is_literal=True, typed_literals=False, casts=False),
            like=False,
        ),
    ),
)


def dialect_for(server_name: str | None) -> Dialect:
    """The dialect for SqlInfo's ``FLIGHT_SQL_SERVER_NAME`` (generic when unknown).

    Examples
    --------
    >>> dialect_for("flightnb DuckDB Flight SQL server").name
    'duckdb'
    >>> dialect_for(None).name
    'generic'
    """
    lowered = (server_name or "").lower()
    for needle, dialect in _DIALECTS:
        if needle in lowered:
            return dialect
    return GENERIC


def quote_identifier(name: str, dialect: Dialect = GENERIC) -> str:
    """``name`` as a quoted SQL identifier of ``dialect`` (its quote character doubled inside).

    Examples
    --------
    >>> quote_identifier('a"b')
    '"a""b"'
    """
    q = dialect.quote
    return q + name.replace(q, q + q) + q
