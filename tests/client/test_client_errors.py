"""gRPC statuses and broken inputs become the right FlightError, end to end."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pyarrow.flight as paflight
import pytest
from flight_servers import ERRORS

import flightnb
from flightnb import AsyncFlightClient, FlightDescriptor
from flightnb.errors import error_class_for_code

EXPECTED_CLASS = {
    "unavailable": flightnb.FlightUnavailableError,
    "unauthenticated": flightnb.FlightUnauthenticatedError,
    "unauthorized": flightnb.FlightUnauthorizedError,
    "timed_out": flightnb.FlightTimedOutError,
    "cancelled": flightnb.FlightCancelledError,
    "internal": flightnb.FlightInternalError,
    "server": flightnb.FlightServerError,
    "invalid": flightnb.FlightInvalidArgumentError,
    "not_implemented": flightnb.FlightNotImplementedError,
    "key_error": flightnb.FlightNotFoundError,
    "runtime_error": flightnb.FlightServerError,
}


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _get(location: str, ticket: bytes, **options: Any) -> Any:
    async with AsyncFlightClient(location) as client:
        return await client.do_get(ticket, **options).read_all()


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_do_get_error_status_maps_to_class(flight_server: Any, kind: str) -> None:
    with pytest.raises(flightnb.FlightError) as excinfo:
        run(_get(flight_server.location, f"error/{kind}".encode()))
    error = excinfo.value
    assert type(error) is EXPECTED_CLASS[kind]
    assert error.code == ERRORS[kind].code.name
    assert f"{kind} raised on purpose" in error.message
    assert not isinstance(error, KeyboardInterrupt)


@pytest.mark.parametrize("kind", ["unauthorized", "internal", "invalid"])
def test_get_flight_info_error_status_maps_to_class(flight_server: Any, kind: str) -> None:
    async def call() -> None:
        async with AsyncFlightClient(flight_server.location) as client:
            await client.get_flight_info(FlightDescriptor.for_path("error", kind))

    with pytest.raises(EXPECTED_CLASS[kind]):
        run(call())


def test_arrow_servers_extra_info_is_kept(flight_server: Any) -> None:
    with pytest.raises(flightnb.FlightUnauthorizedError) as excinfo:
        run(_get(flight_server.location, b"error/unauthorized"))
    assert excinfo.value.extra_info == b"extra-info:unauthorized raised on purpose"


def test_error_after_data_keeps_what_arrived(flight_server: Any) -> None:
    async def read() -> tuple[int, BaseException | None]:
        rows = 0
        async with AsyncFlightClient(flight_server.location) as client:
            try:
                async for chunk in client.do_get(b"error_after/internal"):
                    rows += chunk.data.num_rows
            except flightnb.FlightError as exc:
                return rows, exc
        return rows, None

    rows, error = run(read())
    assert rows > 0
    assert isinstance(error, flightnb.FlightInternalError)


def test_per_call_timeout_raises_timed_out(flight_server: Any) -> None:
    with pytest.raises(flightnb.FlightTimedOutError) as excinfo:
        run(_get(flight_server.location, b"slow", timeout=0.2))
    assert excinfo.value.code == "DEADLINE_EXCEEDED"


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(flightnb.FlightUnavailableError):
        run(_get(f"grpc://127.0.0.1:{port}", b"x"))


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:1", "grpc://127.0.0.1", "grpc://:80", "grpc+unix://", "nonsense"]
)
def test_wrong_uris_are_rejected_before_any_call(uri: str) -> None:
    with pytest.raises(flightnb.FlightArgumentError):
        AsyncFlightClient(uri)


def test_unknown_code_maps_to_server_error() -> None:
    assert error_class_for_code("SOMETHING_NEW") is flightnb.FlightServerError


def test_pyarrow_descriptor_with_unknown_type_is_rejected() -> None:
    with pytest.raises(flightnb.FlightArgumentTypeError):
        flightnb.types.as_descriptor(object())
    assert (
        flightnb.types.as_descriptor(paflight.FlightDescriptor.for_command(b"SELECT 1")).command
        == b"SELECT 1"
    )


# --- a stream outliving its client ----------------------------------------------------------


def test_a_reader_read_after_its_client_closed_raises_client_closed(flight_server: Any) -> None:
    """The "slow" flight sends a batch every 50 ms, so it is still running when the client
    closes; its reader then raises instead of waiting for batches that never come."""
    with flightnb.FlightClient(flight_server.location) as client:
        reader = client.read_flight(ticket=b"slow", to="reader", progress=False)
        assert reader.read_next_batch().num_rows
    with pytest.raises(flightnb.FlightClientClosedError, match="closed while this call ran"):
        reader.read_all()
    assert flight_server.watch("slow").ended.wait(30), "the server's stream was not cancelled"


def test_an_async_stream_read_after_its_client_closed_raises_client_closed(
    flight_server: Any,
) -> None:
    async def main() -> None:
        async with AsyncFlightClient(flight_server.location) as client:
            stream = client.do_get(b"slow")
            assert (await stream.read_chunk()) is not None
        with pytest.raises(flightnb.FlightClientClosedError, match="closed while this call ran"):
            await stream.read_all()

    run(main())
    assert flight_server.watch("slow").ended.wait(30), "the server's stream was not cancelled"


def test_cancelling_a_read_still_cancels_after_its_client_closed(flight_server: Any) -> None:
    """A caller's own cancellation stays a cancellation, closed client or not."""

    async def main() -> None:
        async with AsyncFlightClient(flight_server.location) as client:
            stream = client.do_get(b"slow")
            assert (await stream.read_chunk()) is not None
            task = asyncio.ensure_future(stream.read_all())
            await asyncio.sleep(0)  # let it start waiting for the next batch
            task.cancel()
            await client.close()
            with pytest.raises(asyncio.CancelledError):
                await task

    run(main())
