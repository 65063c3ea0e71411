"""Logging in again does not buy a client more calls at once.

The per-client call limit keeps one client from taking every worker thread of a shared server.
A Basic login earns a session token; if each session counted as a client of its own, one member
who knows the password could log in as often as needed and hold every thread, the owner's
calls waiting behind them. All sessions of a login share its limit.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator

import grpc

import flightnb
from flightnb.server import FlightSqlServer

SERVICE = "/arrow.flight.protocol.FlightService/"
LIMIT = 4
SESSIONS = 40  # x LIMIT streams: more than the server's worker threads (128)
DEADLINE = 15.0  # what the owner allows a call, on a loaded machine


def _silent(stop: threading.Event) -> Iterator[bytes]:
    """An upload that sends nothing until ``stop``."""
    stop.wait()
    return
    yield b""  # a generator


def _login(channel: grpc.Channel, user: str, password: str) -> str:
    """A new session token from a Basic login in the Handshake's headers."""
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    handshake = channel.stream_stream(SERVICE + "Handshake", lambda b: b, lambda b: b)
    call = handshake(iter([b""]), metadata=[("authorization", f"Basic {basic}")], timeout=30)
    list(call)
    headers = dict(call.initial_metadata())
    token: str = headers["authorization"]
    assert token.startswith("Bearer ")
    return token


def test_many_logins_cannot_hold_every_thread() -> None:
    password = secrets.token_urlsafe(16)
    server = FlightSqlServer(
        sample_size=10,
        token=secrets.token_urlsafe(32),
        basic_auth=("team", password),
        max_calls_per_client=LIMIT,
    )
    stop = threading.Event()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    refused: list[grpc.StatusCode] = []
    enough_refused = threading.Event()
    lock = threading.Lock()
    calls = []

    def done(call: grpc.Future) -> None:
        with lock:
            refused.append(call.code())
            if len(refused) >= SESSIONS * LIMIT - LIMIT:
                enough_refused.set()

    try:
        do_put = channel.stream_stream(SERVICE + "DoPut", lambda b: b, lambda b: b)
        for _ in range(SESSIONS):
            bearer = _login(channel, "team", password)
            for _ in range(LIMIT):
                call = do_put(_silent(stop), metadata=[("authorization", bearer)], timeout=120)
                call.add_done_callback(done)
                calls.append(call)
        # Every upload beyond the login's share is refused at once.
        assert enough_refused.wait(DEADLINE), f"only {len(refused)} uploads were refused"
        assert set(refused) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        rows = flightnb.read_flight(
            server.location, sql="SELECT count(*) AS c FROM trips", timeout=DEADLINE
        )
        assert rows.column("c").to_pylist() == [10]
    finally:
        stop.set()
        for call in calls:
            call.cancel()
        channel.close()
        server.shutdown()
