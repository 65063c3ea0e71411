"""read_flight / read_flight_async: tickets, whole flights, endpoints, conversions, bounds."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from flight_servers import Endpoint

import flightnb
from flightnb import (
    AsyncFlightClient,
    FlightClient,
    FlightDescriptor,
    read_flight,
    read_flight_async,
)
from flightnb.progress import TextProgress


def _parts(server: Any) -> pa.Table:
    return pa.concat_tables([server.table(f"parts/{i}") for i in range(3)])


def test_ticket_as_str_or_bytes(flight_server: Any) -> None:
    expected = flight_server.table("numbers")
    assert read_flight(flight_server.location, ticket="numbers").equals(expected)
    assert read_flight(flight_server.location, ticket=b"numbers").equals(expected)


@pytest.mark.parametrize("flight", ["multi/ordered", "multi/unordered", "multi/other_server"])
def test_whole_flight_reads_every_endpoint_in_order(flight_server: Any, flight: str) -> None:
    table = read_flight(flight_server.location, path=flight.split("/"))
    assert table.equals(_parts(flight_server))


def test_descriptor_and_command_forms(flight_server: Any) -> None:
    location = flight_server.location
    expected = flight_server.table("numbers")
    assert read_flight(location, descriptor=FlightDescriptor.for_path("numbers")).equals(expected)
    assert read_flight(location, descriptor=paflight.FlightDescriptor.for_path("numbers")).equals(
        expected
    )
    assert read_flight(location, path="numbers").equals(expected)


def test_unreachable_location_falls_back_to_original_server(flight_server: Any) -> None:
    dead = "grpc://127.0.0.1:9"  # discard port: nothing listens on loopback here
    flight_server.add_flight(
        "read_tests/fallback",
        [
            Endpoint(b"parts/0", (dead,)),
            Endpoint(b"parts/1", (dead, flight_server.location)),
            Endpoint(b"parts/2", ("arrow-flight-reuse-connection://?",)),
        ],
        schema=flight_server.table("numbers").schema,
        ordered=True,
    )
    table = read_flight(flight_server.location, path=["read_tests", "fallback"])
    assert table.equals(_parts(flight_server))


def test_channels_are_reused_per_location(flight_server: Any, other_flight_server: Any) -> None:
    async def read_twice() -> int:
        async with AsyncFlightClient(flight_server.location) as client:
            for _ in range(2):
                await read_flight_async(client, path=["multi", "other_server"])
            return len(client._calls.channels)

    assert asyncio.run(read_twice()) == 2


def test_conversions(flight_server: Any) -> None:
    location = flight_server.location
    frame = read_flight(location, ticket="numbers", to="pandas")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 10_000
    polars_frame = read_flight(location, ticket="numbers", to="polars")
    assert isinstance(polars_frame, pl.DataFrame)
    assert polars_frame.to_arrow().equals(flight_server.table("numbers").combine_chunks()) or (
        polars_frame.shape == (10_000, 2)
    )
    with pytest.raises(flightnb.FlightArgumentError, match="to="):
        read_flight(location, ticket="numbers", to="excel")


def test_exactly_one_request_form() -> None:
    with pytest.raises(flightnb.FlightArgumentError, match="exactly one"):
        read_flight("grpc://127.0.0.1:1", ticket="a", path="b")
    with pytest.raises(flightnb.FlightArgumentError, match="exactly one"):
        read_flight("grpc://127.0.0.1:1")


def test_async_twin_on_the_running_loop(flight_server: Any) -> None:
    async def cell() -> Any:
        return await read_flight_async(
            flight_server.location, path=["multi", "ordered"], to="polars"
        )

    frame = asyncio.run(cell())
    assert frame.shape == (300, 2)


def test_sources_can_be_clients(flight_server: Any) -> None:
    with FlightClient(flight_server.location) as client:
        assert read_flight(client, ticket="ints").equals(flight_server.table("ints"))

        async def from_async_code() -> pa.Table:
            return await read_flight_async(client, ticket="ints")

        assert asyncio.run(from_async_code()).equals(flight_server.table("ints"))
    with pytest.raises(flightnb.FlightArgumentError):
        read_flight(AsyncFlightClient(flight_server.location), ticket="ints")


def test_timeout_bounds_the_whole_read(flight_server: Any) -> None:
    with pytest.raises(flightnb.FlightTimedOutError):
        read_flight(flight_server.location, ticket="slow", timeout=0.3)


def test_text_progress_reports_rows(flight_server: Any) -> None:
    sink = io.StringIO()
    read_flight(flight_server.location, ticket="slow", progress=TextProgress(delay=0, file=sink))
    assert "10.0k" in sink.getvalue() or "10000" in sink.getvalue()


class _CancelAfterFirstBatch:
    """A display whose Cancel button is pressed once data flows."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._cancel: Any = None

    def started(self, *, info: Any, parts: int, kind: str, cancel: Any) -> None:
        self.events.append(f"started {kind} parts={parts}")
        self._cancel = cancel

    def polled(self, progress: float | None) -> None:
        self.events.append("polled")

    def progressed(self, part: int, stats: Any) -> None:
        if stats.rows and self._cancel is not None:
            self._cancel()
            self._cancel = None

    def finished(self, error: BaseException | None) -> None:
        self.events.append(f"finished {type(error).__name__}")


@pytest.mark.parametrize("form", [{"ticket": "slow"}, {"path": "slow"}])
def test_cancel_from_the_display_raises_cancelled(flight_server: Any, form: dict) -> None:
    display = _CancelAfterFirstBatch()
    with pytest.raises(flightnb.FlightCancelledError, match="progress display"):
        read_flight(flight_server.location, progress=display, timeout=10, **form)
    assert display.events == ["started read parts=1", "finished FlightCancelledError"]


class _BrokenDisplay:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("frontend went away")

        return fail


def test_a_broken_display_never_breaks_the_transfer(flight_server: Any) -> None:
    table = read_flight(
        flight_server.location, path=["multi", "ordered"], progress=_BrokenDisplay()
    )
    assert table.equals(_parts(flight_server))


def test_client_options_with_a_client_source_are_refused(flight_server: Any) -> None:
    with (
        FlightClient(flight_server.location) as client,
        pytest.raises(flightnb.FlightArgumentError, match="token"),
    ):
        read_flight(client, ticket="ints", token="ignored-otherwise")
