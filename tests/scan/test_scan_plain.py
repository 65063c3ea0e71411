"""scan_flight over plain Flight servers: filters per batch, early stops, errors."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest
from flight_servers import Endpoint, FlightTestServer
from scan_helpers import CountingObserver

import flightnb.polars as fp
from flightnb import FlightClient
from flightnb.errors import FlightArgumentError, FlightError, FlightUnavailableError
from flightnb.scan.source import POLARS_1

# Far longer than a cancelled stream takes to end, far shorter than the stream itself.
STOP_WITHIN = 30.0


def test_whole_flight_matches_eager(flight_location):
    scan = fp.scan_flight(flight_location, path=["multi", "ordered"])
    expected = fp.read_flight(flight_location, path=["multi", "ordered"], progress=False)
    assert scan.collect().equals(expected)
    predicate = (pl.col("n") % 3 == 0) & pl.col("s").is_not_null()
    got = scan.filter(predicate).select("s").collect()
    assert got.equals(expected.filter(predicate).select("s"))


def _slow_tables(server: FlightTestServer, *names: str) -> None:
    """Tables of 3000 batches with a 50 ms pause before each: 150 s to send in full."""
    table = pa.table({"n": pa.array(range(100 * 3000), pa.int64())})
    for name in names:
        server.add_table(name, table, max_chunksize=100, delay=0.05)


def _assert_ended_early(server: FlightTestServer, name: str) -> None:
    """The stream of ``name`` ended (its call was cancelled) long before it sent everything."""
    watch = server.watch(name)
    assert watch.ended.wait(STOP_WITHIN), f"the server still sends {name}, {watch.sent} so far"
    assert watch.sent < 3000, watch.sent


def test_head_reads_only_a_few_batches():
    # Three endpoints of 150 s each: head() needs one batch, and stops every stream it opened.
    # (Counting the batches received would time the client: a fast server fills a slow
    # client's buffer before head() can stop it.)
    with FlightTestServer() as server:
        names = [f"slow/{i}" for i in range(3)]
        _slow_tables(server, *names)
        endpoints = [Endpoint(name.encode()) for name in names]
        server.add_flight("slow3", endpoints, schema=server.table(names[0]).schema)
        observer = CountingObserver()
        frame = fp.scan_flight(server.location, path="slow3", progress=observer).head(10)
        assert frame.collect()["n"].to_list() == list(range(10))
        opened = [name for name in names if server.watch(name).sent]
        assert opened
        for name in opened:
            _assert_ended_early(server, name)
        assert observer.batches < 3 * 3000


def test_head_cancels_a_slow_stream():
    # head() has what it needs after two batches; the server then sees its call cancelled
    # (its producer ends part way), long before it could have sent everything.
    with FlightTestServer() as server:
        _slow_tables(server, "slow")
        frame = fp.scan_flight(server.location, ticket="slow").head(150).collect()
        assert frame["n"].to_list() == list(range(150))
        _assert_ended_early(server, "slow")


def test_scan_from_a_client(flight_location):
    with FlightClient(flight_location) as client:
        scan = fp.scan_flight(client, ticket="numbers")
        assert scan.select(pl.len()).collect().item() == 10_000


def test_client_options_with_a_client_are_refused(flight_location):
    with FlightClient(flight_location) as client:
        with pytest.raises(FlightArgumentError, match=r"client options \(token\) only apply"):
            fp.scan_flight(client, path="numbers", token="t")


def test_empty_flight_has_its_schema(flight_location):
    frame = fp.scan_flight(flight_location, path="empty").collect()
    expected = fp.read_flight(flight_location, path="empty", progress=False)
    assert frame.height == 0 and frame.schema == expected.schema


def test_planning_error_is_a_flightnb_error(flight_location):
    with pytest.raises(FlightError):
        fp.scan_flight(flight_location, path=["error", "unauthorized"])


def test_stream_error_surfaces_as_the_flightnb_error(flight_location):
    # Two batches, then UNAVAILABLE; polars 1.x wraps it in a ComputeError, which the scan's
    # LazyFrame turns back into the flightnb error.
    scan = fp.scan_flight(flight_location, ticket="error_after/unavailable")
    with pytest.raises(FlightUnavailableError) as caught:
        scan.filter(pl.col(scan.collect_schema().names()[0]).is_not_null()).collect()
    assert isinstance(caught.value, FlightError)
    if POLARS_1:
        assert isinstance(caught.value.__cause__, pl.exceptions.ComputeError)
