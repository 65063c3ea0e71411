"""Ray Data integration: one read task per Flight endpoint, and uploads from a Dataset.

:func:`read_flight` plans once, on the driver (GetFlightInfo, or a Flight SQL query), and
hands Ray a :class:`FlightDatasource` whose read tasks each carry one endpoint (its ticket
and locations), the server's location and the non-secret client options. Ray runs the tasks
in its worker processes; each worker keeps one :class:`~flightnb.FlightClient` per server
and options, and reads its endpoint with flightnb's streaming reader: failover to the
endpoint's other locations, renewal near expiry, flightnb's typed errors. The schema, and the
row and byte counts where the FlightInfo gives them, go into each task's metadata so that Ray
plans memory before anything is read.

:func:`write_flight` (or :class:`FlightDatasink` with ``Dataset.write_datasink``) uploads a
Dataset: every block one DoPut from the worker that holds it, and a
:class:`~flightnb.functions.write.PutSummary` of the whole write comes back to the driver.

Credentials never enter what Ray ships or logs: ``token_env="NAME"`` makes each worker read
the token from its own environment variable ``NAME`` (a picklable callable given as
``token=`` works too, and is called on the worker); a ``token=`` string is refused. As for
Dask, a client cannot travel to workers, so ``source`` is a location.

A server that opens a session for the planning client (it answered with a credential of its
own, as Deephaven does) may read the tickets it planned in that session only: a query then
runs whole in one task, and each task plans a flight again in its worker's session (one line
on the ``flightnb.ray`` logger says so). A ticket the server refuses to a worker's session
anyway (a session named by a cookie, which the plan could not see) is planned again by that
task in its own session.

Requires ``pip install 'flightnb[ray]'``; importing this module imports ray.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import ray.data
from ray.data.block import Block, BlockAccessor, BlockMetadata
from ray.data.datasource import Datasink, Datasource, ReadTask, WriteResult

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.errors import FlightArgumentError
from flightnb.functions.write import DEFAULT_CHUNK_ROWS, PutSummary
from flightnb.functions.write import write_flight as put_table
from flightnb.protocol.dialects import GENERIC
from flightnb.requests import SqlQuery, read_request
from flightnb.scan.query import wrappable
from flightnb.sql.dialect import server_dialect
from flightnb.types import FlightDescriptor, FlightEndpoint, Location, descriptor_from
from flightnb.workers import (
    REFUSED_NOTE,
    Options,
    Plan,
    Replan,
    check_columns,
    narrowed_request,
    opened_part,
    part_request,
    plan,
    planning_options,
    worker_client,
    worker_location,
    worker_options,
)

if TYPE_CHECKING:
    from flightnb.types import DescriptorLike, TicketLike

__all__ = ["FlightDatasink", "FlightDatasource", "read_flight", "write_flight"]

_log = logging.getLogger("flightnb.ray")

#: Where a read task cuts its endpoint's stream into blocks when Ray's context does not say.
DEFAULT_BLOCK_BYTES = 128 * 2**20


@dataclass(frozen=True)
class _Part:
    """One endpoint to read (or a whole query run on a worker), with what the plan knows."""

    endpoint: FlightEndpoint | None = None
    query: str | None = None
    parameters: Any = field(default=None, repr=False)
    rows: int | None = None
    size_bytes: int | None = None
    replan: Replan | None = None
    again: Replan | None = None


@dataclass(frozen=True)
class _ReadParts:
    """A read task's function: read its parts in turn, cut into blocks of about ``block_bytes``.

    Pickled by Ray and called on a worker; it holds a location, options without secrets,
    tickets and the schema, nothing else.
    """

    location: str
    options: Options
    parts: tuple[_Part, ...]
    schema: pa.Schema | None = field(repr=False)
    columns: tuple[str, ...] | None
    block_bytes: int

    def __call__(self) -> Iterator[pa.Table]:
        client = worker_client(self.location, self.options)
        schema: pa.Schema | None = None
        pending: list[pa.RecordBatch] = []
        size = 0
        sent = False
        for part in self.parts:
            request = part_request(
                part.endpoint, self.schema, part.query, part.parameters, part.replan
            )
            opened = opened_part(client, request, part.replan, part.again, self._refused)
            with opened as (read_schema, batches):
                kept = self._kept(read_schema)
                if pending and schema is not None and not kept.equals(schema):
                    # Endpoints of one task whose schemas differ (metadata, say): one block each.
                    yield pa.Table.from_batches(pending, schema)
                    pending, size, sent = [], 0, True
                schema = kept
                for batch in batches:
                    if self.columns is not None:
                        batch = batch.select(list(self.columns))
                    pending.append(batch)
                    size += batch.nbytes
                    if size >= self.block_bytes:
                        yield pa.Table.from_batches(pending, schema)
                        pending, size, sent = [], 0, True
        if pending or not sent:  # the rest; an empty read is still a block, with its schema
            assert schema is not None
            yield pa.Table.from_batches(pending, schema)

    def _refused(self) -> None:
        _log.warning("%s: %s", self.location, REFUSED_NOTE)

    def _kept(self, schema: pa.Schema) -> pa.Schema:
        if self.columns is None:
            return schema
        return pa.schema([schema.field(name) for name in self.columns])


def _known_sum(values: Iterable[int | None]) -> int | None:
    total = 0
    for value in values:
        if value is None:
            return None
        total += value
    return total


def _groups(parts: Sequence[_Part], n: int | None) -> list[tuple[_Part, ...]]:
    """One group per part, or ``n`` runs of neighbours (sizes differing by one at most)."""
    if n is None or n >= len(parts):
        return [(part,) for part in parts]
    size, extra = divmod(len(parts), n)
    groups = []
    start = 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        groups.append(tuple(parts[start:end]))
        start = end
    return groups


class FlightDatasource(Datasource):
    """A planned flight as a Ray Data source: one read task per endpoint.

    Made by :func:`read_flight`, which plans on the driver; ``get_read_tasks`` only groups
    what was planned, so Ray may call it as often as it likes without a call to the server.

    Parameters
    ----------
    location : str
        The server the plan came from (endpoints without locations are read there).
    options : tuple of (str, value) pairs
        The workers' client options, a token only as an :class:`~flightnb.workers.EnvToken`
        or other callable.
    schema : pyarrow.Schema or None
        The flight's schema, as planned (None for a bare ticket).
    parts : sequence of endpoints and queries
        What each read task reads.
    columns : tuple of str, optional
        Columns the workers keep.
    num_blocks : int, optional
        ``override_num_blocks``: fewer tasks than endpoints merges neighbours into one task;
        more lets Ray split each task's output.
    """

    def __init__(
        self,
        location: str,
        options: Options,
        schema: pa.Schema | None,
        parts: Sequence[_Part],
        *,
        columns: tuple[str, ...] | None = None,
        num_blocks: int | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._location = location
        self._options = options
        self._schema = schema
        self._parts = tuple(parts)
        self._columns = columns
        self._num_blocks = num_blocks

    @property
    def schema(self) -> pa.Schema | None:
        """The schema of the blocks (after ``columns``)."""
        if self._schema is None or self._columns is None:
            return self._schema
        return pa.schema([self._schema.field(name) for name in self._columns])

    def get_name(self) -> str:
        """The name of the read operator in Ray's progress and stats."""
        return "ReadFlight"

    def estimate_inmemory_data_size(self) -> int | None:
        """The flight's bytes, when the FlightInfo says (``total_bytes``), else None."""
        return _known_sum(part.size_bytes for part in self._parts)

    def get_read_tasks(
        self,
        parallelism: int,
        per_task_row_limit: int | None = None,
        data_context: Any = None,
    ) -> list[ReadTask]:
        """One task per endpoint (or per group of them, see ``num_blocks``).

        ``parallelism`` is Ray's guess from the cluster's CPUs; the endpoints are the real
        parallelism of a flight, so only ``override_num_blocks`` (``num_blocks``) regroups.
        """
        block_bytes = DEFAULT_BLOCK_BYTES
        target = getattr(data_context, "target_max_block_size", None)
        if isinstance(target, int) and target > 0:
            block_bytes = target
        extra: dict[str, Any] = {}
        if per_task_row_limit is not None:  # only Ray versions with the limit pass it
            extra["per_task_row_limit"] = per_task_row_limit
        tasks = []
        for group in _groups(self._parts, self._num_blocks):
            read = _ReadParts(
                self._location, self._options, group, self._schema, self._columns, block_bytes
            )
            metadata = BlockMetadata(
                num_rows=_known_sum(part.rows for part in group),
                size_bytes=_known_sum(part.size_bytes for part in group),
                exec_stats=None,
                input_files=None,
            )
            tasks.append(ReadTask(read, metadata, schema=self.schema, **extra))
        return tasks


def _parts(planned: Plan, request: Any) -> list[_Part]:
    info = planned.info
    if info is None:
        assert isinstance(request, SqlQuery)
        return [_Part(query=request.query, parameters=request.parameters)]
    n = len(info.endpoints)
    # The FlightInfo counts the whole flight: exact for a single endpoint; with several, the
    # rows of each are unknown (Ray trusts num_rows, e.g. for count()) and bytes an even share.
    rows = info.total_records if n == 1 and info.total_records >= 0 else None
    share = info.total_bytes // n if n and info.total_bytes >= 0 else None
    replans = planned.replans(request)
    if replans is not None:
        return [_Part(replan=r, rows=rows, size_bytes=share) for r in replans]
    again = planned.fallbacks(request)
    return [
        _Part(endpoint=e, rows=rows, size_bytes=share, again=a)
        for e, a in zip(info.endpoints, again, strict=True)
    ]


def read_flight(
    source: str | Location,
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    columns: Sequence[str] | None = None,
    override_num_blocks: int | None = None,
    token_env: str | None = None,
    **client_options: Any,
) -> ray.data.Dataset:
    """A Ray Dataset over a flight, one read task per endpoint, read by Ray's workers.

    Parameters
    ----------
    source : str or Location
        The server's location (a client cannot travel to workers).
    ticket, path, command, descriptor, sql, parameters
        What to read, exactly one of them, as for :func:`flightnb.read_flight`. A flight or
        a query is planned here, once; a ``ticket`` is one task. A ``sql`` query with
        ``parameters`` runs whole in one task (its tickets would name a prepared statement of
        the planning client), and so does any query of a server that opened a session for the
        planning client (see the module docstring).
    columns : sequence of str, optional
        Only these columns (pushed into the query for ``sql``; selected on the worker else).
    override_num_blocks : int, optional
        Fewer than the endpoints: neighbouring endpoints share a task. More: one task per
        endpoint, whose output Ray splits. Default: one task per endpoint.
    token_env : str, optional
        Each worker reads its bearer token from this environment variable.
    **client_options
        The client options of each worker's client (``headers=``, TLS, ``timeout=``, ...);
        they travel with the tasks, so keep secrets out of them.

    Returns
    -------
    ray.data.Dataset
        Lazy: nothing is read until the Dataset is consumed (``materialize()``,
        ``iter_batches()``, ...). A failed read raises the flightnb error, as Ray re-raises
        a task's exception (``FlightUnavailableError``, ...).

    Examples
    --------
    >>> ds = read_flight("grpc://flight:8815", path="trips",
    ...                  token_env="FLIGHT_TOKEN")  # doctest: +SKIP
    >>> ds.groupby("rider_type").mean("fare").take_all()  # doctest: +SKIP
    """
    location = worker_location(source, "flightnb.ray.read_flight")
    if override_num_blocks is not None and override_num_blocks < 1:
        raise FlightArgumentError("override_num_blocks must be at least 1")
    wanted = tuple(columns) if columns is not None else None
    asked = read_request(ticket, path, command, descriptor, sql, parameters)
    options = worker_options(token_env, client_options)

    schema: pa.Schema | None
    request: Any = asked
    if isinstance(asked, (FlightDescriptor, SqlQuery)):
        planning = planning_options(options)
        # Columns pushed into a query are quoted in the server's dialect, as the scan does.
        writes_sql = isinstance(asked, SqlQuery) and wanted is not None and wrappable(asked.query)

        async def plan_once() -> tuple[Any, Plan]:
            async with AsyncFlightClient(location, **planning) as client:
                dialect = await server_dialect(client) if writes_sql else GENERIC
                narrowed = narrowed_request(asked, wanted, dialect)
                return narrowed, await plan(client, narrowed)

        request, plan_ = shared_loop_thread().run(plan_once())
        schema = plan_.schema
        parts = _parts(plan_, request)
        note = plan_.session_note(request)
        if note is not None:
            _log.warning("%s: %s", location, note)
        check_columns(schema, wanted)
    else:
        schema = None
        parts = [_Part(endpoint=FlightEndpoint(request))]
    source_ = FlightDatasource(
        location,
        tuple(sorted(options.items())),
        schema,
        parts,
        columns=wanted,
        num_blocks=override_num_blocks,
    )
    if not parts:  # a flight without endpoints: an empty Dataset of the right schema
        shown = source_.schema
        assert shown is not None
        return ray.data.from_arrow(shown.empty_table())
    # Without a number, Ray guesses one from the cluster's CPUs (200 at least for a source of
    # unknown size) and splits the tasks' output to match; the endpoints are the blocks.
    blocks = override_num_blocks if override_num_blocks is not None else len(parts)
    dataset: ray.data.Dataset = ray.data.read_datasource(source_, override_num_blocks=blocks)
    return dataset


# --- writing -------------------------------------------------------------------------------


def _combine(summaries: Sequence[PutSummary], seconds: float) -> PutSummary:
    stored = [s.rows_written for s in summaries]
    return PutSummary(
        rows=sum(s.rows for s in summaries),
        batches=sum(s.batches for s in summaries),
        bytes=sum(s.bytes for s in summaries),
        seconds=seconds,
        rows_written=None if not stored or None in stored else sum(r or 0 for r in stored),
        results=tuple(r for s in summaries for r in s.results),
    )


class FlightDatasink(Datasink[list[PutSummary]]):
    """Upload a Ray Dataset to a Flight server: every non-empty block one DoPut.

    Use it with ``dataset.write_datasink(sink)``; afterwards ``sink.summary`` holds the
    :class:`~flightnb.functions.write.PutSummary` of the whole write (rows and bytes sent, and rows
    stored where the server says). :func:`write_flight` does both.

    Parameters
    ----------
    source : str or Location
        The server's location.
    path, command, descriptor
        The flight to upload to, exactly one, as for :func:`flightnb.write_flight`. Every
        block is its own upload to it: on the embedded server, ask for appends
        (``path="trips?mode=append"``).
    max_chunksize : int
        Rows per record batch on the wire.
    token_env : str, optional
        Each worker reads its bearer token from this environment variable.
    **client_options
        The workers' client options (they travel with the tasks: no secrets).
    """

    def __init__(
        self,
        source: str | Location,
        *,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: DescriptorLike | None = None,
        max_chunksize: int = DEFAULT_CHUNK_ROWS,
        token_env: str | None = None,
        **client_options: Any,
    ) -> None:
        self._location = worker_location(source, "flightnb.ray.write_flight")
        if max_chunksize < 1:
            raise FlightArgumentError("max_chunksize must be at least 1")
        self._descriptor = descriptor_from(path, command, descriptor)
        self._options: Options = tuple(sorted(worker_options(token_env, client_options).items()))
        self._max_chunksize = max_chunksize
        self._started = 0.0
        self.summary: PutSummary | None = None

    def get_name(self) -> str:
        """The name of the write operator in Ray's progress and stats."""
        return "WriteFlight"

    def on_write_start(self, schema: Any = None) -> None:
        """Start the clock of the summary (on the driver)."""
        self._started = time.perf_counter()

    def write(self, blocks: Iterable[Block], ctx: Any) -> list[PutSummary]:
        """Upload each non-empty block (on a worker); returns one summary per upload."""
        client = worker_client(self._location, self._options)
        summaries = []
        for block in blocks:
            table = BlockAccessor.for_block(block).to_arrow()
            if table.num_rows == 0:
                continue
            summaries.append(
                put_table(
                    client,
                    table,
                    descriptor=self._descriptor,
                    progress=False,
                    max_chunksize=self._max_chunksize,
                )
            )
        return summaries

    def on_write_complete(self, write_result: WriteResult[list[PutSummary]]) -> None:
        """Sum the uploads into :attr:`summary` (on the driver)."""
        summaries = [s for returned in write_result.write_returns for s in returned]
        started = self._started or time.perf_counter()
        self.summary = _combine(summaries, time.perf_counter() - started)


def write_flight(
    dataset: ray.data.Dataset,
    source: str | Location,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    token_env: str | None = None,
    concurrency: int | None = None,
    **client_options: Any,
) -> PutSummary:
    """Upload ``dataset`` with DoPut from Ray's workers, one upload per block.

    Parameters
    ----------
    dataset : ray.data.Dataset
        What to upload.
    source, path, command, descriptor, max_chunksize, token_env, **client_options
        As for :class:`FlightDatasink`.
    concurrency : int, optional
        At most this many write tasks at once (Ray's ``write_datasink(concurrency=)``).

    Returns
    -------
    PutSummary
        The rows, batches and bytes sent by all uploads, their wall time, and the rows the
        server says it stored (None unless every upload said).

    Examples
    --------
    >>> write_flight(ds, "grpc://flight:8815", path="trips?mode=append")  # doctest: +SKIP
    """
    sink = FlightDatasink(
        source,
        path=path,
        command=command,
        descriptor=descriptor,
        max_chunksize=max_chunksize,
        token_env=token_env,
        **client_options,
    )
    dataset.write_datasink(sink, concurrency=concurrency)
    if sink.summary is None:  # Ray wrote nothing (an empty dataset)
        return _combine([], 0.0)
    return sink.summary
