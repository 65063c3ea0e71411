"""The polars IO source behind :func:`flightnb.polars.scan_flight`.

polars calls the source at each ``collect`` (and ``sink_*``) with the columns it needs, the
predicate it pushed down, an optional row limit and a batch-size hint. The source:

1. plans the read: for a Flight SQL query, narrows it (:mod:`flightnb.scan.query`) with the
   translatable part of the predicate (:mod:`flightnb.scan.predicate`); for plain Flight,
   reads the flight as it is;
2. streams it with :func:`flightnb.open_flight` (bounded memory, every endpoint at once), and
   turns each record batch into a polars DataFrame as it arrives;
3. applies the *whole* predicate and the projection to every batch, and stops at ``n_rows``:
   it cancels every call still running before handing polars the last rows, because polars
   1.x never closes the generator.

The schema is asked for once, when the scan is created (GetSchema, a prepared statement's
dataset schema, or the stream's first message) and kept: polars asks for it again at every
``collect``.

Fallbacks, decided from the server's answers and shown by ``explain()``:

* a server that does not bind parameters (it answers UNIMPLEMENTED or FAILED_PRECONDITION to
  an empty binding tried when the scan is created, or to the first real one) gets the filter
  values written into the SQL as literals (:mod:`flightnb.scan.literals`); a value that cannot
  be written safely keeps its filter on the client. Learnt once per client.
* a prepared statement without a dataset schema, or with a placeholder (Deephaven answers a
  single ``DO_NOT_USE`` column), is replaced by GetSchema of the query, else by the schema of
  the first batch.
* a server that refuses the narrowed query (its SQL lacks subqueries, an operator, a
  ``LIKE ... ESCAPE``) gets the query as written, once more, and the scan filters on the
  client from then on; a warning (logger ``flightnb.scan``) says so. A lazy scan thus never
  fails a query the eager read answers.
"""

from __future__ import annotations

import collections
import contextlib
import inspect
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.batch_reader import FlightBatchReader
from flightnb.client.observer import TransferObserver
from flightnb.convert import to_polars
from flightnb.errors import (
    FlightArgumentError,
    FlightCapabilityError,
    FlightError,
    FlightInternalError,
    FlightInvalidArgumentError,
    FlightNotFoundError,
    FlightNotImplementedError,
    FlightServerError,
)
from flightnb.functions.streaming import client_for, open_flight, plan_and_stream, resolve_source
from flightnb.protocol.dialects import GENERIC, Dialect
from flightnb.requests import SqlQuery, read_request
from flightnb.scan.predicate import translate_predicate
from flightnb.scan.query import NarrowedQuery, narrow_query
from flightnb.sql.capabilities import (
    BINDING,
    SqlCapabilities,
    capabilities_of,
    is_placeholder_schema,
    refuses_capability,
)
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.dialect import server_dialect
from flightnb.types import FlightDescriptor, Ticket

__all__ = ["POLARS_1", "FlightScan", "map_source_errors"]

POLARS_1 = int(pl.__version__.split(".", 1)[0]) < 2

#: Memory bound of a read that stops after ``n_rows``: a few batches, not 256 MiB of them.
LIMITED_BUFFER_BYTES = 8 << 20

#: Answers about the SQL a server was sent (not about the connection, credentials or time).
_REFUSALS = (
    FlightInvalidArgumentError,
    FlightNotImplementedError,
    FlightNotFoundError,
    FlightInternalError,
    FlightServerError,
)

_log = logging.getLogger("flightnb.scan")


class FlightScan:
    """One ``scan_flight(...)``: what to read, how, and the cached schema and SQL dialect."""

    def __init__(
        self,
        source: Any,
        *,
        ticket: Any = None,
        path: str | Sequence[str] | None = None,
        command: str | bytes | None = None,
        descriptor: Any = None,
        sql: str | None = None,
        parameters: Any = None,
        pushdown: bool = True,
        max_concurrency: int | None = None,
        progress: bool | TransferObserver | None = False,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(pushdown, bool):
            raise FlightArgumentError(f"pushdown={pushdown!r} is not one of True, False")
        self.request = read_request(ticket, path, command, descriptor, sql, parameters)
        self.source = source
        self.pushdown = pushdown
        self.max_concurrency = max_concurrency
        self.progress = progress
        self.client_options = dict(client_options or {})
        client, thread, _ = resolve_source(source, self.client_options)
        if thread is None:
            raise FlightArgumentError(
                "scan_flight needs a URI, a FlightClient or a FlightSqlClient; polars reads "
                "from its own threads, which cannot drive an AsyncFlightClient's loop"
            )
        self._dialect: Dialect | None = None
        self._lock = threading.Lock()
        # What the server lacks: the client's own record, or this scan's for a URI (whose
        # reads each open a client of their own).
        self.capabilities = capabilities_of(client) if client is not None else SqlCapabilities()
        #: Where the schema came from: "prepared statement", "GetSchema", "GetFlightInfo",
        #: or "first batch".
        self.schema_source = "GetSchema"
        #: Why a SQL query's schema did not come from its prepared statement.
        self.schema_reason = "the prepared statement announced none or a placeholder"
        #: The server's answer to a narrowed query it refused (pushdown is off from then on).
        self.narrowing_refused: str | None = None
        self.arrow_schema: pa.Schema = self._on_loop(self._fetch_schema)
        self.schema: pl.Schema = pl.Schema(to_polars(self.arrow_schema.empty_table()).schema)

    # --- planning (on flightnb's loop thread) --------------------------------------------

    def _on_loop(self, work: Any) -> Any:
        client, thread, location = resolve_source(self.source, self.client_options)
        assert thread is not None

        async def run() -> Any:
            async with client_for(client, location, self.client_options) as active:
                return await work(active)

        return thread.run(run())

    async def _fetch_schema(self, client: AsyncFlightClient) -> pa.Schema:
        request = self.request
        if isinstance(request, SqlQuery):
            schema = await self._sql_schema(client, request)
            if schema is not None:
                return schema
        elif isinstance(request, FlightDescriptor):
            try:
                return await client.get_schema(request)
            except FlightNotImplementedError:
                info = await client.get_flight_info(request)
                if info.schema is not None:
                    self.schema_source = "GetFlightInfo"
                    return info.schema
        # No cheaper way: start the read and take the schema its first message carries.
        self.schema_source = "first batch"
        stream = await plan_and_stream(client, request, owns_client=False)
        try:
            schema = stream.schema
            assert schema is not None  # plan_and_stream waits for it
            return schema
        finally:
            await stream.aclose()

    async def _sql_schema(self, client: AsyncFlightClient, request: SqlQuery) -> pa.Schema | None:
        """The query's schema from its prepared statement or GetSchema (None: neither has it).

        Also learns, when pushdown may need it, whether the server binds parameters.
        """
        found = self.capabilities
        async with AsyncFlightSqlClient(client) as sql_client:
            try:
                async with sql_client.prepare(request.query) as statement:
                    if self.pushdown and found.parameter_binding is None:
                        await statement.probe_binding()
                        learnt = capabilities_of(client)  # where the statement recorded it
                        found.parameter_binding = learnt.parameter_binding
                        found.binding_answer = learnt.binding_answer
                    schema = statement.dataset_schema
            except FlightError as exc:
                if not refuses_capability(exc):
                    raise
                # No prepared statements: no binding either; the schema comes another way.
                found.lacks_binding(exc)
                self.schema_reason = "the server has no prepared statements"
                schema = None
            if not is_placeholder_schema(schema):
                found.dataset_schema = True
                self.schema_source = "prepared statement"
                return schema
            found.dataset_schema = False
            if request.parameters is not None:
                return None  # GetSchema of a statement with markers has no values to bind
            try:
                schema = await sql_client.get_schema(request.query)
            except FlightError as exc:
                if not refuses_capability(exc):
                    raise
                return None
            if is_placeholder_schema(schema):
                return None
            self.schema_source = "GetSchema"
            return schema

    def explain_detail(self) -> str:
        """One line for ``explain()``: what is pushed down, and the fallbacks in use."""
        request = self.request
        if not isinstance(request, SqlQuery):
            parts = ["plain Flight: filters and columns applied on the client"]
        elif not self.pushdown:
            parts = ["pushdown off: the query is sent as written"]
        elif self.capabilities.parameter_binding is False:
            parts = [
                "pushdown: columns, filters, head; filter values written as SQL literals "
                "(the server does not bind parameters)"
            ]
        else:
            parts = ["pushdown: columns, filters, head; filter values bound as parameters"]
        if isinstance(request, SqlQuery) and self.schema_source != "prepared statement":
            parts.append(f"schema from {self.schema_source} ({self.schema_reason})")
        return "flightnb " + "; ".join(parts)

    def dialect(self) -> Dialect:
        """The server's SQL dialect, from SqlInfo (asked once, when SQL is first written)."""
        with self._lock:
            if self._dialect is None:
                self._dialect = self._on_loop(server_dialect)
            return self._dialect

    def narrow(
        self, columns: Sequence[str] | None, predicate: pl.Expr | None, n_rows: int | None
    ) -> NarrowedQuery | None:
        """The narrowed query for a Flight SQL source (None for plain Flight)."""
        request = self.request
        if not isinstance(request, SqlQuery):
            return None
        if not self.pushdown or self.narrowing_refused is not None:
            return NarrowedQuery(request.query, request.parameters)
        condition = None
        if predicate is not None:
            needed = set(predicate.meta.root_names())
            if needed <= set(self.arrow_schema.names):
                bind = self.capabilities.parameter_binding is not False
                condition = translate_predicate(
                    predicate, self.arrow_schema, self.dialect(), bind=bind
                )
        wanted = None
        if columns is not None:
            extra = predicate.meta.root_names() if predicate is not None else []
            wanted = list(dict.fromkeys([*columns, *extra])) or self.arrow_schema.names[:1]
        # Column names and the alias are quoted in the server's dialect whenever the query
        # is rewritten: a MySQL server reads "name" as a string, not a column.
        rewrites = condition is not None or n_rows is not None
        rewrites = rewrites or (wanted is not None and wanted != list(self.arrow_schema.names))
        return narrow_query(
            request.query,
            request.parameters,
            all_columns=self.arrow_schema.names,
            columns=wanted,
            condition=condition,
            n_rows=n_rows,
            dialect=self.dialect() if rewrites else GENERIC,
        )

    # --- reading -------------------------------------------------------------------------

    def __call__(
        self,
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        """The IO source polars calls (the same arguments on polars 1.x and 2.x)."""
        return self._frames(with_columns, predicate, n_rows)

    def _frames(
        self, columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None
    ) -> Iterator[pl.DataFrame]:
        try:
            yield from self._read(columns, predicate, n_rows)
        except FlightError as exc:
            _RECENT_ERRORS.append(exc)  # polars 1.x turns it into a ComputeError
            raise

    def _read(
        self, columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None
    ) -> Iterator[pl.DataFrame]:
        if n_rows is not None and n_rows <= 0:
            yield self.schema_frame(columns)
            return
        options: dict[str, Any] = {}
        if n_rows is not None:
            # A few batches at a time: stopping early then leaves little read for nothing.
            options = {"max_buffer_bytes": LIMITED_BUFFER_BYTES}
            if self.max_concurrency is None:
                options["max_concurrency"] = 1
        if self.max_concurrency is not None:
            options["max_concurrency"] = self.max_concurrency
        remaining, yielded = n_rows, False
        reader = self._open(columns, predicate, n_rows, options)
        try:
            for batch in reader:
                frame = to_polars(pa.Table.from_batches([batch]))
                if predicate is not None:
                    frame = frame.filter(predicate)
                if columns is not None:
                    frame = frame.select(columns)
                if remaining is not None:
                    frame = frame.head(remaining)
                    remaining -= frame.height
                    if remaining <= 0:
                        reader.cancel()  # polars 1.x may never resume or close us
                        yield frame
                        return
                if frame.height:
                    yielded = True
                    yield frame
        finally:
            _release(reader)
        if not yielded:
            yield self.schema_frame(columns)  # polars wants at least the columns

    def _open(
        self,
        columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        options: dict[str, Any],
    ) -> FlightBatchReader:
        """Plan and start the read; a refused binding is learnt and the read planned again
        with the filter values written as literals."""
        while True:
            narrowed = self.narrow(columns, predicate, n_rows)
            what: dict[str, Any]
            if narrowed is not None:
                what = {"sql": narrowed.query, "parameters": narrowed.parameters}
            elif isinstance(self.request, Ticket):
                what = {"ticket": self.request}
            else:
                assert isinstance(self.request, FlightDescriptor)
                what = {"descriptor": self.request}
            try:
                return open_flight(
                    self.source, progress=self.progress, **what, **options, **self.client_options
                )
            except FlightCapabilityError as exc:
                condition = narrowed.condition if narrowed is not None else None
                if exc.capability != BINDING or condition is None or not condition.parameters:
                    raise  # the query's own parameters, or a read with nothing to write out
                self.capabilities.lacks_binding(exc)
            except _REFUSALS as exc:
                request = self.request
                if not isinstance(request, SqlQuery) or narrowed is None:
                    raise
                if narrowed.query == request.query:
                    raise  # nothing was pushed: the eager read fails the same way
                self.narrowing_refused = str(exc)
                _log.warning(
                    "the server refused the narrowed query (%s); reading the query as written "
                    "and filtering on the client",
                    exc,
                )

    def schema_frame(self, columns: list[str] | None) -> pl.DataFrame:
        frame = pl.DataFrame(schema=self.schema)
        return frame.select(columns) if columns is not None else frame

    def lazy_frame(self) -> pl.LazyFrame:
        """The LazyFrame polars builds on this source."""
        from polars.io.plugins import register_io_source

        options: dict[str, Any] = {}
        accepted = inspect.signature(register_io_source).parameters
        if "explain_name" in accepted:
            options["explain_name"] = "flightnb"
        if "explain_detail" in accepted:
            options["explain_detail"] = self.explain_detail()
        frame = register_io_source(self, schema=self.schema, **options)
        if POLARS_1:
            # A class of this scan's own, so that frames derived from it keep its detail.
            own: type[_FlightLazyFrame] = type(
                "_FlightLazyFrame", (_FlightLazyFrame,), {"detail": self.explain_detail()}
            )
            return own._from_pyldf(frame._ldf)
        return frame


def _release(reader: FlightBatchReader) -> None:
    """End the read: wait for its calls to end, or just cancel them if flightnb's loop is gone.

    polars may drop an unfinished generator only when it is garbage collected, which can be
    at interpreter exit, after the loop thread has stopped.
    """
    try:
        reader.close()
    except RuntimeError:
        with contextlib.suppress(RuntimeError):
            reader.cancel()


# --- polars 1.x: its ComputeError back to the flightnb error ----------------------------

_RECENT_ERRORS: collections.deque[FlightError] = collections.deque(maxlen=32)


def map_source_errors(error: BaseException) -> BaseException:
    """The flightnb error a polars 1.x ``ComputeError`` stands for, else ``error`` itself.

    polars 1.x reports an exception of a Python source as a ComputeError whose message
    repeats ``TypeName: message``; the scan keeps its last errors to find the original.
    """
    if not isinstance(error, pl.exceptions.ComputeError) or isinstance(error, FlightError):
        return error
    text = str(error)
    for original in reversed(_RECENT_ERRORS):
        if f"{type(original).__name__}: {original}" in text:
            return original
    return error


def _mapped(method: Any) -> Any:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except pl.exceptions.ComputeError as exc:
            original = map_source_errors(exc)
            if original is exc:
                raise
            raise original from exc

    call.__name__ = method.__name__
    call.__qualname__ = method.__qualname__
    call.__doc__ = method.__doc__
    return call


class _FlightLazyFrame(pl.LazyFrame):
    """polars 1.x only: a LazyFrame whose collect and sinks raise the scan's flightnb errors.

    LazyFrame methods build their results with ``self._from_pyldf``, so frames derived from
    a scan (``filter``, ``select``, ``head``, ...) keep this class; a frame that starts from
    another LazyFrame (``other.join(scan)``, ``pl.concat``) raises polars' ComputeError,
    whose message names the flightnb error.
    """

    #: The scan's line for ``explain()`` (polars 1.x has no ``explain_detail``).
    detail = ""

    collect = _mapped(pl.LazyFrame.collect)
    sink_parquet = _mapped(pl.LazyFrame.sink_parquet)
    sink_ipc = _mapped(pl.LazyFrame.sink_ipc)
    sink_csv = _mapped(pl.LazyFrame.sink_csv)
    sink_ndjson = _mapped(pl.LazyFrame.sink_ndjson)

    def explain(self, *args: Any, **kwargs: Any) -> str:
        """polars' plan, then the scan's pushdown and fallbacks (as polars 2 shows them)."""
        plan: str = pl.LazyFrame.explain(self, *args, **kwargs)
        return f"{plan}\nINFO: {self.detail}" if self.detail else plan
