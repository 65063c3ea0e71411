"""A hostile client does its worst; a well-behaved one is still served in time, memory comes back.

The server runs in its own process (``python -m flightnb serve`` with its limits set), so its
memory can be read from ``/proc``. The owner's client is the well-behaved one; the hostile
client ("mallory") logs in with Basic credentials, so the server counts its calls apart.
Everything it does is bounded: a fixed number of messages, connections and calls.
"""

from __future__ import annotations

import asyncio
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pyarrow as pa
import pyarrow.flight as paflight
import pytest

import flightnb
from flightnb import AsyncFlightClient, FlightClient, FlightDescriptor, FlightSqlClient
from flightnb._proto import Flight_pb2 as pb
from flightnb.errors import (
    FlightCancelledError,
    FlightError,
    FlightResourceExhaustedError,
    FlightTimedOutError,
)

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")

QUERY_TIMEOUT = 2.0
MAX_CALLS = 4
MAX_MESSAGE = 1 << 20
MAX_RESULT = 64 << 20
BIG_ROWS = 5_000_000  # 40 MB of int64: more than a stream's window, less than MAX_RESULT
DEADLINE = 15.0  # what the well-behaved client allows each call, on a loaded machine
#: The deadline of a query the server's own time limit must end: far past QUERY_TIMEOUT, it
#: only keeps a server that never ends the query from holding the test.
QUERY_DEADLINE = 30.0
SERVICE = "/arrow.flight.protocol.FlightService/"


@dataclass
class Served:
    process: subprocess.Popen[str]
    location: str
    token: str
    password: str
    log: queue.Queue[str]
    #: Every line the server wrote to stderr, for the secrets check at the end.
    log_lines: list[str]

    def wait_for_log(self, text: str, *, timeout: float) -> str:
        """The next line of the server's log containing ``text``; fails after ``timeout``."""
        end = time.monotonic() + timeout
        while True:
            try:
                line = self.log.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the server never logged {text!r}") from None
            if text in line:
                return line

    @property
    def target(self) -> str:
        return self.location.removeprefix("grpc://")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def owner(self) -> FlightClient:
        return FlightClient(self.location, token=self.token, timeout=DEADLINE)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    token, password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "HOSTILE_TOKEN": token,
        "FLIGHTNB_SERVER_PASSWORD": password,
        "FLIGHTNB_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime")),
    }
    args = [
        sys.executable, "-m", "flightnb", "serve", "--port", "0", "--sample-size", "20000",
        "--token-env", "HOSTILE_TOKEN", "--basic-user", "mallory",
        "--query-timeout", str(QUERY_TIMEOUT), "--max-calls-per-client", str(MAX_CALLS),
        "--max-message-bytes", str(MAX_MESSAGE), "--max-result-bytes", str(MAX_RESULT),
    ]  # fmt: skip
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    log: queue.Queue[str] = queue.Queue()
    lines: list[str] = []

    def read_log() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            log.put(line)

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        assert process.stdout is not None
        location = process.stdout.readline().split()[-1]
        assert location.startswith("grpc://127.0.0.1:")
        yield Served(process, location, token, password, log, lines)
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
        reader.join(timeout=60)
        text = out + "".join(lines)
        assert token not in text and password not in text


def _mallory(served: Served) -> FlightClient:
    client = FlightClient(served.location, timeout=DEADLINE)
    client.handshake("mallory", served.password)
    return client


def _well_behaved(served: Served) -> None:
    """The owner's read and query, each call with a gRPC deadline of DEADLINE.

    A call the server does not serve in time fails with FlightTimedOutError, so the owner
    is served in time when this returns.
    """
    with served.owner() as client:
        assert client.do_get(b"trips").read_all().num_rows == 20000
    with FlightSqlClient(served.location, token=served.token, timeout=DEADLINE) as sql:
        assert sql.query("SELECT count(*) AS c FROM stations").num_rows == 1


@pytest.fixture(scope="module")
def baseline(served: Served) -> float:
    with FlightSqlClient(served.location, token=served.token, timeout=60) as sql:
        sql.execute(f"CREATE TABLE big AS SELECT range AS n FROM range({BIG_ROWS})")
    for _ in range(3):  # warm: DuckDB's and gRPC's first allocations are not a leak
        _well_behaved(served)
    return served.rss_mib()


def _raw_channel(served: Served) -> grpc.Channel:
    return grpc.insecure_channel(served.target, options=[("grpc.max_send_message_length", -1)])


def _auth(served: Served) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {served.token}")]


def _mallory_auth(served: Served) -> list[tuple[str, str]]:
    """Mallory's own session token, from a Basic login."""
    client = paflight.connect(served.location)
    try:
        key, value = client.authenticate_basic_token("mallory", served.password)
    finally:
        client.close()
    return [(key.decode(), value.decode())]


class HeldStream:
    """A raw DoGet of the table ``big`` whose first message was read, then nothing more."""

    def __init__(self, channel: grpc.Channel, metadata: list[tuple[str, str]]) -> None:
        self.ended = threading.Event()
        get = channel.unary_stream(SERVICE + "DoGet")
        self.call = get(pb.Ticket(ticket=b"big").SerializeToString(), metadata=metadata)
        self.call.add_done_callback(lambda _: self.ended.set())
        next(self.call)  # the schema: the call is running on the server

    def status(self) -> grpc.StatusCode:
        return self.call.code()


def _retry_refused(call: Callable[[], object], attempts: int = 100) -> None:
    """``call`` once it is no longer refused RESOURCE_EXHAUSTED: a slot is given back just
    after the call that held it ended, so the first attempt may still find it taken."""
    for _ in range(attempts - 1):
        try:
            call()
            return
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                raise
    call()


# --- limits, each with its typed error ------------------------------------------------------


def test_calls_per_client_are_capped(served: Served, baseline: float) -> None:
    mallory = _mallory_auth(served)
    with _raw_channel(served) as channel:
        actions = channel.unary_stream(SERVICE + "ListActions")
        held = [HeldStream(channel, mallory) for _ in range(MAX_CALLS)]
        with pytest.raises(grpc.RpcError) as info:
            list(actions(b"", metadata=mallory, timeout=DEADLINE))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "too many calls" in (info.value.details() or "")
        _well_behaved(served)  # another client is not affected
        for stream in held:
            stream.call.cancel()
            assert stream.ended.wait(DEADLINE)
        _retry_refused(lambda: list(actions(b"", metadata=mallory, timeout=DEADLINE)))


def test_a_query_past_the_time_limit_is_stopped(served: Served, baseline: float) -> None:
    heavy = "SELECT sum(a.range * b.range) FROM range(400000) a, range(400000) b"
    with FlightSqlClient(served.location, token=served.token, timeout=QUERY_DEADLINE) as sql:
        # The server's message, not the client's deadline: the server's limit ended the query.
        with pytest.raises(FlightTimedOutError, match="limit of 2 s"):
            sql.query(heavy)
    _well_behaved(served)


def test_results_past_the_cap_are_refused(served: Served, baseline: float) -> None:
    with FlightSqlClient(served.location, token=served.token, timeout=60) as sql:
        with pytest.raises(FlightResourceExhaustedError, match="larger than"):
            sql.query("SELECT * FROM range(10000000) t(n)")  # streamed by DoGet
        with pytest.raises(FlightResourceExhaustedError, match="larger than"):
            sql.query("CREATE TEMP TABLE x AS SELECT 1; SELECT * FROM range(10000000) t(n)")
        assert sql.query("SELECT * FROM range(1000) t(n)").num_rows == 1000


# --- a hostile client ------------------------------------------------------------------------


def test_malformed_do_put_streams(served: Served, baseline: float) -> None:
    descriptor = pb.FlightDescriptor(type=pb.FlightDescriptor.PATH, path=["junk"])
    streams = {
        "garbage bytes": [b"\xff\xfe\x00garbage" * 10],
        "no descriptor": [pb.FlightData(data_header=b"\x00" * 16).SerializeToString()],
        "a broken header": [
            pb.FlightData(
                flight_descriptor=descriptor, data_header=b"\x01" * 64
            ).SerializeToString()
        ],
        "a body without a schema": [
            pb.FlightData(flight_descriptor=descriptor).SerializeToString(),
            pb.FlightData(
                data_header=b"\x10\x00\x00\x00" * 4, data_body=b"x" * 1000
            ).SerializeToString(),
        ],
    }
    with _raw_channel(served) as channel:
        put = channel.stream_stream(SERVICE + "DoPut")
        for name, messages in streams.items():
            with pytest.raises(grpc.RpcError) as info:
                list(put(iter(messages), metadata=_auth(served), timeout=DEADLINE))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
            assert "\n" not in (info.value.details() or ""), name
    _well_behaved(served)


def test_oversized_messages_are_refused_before_they_are_held(
    served: Served, baseline: float
) -> None:
    big = pa.table({"blob": [b"x" * (4 * MAX_MESSAGE)]})
    with served.owner() as client:
        with pytest.raises(FlightResourceExhaustedError):
            with client.do_put(FlightDescriptor.for_path("oversized"), big.schema) as writer:
                writer.write_table(big)
    with _raw_channel(served) as channel:
        info = channel.unary_unary(SERVICE + "GetFlightInfo")
        with pytest.raises(grpc.RpcError) as raised:
            info(b"\x00" * (8 * MAX_MESSAGE), metadata=_auth(served), timeout=DEADLINE)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    _well_behaved(served)


def test_huge_metadata_is_refused(served: Served, baseline: float) -> None:
    with _raw_channel(served) as channel:
        actions = channel.unary_stream(SERVICE + "ListActions")
        for headers in (
            [("x-junk", "y" * 200_000)],
            [(f"x-h{i}", "y" * 100) for i in range(2000)],
        ):
            with pytest.raises(grpc.RpcError) as info:
                list(actions(b"", metadata=_auth(served) + headers, timeout=DEADLINE))
            assert info.value.code() != grpc.StatusCode.OK
    _well_behaved(served)


def test_a_reader_that_never_drains_is_let_go(served: Served, baseline: float) -> None:
    """Streams the client stops reading end soon after the time limit and free their slots."""
    mallory = _mallory_auth(served)
    with _raw_channel(served) as channel:
        stalled = [HeldStream(channel, mallory) for _ in range(MAX_CALLS)]
        _well_behaved(served)
        for _ in stalled:  # the server says when it gives up on each
            served.wait_for_log("its client stopped reading", timeout=QUERY_TIMEOUT + 30)
        for stream in stalled:
            stream.call.cancel()
        actions = channel.unary_stream(SERVICE + "ListActions")
        _retry_refused(lambda: list(actions(b"", metadata=mallory, timeout=DEADLINE)))


def test_hundreds_of_idle_connections(served: Served, baseline: float) -> None:
    host, port = served.target.rsplit(":", 1)
    sockets = []
    try:
        for i in range(300):
            sock = socket.create_connection((host, int(port)), timeout=DEADLINE)
            if i % 2:  # half of them at least start HTTP/2, then say nothing more
                sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            sockets.append(sock)
        _well_behaved(served)
    finally:
        for sock in sockets:
            sock.close()
    _well_behaved(served)


def _flood(served: Served, calls: int = 2000) -> int:
    """Mallory's ``calls`` concurrent GetFlightInfo while the owner reads and queries.

    Returns how many of mallory's calls were served; fails if the owner's calls are not served
    within their deadlines (:func:`_well_behaved`).
    """

    async def flood() -> int:
        async with AsyncFlightClient(served.location, timeout=DEADLINE) as client:
            await client.handshake("mallory", served.password)
            descriptor = FlightDescriptor.for_path("trips")
            results = await asyncio.gather(
                *(client.get_flight_info(descriptor) for _ in range(calls)),
                return_exceptions=True,
            )
        # Refused by the server's per-client limit; a few of 2000 streams opened at once on
        # one connection end CANCELLED in gRPC's transport (as without any limit).
        failed = [r for r in results if isinstance(r, BaseException)]
        unexpected = [
            e
            for e in failed
            if not isinstance(e, FlightResourceExhaustedError | FlightCancelledError)
        ]
        assert not unexpected, [str(e) for e in unexpected[:3]]
        assert sum(isinstance(r, FlightResourceExhaustedError) for r in results) > calls // 2
        return len(results) - len(failed)

    async def meanwhile() -> None:
        await asyncio.sleep(0)  # the flood starts first
        await asyncio.to_thread(_well_behaved, served)

    async def both() -> int:
        served_calls, _ = await asyncio.gather(flood(), meanwhile())
        return served_calls

    return asyncio.run(both())


def test_a_flood_of_get_flight_info(served: Served, baseline: float) -> None:
    assert _flood(served) > 0  # and the owner was served within its deadlines


def test_memory_comes_back(served: Served, baseline: float) -> None:
    """After all of the above (this test runs last), the server holds little more than before."""
    _well_behaved(served)
    after_all = served.rss_mib()
    # The same attacks again: memory the allocator kept is reused, nothing more is held.
    for _ in range(2):
        with FlightSqlClient(served.location, token=served.token, timeout=60) as sql:
            with pytest.raises(FlightResourceExhaustedError):
                sql.query("SELECT * FROM range(10000000) t(n)")
        _flood(served)
    again = served.rss_mib()
    print(
        f"server RSS: {baseline:.0f} MiB warm, {after_all - baseline:+.0f} MiB after the suite, "
        f"{again - after_all:+.0f} MiB after two more rounds"
    )
    assert after_all - baseline < 200, f"the server kept {after_all - baseline:.0f} MiB"
    assert again - after_all < 100, f"each round keeps more: {again - after_all:+.0f} MiB"
    with pytest.raises(FlightError):
        flightnb.read_flight(served.location, path="trips", token="wrong", progress=False)
