"""Prepared statements and transactions of the async Flight SQL client."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import pyarrow as pa
from google.protobuf.message import Message

from flightnb._deprecated import renamed_names
from flightnb._proto import FlightSql_pb2 as sql
from flightnb.client.flights import DEFAULT_MAX_CONCURRENCY
from flightnb.client.observer import TransferObserver
from flightnb.errors import FlightArgumentError, FlightCapabilityError, FlightError
from flightnb.protocol.commands import (
    ACTION_CLOSE_PREPARED_STATEMENT,
    ACTION_END_TRANSACTION,
    pack,
)
from flightnb.sql.capabilities import (
    BINDING,
    BINDING_FALLBACK,
    capabilities_of,
    refuses_capability,
)
from flightnb.sql.parameters import Parameters, parameters_table
from flightnb.types import FlightDescriptor, FlightInfo

__all__ = [
    "AsyncPreparedStatement",
    "AsyncTransaction",
    "AwaitableContext",
    "SqlSession",
    "TransactionLike",
]


class SqlSession(Protocol):
    """What statements and transactions need of the Flight SQL client that made them.

    :class:`~flightnb.sql.client.AsyncFlightSqlClient` is one; naming only these calls keeps
    this module free of an import of the client (which imports this module).
    """

    async def _put(
        self, command: Message, data: Any | None, *, timeout: float | None
    ) -> list[bytes]: ...

    async def _action(
        self, action_type: str, body: bytes, *, timeout: float | None
    ) -> list[bytes]: ...

    async def _plan_observed(
        self,
        descriptor: FlightDescriptor,
        *,
        timeout: float | None,
        observer: TransferObserver | None,
    ) -> FlightInfo: ...

    async def _read_query(
        self,
        descriptor: FlightDescriptor,
        *,
        max_concurrency: int,
        observer: TransferObserver | None,
        timeout: float | None,
    ) -> pa.Table: ...

    def _forget(self, statement: AsyncPreparedStatement) -> None: ...

    @property
    def flight_client(self) -> Any: ...


_log = logging.getLogger("flightnb.sql")


class _AsyncResource(Protocol):
    async def __aenter__(self) -> Any: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


R = TypeVar("R", bound=_AsyncResource)


class AwaitableContext(Generic[R]):
    """A resource still being created: ``await`` it, or enter it with ``async with``.

    ``stmt = await client.prepare(sql)`` and ``async with client.prepare(sql) as stmt:``
    both work (so does ``async with await client.prepare(sql) as stmt:``).
    """

    __slots__ = ("_coroutine", "_value")

    def __init__(self, coroutine: Coroutine[Any, Any, R]) -> None:
        self._coroutine = coroutine
        self._value: R | None = None

    def __await__(self) -> Generator[Any, None, R]:
        return self._coroutine.__await__()

    async def __aenter__(self) -> R:
        self._value = await self._coroutine
        return await self._value.__aenter__()  # type: ignore[no-any-return]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._value is not None
        await self._value.__aexit__(exc_type, exc, tb)


class AsyncPreparedStatement:
    """A statement prepared on the server; run it many times with different parameters.

    Made by :meth:`AsyncFlightSqlClient.prepare`. Parameters are bound as Arrow values
    (:meth:`bind`, or the ``parameters`` argument of each method). Leaving ``async with``
    or :meth:`close` releases it on the server.

    Attributes
    ----------
    query_text : str
        The SQL text.
    handle : bytes
        The server's handle; it may change when parameters are bound.
    dataset_schema : pyarrow.Schema or None
        The result schema, when the server announced one.
    parameter_schema : pyarrow.Schema or None
        The parameters the statement takes, when the server announced them.

    Examples
    --------
    >>> async with client.prepare("SELECT * FROM trips WHERE trip_id = ?") as stmt:
    ...     first = await stmt.query([1])
    ...     second = await stmt.query([2])
    >>> first.num_rows, second.num_rows
    (1, 1)
    """

    def __init__(
        self,
        client: SqlSession,
        query: str,
        handle: bytes,
        *,
        dataset_schema: pa.Schema | None,
        parameter_schema: pa.Schema | None,
        transaction_id: bytes | None = None,
    ) -> None:
        self._client = client
        self.query_text = query
        self.handle = handle
        self.dataset_schema = dataset_schema
        self.parameter_schema = parameter_schema
        self.transaction_id = transaction_id
        self._bound: pa.Table | None = None
        self._sent = True  # nothing bound yet, so nothing to send
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"AsyncPreparedStatement({self.query_text!r}, {state})"

    @property
    def closed(self) -> bool:
        """True once closed (on the server too)."""
        return self._closed

    @property
    def parameters(self) -> pa.Table | None:
        """The parameters currently bound (None when nothing is)."""
        return self._bound

    def _check_open(self) -> None:
        if self._closed:
            raise FlightArgumentError("the prepared statement is closed")

    def bind(self, parameters: Parameters) -> None:
        """Bind parameters for the following executions (no call to the server yet).

        ``parameters`` is a dict, a list or tuple (one row), or a pyarrow Table/RecordBatch,
        pandas or polars DataFrame (one execution per row). None unbinds.
        """
        self._check_open()
        self._bound = parameters_table(parameters, self.parameter_schema)
        self._sent = self._bound is None

    def _descriptor(self) -> FlightDescriptor:
        command = sql.CommandPreparedStatementQuery(prepared_statement_handle=self.handle)
        return FlightDescriptor.for_command(pack(command))

    async def _send_parameters(self, timeout: float | None) -> None:
        """Bind on the server: DoPut with CommandPreparedStatementQuery and the values."""
        if self._sent or self._bound is None:
            return
        command = sql.CommandPreparedStatementQuery(prepared_statement_handle=self.handle)
        try:
            results = await self._client._put(command, self._bound, timeout=timeout)
        except FlightError as exc:
            if not refuses_capability(exc):
                raise
            capabilities_of(self._client.flight_client).lacks_binding(exc)
            raise FlightCapabilityError(BINDING, BINDING_FALLBACK, cause=exc) from exc
        capabilities_of(self._client.flight_client).parameter_binding = True
        for raw in results:
            if not raw:
                continue
            result = sql.DoPutPreparedStatementResult.FromString(raw)
            # A server may hand out a new handle (e.g. one that carries the bound values).
            if result.HasField("prepared_statement_handle"):
                self.handle = result.prepared_statement_handle
        self._sent = True

    async def probe_binding(self, *, timeout: float | None = None) -> bool | None:
        """Ask whether the server binds parameters: bind an empty set of them (no rows).

        Returns False when the server answers UNIMPLEMENTED or FAILED_PRECONDITION (and the
        client remembers it), True when it accepts, None when its answer says neither (an
        error about this statement). Nothing runs: no row of parameters is sent.
        """
        self._check_open()
        command = sql.CommandPreparedStatementQuery(prepared_statement_handle=self.handle)
        found = capabilities_of(self._client.flight_client)
        try:
            await self._client._put(command, pa.schema([]).empty_table(), timeout=timeout)
        except FlightError as exc:
            if not refuses_capability(exc):
                return None
            found.lacks_binding(exc)
            return False
        found.parameter_binding = True
        return True

    async def execute(
        self,
        parameters: Parameters = None,
        *,
        timeout: float | None = None,
        observer: TransferObserver | None = None,
    ) -> FlightInfo:
        """Bind ``parameters`` (if given) and plan the query; returns its FlightInfo."""
        self._check_open()
        if parameters is not None:
            self.bind(parameters)
        await self._send_parameters(timeout)
        return await self._client._plan_observed(
            self._descriptor(), timeout=timeout, observer=observer
        )

    async def query(
        self,
        parameters: Parameters = None,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        observer: TransferObserver | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """Bind ``parameters`` (if given), run the query and read its whole result."""
        self._check_open()
        if parameters is not None:
            self.bind(parameters)
        await self._send_parameters(timeout)
        return await self._client._read_query(
            self._descriptor(),
            max_concurrency=max_concurrency,
            observer=observer,
            timeout=timeout,
        )

    async def execute_update(
        self, parameters: Parameters = None, *, timeout: float | None = None
    ) -> int:
        """Run the statement as an update, once per bound row; returns the rows changed.

        Returns -1 when the server does not know the count.
        """
        self._check_open()
        if parameters is not None:
            self.bind(parameters)
        command = sql.CommandPreparedStatementUpdate(prepared_statement_handle=self.handle)
        # Without bound values an empty schema still opens the stream the server reads.
        data = self._bound if self._bound is not None else pa.schema([]).empty_table()
        results = await self._client._put(command, data, timeout=timeout)
        return _record_count(results)

    async def close(self, *, timeout: float | None = None) -> None:
        """Release the statement on the server (closing twice does nothing)."""
        if self._closed:
            return
        self._closed = True
        self._client._forget(self)
        request = sql.ActionClosePreparedStatementRequest(prepared_statement_handle=self.handle)
        await self._client._action(ACTION_CLOSE_PREPARED_STATEMENT, pack(request), timeout=timeout)

    async def __aenter__(self) -> AsyncPreparedStatement:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.close()
            return
        # Do not hide the error that left the block behind a failure to close.
        with contextlib.suppress(FlightError):
            await self.close()


def _record_count(results: list[bytes]) -> int:
    """The DoPutUpdateResult's ``record_count`` among a DoPut's results (-1 if none)."""
    for raw in results:
        if raw:
            return int(sql.DoPutUpdateResult.FromString(raw).record_count)
    return -1


class TransactionLike(Protocol):
    """What ``transaction=`` takes: :class:`AsyncTransaction` or :class:`Transaction`."""

    @property
    def id(self) -> bytes:
        """The server's transaction id."""
        ...

    @property
    def closed(self) -> bool:
        """True once committed or rolled back."""
        ...


class AsyncTransaction:
    """An open transaction: pass it as ``transaction=`` to queries, updates and ingests.

    Made by :meth:`AsyncFlightSqlClient.begin_transaction`. As an async context manager it
    commits when the block succeeds and rolls back when it raises.

    Attributes
    ----------
    id : bytes
        The server's transaction id.

    Examples
    --------
    >>> more_rows = pa.table({"x": [1, 2, 3]})
    >>> async with client.begin_transaction() as txn:
    ...     created = await client.ingest("kept", more_rows, mode="create", transaction=txn)
    ...     deleted = await client.execute_update("DELETE FROM kept WHERE x < 2", transaction=txn)
    >>> (await client.query("SELECT count(*) AS n FROM kept")).column("n").to_pylist()
    [2]
    """

    def __init__(self, client: SqlSession, transaction_id: bytes) -> None:
        self._client = client
        self.id = transaction_id
        self._closed = False

    def __repr__(self) -> str:
        state = "finished" if self._closed else "open"
        return f"AsyncTransaction({self.id.hex()}, {state})"

    @property
    def closed(self) -> bool:
        """True once committed or rolled back."""
        return self._closed

    async def _end(self, action: Any, timeout: float | None) -> None:
        if self._closed:
            raise FlightArgumentError("the transaction was already committed or rolled back")
        self._closed = True
        request = sql.ActionEndTransactionRequest(transaction_id=self.id, action=action)
        await self._client._action(ACTION_END_TRANSACTION, pack(request), timeout=timeout)

    async def commit(self, *, timeout: float | None = None) -> None:
        """Make the transaction's changes permanent."""
        await self._end(sql.ActionEndTransactionRequest.END_TRANSACTION_COMMIT, timeout)

    async def rollback(self, *, timeout: float | None = None) -> None:
        """Discard the transaction's changes."""
        await self._end(sql.ActionEndTransactionRequest.END_TRANSACTION_ROLLBACK, timeout)

    async def __aenter__(self) -> AsyncTransaction:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._closed:
            return
        if exc_type is None:
            await self.commit()
            return
        try:
            await self.rollback()
        except FlightError:
            # The block's own error matters more; the server drops the transaction anyway.
            _log.warning("rolling back transaction %s failed", self.id.hex(), exc_info=True)


# The blocking twins took the plain names (flightnb.sql.sync); here the old names serve the
# async classes for one more release.
if TYPE_CHECKING:
    PreparedStatement = AsyncPreparedStatement
    Transaction = AsyncTransaction
else:
    __getattr__ = renamed_names(
        __name__,
        globals(),
        {
            name: (
                f"Async{name}",
                f"the async class is now flightnb.sql.Async{name}; "
                f"flightnb.sql.{name} names its blocking twin",
            )
            for name in ("PreparedStatement", "Transaction")
        },
    )
