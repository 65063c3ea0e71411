"""Memory, channels, tasks and threads return to baseline after many reads.

Measured in a fresh interpreter (a child process reading from this process's server), so
nothing else the test session allocated blurs the numbers: tracemalloc for Python
allocations, ``VmRSS`` from /proc/self/status for everything (Arrow buffers, grpc core),
``Threads`` for native threads, live ``grpc.aio.Channel`` objects, and the tasks left on
flightnb's loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)"),
]

MIB = 1 << 20
RSS_GROWTH_LIMIT = 20 * MIB
TRACED_GROWTH_LIMIT = 2 * MIB

# Each phase runs ``warm_up`` reads, then measures around ``reads`` more.
CHILD = textwrap.dedent(
    """
    from __future__ import annotations

    import asyncio
    import gc
    import json
    import sys
    import threading
    import time
    import tracemalloc

    import grpc.aio

    from flightnb import AsyncFlightClient, FlightClient, read_flight
    from flightnb.client.loop_thread import shared_loop_thread

    LOCATION, TICKET = sys.argv[1], sys.argv[2].encode()


    def proc_status(field: str) -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise KeyError(field)


    portal = shared_loop_thread()


    async def _other_tasks() -> int:
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])


    async def _new_async_client() -> AsyncFlightClient:
        return AsyncFlightClient(LOCATION)


    def sample() -> dict[str, int]:
        gc.collect()
        return {
            "traced": tracemalloc.get_traced_memory()[0],
            "rss": proc_status("VmRSS") * 1024,
            "os_threads": proc_status("Threads"),
            "py_threads": threading.active_count(),
            "channels": sum(isinstance(o, grpc.aio.Channel) for o in gc.get_objects()),
        }


    # Made on flightnb's loop: grpc.aio channels belong to the loop that makes them.
    async_client = portal.run(_new_async_client())
    sync_client = FlightClient(LOCATION)
    rows = sync_client.do_get(TICKET).read_all().num_rows
    assert rows > 0


    async def async_reused(n: int) -> None:
        for _ in range(n):
            assert (await async_client.do_get(TICKET).read_all()).num_rows == rows


    async def async_own_client(n: int) -> None:
        for _ in range(n):
            async with AsyncFlightClient(LOCATION) as client:
                assert (await client.do_get(TICKET).read_all()).num_rows == rows


    def sync_reused(n: int) -> None:
        for _ in range(n):
            assert sync_client.do_get(TICKET).read_all().num_rows == rows


    def read_flight_uri(n: int) -> None:
        for _ in range(n):
            assert read_flight(LOCATION, ticket=TICKET, progress=False).num_rows == rows


    PHASES = {
        "async_reused": (lambda n: portal.run(async_reused(n)), 1000, 100),
        "sync_reused": (sync_reused, 1000, 100),
        "async_own_client": (lambda n: portal.run(async_own_client(n)), 200, 30),
        "read_flight_uri": (read_flight_uri, 200, 30),
    }

    tracemalloc.start()
    report = {}
    for name, (run, reads, warm_up) in PHASES.items():
        run(warm_up)
        before = sample()
        started = time.monotonic()
        run(reads)
        seconds = time.monotonic() - started
        after = sample()
        report[name] = {
            "reads": reads,
            "seconds": round(seconds, 2),
            "tasks": portal.run(_other_tasks()),
            "before": before,
            "after": after,
        }
    print(json.dumps(report))
    """
)


@pytest.fixture(scope="module")
def report(flight_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    script = tmp_path_factory.mktemp("load_memory") / "reads.py"
    script.write_text(CHILD)
    done = subprocess.run(
        [sys.executable, str(script), flight_server.location, "parts/0"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stderr == "", done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


PHASES = ["async_reused", "sync_reused", "async_own_client", "read_flight_uri"]


@pytest.mark.parametrize("phase", PHASES)
def test_memory_returns_to_baseline(report: dict[str, Any], phase: str) -> None:
    before, after = report[phase]["before"], report[phase]["after"]
    traced = after["traced"] - before["traced"]
    rss = after["rss"] - before["rss"]
    assert traced < TRACED_GROWTH_LIMIT, f"{phase}: Python allocations grew {traced / MIB:.2f} MiB"
    assert rss < RSS_GROWTH_LIMIT, f"{phase}: RSS grew {rss / MIB:.2f} MiB"


OS_THREAD_SLACK = 4


@pytest.mark.parametrize("phase", PHASES)
def test_no_channels_tasks_or_threads_left_behind(report: dict[str, Any], phase: str) -> None:
    before, after = report[phase]["before"], report[phase]["after"]
    assert report[phase]["tasks"] == 0, f"{phase}: tasks left on flightnb's loop"
    # The two long-lived clients' channels, nothing else: per-read clients closed theirs.
    assert after["channels"] == before["channels"] == 2
    assert after["py_threads"] == before["py_threads"]
    # gRPC's core sizes its own worker pool to the load and may add a thread or two; a leak
    # over hundreds of reads would add far more.
    assert after["os_threads"] <= before["os_threads"] + OS_THREAD_SLACK


def test_reads_are_not_slowed_down(report: dict[str, Any]) -> None:
    """A loose bound (2 cores, shared CI): catches a per-read cost that grows, e.g. a leak."""
    for phase in PHASES:
        per_read = report[phase]["seconds"] / report[phase]["reads"]
        assert per_read < 0.05, f"{phase}: {per_read * 1000:.1f} ms per read"
