"""scan_flight against servers lacking a capability: no parameter binding, placeholder schemas.

The servers are the embedded DuckDB server with one capability taken away
(:mod:`fallback_servers`); each result is compared with the eager read of the same query,
filtered by polars.
"""

from __future__ import annotations

import datetime as dt
import decimal

import grpc
import polars as pl
import pytest
from fallback_servers import (
    NoBindingServer,
    NoPreparedStatementServer,
    NoSubqueryServer,
    PlaceholderSchemaServer,
)

import flightnb
import flightnb.polars as fp
from flightnb.errors import FlightCapabilityError, FlightNotImplementedError
from flightnb.sql import FlightSqlClient
from flightnb.sql.capabilities import capabilities_of

SQL = "SELECT * FROM shapes"

PREDICATES = {
    "int": pl.col("i") > 10,
    "negative_int": pl.col("i") >= -13,
    "float": pl.col("f") <= 5.25,
    "is_in": pl.col("i").is_in([1, 2, 3, -13]),
    "strings": pl.col("s").is_in(["apple", "ab", "zzz", "it's"]),
    "string_quote": pl.col("s") == "a'b",
    "string_backslash": pl.col("s") == "a\\b",
    "starts_with": pl.col("s").str.starts_with("a%"),
    "starts_with_underscore": pl.col("s").str.starts_with("a_"),
    "bool": pl.col("b"),
    "not_bool": ~pl.col("b"),
    "date": pl.col("d") >= dt.date(2024, 2, 1),
    "timestamp": pl.col("ts") < dt.datetime(2024, 2, 1, 12, 30, 0, 250),
    "decimal": pl.col("dec") == decimal.Decimal("2.50"),
    "between": pl.col("i").is_between(-5, 5),
    "or": (pl.col("i") > 40) | pl.col("s").is_null(),
    "mixed": (pl.col("i") > 0) & (pl.col("s").str.len_chars() > 3),
}


def eager(server, predicate):
    frame = fp.read_flight(server.location, sql=SQL, progress=False)
    return frame.filter(predicate).sort("id")


@pytest.mark.parametrize("name", sorted(PREDICATES))
def test_filters_are_written_as_literals_when_binding_is_refused(no_binding_server, name):
    predicate = PREDICATES[name]
    scan = fp.scan_flight(no_binding_server.location, sql=SQL)
    got = scan.filter(predicate).collect().sort("id")
    sent, parameter_sets = no_binding_server.recent_queries[-1]
    assert parameter_sets == [None]  # nothing bound: the values are in the text
    assert "?" not in sent and "WHERE" in sent
    assert got.equals(eager(no_binding_server, predicate))


def test_literals_reach_the_server(no_binding_server):
    scan = fp.scan_flight(no_binding_server.location, sql=SQL)
    predicate = (pl.col("i") > -3) & (pl.col("s") == "it's") & (pl.col("d") < dt.date(2024, 2, 1))
    scan.filter(predicate).select("id").collect()
    sent, _ = no_binding_server.recent_queries[-1]
    assert sent.startswith(
        'SELECT "id", "i", "s", "d" FROM (SELECT * FROM shapes) AS "_flightnb_scan" WHERE '
    )
    for literal in ['"i" > (-3)', "\"s\" = 'it''s'", "\"d\" < DATE '2024-02-01'"]:
        assert literal in sent


def test_explain_names_the_fallback(no_binding_server, scan_server):
    lacking = fp.scan_flight(no_binding_server.location, sql=SQL).filter(pl.col("i") > 1)
    assert "filter values written as SQL literals" in lacking.explain()
    binding = fp.scan_flight(scan_server.location, sql=SQL).filter(pl.col("i") > 1)
    assert "filter values bound as parameters" in binding.explain()


def test_a_client_remembers_that_binding_is_refused(no_binding_server):
    with FlightSqlClient(no_binding_server.location) as client:
        before = no_binding_server.refused
        first = fp.scan_flight(client, sql=SQL).filter(pl.col("i") > 1).collect()
        assert no_binding_server.refused == before + 1  # the empty binding tried once
        found = capabilities_of(client.flight_client.async_client)
        assert found.parameter_binding is False
        assert "do_put_prepared_statement_query" in (found.binding_answer or "")
        second = fp.scan_flight(client, sql=SQL).filter(pl.col("i") > 1).collect()
        assert no_binding_server.refused == before + 1  # not asked again
        assert first.sort("id").equals(second.sort("id"))


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.FAILED_PRECONDITION]
)
def test_a_refusal_at_the_first_real_binding_falls_back_too(make_shapes_server, code):
    # The empty binding tried when the scan is made is accepted; the real one is not.
    server = make_shapes_server(NoBindingServer, batch_size=50, code=code, refuse_empty=False)
    scan = fp.scan_flight(server.location, sql=SQL)
    assert "bound as parameters" in scan.explain()
    predicate = pl.col("i").is_in([1, 2, 3]) | (pl.col("s") == "apple")
    got = scan.filter(predicate).collect().sort("id")
    assert got.equals(eager(server, predicate))
    assert server.refused == 1
    assert server.recent_queries[-1][1] == [None]
    # The scan remembers: the next collect does not try to bind again.
    scan.filter(predicate).collect()
    assert server.refused == 1


def test_the_querys_own_parameters_fail_in_one_typed_line(no_binding_server):
    query = "SELECT * FROM shapes WHERE i > ?"
    with pytest.raises(FlightCapabilityError) as eager_error:
        flightnb.read_flight(no_binding_server.location, sql=query, parameters=[0])
    scan = fp.scan_flight(no_binding_server.location, sql=query, parameters=[0])
    with pytest.raises(FlightCapabilityError) as lazy_error:
        scan.filter(pl.col("i") < 10).collect()
    for error in (eager_error.value, lazy_error.value):
        text = str(error)
        assert "\n" not in text
        assert text.startswith("this server does not support parameter binding")
        assert "do_put_prepared_statement_query not implemented" in text
        assert "write the values into the SQL text" in text
        assert error.capability == "parameter binding"
        assert isinstance(error, FlightNotImplementedError)


def test_eager_and_lazy_agree_without_a_filter(no_binding_server):
    scan = fp.scan_flight(no_binding_server.location, sql=SQL)
    assert scan.collect().sort("id").equals(eager(no_binding_server, pl.lit(True)))
    assert scan.head(7).collect().height == 7


def test_a_placeholder_schema_is_replaced_by_get_schema(placeholder_schema_server):
    scan = fp.scan_flight(placeholder_schema_server.location, sql=SQL)
    assert "DO_NOT_USE" not in scan.collect_schema().names()
    assert scan.collect_schema().names() == ["id", "i", "f", "s", "d", "ts", "dec", "b"]
    assert "schema from GetSchema" in scan.explain()
    predicate = (pl.col("i") > 10) & (pl.col("s") == "apple")
    got = scan.filter(predicate).select("id", "s").collect().sort("id")
    assert got.equals(eager(placeholder_schema_server, predicate).select("id", "s"))


def test_without_get_schema_the_first_batch_gives_the_schema(make_shapes_server):
    server = make_shapes_server(PlaceholderSchemaServer, batch_size=50, answers_get_schema=False)
    scan = fp.scan_flight(server.location, sql=SQL)
    assert scan.collect_schema().names() == ["id", "i", "f", "s", "d", "ts", "dec", "b"]
    assert "schema from first batch" in scan.explain()
    got = scan.filter(pl.col("i") > 10).select("id").collect().sort("id")
    assert got.equals(eager(server, pl.col("i") > 10).select("id"))


def test_a_refused_narrowed_query_is_sent_as_written(make_shapes_server, caplog):
    server = make_shapes_server(NoSubqueryServer, batch_size=50)
    scan = fp.scan_flight(server.location, sql=SQL)
    predicate = (pl.col("i") > 10) & (pl.col("s") == "apple")
    with caplog.at_level("WARNING", logger="flightnb.scan"):
        got = scan.filter(predicate).select("id", "s").collect().sort("id")
    assert server.recent_queries[-1][0] == SQL
    assert got.equals(eager(server, predicate).select("id", "s"))
    (record,) = [r for r in caplog.records if r.name == "flightnb.scan"]
    assert "refused the narrowed query" in record.getMessage()
    assert 'syntax error at or near "("' in record.getMessage()
    # Learnt: the next collect sends the query as written at once, without a warning.
    caplog.clear()
    before = len(server.recent_queries)
    assert scan.filter(predicate).head(2).collect().height == 2
    assert [q for q, _ in server.recent_queries[before:]] == [SQL]
    assert not [r for r in caplog.records if r.name == "flightnb.scan"]


def test_a_query_the_server_refuses_fails_as_the_eager_read_does(no_binding_server):
    query = "SELECT no_such_column FROM shapes"
    with pytest.raises(flightnb.FlightError) as eager_error:
        flightnb.read_flight(no_binding_server.location, sql=query)
    with pytest.raises(type(eager_error.value)):
        fp.scan_flight(no_binding_server.location, sql=query)


def test_the_capability_error_pickles_as_what_it_says(no_binding_server):
    import pickle

    with pytest.raises(FlightCapabilityError) as raised:
        flightnb.read_flight(no_binding_server.location, sql=SQL, parameters=[1])
    copy = pickle.loads(pickle.dumps(raised.value))
    assert type(copy) is FlightCapabilityError
    assert str(copy) == str(raised.value)
    assert (copy.capability, copy.fallback, copy.code) == (
        raised.value.capability,
        raised.value.fallback,
        "UNIMPLEMENTED",
    )


def test_a_server_without_prepared_statements(make_shapes_server):
    server = make_shapes_server(NoPreparedStatementServer, batch_size=50)
    scan = fp.scan_flight(server.location, sql=SQL)
    plan = scan.filter(pl.col("i") > 1).explain()
    assert "filter values written as SQL literals" in plan
    assert "schema from GetSchema (the server has no prepared statements)" in plan
    predicate = (pl.col("i") > 10) & (pl.col("s") == "apple")
    got = scan.filter(predicate).select("id", "s").collect().sort("id")
    sent, parameter_sets = server.recent_queries[-1]
    assert "WHERE" in sent and "'apple'" in sent and parameter_sets == [None]
    assert got.equals(eager(server, predicate).select("id", "s"))
