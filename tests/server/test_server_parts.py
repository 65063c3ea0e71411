"""The server's parts alone: the ticket format, the cancellation registry, the dispatch base."""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import grpc
import pyarrow as pa
import pyarrow.flight as flight
import pytest

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.protocol.commands import pack
from flightnb.server.cancellation import CancellationRegistry
from flightnb.server.dispatch import FlightSqlServerBase, UploadMode, parse_path
from flightnb.server.errors import ServerError
from flightnb.server.metadata import table_types_table
from flightnb.server.tickets import (
    CommandTicket,
    InlineTicket,
    KeptTicket,
    PreparedTicket,
    QueryTicket,
    TableTicket,
    TicketError,
    decode_ticket,
    encode_ticket,
)

HEAVY = "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"


@pytest.mark.parametrize(
    "ticket",
    [
        QueryTicket("SELECT 1", b"\x01\x02", "n1"),
        QueryTicket("SELECT 2"),
        PreparedTicket(b"handle"),
        InlineTicket(b"ipc bytes"),
        KeptTicket(b"key"),
        TableTicket(("main", "trips"), (10, 20), "n2"),
        TableTicket(("trips",)),
        CommandTicket(sql.CommandGetCatalogs()),
    ],
)
def test_tickets_round_trip(ticket: Any) -> None:
    assert decode_ticket(encode_ticket(ticket)) == ticket


def test_plain_table_name_tickets() -> None:
    assert decode_ticket(b"trips") == TableTicket(("trips",))
    assert decode_ticket(b"memory.main.trips").path == ("memory", "main", "trips")
    for bad in (b"a.b.c.d", b"\xff\xfe", b"tab\x00le", b"a..b"):
        with pytest.raises(TicketError):
            decode_ticket(bad)


def test_upload_modes_from_paths() -> None:
    assert parse_path(flight.FlightDescriptor.for_path("t")) == (("t",), UploadMode.CREATE)
    descriptor = flight.FlightDescriptor.for_path("s", "t?mode=replace")
    assert parse_path(descriptor) == (("s", "t"), UploadMode.REPLACE)
    with pytest.raises(ServerError, match="unknown path option") as info:
        parse_path(flight.FlightDescriptor.for_path("t?mode=merge"))
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT


class _Call:
    """A call whose client can give up, as ``ServerCall.is_cancelled`` reports."""

    def __init__(self) -> None:
        self.gone = threading.Event()

    def is_cancelled(self) -> bool:
        return self.gone.is_set()


def test_registry_interrupts_duckdb_when_the_call_goes() -> None:
    registry = CancellationRegistry(poll_interval=0.02)
    con = duckdb.connect()
    call = _Call()
    try:
        # The call goes while DuckDB computes: the query would run for minutes, so only the
        # registry's interrupt can end it, and no wall-clock bound is needed.
        threading.Timer(0.5, call.gone.set).start()
        with pytest.raises(ServerError, match="client cancelled") as info:
            with registry.running(con, context=call) as execution:
                try:
                    con.execute(HEAVY).fetchall()
                except duckdb.InterruptException:
                    execution.check()
                    raise
        assert info.value.code is grpc.StatusCode.CANCELLED
        assert registry.running_count == 0
    finally:
        registry.close()
        con.close()


def test_registry_remembers_cancelled_tickets() -> None:
    registry = CancellationRegistry()
    con = duckdb.connect()
    try:
        registry.cancel_ticket(b"t1")
        assert registry.is_ticket_cancelled(b"t1")
        with pytest.raises(ServerError, match="cancelled"):
            with registry.running(con, ticket=b"t1"):
                pass
        registry.cancel_ticket(b"t2", remember=False)
        with registry.running(con, ticket=b"t2") as execution:
            assert not execution.cancelled
    finally:
        registry.close()
        con.close()


class _TableTypesOnly(FlightSqlServerBase):
    """A backend that answers one metadata command and nothing else."""

    def do_get_metadata(self, context: Any, command: Any) -> pa.Table:
        if isinstance(command, sql.CommandGetTableTypes):
            return table_types_table()
        return super().do_get_metadata(context, command)


def test_dispatch_base_calls_typed_methods() -> None:
    server = _TableTypesOnly("grpc://127.0.0.1:0")
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    try:
        descriptor = flight.FlightDescriptor.for_command(pack(sql.CommandGetTableTypes()))
        info = client.get_flight_info(descriptor)
        assert info.total_records == 3
        assert client.do_get(info.endpoints[0].ticket).read_all().num_rows == 3
        for command in (sql.CommandStatementQuery(query="SELECT 1"), sql.CommandGetCatalogs()):
            with pytest.raises(pa.ArrowNotImplementedError, match="not supported"):
                client.get_flight_info(flight.FlightDescriptor.for_command(pack(command)))
        with pytest.raises(pa.ArrowNotImplementedError, match="PATH uploads"):
            writer, _ = client.do_put(flight.FlightDescriptor.for_path("t"), pa.schema([]))
            writer.close()
    finally:
        client.close()
        server.shutdown()


@pytest.mark.parametrize("module", ["tickets", "cancellation", "tables"])
def test_module_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"flightnb.server.{module}"))
    assert result.attempted > 0 and result.failed == 0


def test_table_plans_alone() -> None:
    from flightnb.server.tables import plan_table, table_query

    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(10)")
        con.execute("CREATE VIEW v AS SELECT * FROM t")
        plan = plan_table(con, ("t",), endpoints=3)
        assert (plan.rows, len(plan.tickets)) == (10, 3)
        assert plan.bytes == con.sql("SELECT * FROM t").to_arrow_table().nbytes
        rows = [row for t in plan.tickets for row in con.sql(table_query(t)).fetchall()]
        assert rows == [(i,) for i in range(10)]
        assert len(plan_table(con, ("v",), endpoints=3).tickets) == 1
    finally:
        con.close()


def test_sample_trips_build_at_millions_of_rows() -> None:
    # pyarrow splits a large numpy string array into chunks, which ListArray cannot take.
    from flightnb.server.sample_data import trips_table

    trips = trips_table(3_000_000)
    assert trips.num_rows == 3_000_000
    assert trips.column("tags").null_count > 0
