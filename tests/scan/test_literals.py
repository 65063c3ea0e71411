"""SQL literals for servers without parameter binding: exact values, and no way out of a literal.

Each rendered literal is read back by DuckDB (``SELECT <literal>``): it must give one column
and one row holding exactly the original value, so a literal that ended early (an injection)
or that a parser reads as another value fails here.
"""

from __future__ import annotations

import datetime as dt
import decimal

import duckdb
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightnb.protocol.dialects import GENERIC as GENERIC_DIALECT
from flightnb.protocol.dialects import LiteralRules, dialect_for
from flightnb.scan.literals import MAX_STRING_CHARS, render_literal
from flightnb.scan.predicate import translate_predicate

DUCKDB = dialect_for("flightnb DuckDB Flight SQL server").literals
DATAFUSION = dialect_for("RoAPI Flight SQL Server").literals
GENERIC = LiteralRules()
SPARK = dialect_for("Apache Spark").literals
SQLITE = dialect_for("sqlite").literals


def read_back(literal: str) -> object:
    """What DuckDB reads ``literal`` as (one column, one row, else the test fails)."""
    rows = duckdb.sql(f"SELECT {literal} AS v").fetchall()
    assert len(rows) == 1 and len(rows[0]) == 1, literal
    return rows[0][0]


CASES = [
    (pa.scalar(0), "0", 0),
    (pa.scalar(-5), "(-5)", -5),
    (pa.scalar(2**63 - 1), "9223372036854775807", 2**63 - 1),
    (pa.scalar(-(2**63) + 1), "(-9223372036854775807)", -(2**63) + 1),
    (pa.scalar(7, pa.uint8()), "7", 7),
    (pa.scalar(True), "TRUE", True),
    (pa.scalar(False), "FALSE", False),
    (pa.scalar(1.5), "CAST('1.5' AS DOUBLE PRECISION)", 1.5),
    (pa.scalar(-0.1), "CAST('-0.1' AS DOUBLE PRECISION)", -0.1),
    (pa.scalar(1e300), "CAST('1e+300' AS DOUBLE PRECISION)", 1e300),
    (pa.scalar(5e-324), "CAST('5e-324' AS DOUBLE PRECISION)", 5e-324),
    (pa.scalar(0.1, pa.float32()), "CAST('0.10000000149011612' AS REAL)", 0.10000000149011612),
    (
        pa.scalar(decimal.Decimal("-12.50"), pa.decimal128(10, 2)),
        "CAST('-12.50' AS DECIMAL(10, 2))",
        decimal.Decimal("-12.50"),
    ),
    (pa.scalar("it's"), "'it''s'", "it's"),
    (pa.scalar(""), "''", ""),
    (pa.scalar("naïve ☃ 𝄞"), "'naïve ☃ 𝄞'", "naïve ☃ 𝄞"),
    (pa.scalar("x", pa.large_string()), "'x'", "x"),
    (pa.scalar(dt.date(2024, 2, 29)), "DATE '2024-02-29'", dt.date(2024, 2, 29)),
    (pa.scalar(dt.date(1, 1, 1)), "DATE '0001-01-01'", dt.date(1, 1, 1)),
    (
        pa.scalar(dt.datetime(2024, 1, 2, 3, 4, 5), pa.timestamp("s")),
        "TIMESTAMP '2024-01-02 03:04:05'",
        dt.datetime(2024, 1, 2, 3, 4, 5),
    ),
    (
        pa.scalar(dt.datetime(1969, 12, 31, 23, 59, 59, 999999), pa.timestamp("us")),
        "TIMESTAMP '1969-12-31 23:59:59.999999'",
        dt.datetime(1969, 12, 31, 23, 59, 59, 999999),
    ),
    (
        pa.scalar(1_000, pa.timestamp("ns")),
        "TIMESTAMP '1970-01-01 00:00:00.000001'",
        dt.datetime(1970, 1, 1, 0, 0, 0, 1),
    ),
    (pa.scalar(dt.time(12, 30, 1, 5), pa.time64("us")), "TIME '12:30:01.000005'", None),
    (pa.scalar(dt.time(23, 59), pa.time32("s")), "TIME '23:59:00'", dt.time(23, 59)),
]


@pytest.mark.parametrize(("value", "text", "expected"), CASES, ids=lambda v: repr(v)[:40])
def test_each_type_renders_and_reads_back_exactly(value, text, expected):
    assert render_literal(value, DUCKDB) == text
    if expected is None:
        expected = value.as_py()
    assert read_back(text) == expected


REFUSED = {
    "null": pa.scalar(None, pa.int64()),
    "int64 minimum": pa.scalar(-(2**63)),
    "uint64 above int64": pa.scalar(2**63, pa.uint64()),
    "nan": pa.scalar(float("nan")),
    "infinity": pa.scalar(float("inf")),
    "minus infinity": pa.scalar(float("-inf")),
    "nul character": pa.scalar("a\x00b"),
    "too long": pa.scalar("x" * (MAX_STRING_CHARS + 1)),
    "sub-microsecond timestamp": pa.scalar(1_001, pa.timestamp("ns")),
    "sub-microsecond time": pa.scalar(1, pa.time64("ns")),
    "date64 with a time of day": pa.array([1], pa.date64())[0],
    "binary": pa.scalar(b"x"),
    "list": pa.scalar([1]),
    "timestamp past 9999": pa.scalar(10**15 * 300, pa.timestamp("us")),
}


def test_zoned_timestamps_as_the_utc_instant_where_understood():
    moment = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
    value = pa.scalar(moment, pa.timestamp("us", tz="Europe/Oslo"))
    literal = render_literal(value, DUCKDB)
    assert literal == "TIMESTAMPTZ '2024-01-01 12:00:00+00:00'"
    assert read_back(f"{literal} = TIMESTAMPTZ '2024-01-01 13:00:00+01:00'") is True
    assert render_literal(value, GENERIC) is None
    assert render_literal(value, DATAFUSION) is None


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_values_that_cannot_be_written_exactly_are_refused(name):
    assert render_literal(REFUSED[name], DUCKDB) is None
    assert render_literal(REFUSED[name], GENERIC) is None


def test_backslashes_only_where_the_dialect_reads_them_plainly():
    value = pa.scalar("a\\' OR 1=1 --")
    # MySQL (and an unknown server, which may be one) read \' as a quote: refused.
    assert render_literal(value, GENERIC) is None
    assert render_literal(value, dialect_for("MySQL").literals) is None
    assert render_literal(value, dialect_for("PostgreSQL").literals) is None
    assert render_literal(value, DUCKDB) == "'a\\'' OR 1=1 --'"
    assert read_back(render_literal(value, DUCKDB)) == "a\\' OR 1=1 --"
    assert render_literal(value, DATAFUSION) == "'a\\'' OR 1=1 --'"


def test_quotes_stay_local_where_adjacent_literals_join():
    # Spark reads 'a''b' as 'ab' (adjacent literals concatenate): a wrong value, so refused.
    assert render_literal(pa.scalar("a'b"), SPARK) is None
    assert render_literal(pa.scalar("ab"), SPARK) == "'ab'"


def test_typed_literals_only_where_understood():
    # SQLite has no DATE '...' syntax: dates stay on the client there.
    assert render_literal(pa.scalar(dt.date(2024, 1, 1)), SQLITE) is None
    assert render_literal(pa.scalar(3), SQLITE) == "3"


HOSTILE = [
    "'",
    "''",
    "' OR '1'='1",
    "'; DROP TABLE shapes; --",
    "x' /* ",
    "*/ '",
    "-- '",
    "\n'\r\n",
    "\u2028'\u2029",
    "'\t'",
    "$$ '",
    "\" '",
    "`'`",
    "\x1b'",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_stay_one_exact_literal(text):
    literal = render_literal(pa.scalar(text), DUCKDB)
    assert literal is not None
    assert read_back(literal) == text
    assert read_back(f"{literal} = {literal}") is True  # and the text after it is still SQL


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_string_is_refused_or_read_back_exactly(text):
    for rules in (DUCKDB, GENERIC, DATAFUSION):
        literal = render_literal(pa.scalar(text), rules)
        if literal is None:
            assert "\x00" in text or ("\\" in text and not rules.backslash_is_literal)
            continue
        assert "\\" not in literal or rules.backslash_is_literal
        assert read_back(literal) == text


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_finite_float_reads_back_as_the_same_double(number):
    literal = render_literal(pa.scalar(number), DUCKDB)
    assert literal is not None
    back = read_back(literal)
    assert back == number and str(back) == str(number)  # -0.0 stays -0.0


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_any_int64_reads_back(number):
    literal = render_literal(pa.scalar(number, pa.int64()), DUCKDB)
    assert literal is not None
    assert read_back(literal) == number


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)))
def test_any_timestamp_reads_back(moment):
    literal = render_literal(pa.scalar(moment, pa.timestamp("us")), DUCKDB)
    assert literal is not None
    assert read_back(literal) == moment


SCHEMA = pa.schema([("i", pa.int64()), ("s", pa.string()), ("f", pa.float64())])


def test_a_conjunct_whose_value_cannot_be_written_stays_local():
    both = (pl.col("i") > -1) & (pl.col("s") == "a\\b")
    condition = translate_predicate(both, SCHEMA, GENERIC_DIALECT, bind=False)
    assert condition is not None
    assert (condition.text, condition.parameters, condition.complete) == ('"i" > (-1)', (), False)
    either = (pl.col("i") > 1) | (pl.col("s") == "a\\b")
    assert translate_predicate(either, SCHEMA, GENERIC_DIALECT, bind=False) is None
    listed = pl.col("s").is_in(["ok", "a\\b"])
    assert translate_predicate(listed, SCHEMA, GENERIC_DIALECT, bind=False) is None
    # Bound, the same values travel as parameters and nothing is written into the text.
    bound = translate_predicate(either, SCHEMA, GENERIC_DIALECT)
    assert bound is not None and bound.text == '("i" > ?) OR ("s" = ?)'


def test_like_patterns_use_the_dialects_escape():
    starts = pl.col("s").str.starts_with("a_%\\")
    roapi = dialect_for("RoAPI Flight SQL Server")
    condition = translate_predicate(starts, SCHEMA, roapi, bind=False)
    assert condition is not None
    assert condition.text == "\"s\" LIKE 'a\\_\\%\\\\%' ESCAPE '\\'"
    duck = dialect_for("DuckDB")
    condition = translate_predicate(starts, SCHEMA, duck, bind=False)
    assert condition is not None
    assert condition.text == "\"s\" LIKE 'a!_!%\\%' ESCAPE '!'"
    rows = duckdb.sql(
        f"SELECT s FROM (VALUES ('a_%\\x'), ('ab%\\x'), ('a_%')) t(s) WHERE {condition.text}"
    ).fetchall()
    assert rows == [("a_%\\x",)]


def test_a_long_is_in_list_of_literals_stays_local():
    many = [f"{'x' * 100}{k}" for k in range(900)]  # about 90 KiB of literals
    assert translate_predicate(pl.col("s").is_in(many), SCHEMA, GENERIC_DIALECT, bind=False) is None
    bound = translate_predicate(pl.col("s").is_in(many), SCHEMA, GENERIC_DIALECT)
    assert bound is not None and len(bound.parameters) == 900
    few = translate_predicate(pl.col("s").is_in(many[:50]), SCHEMA, GENERIC_DIALECT, bind=False)
    assert few is not None and few.text.count("'") == 100


DEEPHAVEN = dialect_for("Deephaven").literals


def test_dialects_without_casts_get_doubles_with_an_exponent():
    # Deephaven's SQL reads 2.5 as a decimal it cannot compare, and has no CAST.
    assert render_literal(pa.scalar(2.5), DEEPHAVEN) == "2.5e0"
    assert render_literal(pa.scalar(-0.1), DEEPHAVEN) == "(-0.1e0)"
    assert render_literal(pa.scalar(1e300), DEEPHAVEN) == "1e+300"
    assert render_literal(pa.scalar(decimal.Decimal("1.5")), DEEPHAVEN) is None
    assert render_literal(pa.scalar(dt.date(2024, 1, 1)), DEEPHAVEN) is None
    assert render_literal(pa.scalar("a\\b"), DEEPHAVEN) == "'a\\b'"
    starts = pl.col("s").str.starts_with("x")
    assert translate_predicate(starts, SCHEMA, dialect_for("Deephaven"), bind=False) is None


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_any_double_with_an_exponent_reads_back(number):
    literal = render_literal(pa.scalar(number), DEEPHAVEN)
    assert literal is not None and "e" in literal
    assert read_back(literal) == number
