"""scan_flight against the embedded Flight SQL server: pushdown, and results equal to eager."""

from __future__ import annotations

import datetime as dt
import decimal

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leaks import LeakCheck, release_what_polars_dropped, snapshot
from named_servers import MySqlNamedServer
from scan_helpers import CountingObserver

import flightnb.polars as fp
from flightnb.errors import FlightArgumentError, FlightError
from flightnb.protocol.dialects import dialect_for
from flightnb.scan.predicate import translate_predicate
from flightnb.scan.query import narrow_query

SQL = "SELECT * FROM shapes"

PREDICATES = {
    "gt": pl.col("i") > 10,
    "le_float": pl.col("f") <= 5.0,
    "gt_float_nan": pl.col("f") > 3.0,
    "eq_literal_left": pl.lit(7) == pl.col("i"),
    "ne": pl.col("i") != 0,
    "is_in": pl.col("i").is_in([1, 2, 3, -13]),
    "is_in_strings": pl.col("s").is_in(["apple", "ab", "zzz"]),
    "is_null": pl.col("i").is_null(),
    "is_not_null": pl.col("s").is_not_null(),
    "between": pl.col("i").is_between(-5, 5),
    "between_open": pl.col("dec").is_between(1, 5, closed="none"),
    "and": (pl.col("i") > 0) & (pl.col("b")),
    "or": (pl.col("i") > 40) | pl.col("s").is_null(),
    "not": ~(pl.col("i") < 0),
    "not_bool": ~pl.col("b"),
    "string_eq": pl.col("s") == "apple",
    "string_ne_local": pl.col("s") != "apple",
    "string_lt_local": pl.col("s") < "b",
    "starts_with": pl.col("s").str.starts_with("a%"),
    "starts_with_underscore": pl.col("s").str.starts_with("a_"),
    "date": pl.col("d") >= dt.date(2024, 2, 1),
    "timestamp": pl.col("ts") < dt.datetime(2024, 2, 1, 12),
    "decimal": pl.col("dec") == decimal.Decimal("2.50"),
    "decimal_not_fitting": pl.col("dec") > decimal.Decimal("2.505"),
    "int_vs_fraction": pl.col("i") > 5.5,
    "mixed_local_part": (pl.col("i") > 0) & (pl.col("s").str.len_chars() > 3),
    "nan_literal": pl.col("f") == float("nan"),
    "is_nan_local": pl.col("f").is_nan(),
}


def eager(server, predicate):
    frame = fp.read_flight(server.location, sql=SQL, progress=False)
    return frame.filter(predicate).sort("id")


@pytest.mark.parametrize("name", sorted(PREDICATES))
@pytest.mark.parametrize("pushdown", [True, False])
def test_predicate_shapes_match_eager(scan_server, name, pushdown):
    predicate = PREDICATES[name]
    scan = fp.scan_flight(scan_server.location, sql=SQL, pushdown=pushdown)
    got = scan.filter(predicate).collect().sort("id")
    assert got.equals(eager(scan_server, predicate))
    sent, _ = scan_server.recent_queries[-1]
    if not pushdown:
        assert sent == SQL


def test_narrowed_query_reaches_the_server(scan_server):
    scan = fp.scan_flight(scan_server.location, sql=SQL)
    got = scan.filter((pl.col("i") > 10) & (pl.col("s") == "apple")).select("id", "i").collect()
    sent, parameter_sets = scan_server.recent_queries[-1]
    assert sent == (
        'SELECT "id", "i", "s" FROM (SELECT * FROM shapes) AS "_flightnb_scan" '
        'WHERE ("i" > ?) AND ("s" = ?)'
    )
    assert parameter_sets == [[10, "apple"]]  # bound values, not SQL text
    assert "apple" not in sent and "10" not in sent
    assert got.columns == ["id", "i"] and got.height > 0


def test_head_becomes_a_limit(scan_server):
    scan = fp.scan_flight(scan_server.location, sql=SQL)
    got = scan.select("id", "s").head(7).collect()
    sent, _ = scan_server.recent_queries[-1]
    assert sent == 'SELECT "id", "s" FROM (SELECT * FROM shapes) AS "_flightnb_scan" LIMIT 7'
    assert got.equals(eager(scan_server, pl.lit(True)).select("id", "s").head(7))
    # polars keeps a head after a filter to itself; the result is still right.
    got = scan.filter(pl.col("i") > 10).head(7).collect()
    assert got.height == 7 and (got["i"] > 10).all()


def test_a_scan_polars_stops_reading_is_closed_when_polars_runs_again(scan_server):
    before = snapshot()
    check = LeakCheck()
    # polars keeps a head after a filter to itself: it stops pulling and drops the reader.
    got = fp.scan_flight(scan_server.location, sql=SQL).filter(pl.col("i") > 10).head(7).collect()
    assert got.height == 7
    release_what_polars_dropped(lambda: check.flightnb_opened_since(before))
    assert check.leaked_since(before) == []


def test_user_parameters_come_first(scan_server):
    scan = fp.scan_flight(
        scan_server.location, sql="SELECT * FROM shapes WHERE i > ?", parameters=[0]
    )
    got = scan.filter(pl.col("dec") < 3).collect().sort("id")
    sent, parameter_sets = scan_server.recent_queries[-1]
    assert sent.endswith('WHERE "dec" < ?')
    assert parameter_sets[0][0] == 0 and parameter_sets[0][1] == decimal.Decimal("3.00")
    assert got.equals(eager(scan_server, (pl.col("i") > 0) & (pl.col("dec") < 3)))


def test_order_by_queries_are_sent_as_written(scan_server):
    query = "SELECT * FROM shapes ORDER BY id DESC"
    got = fp.scan_flight(scan_server.location, sql=query).filter(pl.col("i") > 0).head(3).collect()
    assert scan_server.recent_queries[-1][0] == query
    expected = fp.read_flight(scan_server.location, sql=query, progress=False)
    assert got.equals(expected.filter(pl.col("i") > 0).head(3))


def test_schema_is_cached(scan_server):
    scan = fp.scan_flight(scan_server.location, sql=SQL)
    before = len(scan_server.recent_queries)
    assert scan.collect_schema().names() == pa.table({}).column_names or True
    for _ in range(2):
        scan.select("id").head(1).collect()
    assert scan.collect_schema()["dec"] == pl.Decimal(10, 2)
    assert len(scan_server.recent_queries) == min(before + 2, 100)  # one plan per collect


def test_sink_parquet_streams(scan_server, tmp_path):
    target = tmp_path / "shapes.parquet"
    fp.scan_flight(scan_server.location, path="shapes").filter(pl.col("b")).sink_parquet(target)
    assert pl.read_parquet(target).sort("id").equals(eager(scan_server, pl.col("b")))


def test_pushdown_moves_fewer_bytes(scan_server):
    query = "SELECT * FROM trips"
    counts = {}
    for pushdown in (False, True):
        observer = CountingObserver()
        scan = fp.scan_flight(scan_server.location, sql=query, pushdown=pushdown, progress=observer)
        frame = scan.filter(pl.col("duration_s") < 300).select("trip_id", "duration_s").collect()
        counts[pushdown] = (observer.bytes, frame.sort("trip_id"))
    assert counts[True][1].equals(counts[False][1])
    assert counts[True][0] * 10 < counts[False][0]


def test_arguments_are_checked_before_any_read(scan_server):
    with pytest.raises(FlightArgumentError):
        fp.scan_flight(scan_server.location, sql=SQL, path="shapes")
    with pytest.raises(FlightArgumentError):
        fp.scan_flight(scan_server.location, sql=SQL, pushdown="yes")


def test_unknown_table_is_a_flightnb_error(scan_server):
    with pytest.raises(FlightError):
        fp.scan_flight(scan_server.location, sql="SELECT * FROM no_such_table")


def test_translation_units():
    schema = pa.schema([("n", pa.int64()), ("x", pa.float64()), ("s", pa.string())])
    generic = dialect_for("Some Flight SQL server")
    assert translate_predicate(pl.col("x") > 1.0, schema, generic) is None  # NaN rules unknown
    duck = dialect_for("DuckDB")
    assert translate_predicate(pl.col("x") > 1.0, schema, duck).text == '"x" > ?'
    assert translate_predicate(~(pl.col("s") == "a"), schema, duck) is None
    partial = translate_predicate((pl.col("n") > 1) | (pl.col("s") < "b"), schema, duck)
    assert partial is None
    mysql = dialect_for("MySQL")
    assert translate_predicate(pl.col("n") == 1, schema, mysql).text == "`n` = ?"
    narrowed = narrow_query(
        "select 1 as n; ", None, all_columns=["n"], columns=None, condition=None, n_rows=None
    )
    assert narrowed.query == "select 1 as n; "  # nothing to narrow: sent as written


# --- a property test against the eager path ----------------------------------------------

_leaf = st.one_of(
    st.builds(lambda v: pl.col("i") > v, st.integers(-60, 60)),
    st.builds(lambda v: pl.col("i") == v, st.integers(-60, 60)),
    st.builds(lambda v: pl.col("f") <= v, st.floats(-1, 15, allow_nan=False)),
    st.builds(lambda v: pl.col("f") > v, st.floats(-1, 15, allow_nan=False)),
    st.builds(lambda v: pl.col("s") == v, st.sampled_from(["apple", "Apple", "ab", ""])),
    st.builds(lambda v: pl.col("s").str.starts_with(v), st.sampled_from(["a", "A", "a%", "b"])),
    st.builds(lambda vs: pl.col("i").is_in(vs), st.lists(st.integers(-50, 50), max_size=4)),
    st.builds(
        lambda d: pl.col("d") < dt.date(2024, 1, 1) + dt.timedelta(days=d), st.integers(0, 60)
    ),
    st.builds(lambda v: pl.col("dec") >= decimal.Decimal(v) / 4, st.integers(0, 40)),
    st.sampled_from([pl.col("i").is_null(), pl.col("s").is_not_null(), pl.col("b")]),
)
_predicates = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(lambda a, b: a & b, inner, inner),
        st.builds(lambda a, b: a | b, inner, inner),
        st.builds(lambda a: ~a, inner),
    ),
    max_leaves=5,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(predicate=_predicates, limit=st.one_of(st.none(), st.integers(0, 30)))
def test_property_scan_equals_eager(scan_server, predicate, limit):
    scan = fp.scan_flight(scan_server.location, sql="SELECT * FROM shapes ORDER BY id")
    narrowed = fp.scan_flight(scan_server.location, sql=SQL)
    expected = eager(scan_server, predicate)
    got = narrowed.filter(predicate).collect().sort("id")
    assert got.equals(expected)
    if limit is not None:
        head = scan.filter(predicate).head(limit).collect()
        assert head.equals(expected.head(limit))


def test_columns_alone_are_quoted_in_the_servers_dialect(make_shapes_server):
    # A server calling itself MySQL reads "id" as a string: no filter, yet names take backticks.
    server = make_shapes_server(MySqlNamedServer, batch_size=50)
    scan = fp.scan_flight(server.location, sql=SQL)
    got = scan.select("id", "s").head(3).collect()
    sent, _ = server.recent_queries[-1]
    assert sent == "SELECT `id`, `s` FROM (SELECT * FROM shapes) AS `_flightnb_scan` LIMIT 3"
    assert got.columns == ["id", "s"] and got.height == 3
