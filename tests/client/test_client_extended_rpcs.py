"""PollFlightInfo, CancelFlightInfo, RenewFlightEndpoint and session options.

pyarrow.flight's server lacks these, so a grpc.aio server built from our stubs serves them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import grpc
import pytest
from raw_server import RawFlightServer

from flightnb import AsyncFlightClient, CancelStatus, FlightClient, FlightDescriptor
from flightnb._proto import Flight_pb2 as pb
from flightnb.types import FlightEndpoint, Location, Ticket

SESSION_COOKIE = "arrow_flight_session_id"


class _Backend:
    """State behind the raw server: polls, cancellations, sessions keyed by cookie."""

    def __init__(self) -> None:
        self.polls = 0
        self.cancelled: list[bytes] = []
        self.sessions: dict[str, dict[str, pb.SessionOptionValue]] = {}

    async def PollFlightInfo(self, request: pb.FlightDescriptor, context: Any) -> pb.PollInfo:
        self.polls += 1
        info = pb.FlightInfo(flight_descriptor=request, total_records=-1, total_bytes=-1)
        info.endpoint.add(ticket=pb.Ticket(ticket=b"part-%d" % self.polls))
        if self.polls < 3:
            return pb.PollInfo(info=info, flight_descriptor=request, progress=self.polls / 3)
        return pb.PollInfo(info=info, progress=1.0)

    def _session(self, context: Any) -> dict[str, pb.SessionOptionValue]:
        cookies = dict(context.invocation_metadata()).get("cookie", "")
        for part in cookies.split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE and value in self.sessions:
                return self.sessions[value]
        session_id = f"s{len(self.sessions) + 1}"
        self.sessions[session_id] = {}
        context.set_trailing_metadata((("set-cookie", f"{SESSION_COOKIE}={session_id}; Path=/"),))
        return self.sessions[session_id]

    async def DoAction(self, request: pb.Action, context: Any) -> Any:
        if request.type == "CancelFlightInfo":
            info = pb.CancelFlightInfoRequest.FromString(request.body).info
            self.cancelled.extend(e.ticket.ticket for e in info.endpoint)
            yield pb.Result(
                body=pb.CancelFlightInfoResult(
                    status=pb.CANCEL_STATUS_CANCELLED
                ).SerializeToString()
            )
        elif request.type == "RenewFlightEndpoint":
            endpoint = pb.RenewFlightEndpointRequest.FromString(request.body).endpoint
            endpoint.expiration_time.FromDatetime(dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc))
            yield pb.Result(body=endpoint.SerializeToString())
        elif request.type == "SetSessionOptions":
            session = self._session(context)
            result = pb.SetSessionOptionsResult()
            for name, value in pb.SetSessionOptionsRequest.FromString(
                request.body
            ).session_options.items():
                if name.startswith("bad"):
                    result.errors[name].value = pb.SetSessionOptionsResult.INVALID_NAME
                else:
                    session[name] = value
            yield pb.Result(body=result.SerializeToString())
        elif request.type == "GetSessionOptions":
            result = pb.GetSessionOptionsResult()
            for name, value in self._session(context).items():
                result.session_options[name].CopyFrom(value)
            yield pb.Result(body=result.SerializeToString())
        elif request.type == "CloseSession":
            self._session(context).clear()
            yield pb.Result(
                body=pb.CloseSessionResult(status=pb.CloseSessionResult.CLOSED).SerializeToString()
            )
        else:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"no action {request.type}")


@pytest.fixture
def raw_server() -> Any:
    backend = _Backend()
    handlers = {"PollFlightInfo": backend.PollFlightInfo, "DoAction": backend.DoAction}
    with RawFlightServer(handlers) as server:
        server.backend = backend
        yield server


def test_poll_flight_info_until_complete(raw_server: Any) -> None:
    async def poll() -> list[Any]:
        results = []
        async with AsyncFlightClient(raw_server.location) as client:
            descriptor: Any = FlightDescriptor.for_command(b"long query")
            for _ in range(10):
                result = await client.poll_flight_info(descriptor)
                results.append(result)
                if result.is_complete:
                    break
                descriptor = result.descriptor
        return results

    results = asyncio.run(poll())
    assert [round(r.progress, 3) for r in results] == [0.333, 0.667, 1.0]
    assert [r.is_complete for r in results] == [False, False, True]
    assert results[-1].info.endpoints[0].ticket == Ticket(b"part-3")


def test_cancel_and_renew(raw_server: Any) -> None:
    async def calls() -> tuple[Any, Any]:
        async with AsyncFlightClient(raw_server.location) as client:
            info = (await client.poll_flight_info(FlightDescriptor.for_command(b"q"))).info
            status = await client.cancel_flight_info(info)
            renewed = await client.renew_flight_endpoint(
                FlightEndpoint(Ticket(b"t"), (Location("grpc://127.0.0.1:1"),))
            )
            return status, renewed

    status, renewed = asyncio.run(calls())
    assert status is CancelStatus.CANCELLED
    assert raw_server.backend.cancelled == [b"part-1"]
    assert renewed.ticket == Ticket(b"t")
    assert renewed.expiration_time == dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


def test_session_options_ride_on_cookies(raw_server: Any) -> None:
    with FlightClient(raw_server.location) as client:
        refused = client.set_session_options(
            {
                "catalog": "main",
                "limit": 10,
                "ratio": 0.5,
                "strict": True,
                "path": ["a", "b"],
                "bad_option": "x",
            }
        )
        assert refused == {"bad_option": "INVALID_NAME"}
        assert client.get_session_options() == {
            "catalog": "main",
            "limit": 10,
            "ratio": 0.5,
            "strict": True,
            "path": ["a", "b"],
        }
        assert client.close_session() == "CLOSED"
        assert client.get_session_options() == {}
    assert len(raw_server.backend.sessions) == 1


def test_unimplemented_rpc_is_typed(raw_server: Any) -> None:
    import flightnb

    async def call() -> None:
        async with AsyncFlightClient(raw_server.location) as client:
            await client.get_schema(FlightDescriptor.for_path("x"))

    with pytest.raises(flightnb.FlightNotImplementedError):
        asyncio.run(call())
