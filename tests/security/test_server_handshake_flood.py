"""A stranger without a token cannot lock the owner out by opening Handshakes that say nothing.

Handshake is the one call the server lets in without a token (it is how a login gets one), and
a login may come as the first message of the stream. A stranger on the same host opens many
Handshake streams and never sends that message: each must not hold one of the server's worker
threads for as long as the stranger likes, or the owner's calls wait behind them.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pyarrow.flight as paflight
import pytest

import flightnb
from flightnb import FlightClient
from flightnb._proto import Flight_pb2 as pb
from flightnb.server import FlightSqlServer

HANDSHAKE = "/arrow.flight.protocol.FlightService/Handshake"
STREAMS = 200  # more than the server's worker threads (128)
DEADLINE = 15.0  # what the owner allows a call, on a loaded machine


def _silent(stop: threading.Event) -> Iterator[bytes]:
    """A request stream that sends nothing until ``stop``."""
    stop.wait()
    return
    yield b""  # a generator


def test_silent_handshakes_do_not_lock_the_owner_out() -> None:
    server = FlightSqlServer(
        sample_size=10, token=secrets.token_urlsafe(32), basic_auth=("team", "s3cret-pass")
    )
    stop = threading.Event()
    refused: list[grpc.StatusCode] = []
    enough_refused = threading.Event()
    lock = threading.Lock()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    calls = []
    try:
        handshake = channel.stream_stream(HANDSHAKE, lambda b: b, lambda b: b)
        limit = server.call_slots.limit

        def done(call: grpc.Future) -> None:
            with lock:
                refused.append(call.code())
                if len(refused) >= STREAMS - limit:
                    enough_refused.set()

        for _ in range(STREAMS):
            call = handshake(_silent(stop), timeout=120)
            call.add_done_callback(done)
            calls.append(call)
        # The server answers every stream beyond the strangers' share at once.
        assert enough_refused.wait(DEADLINE), f"only {len(refused)} streams were answered"
        assert set(refused) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        # With the others still open, the owner is served, and a Basic login too.
        rows = flightnb.read_flight(
            server.location, sql="SELECT count(*) AS c FROM trips", timeout=DEADLINE
        )
        assert rows.column("c").to_pylist() == [10]
        with FlightClient(server.location, timeout=DEADLINE) as client:
            client.handshake("team", "s3cret-pass")  # flightnb sends header and payload
            assert [t.type for t in client.list_actions()]
        member = paflight.FlightClient(server.location)
        try:
            options = paflight.FlightCallOptions(timeout=DEADLINE)
            bearer = member.authenticate_basic_token("team", "s3cret-pass", options)
            headers = paflight.FlightCallOptions(timeout=DEADLINE, headers=[bearer])
            assert list(member.list_actions(headers))
        finally:
            member.close()
    finally:
        stop.set()
        for call in calls:
            call.cancel()
        channel.close()
        server.shutdown()


@pytest.mark.parametrize("authorization", ["Bearer not-the-token", "Basic bm9ib2R5Og=="])
def test_a_handshake_with_credentials_is_answered_without_its_message(
    authorization: str,
) -> None:
    """Credentials in the headers are judged at once, whether or not a message follows."""
    server = FlightSqlServer(sample_size=None)
    stop = threading.Event()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        handshake = channel.stream_stream(HANDSHAKE, lambda b: b, lambda b: b)
        call = handshake(_silent(stop), metadata=[("authorization", authorization)], timeout=20)
        with pytest.raises(grpc.RpcError) as info:
            list(call)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        stop.set()
        channel.close()
        server.shutdown()


def _rss_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_stranger_cannot_make_a_token_server_read_huge_handshakes(tmp_path: Path) -> None:
    """A server that takes no logins reads no Handshake message: nothing in one could help."""
    env = {**os.environ, "FLIGHTNB_RUNTIME_DIR": str(tmp_path / "runtime")}
    process = subprocess.Popen(
        [sys.executable, "-m", "flightnb", "serve", "--port", "0", "--sample-size", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    port = process.stdout.readline().rsplit(":", 1)[-1].strip()
    channel = grpc.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", -1)]
    )
    try:
        before = _rss_peak_kib(process.pid)
        handshake = channel.stream_stream(HANDSHAKE, lambda b: b, lambda b: b)
        message = pb.HandshakeRequest(payload=b"x" * (100 << 20)).SerializeToString()
        calls = [handshake(iter([message]), timeout=60) for _ in range(4)]
        for call in calls:
            with pytest.raises(grpc.RpcError) as info:
                list(call)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # 400 MiB were sent; the server must not have taken them in.
        assert _rss_peak_kib(process.pid) - before < 200 << 10
    finally:
        channel.close()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
