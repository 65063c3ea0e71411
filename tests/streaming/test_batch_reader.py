"""open_flight / open_flight_async against real servers: concurrency, memory, order, errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from streaming_servers import STOP_WITHIN, PartsServer, dead_location, numbered, released_by

import flightnb
from flightnb.client.batch_stream import FlightReadStats, default_concurrency
from flightnb.functions.streaming import open_flight, open_flight_async


def _split(server: PartsServer, name: str, parts: int, rows: int, **options: object) -> pa.Table:
    """Register ``parts`` parts of ``rows`` rows on ``server``; returns the whole table."""
    for i in range(parts):
        server.add_part(f"{name}/{i}", numbered(rows, i * rows), **options)  # type: ignore[arg-type]
    return numbered(parts * rows)


def _endpoints(name: str, parts: int, *locations: str) -> list[flight.FlightEndpoint]:
    return [
        flight.FlightEndpoint(f"{name}/{i}".encode(), [locations[i % len(locations)]])
        for i in range(parts)
    ]


def _assert_stopped_early(part: Any) -> None:
    """The part's producer ended before it sent everything: its call was cancelled.

    (pyarrow's server stops pulling from the generator when the write to a cancelled call
    fails, without ``context.is_cancelled()`` turning true; the generator's end is the event.)
    A part given to this takes minutes to send in full, so an uncancelled one is still
    running after ``STOP_WITHIN`` seconds, or ended with everything sent.
    """
    assert part.wait_stopped(), f"the server still sends, {part.sent} batches so far"
    assert part.sent < part.batches, part.sent


# Rows of a part that an uncancelled call sends for minutes: a batch a row, 50 ms apart.
_LONG_ROWS = 3000


def test_every_endpoint_is_read_at_once(parts_server: PartsServer, second_parts_server) -> None:
    # No endpoint sends a batch before all eight calls are open at once, over two servers:
    # a client reading them one after the other never gets past the first.
    all_open = threading.Barrier(8, timeout=STOP_WITHIN)
    servers = (parts_server, second_parts_server)
    for server in servers:
        expected = _split(server, "wide", 8, 100, chunk=10, gate=all_open.wait)
    locations = [s.location for s in servers]
    parts_server.add_flight(
        "wide", _endpoints("wide", 8, *locations), expected.schema, ordered=True
    )
    with open_flight(parts_server.location, path="wide", progress=False) as reader:
        assert reader.schema.equals(expected.schema)
        assert len(reader.info.endpoints) == 8
        table = reader.read_all()
    assert table.equals(expected)  # ordered: endpoint order
    assert isinstance(reader.stats, FlightReadStats)
    assert reader.stats.rows == 800 and reader.stats.endpoints_done == 8


def test_default_concurrency_adapts() -> None:
    assert default_concurrency(3, 256 << 20) == 3
    assert default_concurrency(100, 512 << 20) == 16
    assert default_concurrency(100, 256 << 20) == 8  # 32 MiB per stream: twice its window
    assert default_concurrency(100, 64 << 20) == 2
    assert default_concurrency(100, 8 << 20) == 1
    assert default_concurrency(5, 1) == 1


def _after(server: PartsServer, *names: str) -> Callable[[], None]:
    """A part's gate that opens once the parts ``names`` sent all they have."""
    finished = [server.parts[name].finished for name in names]

    def gate() -> None:
        for event in finished:
            assert event.wait(STOP_WITHIN), f"{names} were not read alongside this part"

    return gate


def _last_to_send(server: PartsServer, gate: Any = None) -> None:
    """Parts o/0..o/2; o/0 sends only after o/1 and o/2 sent all theirs, or when ``gate`` opens."""
    server.add_part("o/1", numbered(10, 10))
    server.add_part("o/2", numbered(10, 20))
    server.add_part("o/0", numbered(10, 0), gate=gate or _after(server, "o/1", "o/2"))


def test_ordered_flights_come_in_endpoint_order(parts_server: PartsServer) -> None:
    # Endpoint 0 arrives last: arrival order would put it last.
    schema = numbered(1).schema
    endpoints = _endpoints("o", 3, parts_server.location)
    parts_server.add_flight("ordered", endpoints, schema, ordered=True)
    parts_server.add_flight("unordered", endpoints, schema, ordered=False)
    _last_to_send(parts_server)
    with open_flight(parts_server.location, path="ordered", progress=False) as reader:
        assert [b["n"][0].as_py() for b in reader] == [0, 10, 20]
    # Unordered: o/0 is let go only once the consumer has had two batches, which therefore
    # came from o/1 and o/2; a reader that kept endpoint order would hold them back.
    two_seen = threading.Event()
    _last_to_send(parts_server, released_by(two_seen))
    with open_flight(parts_server.location, path="unordered", progress=False) as reader:
        firsts = []
        for batch in reader:
            firsts.append(batch["n"][0].as_py())
            if len(firsts) == 2:
                two_seen.set()
    assert sorted(firsts) == [0, 10, 20] and firsts[-1] == 0  # arrival order
    # preserve_order overrides FlightInfo.ordered either way.
    _last_to_send(parts_server)
    with open_flight(
        parts_server.location, path="unordered", preserve_order=True, progress=False
    ) as reader:
        assert [b["n"][0].as_py() for b in reader] == [0, 10, 20]


def test_memory_is_bounded_and_the_server_is_held_back(parts_server: PartsServer) -> None:
    # 128 batches of ~1 MiB (one 8 MiB table sent 16 times); the client may hold 4 MiB.
    table = numbered(8 * 16, payload=64 << 10)
    parts_server.add_part("big", table, chunk=16, repeat=16)
    part = parts_server.parts["big"]
    budget = 4 << 20
    # What may be in flight while the consumer holds on: the client's 4 MiB, the 16 MiB
    # stream window and the loopback socket buffers (Linux grows each to at most 4 to 6 MiB):
    # some 30 batches are sent here, well under the limit. A client that buffers without a
    # bound lets the server reach the limit in a tenth of a second and run on to 128.
    limit = 64
    with open_flight(
        parts_server.location, ticket="big", max_buffer_bytes=budget, progress=False
    ) as reader:
        first = next(reader)
        # A slow consumer. The server reaches its window (at least the 16 MiB of it) ...
        assert part.wait_sent(16, STOP_WITHIN), part.sent
        # ... and stays held back. A broken bound reaches the limit in well under a second;
        # a loaded machine only makes the server slower, never faster.
        assert not part.wait_sent(limit, 2.0), part.sent
        rows = first.num_rows + sum(b.num_rows for b in reader)
    assert rows == table.num_rows * 16
    one_message = 1 << 20
    assert reader.stats.peak_buffered_bytes <= budget + 2 * one_message


def test_ordered_read_with_a_full_buffer_does_not_deadlock(parts_server: PartsServer) -> None:
    # Later endpoints fill the budget while the first (awaited) one has sent nothing: d/0
    # starts only once d/1..d/3 have sent all they have. (Four streams at once: within a
    # 256 KiB budget the default is one at a time.)
    for i in (1, 2, 3):
        parts_server.add_part(f"d/{i}", numbered(64, 64 * i, payload=16 << 10), chunk=8)
    gate = _after(parts_server, "d/1", "d/2", "d/3")
    parts_server.add_part("d/0", numbered(64, 0, payload=16 << 10), chunk=8, gate=gate)
    parts_server.add_flight(
        "d", _endpoints("d", 4, parts_server.location), numbered(1, payload=1).schema, ordered=True
    )
    with open_flight(
        parts_server.location,
        path="d",
        max_buffer_bytes=256 << 10,
        max_concurrency=4,
        timeout=2 * STOP_WITHIN,
        progress=False,
    ) as reader:
        values = pa.Table.from_batches(list(reader))["n"].to_pylist()
    assert values == list(range(256))


def test_stall_timeout_raises_and_consumer_pauses_do_not_count(parts_server: PartsServer) -> None:
    # The server stalls until the test is over: only stall_timeout can end the read (past
    # STOP_WITHIN the part fails with another error, so a broken timeout fails, not hangs).
    over = threading.Event()
    parts_server.add_part("stalls", numbered(30), chunk=10, gate=released_by(over))
    try:
        with pytest.raises(flightnb.FlightTimedOutError, match="stall_timeout"):
            with open_flight(
                parts_server.location, ticket="stalls", stall_timeout=0.2, progress=False
            ) as reader:
                reader.read_all()
    finally:
        over.set()
    # The consumer pauses longer than stall_timeout (load only lengthens the pause). The limit
    # is 2 s here, not 0.2 s: on a loaded machine the gap between two batches of a working
    # read may pass 0.2 s, which would fail the read for the wrong reason.
    parts_server.add_part("quick", numbered(300), chunk=10)
    with open_flight(
        parts_server.location, ticket="quick", stall_timeout=2.0, max_buffer_bytes=1, progress=False
    ) as reader:
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            if rows == 10:
                time.sleep(2.5)
    assert rows == 300


def test_failover_to_the_next_location(parts_server: PartsServer) -> None:
    parts_server.add_part("f", numbered(20))
    endpoint = flight.FlightEndpoint(b"f", [dead_location(), parts_server.location])
    parts_server.add_flight("failover", [endpoint], numbered(1).schema)
    table = open_flight(parts_server.location, path="failover", progress=False).read_all()
    assert table.equals(numbered(20))


def test_an_error_fails_the_read_and_cancels_the_rest(parts_server: PartsServer) -> None:
    parts_server.add_part("e/0", numbered(_LONG_ROWS), chunk=1, delay=0.05)
    parts_server.add_part("e/1", numbered(100), chunk=1, delay=0.05, fail_after=3)
    parts_server.add_flight("e", _endpoints("e", 2, parts_server.location), numbered(1).schema)
    with pytest.raises(flightnb.FlightInternalError, match="on purpose"):
        with open_flight(parts_server.location, path="e", progress=False) as reader:
            reader.read_all()
    _assert_stopped_early(parts_server.parts["e/0"])  # sending all of e/0 takes 150 s


def test_leaving_early_cancels_every_call(parts_server: PartsServer) -> None:
    _split(parts_server, "c", 3, _LONG_ROWS, chunk=1, delay=0.05)
    parts_server.add_flight("c", _endpoints("c", 3, parts_server.location), numbered(1).schema)
    with open_flight(parts_server.location, path="c", progress=False) as reader:
        next(reader)
    # Leaving did not wait for the parts (150 s each): they stopped part way.
    for i in range(3):
        _assert_stopped_early(parts_server.parts[f"c/{i}"])
    with pytest.raises(flightnb.FlightCancelledError):
        next(reader)


def test_cancel_from_another_thread_wakes_the_consumer(parts_server: PartsServer) -> None:
    parts_server.add_part("cx", numbered(_LONG_ROWS), chunk=1, delay=0.05)
    part = parts_server.parts["cx"]
    reader = open_flight(parts_server.location, ticket="cx", progress=False)

    def cancel_while_streaming() -> None:
        part.wait_sent(1, STOP_WITHIN)
        reader.cancel()

    canceller = threading.Thread(target=cancel_while_streaming)
    canceller.start()
    with pytest.raises(flightnb.FlightCancelledError):
        reader.read_all()
    canceller.join()
    reader.close()
    _assert_stopped_early(part)


def test_an_abandoned_reader_cancels_its_calls(parts_server: PartsServer) -> None:
    parts_server.add_part("gone", numbered(_LONG_ROWS), chunk=1, delay=0.05)
    reader = open_flight(parts_server.location, ticket="gone", progress=False)
    next(reader)
    del reader
    gc.collect()
    _assert_stopped_early(parts_server.parts["gone"])


def test_arrow_consumers_read_the_stream(parts_server: PartsServer) -> None:
    expected = _split(parts_server, "a", 3, 50)
    parts_server.add_flight(
        "a", _endpoints("a", 3, parts_server.location), expected.schema, ordered=True
    )
    with open_flight(parts_server.location, path="a", progress=False) as reader:
        batch_reader = reader.to_reader()
        assert isinstance(batch_reader, pa.RecordBatchReader)
        assert batch_reader.read_all().equals(expected)
    with open_flight(parts_server.location, path="a", progress=False) as reader:
        assert pa.table(reader).equals(expected)  # __arrow_c_stream__
    with open_flight(parts_server.location, path="a", progress=False) as reader:
        frame = pl.DataFrame(reader)  # polars' Arrow PyCapsule path
    assert isinstance(frame, pl.DataFrame) and frame["n"].to_list() == list(range(150))
    with open_flight(parts_server.location, path="a", progress=False) as reader:
        source = reader.to_reader()  # noqa: F841 - DuckDB finds it by name
        assert duckdb.sql("SELECT sum(n) FROM source").fetchall() == [(sum(range(150)),)]


def test_empty_streams_and_flights(parts_server: PartsServer) -> None:
    schema = numbered(1).schema
    parts_server.add_part("nothing", numbered(0))
    parts_server.add_flight("none", [], schema)
    with open_flight(parts_server.location, ticket="nothing", progress=False) as reader:
        table = reader.read_all()
    assert table.num_rows == 0 and table.schema.equals(schema)
    with open_flight(parts_server.location, path="none", progress=False) as reader:
        assert reader.schema.equals(schema) and list(reader) == []


def test_an_expiring_endpoint_is_renewed(parts_server: PartsServer) -> None:
    parts_server.add_part("exp", numbered(10))
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    expiration = pa.scalar(soon, pa.timestamp("us", tz="UTC"))
    endpoint = flight.FlightEndpoint(b"exp", [parts_server.location], expiration_time=expiration)
    parts_server.add_flight("exp", [endpoint], numbered(1).schema)
    assert open_flight(parts_server.location, path="exp", progress=False).read_all().num_rows == 10
    assert parts_server.renewed == [b"exp"]


def test_a_server_without_renewal_is_still_read() -> None:
    with PartsServer(renew_by=None) as server:
        server.add_part("exp", numbered(10))
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
        expiration = pa.scalar(past, pa.timestamp("us", tz="UTC"))
        endpoint = flight.FlightEndpoint(b"exp", [server.location], expiration_time=expiration)
        server.add_flight("exp", [endpoint], numbered(1).schema)
        assert open_flight(server.location, path="exp", progress=False).read_all().num_rows == 10


class _Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def started(self, *, info, parts, kind, cancel) -> None:
        self.events.append(f"started {parts}")

    def polled(self, progress) -> None:
        pass

    def progressed(self, part, stats) -> None:
        if f"part {part}" not in self.events:
            self.events.append(f"part {part}")

    def finished(self, error) -> None:
        self.events.append(f"finished {type(error).__name__}")


def test_progress_observer_sees_every_endpoint(parts_server: PartsServer) -> None:
    expected = _split(parts_server, "p", 2, 10)
    parts_server.add_flight("p", _endpoints("p", 2, parts_server.location), expected.schema)
    recorder = _Recorder()
    assert open_flight(parts_server.location, path="p", progress=recorder).read_all().num_rows == 20
    assert recorder.events[0] == "started 2" and recorder.events[-1] == "finished NoneType"
    assert {"part 0", "part 1"} <= set(recorder.events)


def test_open_flight_async_from_a_uri_and_from_an_async_client(parts_server: PartsServer) -> None:
    expected = _split(parts_server, "as", 3, 20)
    parts_server.add_flight(
        "as", _endpoints("as", 3, parts_server.location), expected.schema, ordered=True
    )

    async def main() -> None:
        async with await open_flight_async(parts_server.location, path="as", progress=False) as r:
            assert [b async for b in r] == expected.to_batches(max_chunksize=20)
        reader = await open_flight_async(parts_server.location, path="as", progress=False)
        assert reader.to_reader().read_all().equals(expected)  # runs on flightnb's thread
        async with flightnb.AsyncFlightClient(parts_server.location) as client:
            async with await open_flight_async(client, path="as", progress=False) as r:
                assert (await r.read_all()).equals(expected)
                with pytest.raises(flightnb.FlightArgumentError, match="deadlock"):
                    r.to_reader()

    asyncio.run(main())


def test_bad_arguments_fail_before_any_call(parts_server: PartsServer) -> None:
    with pytest.raises(flightnb.FlightArgumentError):
        open_flight(parts_server.location, progress=False)
    with pytest.raises(flightnb.FlightArgumentError):
        open_flight(parts_server.location, ticket="x", max_buffer_bytes=0)
    with pytest.raises(flightnb.FlightArgumentError):
        open_flight(parts_server.location, ticket="x", stall_timeout=0)
    with pytest.raises(flightnb.FlightArgumentError):
        open_flight(flightnb.AsyncFlightClient(parts_server.location), ticket="x")


def test_sql_queries_stream_too(flight_server) -> None:  # the standard server is no SQL server
    with pytest.raises(flightnb.FlightError):
        open_flight(flight_server.location, sql="SELECT 1", progress=False)
