"""The blocking Flight SQL client: the async one driven on flightnb's loop thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.flights import DEFAULT_MAX_CONCURRENCY
from flightnb.client.loop_thread import LoopThread, shared_loop_thread
from flightnb.client.observer import TransferObserver
from flightnb.client.sync import FlightClient
from flightnb.errors import FlightInvalidArgumentError
from flightnb.sql.client import AsyncFlightSqlClient, IngestMode
from flightnb.sql.parameters import Parameters
from flightnb.sql.polling import PollPolicy
from flightnb.sql.results import SqlInfoValues
from flightnb.sql.statements import PreparedStatement, Transaction
from flightnb.types import CancelStatus, FlightInfo, Location

__all__ = ["FlightSqlClient", "PreparedStatementSync", "TransactionSync"]


class PreparedStatementSync:
    """Blocking view of a :class:`PreparedStatement` (same attributes and methods)."""

    def __init__(self, statement: PreparedStatement, portal: LoopThread) -> None:
        self._statement = statement
        self._portal = portal

    def __repr__(self) -> str:
        return repr(self._statement)

    @property
    def query_text(self) -> str:
        return self._statement.query_text

    @property
    def handle(self) -> bytes:
        return self._statement.handle

    @property
    def dataset_schema(self) -> pa.Schema | None:
        return self._statement.dataset_schema

    @property
    def parameter_schema(self) -> pa.Schema | None:
        return self._statement.parameter_schema

    @property
    def parameters(self) -> pa.Table | None:
        return self._statement.parameters

    @property
    def closed(self) -> bool:
        return self._statement.closed

    def bind(self, parameters: Parameters) -> None:
        self._statement.bind(parameters)

    def execute(self, parameters: Parameters = None, **options: Any) -> FlightInfo:
        return self._portal.run(self._statement.execute(parameters, **options))

    def query(self, parameters: Parameters = None, **options: Any) -> pa.Table:
        return self._portal.run(self._statement.query(parameters, **options))

    def execute_update(self, parameters: Parameters = None, **options: Any) -> int:
        return self._portal.run(self._statement.execute_update(parameters, **options))

    def close(self, **options: Any) -> None:
        self._portal.run(self._statement.close(**options))

    def __enter__(self) -> PreparedStatementSync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._portal.run(self._statement.__aexit__(exc_type, exc, tb))


class TransactionSync:
    """Blocking view of a :class:`Transaction`: ``with client.begin_transaction() as txn:``."""

    def __init__(self, transaction: Transaction, portal: LoopThread) -> None:
        self._transaction = transaction
        self._portal = portal

    def __repr__(self) -> str:
        return repr(self._transaction)

    @property
    def id(self) -> bytes:
        return self._transaction.id

    @property
    def closed(self) -> bool:
        return self._transaction.closed

    def commit(self, **options: Any) -> None:
        self._portal.run(self._transaction.commit(**options))

    def rollback(self, **options: Any) -> None:
        self._portal.run(self._transaction.rollback(**options))

    def __enter__(self) -> TransactionSync:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._portal.run(self._transaction.__aexit__(exc_type, exc, tb))


def _async_transaction(transaction: Any) -> Any:
    return transaction._transaction if isinstance(transaction, TransactionSync) else transaction


class FlightSqlClient:
    """A blocking Flight SQL client with the same methods as :class:`AsyncFlightSqlClient`.

    Calls run on flightnb's private event-loop thread (the one :class:`FlightClient` uses),
    so it works in scripts and running Jupyter kernels alike; Ctrl-C cancels the call.

    Parameters
    ----------
    location_or_client : str, Location or FlightClient
        Where the server is, or a Flight client to share (it stays open when this closes).
    poll : bool or PollPolicy
        See :class:`AsyncFlightSqlClient`.
    **client_options
        Passed to :class:`FlightClient` (``token=``, ``headers=``, ``timeout=``, TLS).

    Examples
    --------
    >>> with FlightSqlClient("grpc://127.0.0.1:8815") as client:  # doctest: +SKIP
    ...     df = client.query("SELECT * FROM trips WHERE fare > ?", [2.5]).to_pandas()
    ...     with client.begin_transaction() as txn:
    ...         client.execute_update("DELETE FROM trips WHERE fare < 0", transaction=txn)
    """

    def __init__(
        self,
        location_or_client: str | Location | FlightClient | Any,
        *,
        poll: bool | PollPolicy = True,
        **client_options: Any,
    ) -> None:
        self._portal = shared_loop_thread()
        if isinstance(location_or_client, FlightClient):
            self._flight, self._owns_flight = location_or_client, False
            flight_client: AsyncFlightClient = location_or_client.async_client
            if client_options:
                raise FlightInvalidArgumentError(
                    "client options go to the FlightClient you pass, not here: "
                    + ", ".join(sorted(client_options))
                )
        else:
            self._flight = FlightClient(location_or_client, **client_options)
            self._owns_flight = True
            flight_client = self._flight.async_client
        self._async = AsyncFlightSqlClient(flight_client, poll=poll)

    def __repr__(self) -> str:
        return f"FlightSqlClient({self.location.uri!r})"

    @property
    def async_client(self) -> AsyncFlightSqlClient:
        """The underlying async client (its coroutines run on flightnb's loop thread)."""
        return self._async

    @property
    def flight_client(self) -> FlightClient:
        """The blocking Flight client underneath."""
        return self._flight

    @property
    def location(self) -> Location:
        return self._async.location

    def close(self) -> None:
        """Close statements left open by :meth:`execute`, then the Flight client if owned."""
        self._portal.run(self._async.close())
        if self._owns_flight:
            self._flight.close()

    def __enter__(self) -> FlightSqlClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- statements ------------------------------------------------------------------------

    def execute(
        self,
        query: str,
        parameters: Parameters = None,
        *,
        transaction: Any = None,
        timeout: float | None = None,
        observer: TransferObserver | None = None,
    ) -> FlightInfo:
        """Plan a query; returns its FlightInfo. See :meth:`AsyncFlightSqlClient.execute`."""
        return self._portal.run(
            self._async.execute(
                query,
                parameters,
                transaction=_async_transaction(transaction),
                timeout=timeout,
                observer=observer,
            )
        )

    def query(
        self,
        query: str,
        parameters: Parameters = None,
        *,
        transaction: Any = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        observer: TransferObserver | None = None,
        timeout: float | None = None,
    ) -> pa.Table:
        """Run a query into a pyarrow Table. See :meth:`AsyncFlightSqlClient.query`."""
        return self._portal.run(
            self._async.query(
                query,
                parameters,
                transaction=_async_transaction(transaction),
                max_concurrency=max_concurrency,
                observer=observer,
                timeout=timeout,
            )
        )

    def execute_update(
        self,
        query: str,
        parameters: Parameters = None,
        *,
        transaction: Any = None,
        timeout: float | None = None,
    ) -> int:
        """Run a statement that changes data; returns the rows affected."""
        return self._portal.run(
            self._async.execute_update(
                query,
                parameters,
                transaction=_async_transaction(transaction),
                timeout=timeout,
            )
        )

    def prepare(
        self, query: str, *, transaction: Any = None, timeout: float | None = None
    ) -> PreparedStatementSync:
        """Prepare a statement; use it in ``with`` to close it afterwards."""
        statement = self._portal.run(
            self._async._prepare(
                query,
                transaction=_async_transaction(transaction),
                timeout=timeout,
            )
        )
        return PreparedStatementSync(statement, self._portal)

    def ingest(
        self,
        table: str,
        data: Any,
        *,
        mode: IngestMode = "create",
        catalog: str | None = None,
        schema: str | None = None,
        temporary: bool = False,
        transaction: Any = None,
        options: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> int:
        """Load ``data`` into a table; returns the rows loaded. See the async client."""
        return self._portal.run(
            self._async.ingest(
                table,
                data,
                mode=mode,
                catalog=catalog,
                schema=schema,
                temporary=temporary,
                transaction=_async_transaction(transaction),
                options=options,
                timeout=timeout,
            )
        )

    # --- metadata ----------------------------------------------------------------------------

    def get_sql_info(
        self, info: Sequence[int | str] | int | str | None = None, **options: Any
    ) -> SqlInfoValues:
        return self._portal.run(self._async.get_sql_info(info, **options))

    def get_catalogs(self, **options: Any) -> pa.Table:
        return self._portal.run(self._async.get_catalogs(**options))

    def get_db_schemas(
        self,
        catalog: str | None = None,
        db_schema_filter_pattern: str | None = None,
        **options: Any,
    ) -> pa.Table:
        return self._portal.run(
            self._async.get_db_schemas(catalog, db_schema_filter_pattern, **options)
        )

    def get_tables(
        self,
        catalog: str | None = None,
        db_schema_filter_pattern: str | None = None,
        table_name_filter_pattern: str | None = None,
        table_types: Sequence[str] | None = None,
        include_schema: bool = False,
        **options: Any,
    ) -> pa.Table:
        return self._portal.run(
            self._async.get_tables(
                catalog,
                db_schema_filter_pattern,
                table_name_filter_pattern,
                table_types,
                include_schema,
                **options,
            )
        )

    def get_table_types(self, **options: Any) -> pa.Table:
        return self._portal.run(self._async.get_table_types(**options))

    def get_primary_keys(self, table: str, **options: Any) -> pa.Table:
        return self._portal.run(self._async.get_primary_keys(table, **options))

    def get_exported_keys(self, table: str, **options: Any) -> pa.Table:
        return self._portal.run(self._async.get_exported_keys(table, **options))

    def get_imported_keys(self, table: str, **options: Any) -> pa.Table:
        return self._portal.run(self._async.get_imported_keys(table, **options))

    def get_cross_reference(self, pk_table: str, fk_table: str, **options: Any) -> pa.Table:
        return self._portal.run(self._async.get_cross_reference(pk_table, fk_table, **options))

    def get_xdbc_type_info(self, data_type: int | None = None, **options: Any) -> pa.Table:
        return self._portal.run(self._async.get_xdbc_type_info(data_type, **options))

    # --- transactions and cancellation ------------------------------------------------------

    def begin_transaction(self, *, timeout: float | None = None) -> TransactionSync:
        """Begin a transaction; ``with`` commits on success and rolls back on error."""
        transaction = self._portal.run(self._async._begin_transaction(timeout))
        return TransactionSync(transaction, self._portal)

    def cancel(self, info: FlightInfo, *, timeout: float | None = None) -> CancelStatus:
        """Cancel the query behind ``info``."""
        return self._portal.run(self._async.cancel(info, timeout=timeout))
