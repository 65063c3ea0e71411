"""Fail a test that leaves a flightnb client, channel, loop thread or server open.

What counts as open, and so as a leak when a test ends with it:

* a gRPC channel a flightnb client (async or blocking, Flight or Flight SQL) opened and the
  test did not close (``close()``, ``with``/``async with``); a client that never made a call
  holds no channel and leaks nothing;
* a private :class:`flightnb.client.loop_thread.LoopThread` not stopped. The process-wide
  shared loop thread (``shared_loop_thread()``) is meant to live until the interpreter
  exits and is not a leak; a task still running on it once the test is over is, after a
  bounded wait for it to finish (cancellation takes a moment to reach the wire);
* a server: flightnb's :class:`flightnb.server.service.FlightServer` (the DuckDB server
  included) not shut down, or any socket this process listens on that the test opened and
  left listening (a ``pyarrow.flight`` server, a raw gRPC server, a hostile socket server).
  Sockets are read from ``/proc/self``; where there is no ``/proc``, only flightnb's own
  servers are seen;
* any of the above garbage-collected without having been closed during the test: being
  collected closes nothing on time (flightnb's weak registry, :mod:`flightnb._tracking`,
  remembers it).

Each test is compared with itself: what is open after it minus what was open before it. A
session- or module-scoped fixture may keep what it opened until its scope ends: whatever a
fixture of a wider scope opens while it is set up belongs to that scope, and is checked when
the scope ends (the autouse module and session fixtures below, which pytest sets up before
and tears down after every other fixture of their scope). What a test leaks is reported
once, by that test (an error at its teardown naming each object and where it was opened).

Clients in other processes (Ray and Dask workers, Jupyter kernels, subprocesses) are not
seen: their process ends with them. A worker's cached clients (``flightnb.workers.CLIENTS``)
live as long as their process by design; where Dask runs its tasks in this process's
threads they are this process's, and a test closes them (``close_worker_clients()``).

Before each check, polars is let release what it dropped without the GIL (see
:func:`release_what_polars_dropped`): a scan polars stopped reading early is closed then,
as it would be at a notebook's next polars call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import ipaddress
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flightnb import _tracking
from flightnb.client import loop_thread

# How long a task left on the shared loop may take to finish before it counts as leaked.
# Not a pause: the wait ends as soon as the tasks do.
TASK_GRACE_SECONDS = 10.0
# How long a read polars dropped may take to be released (see release_what_polars_dropped);
# the wait ends as soon as the test's own flightnb resources are closed.
POLARS_DROP_GRACE_SECONDS = 5.0
# Between two nudges of polars while waiting for that release.
_POLARS_NUDGE_SECONDS = 0.005

_WIDER_SCOPES = ("session", "package", "module", "class")


# --- what is open now -------------------------------------------------------------------------


def _socket_inodes() -> set[str]:
    inodes: set[str] = set()
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return inodes
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(fd_dir / fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _tcp_address(hex_address: str) -> str:
    """``0100007F:1F90`` -> ``127.0.0.1:8080``; IPv6 (``/proc``'s 32 hex digits) in brackets."""
    host, port = hex_address.split(":")
    # /proc prints each 32-bit word of the address in host (little-endian) byte order.
    packed = b"".join(bytes.fromhex(host[i : i + 8])[::-1] for i in range(0, len(host), 8))
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        text = str(mapped) if mapped is not None else f"[{address}]"
    else:
        text = str(address)
    return f"{text}:{int(port, 16)}"


def listening_sockets() -> dict[str, str]:
    """The sockets this process listens on: inode -> ``"TCP 127.0.0.1:5005"`` or a unix path."""
    if not os.path.isdir("/proc/self/fd"):
        return {}
    ours = _socket_inodes()
    found: dict[str, str] = {}
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/self/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in ours:  # state LISTEN
                found[fields[9]] = f"TCP {_tcp_address(fields[1])}"
    try:
        lines = Path("/proc/self/net/unix").read_text().splitlines()[1:]
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        # Flags __SO_ACCEPTCON (0x10000): a listening socket.
        if int(fields[3], 16) & 0x10000 and fields[6] in ours:
            path = fields[7] if len(fields) > 7 else "(unnamed)"
            found[fields[6]] = f"unix socket {path}"
    return found


def snapshot() -> dict[tuple[str, str], str]:
    """What is open now: flightnb's registry and this process's sockets.

    Sockets by inode only (listing them takes a tenth of a millisecond; reading the kernel's
    socket tables, some milliseconds): whether a new one listens is asked only when the
    check finds one.
    """
    held = {("flightnb", str(r.token)): str(r) for r in _tracking.open_resources()}
    held.update({("socket", inode): "" for inode in _socket_inodes()})
    return held


def _server_objects_on(address: str) -> str:
    """The class of a live server object listening on ``address``, to name a leaked socket."""
    port = address.rpartition(":")[2] if address.startswith("TCP") else None
    for obj in gc.get_objects():
        kind = type(obj)
        names = {c.__name__ for c in kind.__mro__}
        if not names & {"FlightServerBase", "FlightServer", "RawFlightServer"}:
            continue
        try:
            own_port = getattr(obj, "port", None)
        except Exception:  # a server already shut down may refuse
            continue
        if port is not None and str(own_port) == port:
            return f" ({kind.__module__}.{kind.__qualname__})"
    return ""


def tasks_left_on_shared_loop(grace: float = TASK_GRACE_SECONDS) -> list[str]:
    """Tasks still running on flightnb's shared loop once those finishing have finished.

    Waits for the tasks (at most ``grace`` seconds, returning as soon as they end), so one
    that is just completing its cancellation is not counted.
    """
    shared = loop_thread._shared
    if shared is None or shared.loop.is_closed():
        return []

    async def remaining() -> list[str]:
        tasks = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            tasks = {t for t in pending if not t.done()}
        return sorted(_describe_task(t) for t in tasks)

    return shared.run(remaining())


def _describe_task(task: asyncio.Task[Any]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    if code is None:
        return f"a task on flightnb's shared loop thread: {task!r}"
    return (
        f"a task on flightnb's shared loop thread: {code.co_qualname}"
        f" ({code.co_filename}:{code.co_firstlineno}) still running"
    )


def release_what_polars_dropped(
    still_open: Callable[[], bool] = lambda: False, grace: float = POLARS_DROP_GRACE_SECONDS
) -> None:
    """Let polars release the Python objects it dropped without holding the GIL.

    A polars scan that stops pulling early (a ``head()`` after a filter it keeps to itself)
    drops flightnb's source generator from a Rust thread; pyo3 defers that release until the
    next time polars enters Python, and until then the read and its client stay open. In a
    notebook the next polars call comes soon; here it is made before each check. The drop
    itself may come a moment after ``collect()`` has returned (polars ends its engine's
    threads behind it), so while ``still_open()`` says the test has flightnb resources open,
    polars is called again, for at most ``grace`` seconds: the wait ends as soon as they are
    closed, and a real leak is still reported after it.
    """
    polars = sys.modules.get("polars")
    if polars is None:
        return
    deadline = time.monotonic() + grace
    while True:
        polars.LazyFrame({"a": [0]}).map_batches(lambda frame: frame).collect()
        if not still_open() or time.monotonic() >= deadline:
            return
        time.sleep(_POLARS_NUDGE_SECONDS)


# --- the check --------------------------------------------------------------------------------


@dataclasses.dataclass
class LeakCheck:
    """Snapshots and the resources wider-scoped fixtures own, for one pytest session."""

    owned: dict[str, dict[tuple[str, str], str]] = dataclasses.field(
        default_factory=lambda: {scope: {} for scope in _WIDER_SCOPES}
    )
    # Clients (numbered by flightnb._tracking.new_group) made by such fixtures: their
    # channels open on first use, perhaps in a test, and still belong to the fixture.
    owned_groups: dict[str, list[tuple[int, int]]] = dataclasses.field(
        default_factory=lambda: {scope: [] for scope in _WIDER_SCOPES}
    )
    reported: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    tasks_reported: set[str] = dataclasses.field(default_factory=set)

    def _allowed(
        self, before: dict[tuple[str, str], str], excused: tuple[str, ...]
    ) -> set[tuple[str, str]]:
        """What may be open: what was before, leaks already reported, and what fixtures of
        the ``excused`` scopes own."""
        allowed = set(before) | self.reported
        for scope in excused:
            allowed |= set(self.owned[scope])
            for low, high in self.owned_groups[scope]:
                allowed |= {
                    ("flightnb", str(r.token))
                    for r in _tracking.open_resources()
                    if low < r.group <= high
                }
        return allowed

    def flightnb_opened_since(
        self, before: dict[tuple[str, str], str], *, excused: tuple[str, ...] = ()
    ) -> bool:
        """Whether flightnb's registry holds something opened since ``before`` that no
        fixture of the ``excused`` scopes owns (nothing is reported or remembered)."""
        allowed = self._allowed(before, excused)
        return any(("flightnb", str(r.token)) not in allowed for r in _tracking.open_resources())

    def leaked_since(
        self, before: dict[tuple[str, str], str], *, excused: tuple[str, ...] = ()
    ) -> list[str]:
        """What was opened since ``before`` and is still open, or was collected unclosed.

        Resources that fixtures of the ``excused`` scopes own, and leaks already reported,
        are left out. Each leak is reported once: it is then remembered.
        """
        now = snapshot()
        allowed = self._allowed(before, excused)
        new = {key: text for key, text in now.items() if key not in allowed}
        # Remembered whether they listen or not: a connection is not looked up again.
        self.reported |= set(new)
        if any(key[0] == "socket" for key in new):
            listening = listening_sockets()
            new = {
                key: text or f"a server listening on {listening[key[1]]}"
                for key, text in new.items()
                if key[0] != "socket" or key[1] in listening
            }
        # A flightnb server is named by the registry; its socket need not be named again.
        own = " ".join(text for key, text in new.items() if key[0] == "flightnb")
        lines = []
        for key, text in new.items():
            if key[0] == "socket":
                address = text.rpartition(" on ")[2]
                if f"port {address.rpartition(':')[2]}," in own or address.split()[-1] in own:
                    continue
                text += _server_objects_on(address)
            lines.append(text)
        lines += [
            f"{r}, garbage-collected without being closed" for r in _tracking.collected_unclosed()
        ]
        return lines

    def owns(self, scope: str, before: dict[tuple[str, str], str], groups_before: int) -> None:
        """What a fixture of ``scope`` opened while set up (since ``before``) is its scope's,
        and so are the channels that clients it made open later."""
        if scope in self.owned:
            self.owned[scope].update(
                {key: text for key, text in snapshot().items() if key not in before}
            )
            self.owned_groups[scope].append((groups_before, _tracking.groups_made()))


def report(where: str, leaks: list[str]) -> str:
    """The error message: the test (or fixture scope) and each leaked object, one a line."""
    return f"{where} left open:\n" + "\n".join(f"  - {leak}" for leak in leaks)


CHECK = LeakCheck()


# --- pytest hooks and fixtures (imported into conftest.py) ------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Iterator[Any]:
    if fixturedef.scope == "function":
        return (yield)
    before, groups_before = snapshot(), _tracking.groups_made()
    try:
        return (yield)
    finally:
        CHECK.owns(fixturedef.scope, before, groups_before)


@pytest.fixture(scope="session", autouse=True)
def no_leaks_in_session() -> Iterator[None]:
    """Session-scoped fixtures close what they opened by the end of the session."""
    _tracking.collected_unclosed()  # anything from before the session is not ours
    before = snapshot()
    yield
    leaks = CHECK.leaked_since(before)
    if leaks:
        pytest.fail(report("the session's fixtures", leaks), pytrace=False)


@pytest.fixture(scope="module", autouse=True)
def no_leaks_in_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """Module- and class-scoped fixtures close what they opened when their module ends."""
    before = snapshot()
    yield
    leaks = CHECK.leaked_since(before, excused=("session", "package"))
    for scope in ("module", "class"):
        CHECK.owned[scope].clear()
        CHECK.owned_groups[scope].clear()
    if leaks:
        pytest.fail(report(f"the fixtures of {request.node.nodeid}", leaks), pytrace=False)


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """The test closes every client, channel, loop thread and server it opened."""
    before = snapshot()
    yield
    release_what_polars_dropped(lambda: CHECK.flightnb_opened_since(before, excused=_WIDER_SCOPES))
    leaks = [t for t in tasks_left_on_shared_loop() if t not in CHECK.tasks_reported]
    CHECK.tasks_reported.update(leaks)
    leaks += CHECK.leaked_since(before, excused=_WIDER_SCOPES)
    if leaks:
        pytest.fail(report(request.node.nodeid, leaks), pytrace=False)
