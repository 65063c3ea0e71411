"""The blocking facade under load: 1,000 calls, Ctrl-C at random points, exit mid-call."""

from __future__ import annotations

import _thread
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from leaks import tasks_left_on_shared_loop

from flightnb import FlightClient, FlightDescriptor, open_flight, read_flight, write_parquet
from flightnb.client.loop_thread import shared_loop_thread

pytestmark = pytest.mark.timeout(90)

T = TypeVar("T")


def _wait_for_no_tasks() -> list[str]:
    """The tasks still on flightnb's loop once those ending have ended (cancellation takes a
    moment to reach the wire); the wait is on the tasks themselves, bounded."""
    return tasks_left_on_shared_loop(grace=10.0)


# --- 1,000 calls ---------------------------------------------------------------------------------


def test_sync_facade_survives_1000_calls(flight_server: Any) -> None:
    numbers = FlightDescriptor.for_path("numbers")
    ints = flight_server.table("ints")
    shared_loop_thread()  # started before the count: it lives for the whole process
    # Threads may end meanwhile (grpc.aio stops its poller thread once the last channel of
    # any loop is gone, earlier tests' ones included): only a thread this test left counts.
    threads = set(threading.enumerate())
    calls = [
        lambda c: c.do_get(b"ints").read_all().equals(ints),
        lambda c: c.get_flight_info(numbers).total_records == 10_000,
        lambda c: c.get_schema(numbers).names == ["n", "s"],
        lambda c: [r.body for r in c.do_action("echo", b"x")] == [b"x"],
        lambda c: len(list(c.do_get(b"app_metadata"))) == 3,
    ]
    with FlightClient(flight_server.location, timeout=30) as client:
        for i in range(1000):
            assert calls[i % len(calls)](client), i
        assert not _wait_for_no_tasks()
        assert len(client.async_client._calls.channels) == 1
    assert set(threading.enumerate()) - threads == set()


# --- KeyboardInterrupt at random points ----------------------------------------------------------


def _read_all(client: FlightClient, ticket: bytes) -> pa.Table:
    return client.do_get(ticket).read_all()


def _iterate(client: FlightClient, ticket: bytes) -> pa.Table:
    with client.do_get(ticket) as reader:
        batches = [chunk.data for chunk in reader if chunk.data is not None]
        return pa.Table.from_batches(batches, schema=reader.schema)


def _read_flight_with_client(client: FlightClient, ticket: bytes) -> pa.Table:
    return read_flight(client, ticket=ticket, progress=False)


def _read_flight_with_uri(client: FlightClient, ticket: bytes) -> pa.Table:
    return read_flight(client.location.uri, ticket=ticket, progress=False)


WAYS = [_read_all, _iterate, _read_flight_with_client, _read_flight_with_uri]


def _interrupt_never_arrived() -> NoReturn:
    pytest.fail("the interrupt never arrived")


def _with_interrupt_after(delay: float, call: Callable[[], T]) -> T | None:
    """``call()`` with a Ctrl-C ``delay`` seconds after it starts: its result when it
    completed first, None when the Ctrl-C cut it short. Either way the Ctrl-C is taken here.

    A call that completes first leaves the Ctrl-C to come: once the timer has fired it is
    pending, and Python raises it on entering the next function, so the failure below is
    reached only if it was lost.
    """
    timer = threading.Timer(delay, _thread.interrupt_main)
    result: T | None = None
    try:
        try:
            timer.start()
            result = call()
            timer.join()
            _interrupt_never_arrived()
        except KeyboardInterrupt:
            pass
    except KeyboardInterrupt:  # pragma: no cover - arrives at most once
        pass
    timer.join()
    return result


def test_keyboard_interrupts_at_random_points(flight_server: Any) -> None:
    """~30 interrupts: each call raises KeyboardInterrupt or completes, and nothing lingers.

    ``slow`` streams for about 5 s, so an interrupt within 0.4 s always lands mid-call
    (while waiting for a message, or between messages of an iteration); ``numbers`` finishes
    in milliseconds, so an interrupt 0-20 ms later lands before, during or after the call.
    """
    rng = random.Random(20240611)
    outcomes: dict[str, int] = {"interrupted": 0, "completed": 0}
    with FlightClient(flight_server.location, timeout=30) as client:
        for i in range(30):
            ticket = b"slow" if i % 3 else b"numbers"
            delay = rng.uniform(0.0, 0.4) if ticket == b"slow" else rng.uniform(0.0, 0.02)
            way = WAYS[i % len(WAYS)]
            table = _with_interrupt_after(delay, lambda: way(client, ticket))  # noqa: B023
            if table is None:
                outcomes["interrupted"] += 1
            else:
                outcomes["completed"] += 1
                assert table.equals(flight_server.table(ticket.decode())), (i, way.__name__)
            left = _wait_for_no_tasks()
            assert not left, f"iteration {i} ({way.__name__}, {ticket!r}): {left}"
        # The same client still works, for every way of reading.
        for way in WAYS:
            assert way(client, b"numbers").equals(flight_server.table("numbers"))
    assert outcomes["interrupted"] >= 20, outcomes
    assert not _wait_for_no_tasks()


def _read_from_uri(uri: str, target: Path) -> pa.Table:
    return read_flight(uri, ticket=b"numbers", progress=False)


def _write_parquet_from_uri(uri: str, target: Path) -> pa.Table:
    write_parquet(uri, target, ticket=b"numbers", progress=False)
    return pq.read_table(target)


def _open_flight_from_uri(uri: str, target: Path) -> pa.Table:
    with open_flight(uri, ticket=b"numbers", progress=False) as reader:
        return reader.read_all()


@pytest.mark.parametrize(
    "call",
    [_read_from_uri, _write_parquet_from_uri, _open_flight_from_uri],
    ids=lambda c: c.__name__,
)
def test_interrupts_of_one_call_functions_given_a_location_leave_nothing_open(
    flight_server: Any, tmp_path: Path, call: Callable[[str, Path], pa.Table]
) -> None:
    """200 calls given a URI, each with Ctrl-C 0-30 ms after it starts: while the client is
    made, mid-read, while it closes, or after. Each call completes whole or raises
    KeyboardInterrupt; no channel, client or task is left behind (the leak check says so at
    teardown, and the tasks are checked here), and an interrupted write leaves no file
    behind but a whole one (interrupted once it was written)."""
    rng = random.Random(20261204)
    uri = f"grpc://127.0.0.1:{flight_server.port}"
    expected = flight_server.table("numbers")
    interrupted = 0
    for i in range(200):
        target = tmp_path / f"{i}.parquet"
        delay = rng.uniform(0.0, 0.03)
        table = _with_interrupt_after(delay, lambda: call(uri, target))  # noqa: B023
        if table is None:
            interrupted += 1
            table = pq.read_table(target) if target.exists() else None
        if table is not None:
            assert table.equals(expected), i
        assert [p.name for p in tmp_path.iterdir()] in ([], [target.name]), i
        target.unlink(missing_ok=True)
    assert interrupted >= 20
    assert not _wait_for_no_tasks()


def test_interrupt_ends_the_stream_before_its_end(flight_server: Any) -> None:
    """The KeyboardInterrupt stops the call in flight, not at the stream's end.

    ``slow`` sends 100 batches, 50 ms apart; the interrupt comes once the server has sent
    ``count`` of them, and the server must then see its stream end early.
    """
    watch = flight_server.watch("slow")
    batches = flight_server.table("slow").num_rows // 100
    with FlightClient(flight_server.location, timeout=30) as client:
        for count in (1, 5, 10):

            def interrupt_once_sent(count: int = count) -> None:
                if watch.wait_sent(count, timeout=30):
                    _thread.interrupt_main()

            watch.restart()  # counts this call's batches, not the last one's
            interrupter = threading.Thread(target=interrupt_once_sent, daemon=True)
            interrupter.start()
            with pytest.raises(KeyboardInterrupt):
                client.do_get(b"slow").read_all()
            interrupter.join()
            assert watch.ended.wait(30) and watch.sent < batches, (count, watch.sent)
        assert not _wait_for_no_tasks()


# --- interpreter exit with calls in flight -------------------------------------------------------

EXIT_PREAMBLE = textwrap.dedent(
    """
    from __future__ import annotations

    import asyncio
    import atexit
    import sys
    import threading
    import time

    from flightnb import AsyncFlightClient, FlightClient, read_flight
    from flightnb.client.loop_thread import shared_loop_thread

    LOCATION = sys.argv[1]
    started = threading.Event()


    def sync_read() -> None:
        client = FlightClient(LOCATION)
        started.set()
        client.do_get(b"slow").read_all()


    async def async_read() -> None:
        client = AsyncFlightClient(LOCATION)  # never closed: exit must cope
        started.set()
        await client.do_get(b"slow").read_all()
    """
)

EXIT_SCRIPTS = {
    # A blocking read in a daemon thread.
    "sync_daemon_thread": """
        threading.Thread(target=sync_read, daemon=True).start()
    """,
    # A read submitted to flightnb's loop from outside, never awaited.
    "loop_background_read": """
        future = asyncio.run_coroutine_threadsafe(async_read(), shared_loop_thread().loop)
    """,
    # Both, plus a read_flight(uri) in another daemon thread.
    "everything_at_once": """
        threading.Thread(target=sync_read, daemon=True).start()
        threading.Thread(
            target=lambda: read_flight(LOCATION, ticket="slow", progress=False), daemon=True
        ).start()
        future = asyncio.run_coroutine_threadsafe(async_read(), shared_loop_thread().loop)
    """,
    # An atexit handler registered before flightnb's loop started runs after flightnb shut
    # it down; its call must fail at once, not wait forever for a loop that is gone.
    "atexit_handler_after_shutdown": """
        clients = []

        def close_at_exit() -> None:
            try:
                clients[0].close()
                print("closed", flush=True)
            except RuntimeError as exc:
                print("close failed:", exc, flush=True)

        atexit.register(close_at_exit)
        clients.append(FlightClient(LOCATION))
        threading.Thread(target=lambda: clients[0].do_get(b"slow").read_all(), daemon=True).start()
        started.set()
    """,
    # A coroutine on flightnb's loop that swallows cancellation: exit waits a bounded time.
    "task_ignoring_cancellation": """
        async def stubborn() -> None:
            started.set()
            while True:
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    pass

        asyncio.run_coroutine_threadsafe(stubborn(), shared_loop_thread().loop)
    """,
    # A callback that blocks flightnb's loop thread itself.
    "loop_thread_blocked": """
        loop = shared_loop_thread().loop
        loop.call_soon_threadsafe(lambda: (started.set(), time.sleep(60)))
    """,
}

EXIT_EPILOGUE = textwrap.dedent(
    """
    assert started.wait(10)
    time.sleep(0.3)  # let the calls get going
    print(f"exiting {time.time()!r}", flush=True)
    """
)

EXIT_LIMIT_SECONDS = 4.0


@pytest.mark.parametrize("case", sorted(EXIT_SCRIPTS))
def test_interpreter_exit_with_calls_in_flight(
    flight_server: Any, tmp_path: Path, case: str
) -> None:
    script = tmp_path / f"{case}.py"
    script.write_text(EXIT_PREAMBLE + textwrap.dedent(EXIT_SCRIPTS[case]) + EXIT_EPILOGUE)
    done = subprocess.run(
        [sys.executable, str(script), flight_server.location],
        capture_output=True,
        text=True,
        timeout=30,  # a hang fails here
        check=False,
    )
    ended = time.time()
    assert done.returncode == 0, (done.returncode, done.stdout[-1000:], done.stderr[-3000:])
    markers = [line for line in done.stdout.splitlines() if line.startswith("exiting ")]
    assert markers, (done.stdout[-1000:], done.stderr[-3000:])
    marker = markers[0]
    exit_seconds = ended - float(marker.split()[1])
    assert exit_seconds < EXIT_LIMIT_SECONDS, f"exit took {exit_seconds:.2f} s"
    if case == "atexit_handler_after_shutdown":
        # Closing after flightnb's loop has shut down is a quiet no-op.
        assert "closed" in done.stdout and "close failed" not in done.stdout
