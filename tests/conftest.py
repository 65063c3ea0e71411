"""Shared pytest fixtures: real ``pyarrow.flight`` servers and the Arrow corpus.

Every server is session-scoped and started once; tests must not rely on state other tests
leave behind, and should register extra tables under names of their own
(``server.add_table("my_test/x", table)``).

Fixtures
--------
flight_server : tests.flight_servers.FlightTestServer
    A server on ``grpc://127.0.0.1:<port>`` (``flight_server.location``, ``.port``) serving the
    standard flights of :func:`flight_servers.populate`:

    * ``dictionary``: three batches whose dictionary column changes (replacement dictionaries);
    * ``numbers`` (10 000 rows, ``n: int64, s: string``), ``ints``, ``empty`` (schema, no
      batches), ``parts/0`` .. ``parts/2`` (100 rows each of ``numbers``);
    * ``corpus/<case>`` for every case of :data:`corpus.CASES`;
    * ``app_metadata``: 30 rows in 3 batches with app_metadata ``b"first"``, ``b"second"``,
      ``b"third"``;
    * ``batches_of_1000``: ``numbers`` in 10 batches; ``slow``: ``numbers`` in 100-row batches
      with a 50 ms pause before each (cancellation, timeouts, progress);
    * ``multi/ordered`` (3 endpoints with this server's location, ``ordered=True``),
      ``multi/unordered`` (3 endpoints without locations), ``multi/other_server`` (endpoints
      on this server, on ``other_flight_server``, and on both);
    * ``error/<kind>`` for every kind of :data:`flight_servers.ERRORS` (every call fails with
      ``ERRORS[kind].code``), ``error_after/<kind>`` tickets (two batches, then the error);
    * DoPut stores uploads (``flight_server.uploads[path]``, ``.put_metadata[path]``) and
      echoes each app_metadata as a PutResult; DoExchange echoes; actions ``echo``,
      ``tables``, ``drop``.

flight_location : str
    ``flight_server.location``.
grpc_target : str
    ``"127.0.0.1:<port>"`` of ``flight_server``, for ``grpc.insecure_channel`` and friends.
other_flight_server : FlightTestServer
    A second TCP server with the standard tables (not the multi-endpoint flights).
unix_flight_server : FlightTestServer
    The same standard flights on ``grpc+unix://<path>``; ``.socket_path`` is the path, so a
    plain gRPC target is ``"unix:" + str(unix_flight_server.socket_path)``.
auth_flight_server : FlightTestServer
    The standard flights behind authentication with :data:`flight_servers.TEST_USERS`
    (``alice`` / ``wonderland``); see the :mod:`flight_servers` docstring for the two
    handshakes it accepts.
pyarrow_flight_client : pyarrow.flight.FlightClient
    A pyarrow client connected to ``flight_server``, for reading reference results; closed
    after the test.
corpus_cases : list[tuple[str, pyarrow.Table]]
    :data:`corpus.CASES`.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import shutil
import signal
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.flight as flight
import pytest
from corpus import CASES
from flight_servers import TEST_USERS, FlightTestServer, populate, serve_unix

# Every test, module and session fails if it leaves a client, channel, loop thread or server
# open (see tests/leaks.py for what counts). A plugin rather than conftest hooks: it must also
# see the setup of session-scoped fixtures, which belong to no directory.
pytest_plugins = ["leaks", "pytester"]

# Ray reads these when it is imported, so before any test module imports it: no usage
# statistics, and its single-node mode, whose services listen on and advertise 127.0.0.1
# instead of the machine's address (ray._private.services.get_node_ip_address).
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


@pytest.fixture(autouse=True)
def default_sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler for the test's duration.

    Started from a background shell, SIGINT is ignored (SIG_IGN) and Python keeps that, so a
    simulated Ctrl-C (``_thread.interrupt_main``) would do nothing and tests of interrupts
    would fail; a real Ctrl-C must raise KeyboardInterrupt in them as it does for users.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def other_flight_server() -> Iterator[FlightTestServer]:
    with FlightTestServer() as server:
        populate(server)
        yield server


@pytest.fixture(scope="session")
def flight_server(other_flight_server: FlightTestServer) -> Iterator[FlightTestServer]:
    with FlightTestServer() as server:
        populate(server, other=other_flight_server)
        yield server


@pytest.fixture(scope="session")
def flight_location(flight_server: FlightTestServer) -> str:
    return flight_server.location


@pytest.fixture(scope="session")
def grpc_target(flight_server: FlightTestServer) -> str:
    return f"127.0.0.1:{flight_server.port}"


@pytest.fixture(scope="session")
def unix_flight_server() -> Iterator[FlightTestServer]:
    with serve_unix() as server:
        populate(server)
        yield server
    assert server.socket_path is not None
    server.socket_path.unlink(missing_ok=True)
    server.socket_path.parent.rmdir()


@pytest.fixture(scope="session")
def auth_flight_server() -> Iterator[FlightTestServer]:
    with FlightTestServer(users=TEST_USERS) as server:
        populate(server)
        yield server


@pytest.fixture
def pyarrow_flight_client(flight_server: FlightTestServer) -> Iterator[flight.FlightClient]:
    client = flight.connect(flight_server.location)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def corpus_cases() -> list:
    return CASES


@dataclasses.dataclass(frozen=True)
class RayCluster:
    """A local Ray instance of the session, and the token its workers find in their env."""

    session_dir: Path
    token_env: str
    token: str


@pytest.fixture(scope="session")
def ray_cluster(auth_flight_server: FlightTestServer) -> Iterator[RayCluster]:
    """One local Ray instance for the session: 2 CPUs, worker processes, loopback only.

    The bearer token that ``auth_flight_server`` issued is put in this process's environment
    before Ray starts, so every worker inherits it, as a cluster's workers would have it from
    their own environment; it is never given to Ray itself.
    """
    import ray

    with flight.connect(auth_flight_server.location) as client:
        _, value = client.authenticate_basic_token("alice", TEST_USERS["alice"])
    token = value.decode().removeprefix("Bearer ")
    saved = dict(os.environ)
    os.environ["FLIGHTNB_RAY_TOKEN"] = token
    # A short directory: Ray's unix sockets live under it (paths of at most 107 bytes).
    temp_dir = Path(tempfile.mkdtemp(prefix="fnbray-"))
    try:
        _start_ray(
            ray,
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=96 * 2**20,
            _node_ip_address="127.0.0.1",
            _temp_dir=str(temp_dir),
            log_to_driver=False,
            configure_logging=False,
        )
        import ray.data

        with warnings.catch_warnings():
            # Ray's DataContext warns about its own defaults when it is first made (2.60:
            # "use_push_based_shuffle is deprecated"); made once here, it never warns again.
            warnings.simplefilter("ignore", DeprecationWarning)
            ray.data.DataContext.get_current().enable_progress_bars = False
        yield RayCluster(temp_dir / "session_latest", "FLIGHTNB_RAY_TOKEN", token)
    finally:
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _start_ray(ray: Any, **options: Any) -> None:
    """``ray.init(**options)``, tried up to three times.

    Ray gives its node a fixed 30 s to come up (``ray._private.node``), and its raylet gives
    up waiting for its agents' ports sooner or later; on a loaded machine either can fail a
    start that would succeed a moment later. A failed start's processes are ours: they are
    killed and reaped before the next try.
    """
    for attempt in range(3):
        known = {id(p) for p in gc.get_objects() if isinstance(p, subprocess.Popen)}
        try:
            ray.init(**options)
            return
        except Exception:
            # Here, while the traceback still holds the failed node's Popen objects (once it
            # goes, they are collected, and a running one warns).
            for process in gc.get_objects():
                if isinstance(process, subprocess.Popen) and id(process) not in known:
                    if process.poll() is None:
                        process.kill()
                    process.wait(timeout=30)
            ray.shutdown()
            if attempt == 2:
                raise
