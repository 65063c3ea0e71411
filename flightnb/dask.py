"""Dask integration: ``flightnb.dask.read_flight``, one partition per Flight endpoint.

The client plans (GetFlightInfo, or a Flight SQL query) and builds the graph with
``dask.dataframe.from_map``: one task per endpoint, whose argument is that endpoint (ticket
and locations), the server's location and the non-secret client options. ``meta`` comes from
the schema, so nothing is read on the client. Each worker process keeps one
:class:`~flightnb.FlightClient` per server and options (its channels are reused by every task
the worker runs) and reads its endpoint with the streaming reader.

The SQL the reader writes (the ``columns`` pushed into a query, the ``partition_on`` range
queries) quotes names in the server's dialect, which SqlInfo's ``FLIGHT_SQL_SERVER_NAME``
tells (:mod:`flightnb.protocol.dialects`), as the polars scan does: backticks for MySQL or
Spark, double quotes elsewhere.

Servers lacking a capability: a prepared statement's missing or placeholder schema is replaced
by GetSchema of the query; a server that does not bind parameters (it refuses an empty binding
tried when planning) gets the ``partition_on`` bounds written into each range query as typed
literals of its dialect (:mod:`flightnb.scan.literals`). A server that opens a session for the
planning client (it answered with a credential of its own, as Deephaven does) may read the
tickets it planned in that session only: a query then runs whole in one partition, and each
worker plans a flight again in its own session (one line on the ``flightnb.dask`` logger
says so; ``partition_on`` queries run on the workers anyway). A ticket the server refuses to
a worker's session anyway (a session named by a cookie, which the plan could not see) is
planned again by that worker in its own session.

Credentials never enter the graph: ``token_env="NAME"`` makes each worker read the token from
its own environment variable ``NAME`` (a picklable callable given as ``token=`` works too,
and is called on the worker); a ``token=`` string is refused. What cannot travel to workers:
cookies and session options set on a client (each worker has its own session), transactions,
and clients themselves, so ``source`` must be a location.

Requires ``pip install 'flightnb[dask]'``; importing this module imports dask.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dask.dataframe as dd
import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.convert import check_dtype_backend, to_pandas
from flightnb.errors import (
    FlightArgumentError,
    FlightCapabilityError,
    FlightError,
)
from flightnb.protocol.dialects import GENERIC, Dialect, quote_identifier
from flightnb.requests import SqlQuery, read_request
from flightnb.scan.literals import render_literal
from flightnb.scan.query import SCAN_ALIAS, wrappable
from flightnb.sql.capabilities import (
    BINDING,
    capabilities_of,
    refuses_capability,
)
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.dialect import server_dialect
from flightnb.types import FlightEndpoint, Location
from flightnb.workers import (
    REFUSED_NOTE,
    EnvToken,
    Plan,
    Replan,
    check_columns,
    narrowed_request,
    opened_part,
    part_request,
    planning_options,
    worker_location,
    worker_options,
)
from flightnb.workers import plan as plan_request
from flightnb.workers import worker_client as _client

if TYPE_CHECKING:
    from flightnb.types import DescriptorLike

__all__ = ["EnvToken", "read_flight", "read_partition"]

_log = logging.getLogger("flightnb.dask")


@dataclass(frozen=True)
class _Part:
    """One task's read: a single endpoint, or a whole query run on the worker."""

    location: str
    options: tuple[tuple[str, Any], ...]
    endpoint: FlightEndpoint | None = None
    query: str | None = None
    parameters: Any = field(default=None, repr=False)
    schema: pa.Schema | None = field(default=None, repr=False)
    columns: tuple[str, ...] | None = None
    dtype_backend: str = "pyarrow"
    replan: Replan | None = None
    again: Replan | None = None


# --- worker side -------------------------------------------------------------------------


def read_partition(part: _Part) -> Any:
    """Read one partition into pandas (runs on a worker; public for ``dd.from_map``)."""
    client = _client(part.location, part.options)
    request = part_request(part.endpoint, part.schema, part.query, part.parameters, part.replan)

    def refused() -> None:
        _log.warning("%s: %s", part.location, REFUSED_NOTE)

    with opened_part(client, request, part.replan, part.again, refused) as (schema, batches):
        table = pa.Table.from_batches(list(batches), schema)
    if part.columns is not None:
        table = table.select(list(part.columns))
    return to_pandas(table, dtype_backend=part.dtype_backend)


# --- client side -------------------------------------------------------------------------


async def _bounds(
    client: AsyncFlightClient, query: str, parameters: Any, column: str, dialect: Dialect
) -> tuple[pa.Scalar, pa.Scalar]:
    name = quote_identifier(column, dialect)
    alias = quote_identifier(SCAN_ALIAS, dialect)
    text = f"SELECT min({name}), max({name}) FROM ({query}) AS {alias}"
    async with AsyncFlightSqlClient(client) as sql_client:
        table = await sql_client.query(text, parameters)
    return table.column(0)[0], table.column(1)[0]


async def _binds(client: AsyncFlightClient, query: str) -> bool:
    """Whether the server binds parameters (an empty binding tried on ``query``)."""
    found = capabilities_of(client)
    if found.parameter_binding is None:
        async with AsyncFlightSqlClient(client) as sql_client:
            try:
                async with sql_client.prepare(query) as statement:
                    await statement.probe_binding()
            except FlightError as exc:
                if not refuses_capability(exc):
                    raise
                found.lacks_binding(exc)  # no prepared statements, so nothing to bind to
    return found.parameter_binding is not False


def _split(low: pa.Scalar, high: pa.Scalar, n: int) -> list[pa.Scalar]:
    """``n + 1`` boundaries from ``low`` to ``high`` in the column's own type."""
    type_ = low.type
    if pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        a, b = float(low.as_py()), float(high.as_py())
        values = [a + (b - a) * i / n for i in range(n + 1)]
        as_type = pa.float64() if pa.types.is_decimal(type_) else type_
        return [pa.scalar(v, as_type) for v in values]
    if pa.types.is_integer(type_) or pa.types.is_date(type_) or pa.types.is_timestamp(type_):
        storage = pa.int32() if pa.types.is_date32(type_) else pa.int64()
        ends = pa.array([low, high], type_).cast(storage).cast(pa.int64()).to_pylist()
        a, b = int(ends[0]), int(ends[1])
        values = [a + (b - a) * i // n for i in range(n + 1)]
        return list(pa.array(values, pa.int64()).cast(storage).cast(type_))
    raise FlightArgumentError(
        f"partition_on needs a numeric, date or timestamp column, not {type_}"
    )


def _range_queries(
    query: str,
    parameters: Any,
    column: str,
    bounds: list[pa.Scalar],
    dialect: Dialect = GENERIC,
    *,
    bind: bool = True,
) -> list[tuple[str, list[Any] | None]]:
    """One query per range, quoted in ``dialect``; without ``bind`` the bounds are written
    into the SQL as literals of ``dialect``."""
    name = quote_identifier(column, dialect)
    base = f"SELECT * FROM ({query}) AS {quote_identifier(SCAN_ALIAS, dialect)} WHERE "
    own = list(parameters or ())
    marks = ["?"] * len(bounds)
    if not bind:
        written = [render_literal(b, dialect.literals) for b in bounds]
        if any(w is None for w in written):
            raise FlightCapabilityError(
                BINDING,
                f"the partition_on= bounds of {column!r} ({bounds[0].type}) cannot be written "
                "into the SQL exactly; read without partition_on=",
            )
        marks = [w for w in written if w is not None]
    parts: list[tuple[str, list[Any] | None]] = []
    last = len(bounds) - 2
    for i in range(len(bounds) - 1):
        high_op = "<=" if i == last else "<"
        condition = f"{name} >= {marks[i]} AND {name} {high_op} {marks[i + 1]}"
        if i == 0:
            condition = f"({condition}) OR {name} IS NULL"  # NULLs go to the first partition
        if not bind:
            parts.append((base + condition, parameters))
        else:
            parts.append((base + condition, [*own, bounds[i], bounds[i + 1]]))
    return parts


def read_flight(
    source: str | Location,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    columns: Sequence[str] | None = None,
    dtype_backend: str = "pyarrow",
    token_env: str | None = None,
    partition_on: str | None = None,
    npartitions: int | None = None,
    **client_options: Any,
) -> dd.DataFrame:
    """A Dask DataFrame over a flight, one partition per endpoint, read by the workers.

    Parameters
    ----------
    source : str or Location
        The server's location (a client cannot travel to workers).
    path, command, descriptor, sql, parameters
        What to read, exactly one of ``path``, ``command``, ``descriptor`` or ``sql``, as for
        :func:`flightnb.read_flight`. A ``sql`` query with ``parameters`` runs as one
        partition on a worker (its tickets would name a prepared statement of the planning
        client), unless ``partition_on`` splits it; so does any ``sql`` query of a server
        that opened a session for the planning client (see the module docstring).
    columns : sequence of str, optional
        Only these columns (pushed into the query for ``sql``; selected on the worker else).
    dtype_backend : {"pyarrow", "numpy_nullable", "numpy"}, default "pyarrow"
        The pandas column types of each partition (see :func:`flightnb.convert.to_pandas`).
    token_env : str, optional
        Each worker reads its bearer token from this environment variable.
    partition_on, npartitions : str and int, optional
        For a ``sql`` query: ask the server for the column's minimum and maximum and read
        ``npartitions`` range queries instead (``column >= ? AND column < ?``; NULLs go to the
        first), like ``dask.dataframe.read_sql_query``. For a server that does not bind
        parameters the bounds are written into the queries as literals.
    **client_options
        The client options of each worker's client (``headers=``, TLS, ``timeout=``, ...);
        they travel in the graph, so keep secrets out of them.

    Returns
    -------
    dask.dataframe.DataFrame

    Examples
    --------
    >>> frame = read_flight("grpc://127.0.0.1:8815", path="trips",
    ...                     columns=["rider_type", "duration_s"])
    >>> frame.columns.tolist()
    ['rider_type', 'duration_s']
    >>> means = frame.groupby("rider_type").duration_s.mean().compute()
    """
    backend = check_dtype_backend(dtype_backend)
    location = worker_location(source, "flightnb.dask.read_flight")
    asked = read_request(None, path, command, descriptor, sql, parameters)
    if (partition_on is None) != (npartitions is None):
        raise FlightArgumentError("give partition_on= and npartitions= together")
    if partition_on is not None:
        if not isinstance(asked, SqlQuery):
            raise FlightArgumentError("partition_on= splits a sql= query only")
        if npartitions is None or npartitions < 1:
            raise FlightArgumentError("npartitions must be at least 1")
        if parameters is not None and not isinstance(parameters, (list, tuple)):
            raise FlightArgumentError(
                "partition_on= binds its bounds after positional parameters: pass a list"
            )
    options = worker_options(token_env, client_options)
    planning = planning_options(options)  # the workers may have a token the client has not

    wanted = tuple(columns) if columns is not None else None
    # SQL written for the server (the columns pushed into the query, the partition queries)
    # quotes names and writes values in the server's dialect, as the polars scan does.
    writes_sql = isinstance(asked, SqlQuery) and (
        partition_on is not None or (wanted is not None and wrappable(asked.query))
    )

    async def plan() -> tuple[Any, Plan, Any, Dialect, bool]:
        async with AsyncFlightClient(location, **planning) as client:
            dialect = await server_dialect(client) if writes_sql else GENERIC
            request = narrowed_request(asked, wanted, dialect)
            planned = await plan_request(client, request)
            bounds, bind = None, True
            if partition_on is not None:
                assert isinstance(request, SqlQuery)
                query, own = request.query, request.parameters
                bounds = await _bounds(client, query, own, partition_on, dialect)
                if own is None:
                    bind = await _binds(client, query)
            return request, planned, bounds, dialect, bind

    request, planned, bounds, dialect, bind = shared_loop_thread().run(plan())
    info, schema = planned.info, planned.schema
    shown = schema
    if wanted is not None:
        check_columns(schema, wanted)
        shown = pa.schema([schema.field(c) for c in wanted])
    meta = to_pandas(shown.empty_table(), dtype_backend=backend)
    frozen = tuple(sorted(options.items()))
    common: dict[str, Any] = {
        "location": location,
        "options": frozen,
        "schema": schema,
        "columns": wanted,
        "dtype_backend": backend,
    }
    parts: list[_Part]
    if bounds is not None:
        assert isinstance(request, SqlQuery) and partition_on is not None
        low, high = bounds
        if not low.is_valid:  # no rows, or only NULLs: one query reads them
            parts = [_Part(query=request.query, parameters=request.parameters, **common)]
        else:
            assert npartitions is not None
            ranges = _range_queries(
                request.query,
                request.parameters,
                partition_on,
                _split(low, high, npartitions),
                dialect,
                bind=bind,
            )
            parts = [_Part(query=q, parameters=p, **common) for q, p in ranges]
    elif info is None:
        assert isinstance(request, SqlQuery)
        parts = [_Part(query=request.query, parameters=request.parameters, **common)]
    elif (replans := planned.replans(request)) is not None:
        parts = [_Part(replan=r, **common) for r in replans]
    else:
        again = planned.fallbacks(request)
        parts = [
            _Part(endpoint=e, again=a, **common) for e, a in zip(info.endpoints, again, strict=True)
        ]
    note = planned.session_note(request) if bounds is None else None
    if note is not None:
        _log.warning("%s: %s", location, note)
    if not parts:
        empty: dd.DataFrame = dd.from_pandas(meta, npartitions=1)  # type: ignore[no-untyped-call]
        return empty
    frame: dd.DataFrame = dd.from_map(  # type: ignore[no-untyped-call]
        read_partition, parts, meta=meta, enforce_metadata=False
    )
    return frame
