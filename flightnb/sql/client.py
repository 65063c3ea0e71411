"""The asyncio Flight SQL client: SQL, prepared statements, ingestion, metadata, transactions.

It is a thin layer over :class:`~flightnb.client.aio.AsyncFlightClient`: every Flight SQL
request is a packed command in a FlightDescriptor, an Action or a DoPut, so this module only
builds commands and reads results; the Flight client does all I/O.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from google.protobuf.message import Message

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.client.aio import AsyncFlightClient
from flightnb.client.flights import DEFAULT_MAX_CONCURRENCY, read_flight_info
from flightnb.client.observer import TransferObserver, observed_transfer
from flightnb.client.operations import AsyncFlightOperations
from flightnb.errors import (
    FlightArgumentError,
    FlightArgumentTypeError,
    FlightDecodeError,
    FlightError,
    FlightNotImplementedError,
)
from flightnb.protocol.commands import (
    ACTION_BEGIN_TRANSACTION,
    ACTION_CANCEL_QUERY,
    ACTION_CREATE_PREPARED_STATEMENT,
    CommandDecodeError,
    pack,
    unpack_as,
)
from flightnb.sql.parameters import Parameters, as_record_batch_reader
from flightnb.sql.polling import ContinuedObserver, PollPolicy, poll_until_complete
from flightnb.sql.results import SqlInfoValues, decode_sql_info, sql_info_code
from flightnb.sql.statements import (
    AsyncPreparedStatement,
    AsyncTransaction,
    AwaitableContext,
    TransactionLike,
    _record_count,
)
from flightnb.types import (
    CancelStatus,
    FlightDescriptor,
    FlightInfo,
    Location,
    info_to_proto,
    read_ipc_schema,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientKeywords
    from flightnb.types import LocationLike

__all__ = ["AsyncFlightSqlClient", "IngestMode"]

IngestMode = Literal["create", "append", "replace", "create_append"]
"""What :meth:`AsyncFlightSqlClient.ingest` does with a table that exists, or does not."""

_Options = sql.CommandStatementIngest.TableDefinitionOptions
# mode -> (if the table does not exist, if it exists), as ADBC defines the modes.
_INGEST_MODES: dict[str, tuple[Any, Any]] = {
    "create": (_Options.TABLE_NOT_EXIST_OPTION_CREATE, _Options.TABLE_EXISTS_OPTION_FAIL),
    "append": (_Options.TABLE_NOT_EXIST_OPTION_FAIL, _Options.TABLE_EXISTS_OPTION_APPEND),
    "replace": (_Options.TABLE_NOT_EXIST_OPTION_CREATE, _Options.TABLE_EXISTS_OPTION_REPLACE),
    "create_append": (_Options.TABLE_NOT_EXIST_OPTION_CREATE, _Options.TABLE_EXISTS_OPTION_APPEND),
}


def transaction_id(transaction: TransactionLike | bytes | None) -> bytes | None:
    """The id of a ``transaction=`` argument (a Transaction, either twin, or raw bytes)."""
    if transaction is None:
        return None
    if isinstance(transaction, (bytes, bytearray)):
        return bytes(transaction)
    value = getattr(transaction, "id", None)
    if not isinstance(value, bytes):
        raise FlightArgumentTypeError(
            f"transaction= takes a Transaction from begin_transaction(), not a "
            f"{type(transaction).__name__}"
        )
    if getattr(transaction, "closed", False):
        raise FlightArgumentError("the transaction was already committed or rolled back")
    return value


def _with_transaction(message: Message, transaction: Any) -> Message:
    tid = transaction_id(transaction)
    if tid is not None:
        message.transaction_id = tid  # type: ignore[attr-defined]
    return message


def _descriptor(command: Message) -> FlightDescriptor:
    return FlightDescriptor.for_command(pack(command))


def _set_optional(message: Message, **fields: Any) -> Message:
    """Set only the fields that are not None (proto3 ``optional`` presence matters)."""
    for name, value in fields.items():
        if value is not None:
            setattr(message, name, value)
    return message


def unpack_result(results: list[bytes], cls: type[Any], action: str) -> Any:
    """The first result of an action, unpacked from its ``Any`` as ``cls``."""
    if not results:
        raise FlightDecodeError(f"the {action} action returned no result", where="Result")
    try:
        return unpack_as(results[0], cls)
    except CommandDecodeError as exc:
        raise FlightDecodeError(str(exc), where=f"{action} result") from exc


#: Whether a client's server answers PollFlightInfo, once a SQL client on it found out.
#: ``read_flight(client, sql=...)`` makes a SQL client for every query on a kept client;
#: without this each would ask again, and a server without PollFlightInfo would cost every
#: query one call (a round trip) more. Weak: it lives as long as the client, no longer.
_POLL_SUPPORT: weakref.WeakKeyDictionary[AsyncFlightClient, bool] = weakref.WeakKeyDictionary()


class AsyncFlightSqlClient(AsyncFlightOperations):
    """A Flight SQL client on ``grpc.aio``.

    Besides SQL, it has the Flight client's one-call operations (``read_flight``,
    ``open_flight``, ``write_flight``, the sinks...), where ``sql=`` may be given.

    Parameters
    ----------
    location_or_client : str, Location or AsyncFlightClient
        Where the server is (``grpc://host:port``, ``grpc+tls://...``), or a Flight client to
        use. A client passed in stays open when this one closes.
    poll : bool or PollPolicy
        Plan queries with PollFlightInfo when the server offers it, and report its progress
        to the observer; the policy bounds the polling. False always uses GetFlightInfo.
    **client_options
        Passed to :class:`AsyncFlightClient` (``token=``, ``headers=``, ``timeout=``, TLS).

    Examples
    --------
    >>> async with AsyncFlightSqlClient("grpc://127.0.0.1:8815") as client:
    ...     table = await client.query("SELECT * FROM trips WHERE fare > ?", [2.5])
    ...     count = await client.execute_update("DELETE FROM trips WHERE fare < 0")
    """

    def __init__(
        self,
        location_or_client: LocationLike | AsyncFlightClient,
        *,
        poll: bool | PollPolicy = True,
        **client_options: Unpack[ClientKeywords],
    ) -> None:
        if isinstance(location_or_client, AsyncFlightClient):
            if client_options:
                raise FlightArgumentError(
                    "client options go to the AsyncFlightClient you pass, not here: "
                    + ", ".join(sorted(client_options))
                )
            self._client, self._owns_client = location_or_client, False
        else:
            self._client, self._owns_client = (
                AsyncFlightClient(location_or_client, **client_options),
                True,
            )
        self._poll = PollPolicy() if poll is True else (poll or None)
        self._poll_supported: bool | None = _POLL_SUPPORT.get(self._client)
        self._transactions_supported: bool | None = None
        # Statements that execute() prepared for parameters; their results refer to them.
        self._statements: set[AsyncPreparedStatement] = set()

    def _flight_calls(self) -> AsyncFlightClient:
        return self._client

    def _sql_planner(self) -> AsyncFlightSqlClient:
        # A view of its own, closed after the read: it ends the statements prepared for the
        # query's parameters, as this client's own statements are not.
        return AsyncFlightSqlClient(self._client, poll=self._poll or False)

    def __repr__(self) -> str:
        return f"AsyncFlightSqlClient({self._client.location.uri!r})"

    @property
    def flight_client(self) -> AsyncFlightClient:
        """The Flight client underneath (for plain Flight calls on the same connection)."""
        return self._client

    @property
    def location(self) -> Location:
        """Where the server is."""
        return self._client.location

    # --- lifecycle ------------------------------------------------------------------------

    async def close(self) -> None:
        """Close statements left open by :meth:`execute`, then the Flight client if owned."""
        statements, self._statements = list(self._statements), set()
        for statement in statements:
            with contextlib.suppress(FlightError):
                await statement.close()
        if self._owns_client:
            await self._client.close()

    async def __aenter__(self) -> AsyncFlightSqlClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _forget(self, statement: AsyncPreparedStatement) -> None:
        self._statements.discard(statement)

    # --- building blocks --------------------------------------------------------------------

    async def _action(self, action_type: str, body: bytes, *, timeout: float | None) -> list[bytes]:
        return [r.body async for r in self._client.do_action(action_type, body, timeout=timeout)]

    async def _put(
        self, command: Message, data: Any | None, *, timeout: float | None
    ) -> list[bytes]:
        """DoPut ``command`` with ``data`` (None: descriptor only); returns the PutResults."""
        writer = await self._client.do_put(_descriptor(command), timeout=timeout)
        async with writer:
            if data is not None:
                reader = as_record_batch_reader(data)
                await writer.begin(reader.schema)
                for batch in reader:
                    await writer.write_batch(batch)
        return [bytes(r) for r in writer.results]

    def _may_poll(self) -> bool:
        return self._poll is not None and self._poll_supported is not False

    async def _plan(
        self,
        descriptor: FlightDescriptor,
        *,
        timeout: float | None,
        observer: TransferObserver | None,
    ) -> FlightInfo:
        """PollFlightInfo until complete when the server has it, else GetFlightInfo."""
        if self._poll is not None and self._poll_supported is not False:
            try:
                first = await self._client.poll_flight_info(descriptor, timeout=timeout)
            except FlightNotImplementedError:
                self._poll_supported = _POLL_SUPPORT[self._client] = False
            else:
                self._poll_supported = _POLL_SUPPORT[self._client] = True
                return await poll_until_complete(
                    self._client,
                    first,
                    self._poll,
                    observer=observer,
                    timeout=timeout,
                    cancel=self.cancel,
                )
        return await self._client.get_flight_info(descriptor, timeout=timeout)

    async def _plan_observed(
        self,
        descriptor: FlightDescriptor,
        *,
        timeout: float | None,
        observer: TransferObserver | None,
    ) -> FlightInfo:
        if observer is None or not self._may_poll():
            return await self._plan(descriptor, timeout=timeout, observer=None)
        async with observed_transfer(observer, info=None, parts=1):
            return await self._plan(descriptor, timeout=timeout, observer=observer)

    async def _read_query(
        self,
        descriptor: FlightDescriptor,
        *,
        max_concurrency: int,
        observer: TransferObserver | None,
        timeout: float | None,
    ) -> pa.Table:
        """Plan (polling if possible) and read every endpoint, under one observed transfer."""
        if observer is None or not self._may_poll():
            info = await self._plan(descriptor, timeout=timeout, observer=None)
            return await read_flight_info(
                self._client,
                info,
                max_concurrency=max_concurrency,
                observer=observer,
                timeout=timeout,
            )
        async with observed_transfer(observer, info=None, parts=1):
            info = await self._plan(descriptor, timeout=timeout, observer=observer)
            return await read_flight_info(
                self._client,
                info,
                max_concurrency=max_concurrency,
                observer=ContinuedObserver(observer),
                timeout=timeout,
            )

    async def _metadata(self, command: Message, *, timeout: float | None) -> pa.Table:
        info = await self._client.get_flight_info(_descriptor(command), timeout=timeout)
        return await read_flight_info(self._client, info, timeout=timeout)

    # --- statements ---------------------------------------------------------------------------

    async def execute(
        self,
        query: str,
        parameters: Parameters = None,
        *,
        transaction: TransactionLike | bytes | None = None,
        timeout: float | None = None,
        observer: TransferObserver | None = None,
    ) -> FlightInfo:
        """Plan a query; returns its FlightInfo (read the endpoints with ``do_get``).

        With ``parameters`` the query is prepared and the values bound as Arrow; that
        prepared statement stays open until this client closes, because the FlightInfo's
        tickets may refer to it. Use :meth:`prepare` to control its life.
        """
        if parameters is None:
            command = _with_transaction(sql.CommandStatementQuery(query=query), transaction)
            return await self._plan_observed(
                _descriptor(command), timeout=timeout, observer=observer
            )
        statement = await self._prepare(query, transaction=transaction, timeout=timeout)
        try:
            info = await statement.execute(parameters, timeout=timeout, observer=observer)
        except BaseException:
            with contextlib.suppress(FlightError):
                await statement.close()
            raise
        self._statements.add(statement)
        return info

    async def query(
        self,
        query: str,
        parameters: Parameters = None,
        *,
        transaction: TransactionLike | bytes | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        observer: TransferObserver | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """Run a query and read its whole result as a pyarrow Table.

        Parameters
        ----------
        query : str
            The SQL. Values belong in ``parameters``, never in the text.
        parameters : dict, list, tuple, pyarrow Table/RecordBatch, pandas/polars DataFrame
            Bound as Arrow values through a prepared statement. A dict names them (ordered
            as the server's parameter schema), a list or tuple is one positional row, a table
            or frame runs the query once per row.
        transaction : AsyncTransaction or Transaction, optional
            Run inside this transaction.
        max_concurrency : int
            Endpoints read at once.
        observer : TransferObserver, optional
            Receives PollFlightInfo progress, then the read's progress.
        timeout : float, optional
            Per-call deadline in seconds.

        Examples
        --------
        >>> oslo = await client.query("SELECT * FROM stations WHERE city = $city",
        ...                           {"city": "Oslo"})
        >>> set(oslo.column("city").to_pylist()) <= {"Oslo"}
        True
        """
        if parameters is None:
            command = _with_transaction(sql.CommandStatementQuery(query=query), transaction)
            return await self._read_query(
                _descriptor(command),
                max_concurrency=max_concurrency,
                observer=observer,
                timeout=timeout,
            )
        async with self.prepare(query, transaction=transaction, timeout=timeout) as statement:
            return await statement.query(
                parameters, max_concurrency=max_concurrency, observer=observer, timeout=timeout
            )

    async def execute_update(
        self,
        query: str,
        parameters: Parameters = None,
        *,
        transaction: TransactionLike | bytes | None = None,
        timeout: float | None = None,
    ) -> int:
        """Run a statement that changes data (DoPut); returns the rows affected.

        With a table or frame of ``parameters`` the statement runs once per row and the
        counts add up. Returns -1 when the server does not know the count.
        """
        if parameters is None:
            command = _with_transaction(sql.CommandStatementUpdate(query=query), transaction)
            return _record_count(await self._put(command, None, timeout=timeout))
        async with self.prepare(query, transaction=transaction, timeout=timeout) as statement:
            return await statement.execute_update(parameters, timeout=timeout)

    async def get_schema(
        self,
        query: str,
        *,
        transaction: TransactionLike | bytes | None = None,
        timeout: float | None = None,
    ) -> pa.Schema:
        """The result schema of ``query`` without running it (GetSchema of the statement).

        Servers whose prepared statements announce no schema, or a placeholder, may still
        answer this; it raises :class:`~flightnb.FlightNotImplementedError` where they do not.

        Examples
        --------
        >>> schema = await client.get_schema("SELECT * FROM trips")
        >>> "fare" in schema.names
        True
        """
        command = _with_transaction(sql.CommandStatementQuery(query=query), transaction)
        return await self._client.get_schema(_descriptor(command), timeout=timeout)

    def prepare(
        self,
        query: str,
        *,
        transaction: TransactionLike | bytes | None = None,
        timeout: float | None = None,
    ) -> AwaitableContext[AsyncPreparedStatement]:
        """Prepare a statement: ``async with client.prepare(sql) as stmt:`` (or ``await``).

        Examples
        --------
        >>> created = await client.execute_update("CREATE TABLE t (a INTEGER, b VARCHAR)")
        >>> async with client.prepare("INSERT INTO t VALUES (?, ?)") as stmt:
        ...     inserted = await stmt.execute_update(pa.table({"a": [1, 2], "b": ["x", "y"]}))
        >>> inserted
        2
        """
        return AwaitableContext(self._prepare(query, transaction=transaction, timeout=timeout))

    async def _prepare(
        self, query: str, *, transaction: Any, timeout: float | None
    ) -> AsyncPreparedStatement:
        request = _with_transaction(
            sql.ActionCreatePreparedStatementRequest(query=query), transaction
        )
        results = await self._action(
            ACTION_CREATE_PREPARED_STATEMENT, pack(request), timeout=timeout
        )
        result = unpack_result(
            results, sql.ActionCreatePreparedStatementResult, ACTION_CREATE_PREPARED_STATEMENT
        )
        return AsyncPreparedStatement(
            self,
            query,
            result.prepared_statement_handle,
            dataset_schema=read_ipc_schema(result.dataset_schema),
            parameter_schema=read_ipc_schema(result.parameter_schema),
            transaction_id=transaction_id(transaction),
        )

    # --- bulk ingestion -----------------------------------------------------------------------

    async def ingest(
        self,
        table: str,
        data: Any,
        *,
        mode: IngestMode = "create",
        catalog: str | None = None,
        schema: str | None = None,
        temporary: bool = False,
        transaction: TransactionLike | bytes | None = None,
        options: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> int:
        """Load ``data`` into a table with CommandStatementIngest; returns the rows loaded.

        Parameters
        ----------
        table : str
            Target table name.
        data : pyarrow Table, RecordBatch or RecordBatchReader, pandas or polars DataFrame
            The rows; a RecordBatchReader is streamed batch by batch.
        mode : {"create", "append", "replace", "create_append"}
            ``create`` fails if the table exists, ``append`` if it does not; ``replace``
            drops and re-creates it; ``create_append`` creates it or appends to it.
        catalog, schema : str, optional
            Where the table lives (the server's defaults otherwise).
        temporary : bool
            Create a temporary table.
        transaction : AsyncTransaction or Transaction, optional
            Load inside this transaction.
        options : mapping of str to str, optional
            Server-specific ingestion options.

        Examples
        --------
        >>> events = pa.table({"id": [1, 2], "kind": ["open", "close"]})
        >>> await client.ingest("events", events, mode="create_append")
        2
        """
        if mode not in _INGEST_MODES:
            raise FlightArgumentError(
                f"mode={mode!r} is not one of {', '.join(map(repr, _INGEST_MODES))}"
            )
        if_not_exist, if_exists = _INGEST_MODES[mode]
        command = sql.CommandStatementIngest(
            table=table,
            temporary=temporary,
            table_definition_options=_Options(if_not_exist=if_not_exist, if_exists=if_exists),
        )
        _set_optional(
            command, catalog=catalog, schema=schema, transaction_id=transaction_id(transaction)
        )
        for key, value in (options or {}).items():
            command.options[str(key)] = str(value)
        reader = as_record_batch_reader(data)
        return _record_count(await self._put(command, reader, timeout=timeout))

    # --- metadata -----------------------------------------------------------------------------

    async def get_sql_info(
        self, info: Sequence[int | str] | int | str | None = None, *, timeout: float | None = None
    ) -> SqlInfoValues:
        """What the server says about itself and its SQL dialect.

        Parameters
        ----------
        info : int, str or sequence of them, optional
            SqlInfo codes or names (``"FLIGHT_SQL_SERVER_NAME"``, ``0``); all when omitted.

        Returns
        -------
        SqlInfoValues
            A dict keyed by SqlInfo name (numbers for codes outside the spec) that also
            accepts numeric keys; union values decoded to ``str``, ``bool``, ``int``,
            ``list[str]`` or ``dict[int, list[int]]``.

        Examples
        --------
        >>> (await client.get_sql_info())["FLIGHT_SQL_SERVER_NAME"]
        'flightnb DuckDB Flight SQL server'
        """
        requested = [info] if isinstance(info, (int, str)) else list(info or ())
        command = sql.CommandGetSqlInfo(info=[sql_info_code(i) for i in requested])
        return decode_sql_info(await self._metadata(command, timeout=timeout))

    async def get_catalogs(self, *, timeout: float | None = None) -> pa.Table:
        """The catalogs (``catalog_name``)."""
        return await self._metadata(sql.CommandGetCatalogs(), timeout=timeout)

    async def get_db_schemas(
        self,
        catalog: str | None = None,
        db_schema_filter_pattern: str | None = None,
        *,
        timeout: float | None = None,
    ) -> pa.Table:
        """The schemas (``catalog_name``, ``db_schema_name``); the pattern uses ``%`` and ``_``."""
        command = _set_optional(
            sql.CommandGetDbSchemas(),
            catalog=catalog,
            db_schema_filter_pattern=db_schema_filter_pattern,
        )
        return await self._metadata(command, timeout=timeout)

    async def get_tables(
        self,
        catalog: str | None = None,
        db_schema_filter_pattern: str | None = None,
        table_name_filter_pattern: str | None = None,
        table_types: Sequence[str] | None = None,
        include_schema: bool = False,
        *,
        timeout: float | None = None,
    ) -> pa.Table:
        """The tables and views; with ``include_schema`` a ``table_schema`` column too.

        Decode that column with :func:`flightnb.sql.table_schemas`.
        """
        command = sql.CommandGetTables(
            table_types=list(table_types or ()), include_schema=include_schema
        )
        _set_optional(
            command,
            catalog=catalog,
            db_schema_filter_pattern=db_schema_filter_pattern,
            table_name_filter_pattern=table_name_filter_pattern,
        )
        return await self._metadata(command, timeout=timeout)

    async def get_table_types(self, *, timeout: float | None = None) -> pa.Table:
        """The table types the server knows (``table_type``)."""
        return await self._metadata(sql.CommandGetTableTypes(), timeout=timeout)

    async def get_primary_keys(
        self,
        table: str,
        *,
        catalog: str | None = None,
        db_schema: str | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """The primary key columns of ``table``."""
        command = _set_optional(
            sql.CommandGetPrimaryKeys(table=table), catalog=catalog, db_schema=db_schema
        )
        return await self._metadata(command, timeout=timeout)

    async def get_exported_keys(
        self,
        table: str,
        *,
        catalog: str | None = None,
        db_schema: str | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """The foreign keys in other tables that refer to ``table``'s primary key."""
        command = _set_optional(
            sql.CommandGetExportedKeys(table=table), catalog=catalog, db_schema=db_schema
        )
        return await self._metadata(command, timeout=timeout)

    async def get_imported_keys(
        self,
        table: str,
        *,
        catalog: str | None = None,
        db_schema: str | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """The foreign keys of ``table`` and the primary keys they refer to."""
        command = _set_optional(
            sql.CommandGetImportedKeys(table=table), catalog=catalog, db_schema=db_schema
        )
        return await self._metadata(command, timeout=timeout)

    async def get_cross_reference(
        self,
        pk_table: str,
        fk_table: str,
        *,
        pk_catalog: str | None = None,
        pk_db_schema: str | None = None,
        fk_catalog: str | None = None,
        fk_db_schema: str | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """The foreign keys of ``fk_table`` that refer to the primary key of ``pk_table``."""
        command = _set_optional(
            sql.CommandGetCrossReference(pk_table=pk_table, fk_table=fk_table),
            pk_catalog=pk_catalog,
            pk_db_schema=pk_db_schema,
            fk_catalog=fk_catalog,
            fk_db_schema=fk_db_schema,
        )
        return await self._metadata(command, timeout=timeout)

    async def get_xdbc_type_info(
        self, data_type: int | None = None, *, timeout: float | None = None
    ) -> pa.Table:
        """The SQL types the server offers, optionally only one XDBC ``data_type``."""
        command = _set_optional(sql.CommandGetXdbcTypeInfo(), data_type=data_type)
        return await self._metadata(command, timeout=timeout)

    # --- transactions and cancellation --------------------------------------------------------

    async def _check_transactions(self, timeout: float | None) -> None:
        if self._transactions_supported is None:
            try:
                info = await self.get_sql_info(
                    [sql.FLIGHT_SQL_SERVER_TRANSACTION, sql.SQL_TRANSACTIONS_SUPPORTED],
                    timeout=timeout,
                )
            except FlightNotImplementedError:
                info = SqlInfoValues()
            if sql.FLIGHT_SQL_SERVER_TRANSACTION in info:
                level = info[sql.FLIGHT_SQL_SERVER_TRANSACTION]
                self._transactions_supported = level != sql.SQL_SUPPORTED_TRANSACTION_NONE
            elif sql.SQL_TRANSACTIONS_SUPPORTED in info:
                self._transactions_supported = bool(info[sql.SQL_TRANSACTIONS_SUPPORTED])
            else:
                self._transactions_supported = True  # unknown: let the server answer
        if not self._transactions_supported:
            raise FlightNotImplementedError(
                "this Flight SQL server does not support transactions (its SqlInfo "
                "FLIGHT_SQL_SERVER_TRANSACTION says none); run each statement on its own"
            )

    def begin_transaction(
        self, *, timeout: float | None = None
    ) -> AwaitableContext[AsyncTransaction]:
        """Begin a transaction: ``async with client.begin_transaction() as txn:`` (or ``await``).

        Raises
        ------
        FlightNotImplementedError
            When the server does not support transactions.
        """
        return AwaitableContext(self._begin_transaction(timeout))

    async def _begin_transaction(self, timeout: float | None) -> AsyncTransaction:
        await self._check_transactions(timeout)
        body = pack(sql.ActionBeginTransactionRequest())
        try:
            results = await self._action(ACTION_BEGIN_TRANSACTION, body, timeout=timeout)
        except FlightNotImplementedError as exc:
            raise FlightNotImplementedError(
                f"this Flight SQL server does not support transactions: {exc.message}",
                code=exc.code,
            ) from exc
        result = unpack_result(results, sql.ActionBeginTransactionResult, ACTION_BEGIN_TRANSACTION)
        return AsyncTransaction(self, result.transaction_id)

    async def cancel(self, info: FlightInfo, *, timeout: float | None = None) -> CancelStatus:
        """Cancel the query behind ``info`` (CancelFlightInfo, else the older CancelQuery)."""
        try:
            return await self._client.cancel_flight_info(info, timeout=timeout)
        except FlightNotImplementedError:
            pass
        request = sql.ActionCancelQueryRequest(info=info_to_proto(info).SerializeToString())
        results = await self._action(ACTION_CANCEL_QUERY, pack(request), timeout=timeout)
        result = unpack_result(results, sql.ActionCancelQueryResult, ACTION_CANCEL_QUERY)
        # ActionCancelQueryResult.CancelResult numbers its values like CancelStatus.
        return CancelStatus(result.result)
