"""PollFlightInfo, schema-less empty streams, CancelQuery and servers without transactions.

The embedded server is built on pyarrow.flight, which has no PollFlightInfo; these tests use a
small grpc.aio Flight SQL server (tests/raw_server.py) that answers exactly what they need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import grpc
import pyarrow as pa
import pytest
from counting_proxy import CountingProxy
from raw_server import RawFlightServer
from sql_client_helpers import RecordingObserver

import flightnb
from flightnb import (
    AsyncFlightSqlClient,
    CancelStatus,
    FlightClient,
    FlightNotImplementedError,
    FlightSqlClient,
    FlightTimedOutError,
    read_flight,
)
from flightnb._proto import Flight_pb2 as pb
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.codec import FlightDataEncoder
from flightnb.protocol.commands import pack, unpack
from flightnb.server.sql_info import Int32, sql_info_table
from flightnb.sql import PollPolicy

DATA = pa.table({"n": pa.array(range(30), pa.int64()), "s": [f"v{i}" for i in range(30)]})
FAST = PollPolicy(initial_interval=0.001, max_interval=0.005)


def _flight_data(table: pa.Table, *, schema_message: bool = True) -> Iterator[pb.FlightData]:
    encoder = FlightDataEncoder(table.schema)
    if schema_message:
        yield pb.FlightData.FromString(encoder.schema_message())
    for batch in table.to_batches(max_chunksize=10):
        for message in encoder.encode_batch(batch):
            yield pb.FlightData.FromString(message)


class SqlBackend:
    """A Flight SQL server that plans every query in ``polls_needed`` polls.

    ``query`` decides what a statement returns: ``"SELECT data"`` gives :data:`DATA` in two
    endpoints, ``"SELECT nothing"`` an empty stream without even a schema message.
    """

    def __init__(
        self,
        *,
        polls_needed: int = 4,
        poll: bool = True,
        transactions: bool = True,
        cancel_flight_info: bool = True,
    ) -> None:
        self.polls_needed = polls_needed
        self.poll = poll
        self.transactions = transactions
        self.cancel_flight_info = cancel_flight_info
        self.polls = 0
        self.get_flight_infos = 0
        self.actions: list[str] = []
        self.cancelled: list[bytes] = []

    def handlers(self) -> dict[str, Any]:
        handlers = {
            "GetFlightInfo": self.GetFlightInfo,
            "DoGet": self.DoGet,
            "DoAction": self.DoAction,
        }
        if self.poll:
            handlers["PollFlightInfo"] = self.PollFlightInfo
        return handlers

    def _info(self, request: pb.FlightDescriptor) -> pb.FlightInfo:
        command = unpack(request.cmd)
        if isinstance(command, sql.CommandGetSqlInfo):
            table = self._sql_info(list(command.info))
            tickets = [request.cmd]
        elif command.query == "SELECT nothing":
            table, tickets = DATA.schema.empty_table(), [b"nothing"]
        else:
            table, tickets = DATA, [b"part-0", b"part-1"]
        info = pb.FlightInfo(
            schema=table.schema.serialize().to_pybytes(),
            flight_descriptor=request,
            total_records=table.num_rows,
            total_bytes=-1,
            ordered=True,
        )
        for ticket in tickets:
            info.endpoint.add(ticket=pb.Ticket(ticket=ticket))
        return info

    def _sql_info(self, codes: list[int]) -> pa.Table:
        level = (
            sql.SQL_SUPPORTED_TRANSACTION_TRANSACTION
            if self.transactions
            else sql.SQL_SUPPORTED_TRANSACTION_NONE
        )
        return sql_info_table(
            {sql.FLIGHT_SQL_SERVER_NAME: "raw", sql.FLIGHT_SQL_SERVER_TRANSACTION: Int32(level)},
            codes,
        )

    async def GetFlightInfo(self, request: pb.FlightDescriptor, context: Any) -> pb.FlightInfo:
        self.get_flight_infos += 1
        return self._info(request)

    async def PollFlightInfo(self, request: pb.FlightDescriptor, context: Any) -> pb.PollInfo:
        self.polls += 1
        # Each poll's descriptor carries the number of polls so far after the command.
        done = request.path[0] if request.path else "0"
        step = int(done) + 1
        original = pb.FlightDescriptor(type=pb.FlightDescriptor.CMD, cmd=request.cmd)
        info = self._info(original)
        if step < self.polls_needed:
            following = pb.FlightDescriptor(
                type=pb.FlightDescriptor.CMD, cmd=request.cmd, path=[str(step)]
            )
            partial = pb.FlightInfo(
                schema=info.schema, flight_descriptor=original, total_records=-1, total_bytes=-1
            )
            partial.endpoint.add(ticket=pb.Ticket(ticket=b"running"))
            return pb.PollInfo(
                info=partial, flight_descriptor=following, progress=step / self.polls_needed
            )
        return pb.PollInfo(info=info, progress=1.0)

    async def DoGet(self, request: pb.Ticket, context: Any) -> Any:
        ticket = request.ticket
        if ticket == b"nothing":
            return  # no schema message, no batches
        if ticket.startswith(b"part-"):
            half = int(ticket[5:]) * 15
            for message in _flight_data(DATA.slice(half, 15)):
                yield message
            return
        command = unpack(ticket)
        for message in _flight_data(self._sql_info(list(command.info))):
            yield message

    async def DoAction(self, request: pb.Action, context: Any) -> Any:
        self.actions.append(request.type)
        if request.type == "CancelFlightInfo" and self.cancel_flight_info:
            info = pb.CancelFlightInfoRequest.FromString(request.body).info
            self.cancelled.extend(e.ticket.ticket for e in info.endpoint)
            yield pb.Result(
                body=pb.CancelFlightInfoResult(
                    status=pb.CANCEL_STATUS_CANCELLED
                ).SerializeToString()
            )
        elif request.type == "CancelQuery":
            body = unpack(request.body)
            info = pb.FlightInfo.FromString(body.info)
            self.cancelled.extend(e.ticket.ticket for e in info.endpoint)
            result = sql.ActionCancelQueryResult(
                result=sql.ActionCancelQueryResult.CANCEL_RESULT_CANCELLING
            )
            yield pb.Result(body=pack(result))
        elif request.type == "BeginTransaction" and self.transactions:
            yield pb.Result(body=pack(sql.ActionBeginTransactionResult(transaction_id=b"t1")))
        elif request.type == "EndTransaction":
            return
        else:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"no action {request.type}")


def _serve(**options: Any) -> Any:
    backend = SqlBackend(**options)
    server = RawFlightServer(backend.handlers())
    server.backend = backend  # type: ignore[attr-defined]
    return server


def test_query_polls_and_reports_progress_before_data() -> None:
    with _serve(polls_needed=4) as server:
        observer = RecordingObserver()
        with FlightSqlClient(server.location, poll=FAST) as client:
            table = client.query("SELECT data", observer=observer)
        assert table.equals(DATA)
        assert server.backend.polls == 4 and server.backend.get_flight_infos == 0
    names = observer.names()
    assert names[0] == "started" and names[-1] == "finished"
    polled = [value for name, value in observer.calls if name == "polled"]
    assert polled == [0.25, 0.5, 0.75, 1.0]
    assert names.index("progressed") > max(i for i, n in enumerate(names) if n == "polled")
    assert names.count("finished") == 1
    assert observer.calls[-1] == ("finished", None)
    # The read announced the final FlightInfo (its totals) after polling.
    infos = [value for name, value in observer.calls if name == "started" and value is not None]
    assert infos and infos[0].total_records == 30


def test_read_flight_sql_polls_with_progress() -> None:
    with _serve(polls_needed=2) as server:
        observer = RecordingObserver()
        frame = flightnb.read_flight(
            server.location, sql="SELECT data", progress=observer, to="arrow"
        )
        assert frame.equals(DATA)
    assert [v for n, v in observer.calls if n == "polled"] == [0.5, 1.0]


def test_execute_polls_until_complete() -> None:
    with _serve(polls_needed=3) as server:
        observer = RecordingObserver()
        with FlightSqlClient(server.location, poll=FAST) as client:
            info = client.execute("SELECT data", observer=observer)
        assert [e.ticket.ticket for e in info.endpoints] == [b"part-0", b"part-1"]
    assert observer.names() == ["started", "polled", "polled", "polled", "finished"]


def test_polling_is_bounded_and_cancels() -> None:
    with _serve(polls_needed=1000) as server:

        async def run() -> None:
            policy = PollPolicy(initial_interval=0.001, max_interval=0.002, max_polls=5)
            async with AsyncFlightSqlClient(server.location, poll=policy) as client:
                await client.query("SELECT data")

        with pytest.raises(FlightTimedOutError, match="after 5 PollFlightInfo"):
            asyncio.run(run())
        assert server.backend.polls == 5
        assert server.backend.cancelled == [b"running"]

        async def run_timeout() -> None:
            policy = PollPolicy(initial_interval=0.01, max_interval=0.01, timeout=0.05)
            async with AsyncFlightSqlClient(server.location, poll=policy) as client:
                await client.query("SELECT data")

        with pytest.raises(FlightTimedOutError, match=r"in 0\.05 s"):
            asyncio.run(run_timeout())


def test_falls_back_to_get_flight_info_once() -> None:
    with _serve(poll=False) as server:
        with FlightSqlClient(server.location) as client:
            assert client.query("SELECT data").equals(DATA)
            assert client.query("SELECT data").equals(DATA)
        assert server.backend.get_flight_infos == 2
    with _serve() as server:
        with FlightSqlClient(server.location, poll=False) as client:
            assert client.query("SELECT data").equals(DATA)
        assert server.backend.polls == 0 and server.backend.get_flight_infos == 1


def test_one_call_queries_on_a_kept_client_ask_for_polling_once() -> None:
    """``read_flight(client, sql=...)`` pays the PollFlightInfo probe once per client.

    Each call makes a SQL client of its own; without a server's PollFlightInfo the probe
    costs a call, a round trip over a long link, so the answer is kept with the client.
    """
    with _serve(poll=False) as server:
        with CountingProxy(f"127.0.0.1:{server.port}") as proxy:
            with FlightClient(proxy.uri()) as client:
                for _ in range(3):
                    table = read_flight(client, sql="SELECT data", progress=False)
                    assert table.equals(DATA)
            # The probe, then GetFlightInfo and two DoGets per query.
            assert proxy.counts() == (1, 1 + 3 * 3)
        assert server.backend.get_flight_infos == 3


def test_empty_stream_without_schema_uses_flight_info_schema() -> None:
    with _serve(poll=False) as server, FlightSqlClient(server.location) as client:
        table = client.query("SELECT nothing")
    assert table.num_rows == 0
    assert table.schema == DATA.schema


def test_cancel_falls_back_to_cancel_query() -> None:
    with _serve(cancel_flight_info=False) as server:
        with FlightSqlClient(server.location, poll=FAST) as client:
            info = client.execute("SELECT data")
            assert client.cancel(info) is CancelStatus.CANCELLING
        assert server.backend.actions == ["CancelFlightInfo", "CancelQuery"]
        assert server.backend.cancelled == [b"part-0", b"part-1"]


def test_transactions_refused_when_sql_info_says_none() -> None:
    with _serve(poll=False, transactions=False) as server:
        with FlightSqlClient(server.location) as client:
            with pytest.raises(FlightNotImplementedError, match="does not support transactions"):
                client.begin_transaction()
            assert client.get_sql_info()["FLIGHT_SQL_SERVER_NAME"] == "raw"
        assert "BeginTransaction" not in server.backend.actions
    with _serve(poll=False) as server, FlightSqlClient(server.location) as client:
        with client.begin_transaction() as txn:
            assert txn.id == b"t1"
        assert server.backend.actions == ["BeginTransaction", "EndTransaction"]
