"""grpc_options=: checked for type, merged over flightnb's channel arguments, reach the channel."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from typing import Any

import pyarrow as pa
import pytest

import flightnb
from flightnb import AsyncFlightClient, FlightClient
from flightnb.errors import FlightResourceExhaustedError, FlightTimedOutError
from flightnb.transport.grpc_options import check_grpc_options, merge_grpc_options

# --- checking ------------------------------------------------------------------------------


def test_mapping_and_pairs_are_accepted_and_a_later_name_wins() -> None:
    assert check_grpc_options({"grpc.keepalive_time_ms": 30_000, "grpc.http_proxy": "x"}) == (
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.http_proxy", "x"),
    )
    assert check_grpc_options([("a", 1), ("b", True), ("a", 2)]) == (("b", 1), ("a", 2))
    assert check_grpc_options(None) == ()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"grpc.keepalive_time_ms": 1.5}, "the value of 'grpc.keepalive_time_ms' must be an int"),
        ({"grpc.http_proxy": b"http://proxy"}, "must be an int or a str, not bytes"),
        ({1: 2}, "a name must be a non-empty str"),
        ([("grpc.a", 1, 2)], "each item must be a (name, value) pair"),
        (["grpc.a"], "each item must be a (name, value) pair"),
        ("grpc.a=1", "grpc_options must be a mapping or a sequence"),
        (5, "grpc_options must be a mapping or a sequence"),
    ],
)
def test_bad_options_are_a_one_line_type_error(options: Any, message: str) -> None:
    with pytest.raises(TypeError) as caught:
        AsyncFlightClient("grpc://127.0.0.1:1", grpc_options=options)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_int_over_32_bits_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must fit in 32 bits"):
        AsyncFlightClient("grpc://127.0.0.1:1", grpc_options={"grpc.keepalive_time_ms": 2**40})


def test_one_call_entry_points_refuse_bad_options_too() -> None:
    with pytest.raises(TypeError, match="grpc_options"):
        flightnb.read_flight("grpc://127.0.0.1:1", ticket="x", grpc_options={"a": 1.0})


def test_the_users_value_wins_over_flightnbs() -> None:
    merged = merge_grpc_options(
        [("grpc.max_receive_message_length", -1), ("grpc.http2.bdp_probe", 0)],
        [("grpc.max_receive_message_length", 1024)],
    )
    assert merged == [("grpc.max_receive_message_length", 1024), ("grpc.http2.bdp_probe", 0)]


# --- reaching the channel ------------------------------------------------------------------


def test_a_max_receive_length_refuses_a_large_message(flight_server: Any) -> None:
    # flightnb's own default accepts any size; the user's smaller limit replaces it.
    assert flight_server.table("numbers").nbytes > 64
    limit = {"grpc.max_receive_message_length": 64}
    with FlightClient(flight_server.location, grpc_options=limit) as client:
        with pytest.raises(FlightResourceExhaustedError):
            client.do_get(b"numbers").read_all()
    with pytest.raises(FlightResourceExhaustedError):
        flightnb.read_flight(flight_server.location, ticket="numbers", grpc_options=limit)
    # The same read without the option succeeds.
    table = flightnb.read_flight(flight_server.location, ticket="numbers")
    assert isinstance(table, pa.Table)


_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_SETTINGS, _PING = 0x4, 0x6


class _PingWatcher:
    """An HTTP/2 peer that answers SETTINGS and nothing else, and notes the PINGs it gets."""

    def __init__(self) -> None:
        self.ping = asyncio.Event()
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            assert await reader.readexactly(len(_PREFACE)) == _PREFACE
            writer.write(struct.pack(">I", 0)[1:] + bytes([_SETTINGS, 0]) + b"\0\0\0\0")
            while True:
                header = await reader.readexactly(9)
                length = int.from_bytes(header[:3], "big")
                kind, flags = header[3], header[4]
                payload = await reader.readexactly(length)
                if kind == _SETTINGS and not flags & 1:
                    writer.write(b"\0\0\0" + bytes([_SETTINGS, 1]) + b"\0\0\0\0")
                elif kind == _PING and not flags & 1:
                    self.ping.set()
                    writer.write(struct.pack(">I", 8)[1:] + bytes([_PING, 1]) + b"\0" * 4 + payload)
                await writer.drain()


@contextlib.asynccontextmanager
async def _watcher() -> AsyncIterator[tuple[_PingWatcher, str]]:
    watcher = _PingWatcher()
    server = await asyncio.start_server(watcher.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield watcher, f"grpc://127.0.0.1:{port}"
    finally:
        server.close()
        for writer in watcher.writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()


def test_keepalive_pings_reach_the_server() -> None:
    async def main() -> None:
        async with _watcher() as (watcher, location):
            # Without keepalive options a call that gets no answer sends no PING.
            async with AsyncFlightClient(location) as client:
                with pytest.raises(FlightTimedOutError):
                    await client.list_actions(timeout=0.5)
            assert not watcher.ping.is_set()
            options = {"grpc.keepalive_time_ms": 100, "grpc.keepalive_timeout_ms": 10_000}
            async with AsyncFlightClient(location, grpc_options=options) as client:
                call = asyncio.ensure_future(client.list_actions())
                try:
                    await asyncio.wait_for(watcher.ping.wait(), 60)
                finally:
                    call.cancel()
                    with contextlib.suppress(BaseException):
                        await call

    asyncio.run(main())


# --- secrets and the notebook's connections file -------------------------------------------

_PROXY = "http://alice:hunter2@proxy.example:3128"


def test_a_proxy_password_shows_in_no_repr_or_error() -> None:
    from flightnb.transport.channels import ChannelConfig

    config = ChannelConfig(extra_options=check_grpc_options({"grpc.http_proxy": _PROXY}))
    assert "hunter2" not in repr(config)
    with pytest.raises(TypeError) as caught:
        check_grpc_options([("grpc.http_proxy", _PROXY, 1)])
    assert "hunter2" not in str(caught.value)


def test_the_connections_file_takes_grpc_options(tmp_path: Any) -> None:
    from IPython.core.error import UsageError

    from flightnb.notebook.connections import read_connections_file

    path = tmp_path / "connections.toml"
    path.write_text(
        "[connections.far]\n"
        'uri = "grpc://127.0.0.1:1"\n'
        'grpc_options = {"grpc.keepalive_time_ms" = 60000, "grpc.http_proxy" = "' + _PROXY + '"}\n',
        encoding="utf-8",
    )
    specs, _ = read_connections_file(path)
    options = specs["far"].client_options("test")
    assert options["grpc_options"] == (
        ("grpc.keepalive_time_ms", 60000),
        ("grpc.http_proxy", _PROXY),
    )
    assert "hunter2" not in repr(specs["far"])
    with FlightClient(specs["far"].uri, **options) as client:
        assert not client.closed
    path.write_text(
        '[connections.far]\nuri = "grpc://127.0.0.1:1"\ngrpc_options = {"grpc.a" = 1.5}\n',
        encoding="utf-8",
    )
    with pytest.raises(UsageError, match=r"connection 'far': grpc_options: the value of 'grpc.a'"):
        read_connections_file(path)
