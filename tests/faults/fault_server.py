"""A scriptable, hostile Flight server for fault-injection tests.

The server is a bare ``grpc.aio`` server with a *generic* handler whose responses are not
serialized by protobuf (``response_serializer=None``), so a script can send any bytes as a
FlightData message: valid ones from :class:`flightnb.codec.FlightDataEncoder`, corrupted ones,
or plain garbage. Each DoGet ticket (and each GetFlightInfo descriptor) plays a script of
steps:

* :class:`Send` one raw message;
* :class:`Pause` for a while;
* :class:`InitialMetadata` to send headers first;
* :class:`Status` to end the call with a status code, details (``str`` or raw ``bytes``)
  and trailers;
* :class:`Hang` to never answer again (until the client goes away);
* :class:`Kill` to SIGKILL the server's own process (use :class:`FaultServerProcess`).

Every call is recorded in a :class:`CallRecord`: the test can wait until the handler started,
and see whether it finished or saw the client cancel.

In-process use::

    with FaultServer() as server:
        server.script(b"t", [Send(schema_message), Hang()])
        ...  # read grpc://127.0.0.1:<server.port>, ticket b"t"
        assert server.record(b"t").cancelled.wait(5)

Run as a script (``python fault_server.py SCRIPT.json``) it serves the scripts of a JSON file
(see :func:`scripts_to_json`) and prints ``PORT <n>`` once it listens; that is what
:class:`FaultServerProcess` does, so a test can kill the whole process mid-stream.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from flightnb._proto import Flight_pb2 as pb

SERVICE = "arrow.flight.protocol.FlightService"


@dataclass(frozen=True)
class Send:
    """Send ``data`` as one response message, byte for byte."""

    data: bytes


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class InitialMetadata:
    pairs: tuple[tuple[str, str | bytes], ...]


@dataclass(frozen=True)
class Status:
    """End the call with ``code``; ``details`` may be raw (even non-UTF-8) bytes."""

    code: grpc.StatusCode
    details: str | bytes = ""
    trailers: tuple[tuple[str, str | bytes], ...] = ()


@dataclass(frozen=True)
class Hang:
    """Never send anything again; the call ends only when the client cancels it."""


@dataclass(frozen=True)
class Kill:
    """SIGKILL the server process (only sensible in a :class:`FaultServerProcess`)."""


Step = Send | Pause | InitialMetadata | Status | Hang | Kill


@dataclass
class CallRecord:
    """What happened to the calls of one script (the last call wins for ``sent``)."""

    started: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    sent: int = 0


class FaultServer:
    """Serve scripted DoGet/GetFlightInfo responses on 127.0.0.1 (and a unix socket).

    The server runs on its own event loop thread. Unscripted tickets answer NOT_FOUND; other
    RPCs answer UNIMPLEMENTED.
    """

    def __init__(self, *, unix_path: str | Path | None = None) -> None:
        self._get_scripts: dict[bytes, list[Step]] = {}
        self._info_scripts: dict[bytes, list[Step]] = {}
        self._stream_scripts: dict[str, list[Step]] = {}
        self._records: dict[bytes, CallRecord] = {}
        self._unix_path = Path(unix_path) if unix_path is not None else None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-server", daemon=True
        )
        self._server: grpc.aio.Server | None = None
        self.port = 0

    # --- scripting ---------------------------------------------------------------------

    def script(self, ticket: bytes, steps: Iterable[Step]) -> None:
        """What a DoGet for ``ticket`` plays."""
        self._get_scripts[ticket] = list(steps)
        self._records[ticket] = CallRecord()

    def info_script(self, path: bytes, steps: Iterable[Step]) -> None:
        """What GetFlightInfo for ``FlightDescriptor.for_path(path)`` (or command) plays."""
        self._info_scripts[path] = list(steps)
        self._records[b"info:" + path] = CallRecord()

    def stream_script(self, method: str, steps: Iterable[Step]) -> None:
        """What a DoPut, DoExchange or Handshake call plays (after reading one request)."""
        self._stream_scripts[method] = list(steps)
        self._records[b"stream:" + method.encode()] = CallRecord()

    def record(self, ticket: bytes) -> CallRecord:
        return self._records[ticket]

    def info_record(self, path: bytes) -> CallRecord:
        return self._records[b"info:" + path]

    @property
    def location(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    @property
    def unix_location(self) -> str:
        assert self._unix_path is not None
        return f"grpc+unix://{self._unix_path}"

    # --- the handlers --------------------------------------------------------------------

    async def _play(
        self, steps: Sequence[Step], context: grpc.aio.ServicerContext, record: CallRecord
    ) -> AsyncIterator[bytes]:
        record.started.set()
        try:
            for step in steps:
                if isinstance(step, Send):
                    yield step.data
                    record.sent += 1
                elif isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, InitialMetadata):
                    await context.send_initial_metadata(step.pairs)
                elif isinstance(step, Status):
                    context.set_code(step.code)
                    # grpc's encoder passes bytes through unchanged, which is how a test
                    # sends details that are not UTF-8.
                    context.set_details(step.details)  # type: ignore[arg-type]
                    if step.trailers:
                        context.set_trailing_metadata(step.trailers)
                    return
                elif isinstance(step, Hang):
                    # Bounded so a leaked call cannot keep the server alive forever.
                    await asyncio.sleep(120)
                elif isinstance(step, Kill):
                    os.kill(os.getpid(), signal.SIGKILL)
        except asyncio.CancelledError:
            record.cancelled.set()
            raise
        finally:
            if context.cancelled():
                record.cancelled.set()
            record.finished.set()

    async def _do_get(
        self, request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        ticket = pb.Ticket.FromString(request).ticket
        steps = self._get_scripts.get(ticket)
        if steps is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no script for {ticket!r}")
        assert steps is not None
        async for message in self._play(steps, context, self._records[ticket]):
            yield message

    async def _get_flight_info(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        descriptor = pb.FlightDescriptor.FromString(request)
        key = descriptor.path[0].encode() if descriptor.path else descriptor.cmd
        steps = self._info_scripts.get(key)
        if steps is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no script for {key!r}")
        assert steps is not None
        response = b""
        async for message in self._play(steps, context, self._records[b"info:" + key]):
            response = message
        return response

    def _streaming(self, method: str) -> Any:
        """A bidirectional handler that reads the first request, then plays its script."""

        async def handle(
            requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
        ) -> AsyncIterator[bytes]:
            async for _ in requests:
                break
            steps = self._stream_scripts.get(method)
            if steps is None:
                await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"no script for {method}")
            assert steps is not None
            record = self._records[b"stream:" + method.encode()]
            async for message in self._play(steps, context, record):
                yield message

        return grpc.stream_stream_rpc_method_handler(
            handle, request_deserializer=None, response_serializer=None
        )

    def _handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "DoPut": self._streaming("DoPut"),
                "DoExchange": self._streaming("DoExchange"),
                "Handshake": self._streaming("Handshake"),
                "DoGet": grpc.unary_stream_rpc_method_handler(
                    self._do_get, request_deserializer=None, response_serializer=None
                ),
                "GetFlightInfo": grpc.unary_unary_rpc_method_handler(
                    self._get_flight_info, request_deserializer=None, response_serializer=None
                ),
            },
        )

    # --- lifecycle -----------------------------------------------------------------------

    async def _start(self) -> None:
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_send_message_length", -1),
                ("grpc.max_receive_message_length", -1),
            ]
        )
        self._server.add_generic_rpc_handlers((self._handler(),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        if self._unix_path is not None:
            self._server.add_insecure_port(f"unix:{self._unix_path}")
        await self._server.start()

    def __enter__(self) -> FaultServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(0), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if self._unix_path is not None:
            self._unix_path.unlink(missing_ok=True)

    def serve_forever(self) -> None:
        """Run on the calling thread until the process is killed (script mode)."""
        self._loop.run_until_complete(self._start())
        print(f"PORT {self.port}", flush=True)
        self._loop.run_forever()


# --- scripts as JSON, for the subprocess ----------------------------------------------------


def _b(value: str | bytes) -> dict[str, str]:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode()}
    return {"str": value}


def _unb(value: dict[str, str]) -> str | bytes:
    return base64.b64decode(value["b64"]) if "b64" in value else value["str"]


def _step_to_json(step: Step) -> dict[str, Any]:
    if isinstance(step, Send):
        return {"send": _b(step.data)}
    if isinstance(step, Pause):
        return {"pause": step.seconds}
    if isinstance(step, InitialMetadata):
        return {"initial": [[k, _b(v)] for k, v in step.pairs]}
    if isinstance(step, Status):
        return {
            "status": step.code.name,
            "details": _b(step.details),
            "trailers": [[k, _b(v)] for k, v in step.trailers],
        }
    if isinstance(step, Hang):
        return {"hang": True}
    return {"kill": True}


def _step_from_json(data: dict[str, Any]) -> Step:
    if "send" in data:
        value = _unb(data["send"])
        assert isinstance(value, bytes)
        return Send(value)
    if "pause" in data:
        return Pause(float(data["pause"]))
    if "initial" in data:
        return InitialMetadata(tuple((k, _unb(v)) for k, v in data["initial"]))
    if "status" in data:
        return Status(
            grpc.StatusCode[data["status"]],
            _unb(data["details"]),
            tuple((k, _unb(v)) for k, v in data["trailers"]),
        )
    if "hang" in data:
        return Hang()
    return Kill()


def scripts_to_json(scripts: dict[bytes, Sequence[Step]]) -> str:
    """DoGet scripts, keyed by ticket, as JSON for ``python fault_server.py``."""
    return json.dumps(
        {
            base64.b64encode(ticket).decode(): [_step_to_json(s) for s in steps]
            for ticket, steps in scripts.items()
        }
    )


def scripts_from_json(text: str) -> dict[bytes, list[Step]]:
    return {
        base64.b64decode(ticket): [_step_from_json(s) for s in steps]
        for ticket, steps in json.loads(text).items()
    }


class FaultServerProcess:
    """A :class:`FaultServer` in a child process, so a test can SIGKILL it mid-stream.

    The child is always killed and reaped on exit, also when the test fails.
    """

    def __init__(self, scripts: dict[bytes, Sequence[Step]], workdir: Path) -> None:
        self._script_file = workdir / "fault_scripts.json"
        self._script_file.write_text(scripts_to_json(scripts))
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def location(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> FaultServerProcess:
        self._process = subprocess.Popen(
            [sys.executable, __file__, str(self._script_file)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert self._process.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._process.stdout], [], [], 0.5)
            if ready:
                line = self._process.stdout.readline()
                if line.startswith("PORT "):
                    self.port = int(line.split()[1])
                    return self
                if not line:
                    break
        self.kill()
        raise RuntimeError("the fault server process did not start")

    def kill(self) -> None:
        """SIGKILL the server now (no-op if it is gone already)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()

    @property
    def returncode(self) -> int | None:
        assert self._process is not None
        return self._process.poll()

    def wait(self, timeout: float = 30) -> int:
        """The exit status, once the process has ended (TimeoutExpired past ``timeout``)."""
        assert self._process is not None
        return self._process.wait(timeout)

    def __exit__(self, *exc: object) -> None:
        self.kill()


def main(argv: list[str]) -> None:
    server = FaultServer()
    for ticket, steps in scripts_from_json(Path(argv[1]).read_text()).items():
        server.script(ticket, steps)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)


class BytesStatusServer:
    """A synchronous ``grpc.server`` whose DoGet sends ``messages`` then ends with a status
    whose details are raw ``bytes``.

    ``grpc.aio``'s servicer context accepts only ``str`` details (always valid UTF-8 on the
    wire); the synchronous server passes ``bytes`` through, which is what a C++ server does
    with a status message in some other encoding. grpc percent-encodes them either way.
    """

    def __init__(
        self,
        messages: Sequence[bytes],
        code: grpc.StatusCode,
        details: bytes,
        trailers: tuple[tuple[str, str | bytes], ...] = (),
    ) -> None:
        from concurrent.futures import ThreadPoolExecutor

        def do_get(request: bytes, context: grpc.ServicerContext) -> Iterable[bytes]:
            yield from messages
            if trailers:
                context.set_trailing_metadata(trailers)
            context.abort(code, details)  # type: ignore[arg-type]

        self._pool = ThreadPoolExecutor(max_workers=2)
        self._server = grpc.server(self._pool)
        self._server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE,
                    {
                        "DoGet": grpc.unary_stream_rpc_method_handler(
                            do_get, request_deserializer=None, response_serializer=None
                        )
                    },
                ),
            )
        )
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    @property
    def location(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    def __enter__(self) -> BytesStatusServer:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(None).wait(10)
        self._pool.shutdown(wait=True)
