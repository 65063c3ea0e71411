"""The leak check (tests/leaks.py) sees each kind of leak, names it, and fails the test."""

from __future__ import annotations

import asyncio
import gc
import textwrap
from pathlib import Path
from typing import Any

import pytest
from flight_servers import FlightTestServer
from leaks import LeakCheck, release_what_polars_dropped, snapshot, tasks_left_on_shared_loop

from flightnb import AsyncFlightClient, FlightClient, FlightSqlClient
from flightnb.client.loop_thread import LoopThread, shared_loop_thread
from flightnb.server.service import FlightServer

THIS_FILE = Path(__file__).name


def _line_of(marker: str) -> int:
    """The line of this file that holds ``marker`` (where the leaked object is made)."""
    lines = Path(__file__).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if marker in line and "_line_of" not in line)


def test_a_blocking_client_left_open_is_named_with_its_line(flight_server: Any) -> None:
    before = snapshot()
    client = FlightClient(flight_server.location)  # made here: blocking
    client.list_actions()
    [leak] = LeakCheck().leaked_since(before)
    assert leak.startswith(f"gRPC channel to 127.0.0.1:{flight_server.port}")
    assert f"{THIS_FILE}:{_line_of('# made here: blocking')}" in leak
    client.close()
    assert LeakCheck().leaked_since(before) == []


def test_a_sql_client_left_open_is_seen(flight_server: Any) -> None:
    before = snapshot()
    client = FlightSqlClient(flight_server.location)  # made here: sql
    client.flight_client.list_actions()
    [leak] = LeakCheck().leaked_since(before)
    assert f"{THIS_FILE}:{_line_of('# made here: sql')}" in leak
    client.close()
    assert LeakCheck().leaked_since(before) == []


def test_a_client_that_made_no_call_holds_nothing(flight_server: Any) -> None:
    before = snapshot()
    FlightClient(flight_server.location)
    assert LeakCheck().leaked_since(before) == []


def test_an_async_client_collected_without_close_is_a_leak(flight_server: Any) -> None:
    before = snapshot()

    async def forget_to_close() -> None:
        client = AsyncFlightClient(flight_server.location)
        await client.list_actions()

    asyncio.run(forget_to_close())
    gc.collect()
    [leak] = LeakCheck().leaked_since(before)
    assert "garbage-collected without being closed" in leak
    assert f"gRPC channel to 127.0.0.1:{flight_server.port}" in leak


def test_a_closed_client_is_not_a_leak_once_collected(flight_server: Any) -> None:
    before = snapshot()

    async def close_it() -> None:
        async with AsyncFlightClient(flight_server.location) as client:
            await client.list_actions()

    asyncio.run(close_it())
    gc.collect()
    assert LeakCheck().leaked_since(before) == []


def test_what_flightnb_opened_since_is_seen_without_reporting_it(flight_server: Any) -> None:
    before, check = snapshot(), LeakCheck()
    client = FlightClient(flight_server.location)
    client.list_actions()
    assert check.flightnb_opened_since(before)
    client.close()
    assert not check.flightnb_opened_since(before)
    assert check.reported == set()


def test_waiting_for_polars_to_drop_a_read_still_reports_a_real_leak(flight_server: Any) -> None:
    import polars  # noqa: F401  (the wait calls polars only once it is loaded)

    before, check = snapshot(), LeakCheck()
    client = FlightClient(flight_server.location)  # made here: not dropped by polars
    client.list_actions()
    release_what_polars_dropped(lambda: check.flightnb_opened_since(before), grace=0.1)
    [leak] = check.leaked_since(before)
    assert f"{THIS_FILE}:{_line_of('# made here: not dropped by polars')}" in leak
    client.close()


def test_a_private_loop_thread_not_stopped_is_a_leak() -> None:
    before = snapshot()
    portal = LoopThread()
    [leak] = LeakCheck().leaked_since(before)
    assert leak.startswith("a private LoopThread, opened at")
    portal.stop()
    assert LeakCheck().leaked_since(before) == []


def test_the_shared_loop_thread_is_not_a_leak() -> None:
    before = snapshot()
    shared_loop_thread()
    assert LeakCheck().leaked_since(before) == []


def test_a_task_left_on_the_shared_loop_is_named_then_waited_for() -> None:
    loop = shared_loop_thread().loop
    release = asyncio.Event()

    async def stuck_on_the_loop() -> None:
        await release.wait()

    future = asyncio.run_coroutine_threadsafe(stuck_on_the_loop(), loop)
    [leak] = tasks_left_on_shared_loop(grace=0.0)
    assert "stuck_on_the_loop" in leak
    loop.call_soon_threadsafe(release.set)
    # The task ends once released: the wait returns then, well before the grace period.
    assert tasks_left_on_shared_loop(grace=60.0) == []
    assert future.done()


def test_a_flightnb_server_not_shut_down_is_named_once() -> None:
    before = snapshot()
    server = FlightServer()
    [leak] = LeakCheck().leaked_since(before)
    assert leak.startswith(f"FlightServer on port {server.port}, opened at")
    server.shutdown()
    assert LeakCheck().leaked_since(before) == []


def test_any_other_listening_server_is_named_by_its_socket() -> None:
    before = snapshot()
    server = FlightTestServer()
    [leak] = LeakCheck().leaked_since(before)
    assert leak == (
        f"a server listening on TCP 127.0.0.1:{server.port} (flight_servers.FlightTestServer)"
    )
    server.shutdown()
    assert LeakCheck().leaked_since(before) == []


def test_a_leak_is_reported_once() -> None:
    check = LeakCheck()
    before = snapshot()
    portal = LoopThread()
    try:
        assert len(check.leaked_since(before)) == 1
        assert check.leaked_since(before) == []
    finally:
        portal.stop()


LEAKY_TESTS = """
import pytest
from flight_servers import FlightTestServer
from flightnb import FlightClient
from flightnb.client.loop_thread import LoopThread

@pytest.fixture(scope="session")
def shared_server():
    with FlightTestServer() as server:
        yield server

@pytest.fixture(scope="module")
def module_portal():
    yield LoopThread()  # never stopped

def test_leaks_a_client(shared_server):
    FlightClient(shared_server.location).list_actions()

def test_closes_its_client(shared_server):
    with FlightClient(shared_server.location) as client:
        client.list_actions()

def test_uses_a_leaky_module_fixture(module_portal):
    pass

@pytest.fixture(scope="module")
def module_client(shared_server):
    with FlightClient(shared_server.location) as client:
        yield client

def test_makes_the_first_call_of_a_module_client(module_client):
    module_client.list_actions()  # its channel opens here, and is the fixture's
"""


def test_the_fixture_fails_the_test_that_leaks(pytester: pytest.Pytester) -> None:
    tests = Path(__file__).parent
    pytester.makeconftest(
        f"import sys\nsys.path.insert(0, {str(tests)!r})\npytest_plugins = ['leaks']\n"
    )
    pytester.makepyfile(test_leaky=textwrap.dedent(LEAKY_TESTS))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    # One error at the teardown of the leaking test, one at the end of the leaky module; the
    # session fixture's server and the module's client outlive tests without being reported.
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_a_client*",
            "test_leaky.py::test_leaks_a_client left open:",
            "  - gRPC channel to 127.0.0.1:*, opened at *test_leaky.py:16 (test_leaks_a_client)*",
            "*ERROR at teardown of test_makes_the_first_call_of_a_module_client*",
            "the fixtures of test_leaky.py left open:",
            "  - a private LoopThread, opened at *test_leaky.py:13 (module_portal)*",
        ]
    )
    assert "listening" not in result.stdout.str()
