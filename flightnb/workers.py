"""What the cluster readers share: planning on the driver, reading one part on a worker.

``flightnb.dask`` and ``flightnb.ray`` plan a read once, where the user calls them (the
driver), and ship one small, picklable description per endpoint to the workers. This module
holds the pieces both need and no cluster library: the token read from a worker's
environment (:class:`EnvToken`), the options that may travel, the plan, one cached client
per worker process and server, and the read of one endpoint (or of a whole query).

Servers that open a session per client (Deephaven answers every call with a fresh
``authorization: Bearer <session>``) may refuse a ticket to any session but the one that
planned it ("Must use the original session"), and every worker has a session of its own.
The driver learns this from the planning client's first answer (:attr:`Plan.session`):
a query then runs whole on one worker, and each worker plans a flight again in its own
session and reads its share of the endpoints (:class:`Replan`). No session token travels.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.batch_reader import FlightBatchReader
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.client.sync import FlightClient
from flightnb.errors import (
    FlightArgumentError,
    FlightArgumentTypeError,
    FlightError,
    FlightNotImplementedError,
    FlightServerError,
    FlightUnauthenticatedError,
    FlightUnauthorizedError,
)
from flightnb.functions.streaming import plan_and_stream
from flightnb.protocol.dialects import GENERIC, Dialect
from flightnb.requests import SqlQuery
from flightnb.scan.query import narrow_query, wrappable
from flightnb.sql.capabilities import is_placeholder_schema, refuses_capability
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.types import FlightDescriptor, FlightEndpoint, FlightInfo, Location, Ticket

__all__ = [
    "CLIENTS",
    "REFUSED_NOTE",
    "EnvToken",
    "Options",
    "Plan",
    "Replan",
    "check_columns",
    "close_worker_clients",
    "narrowed_request",
    "open_part",
    "opened_part",
    "part_request",
    "plan",
    "planning_options",
    "refuses_session",
    "worker_client",
    "worker_location",
    "worker_options",
]

#: Client options as they travel to workers: sorted (name, value) pairs, hashable.
Options = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class EnvToken:
    """A token read from an environment variable where it is called (on each worker).

    Picklable and free of the secret itself: the graph holds only the variable's name.
    """

    name: str

    def __call__(self) -> str:
        value = os.environ.get(self.name)
        if not value:
            raise FlightArgumentError(
                f"the environment variable {self.name} (token_env=) is not set on this worker"
            )
        return value

    def __repr__(self) -> str:
        return f"EnvToken({self.name!r})"


# --- worker side -------------------------------------------------------------------------

#: This process's clients, one per (location, options): every task a worker runs reuses them.
CLIENTS: dict[tuple[str, tuple[tuple[str, Any], ...]], FlightClient] = {}
_CLIENTS_LOCK = threading.Lock()


def _hashable(value: Any) -> Any:
    """``value`` as a cache key part (``headers=`` is a dict, a list of pairs, ...)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    return value


def worker_client(location: str, options: Options) -> FlightClient:
    """This process's client for ``location`` and ``options`` (created on first use)."""
    key = (location, tuple((name, _hashable(value)) for name, value in options))
    with _CLIENTS_LOCK:
        client = CLIENTS.get(key)
        if client is None:
            client = CLIENTS[key] = FlightClient(location, **dict(options))
        return client


def close_worker_clients() -> int:
    """Close and forget this process's worker clients; returns how many there were.

    They otherwise live as long as the process, which suits a worker. Where Dask runs its
    tasks in threads of the calling process (its default scheduler), they are this
    process's: call this to release their connections once the reads are done.
    """
    with _CLIENTS_LOCK:
        clients = list(CLIENTS.values())
        CLIENTS.clear()
    for client in clients:
        client.close()
    return len(clients)


@dataclass(frozen=True)
class Replan:
    """A part whose ticket belongs to the planning session: plan it again on the worker.

    The worker asks for the flight's FlightInfo (or runs the query) in its own session and
    reads endpoint ``index`` of the ``count`` the driver planned. As a ``choose`` callable
    it refuses a plan with another number of endpoints (the parts would no longer cover the
    flight).
    """

    request: FlightDescriptor | SqlQuery
    index: int
    count: int

    def __call__(self, planned: FlightInfo | Ticket) -> Sequence[int]:
        found = len(planned.endpoints) if isinstance(planned, FlightInfo) else 1
        if found != self.count:
            raise FlightServerError(
                f"the flight has {found} endpoint(s) in this worker's session, but "
                f"{self.count} when it was planned; read it again"
            )
        return [self.index]


#: What the cluster readers log when a worker's session was refused a planned ticket.
REFUSED_NOTE = (
    "the server refused a planned ticket to this worker's session: the worker plans its part "
    "again in its own session"
)


def refuses_session(exc: FlightError) -> bool:
    """Whether ``exc`` is a server refusing a ticket to this session (PERMISSION_DENIED or
    UNAUTHENTICATED naming the session, as Deephaven's "Must use the original session")."""
    return isinstance(exc, (FlightUnauthorizedError, FlightUnauthenticatedError)) and (
        "session" in str(exc).lower()
    )


def part_request(
    endpoint: FlightEndpoint | None,
    schema: pa.Schema | None,
    query: str | None,
    parameters: Any,
    replan: Replan | None = None,
) -> FlightInfo | SqlQuery | FlightDescriptor:
    """The read of one part: a single planned endpoint, a query run whole on the worker, or
    a flight planned again on the worker (``replan``)."""
    if replan is not None:
        return replan.request
    if endpoint is not None:
        return FlightInfo(schema, None, (endpoint,), ordered=True)
    if query is None:
        raise FlightArgumentError("a part names an endpoint, a query or a flight")
    return SqlQuery(query, parameters)


def open_part(
    client: FlightClient,
    request: FlightInfo | SqlQuery | FlightDescriptor,
    replan: Replan | None = None,
) -> FlightBatchReader:
    """Start reading one part with ``client``: failover, renewal and errors as in any read."""
    thread = shared_loop_thread()
    stream = thread.run(
        plan_and_stream(client.async_client, request, owns_client=False, choose=replan)
    )
    return FlightBatchReader(stream, thread)


@contextmanager
def opened_part(
    client: FlightClient,
    request: FlightInfo | SqlQuery | FlightDescriptor,
    replan: Replan | None = None,
    again: Replan | None = None,
    refused: Callable[[], None] | None = None,
) -> Iterator[tuple[pa.Schema, Iterator[pa.RecordBatch]]]:
    """Read one part: (its schema, its batches), the reader closed on leaving.

    A ticket the server refuses to this worker's session (:func:`refuses_session`) before
    anything was read is planned again here when ``again`` says how (``refused`` is called
    first, to say so); any other error, or a refusal without ``again``, is raised.
    """
    reader: FlightBatchReader | None = None
    try:
        reader = open_part(client, request, replan)
        first = next(reader, None)  # a refused ticket fails by here, before anything is kept
    except FlightError as exc:
        if reader is not None:
            reader.close()
        if again is None or not refuses_session(exc):
            raise
        if refused is not None:
            refused()
        reader = open_part(client, again.request, again)
        first = next(reader, None)
    with reader:
        yield reader.schema, itertools.chain(() if first is None else (first,), reader)


# --- driver side -------------------------------------------------------------------------


def worker_location(source: object, reader: str) -> str:
    """The location the workers connect to, from the ``source`` given to ``reader``.

    Only a location travels: a client, its cookies and session stay in this process.
    """
    if isinstance(source, Location):
        return source.uri
    if isinstance(source, str):
        return source
    raise FlightArgumentTypeError(
        f"{reader} needs a location: a client, its cookies and session cannot travel to the workers"
    )


def narrowed_request(
    request: Any, columns: tuple[str, ...] | None, dialect: Dialect = GENERIC
) -> Any:
    """``request`` with ``columns`` pushed into it when it is a query that can be wrapped.

    The names are quoted in the server's ``dialect``. Other requests are returned as they
    are: the workers select their columns.
    """
    if columns is None or not isinstance(request, SqlQuery) or not wrappable(request.query):
        return request
    narrowed = narrow_query(
        request.query,
        request.parameters,
        all_columns=(),
        columns=columns,
        condition=None,
        n_rows=None,
        dialect=dialect,
    )
    return SqlQuery(narrowed.query, narrowed.parameters)


def check_columns(schema: pa.Schema, columns: tuple[str, ...] | None) -> None:
    """A FlightArgumentError naming the ``columns`` the planned ``schema`` lacks."""
    missing = [c for c in columns or () if c not in schema.names]
    if missing:
        raise FlightArgumentError(f"no such column(s): {', '.join(missing)}")


def worker_options(token_env: str | None, client_options: dict[str, Any]) -> dict[str, Any]:
    """The client options that travel to the workers: a token only as a name or callable."""
    options = dict(client_options)
    token = options.pop("token", None)
    if isinstance(token, str):
        raise FlightArgumentError(
            "a token= string would travel inside the task graph; use token_env='NAME' (each "
            "worker reads the environment variable NAME) or a picklable callable"
        )
    if token is not None and token_env is not None:
        raise FlightArgumentError("give token= or token_env=, not both")
    if token_env is not None:
        token = EnvToken(token_env)
    if token is not None:
        options["token"] = token
    return options


def planning_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options of the driver's planning client (the workers may have a token it lacks)."""
    planning = dict(options)
    token: Callable[[], str] | Any = planning.get("token")
    if isinstance(token, EnvToken) and not os.environ.get(token.name):
        planning.pop("token")
    return planning


@dataclass(frozen=True)
class Plan:
    """What the driver planned for the workers.

    Attributes
    ----------
    info : FlightInfo or None
        The flight to split by endpoint; None runs the query whole on one worker.
    schema : pyarrow.Schema
        The schema of what the workers read.
    session : bool
        The server issued the planning client a credential of its own (a session): the
        tickets it planned may be refused to the workers' sessions. A query then runs on one
        worker (``info`` is None) and a flight is planned again on each worker (:class:`Replan`).
    """

    info: FlightInfo | None
    schema: pa.Schema
    session: bool = False

    def replans(self, request: object) -> list[Replan] | None:
        """One :class:`Replan` per endpoint when the workers must plan ``request`` again."""
        if not self.session or self.info is None or not isinstance(request, FlightDescriptor):
            return None
        count = len(self.info.endpoints)
        return [Replan(request, i, count) for i in range(count)]

    def fallbacks(self, request: object) -> list[Replan | None]:
        """Per endpoint, how a worker plans its part again if the server refuses the ticket
        to the worker's session (a session this plan did not see, e.g. a cookie's)."""
        assert self.info is not None
        count = len(self.info.endpoints)
        plannable = isinstance(request, FlightDescriptor) or (
            isinstance(request, SqlQuery) and request.parameters is None
        )
        if not plannable:
            return [None] * count
        assert isinstance(request, (FlightDescriptor, SqlQuery))
        return [Replan(request, i, count) for i in range(count)]

    def session_note(self, request: object) -> str | None:
        """The one line to log when the server's session changed how ``request`` is read."""
        if not self.session:
            return None
        if isinstance(request, SqlQuery) and request.parameters is None:
            return (
                "the server opened a session for the planning client and reads a query's "
                "tickets only in it: the query runs whole on one worker (one partition)"
            )
        if self.replans(request):
            return (
                "the server opened a session for the planning client and may read its tickets "
                "only in it: each worker plans the flight again in its own session"
            )
        return None


async def plan(client: AsyncFlightClient, request: Ticket | FlightDescriptor | SqlQuery) -> Plan:
    """Plan ``request`` with ``client`` for the workers (see :class:`Plan`)."""
    if isinstance(request, FlightDescriptor):
        info = await client.get_flight_info(request)
        schema = info.schema if info.schema is not None else await client.get_schema(request)
        return Plan(info, schema, client.issued_credential)
    if not isinstance(request, SqlQuery):
        raise FlightArgumentError("a cluster read plans a descriptor or a sql= query")
    async with AsyncFlightSqlClient(client) as sql_client:
        if request.parameters is None:
            info = await sql_client.execute(request.query)
            # A statement's tickets on a server that opened a session for the planning
            # client are read in that session only: the query runs whole on a worker.
            split = not client.issued_credential
            if not is_placeholder_schema(info.schema):
                assert info.schema is not None
                return Plan(info if split else None, info.schema, not split)
            try:
                schema = await sql_client.get_schema(request.query)
            except FlightError as exc:
                if not refuses_capability(exc):
                    raise
            else:
                if not is_placeholder_schema(schema):
                    return Plan(info if split else None, schema, not split)
        # A parameterized query's tickets name a prepared statement of this client, which
        # closes with it: the query runs whole on a worker instead.
        async with sql_client.prepare(request.query) as statement:
            if not is_placeholder_schema(statement.dataset_schema):
                assert statement.dataset_schema is not None
                return Plan(None, statement.dataset_schema, client.issued_credential)
        info = await sql_client.execute(request.query, request.parameters)
        if info.schema is None:
            raise FlightNotImplementedError(
                "the server's FlightInfo has no schema for this query; a cluster read needs it "
                "to plan partitions"
            )
        return Plan(None, info.schema, client.issued_credential)
