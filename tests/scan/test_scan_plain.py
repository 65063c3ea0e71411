"""scan_flight over plain Flight servers: filters per batch, early stops, errors."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest
from flight_servers import FlightTestServer
from scan_helpers import CountingObserver

import flightnb.polars as fp
from flightnb import FlightClient
from flightnb.errors import FlightError, FlightUnavailableError
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


def test_head_reads_only_a_few_batches(scan_server):
    # trips: 5000 rows in 100 batches, over 3 endpoints.
    observer = CountingObserver()
    frame = fp.scan_flight(scan_server.location, path="trips", progress=observer).head(10)
    assert frame.collect().height == 10
    assert observer.batches <= 10


def test_head_cancels_a_slow_stream():
    # 3000 batches with a 50 ms pause before each: the whole read takes 150 s. head() has
    # what it needs after two batches; the server then sees its call cancelled (its
    # producer ends part way), long before it could have sent everything.
    rows = 100 * 3000
    with FlightTestServer() as server:
        table = pa.table({"n": pa.array(range(rows), pa.int64())})
        server.add_table("slow", table, max_chunksize=100, delay=0.05)
        frame = fp.scan_flight(server.location, ticket="slow").head(150).collect()
        assert frame["n"].to_list() == list(range(150))
        watch = server.watch("slow")
        assert watch.ended.wait(STOP_WITHIN), f"the server still sends, {watch.sent} so far"
        assert watch.sent < 3000, watch.sent


def test_scan_from_a_client(flight_location):
    with FlightClient(flight_location) as client:
        scan = fp.scan_flight(client, ticket="numbers")
        assert scan.select(pl.len()).collect().item() == 10_000


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
