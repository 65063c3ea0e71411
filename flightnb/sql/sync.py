"""The blocking Flight SQL client: twins of the async client, its statements and transactions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightnb._deprecated import renamed_names
from flightnb.client.blocking import (
    BlockingContext,
    blocking,
    blocking_to,
    direct,
    mirror,
)
from flightnb.client.sync import FlightClient
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.polling import PollPolicy
from flightnb.sql.statements import AsyncPreparedStatement, AsyncTransaction

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientKeywords
    from flightnb.types import LocationLike

__all__ = ["FlightSqlClient", "PreparedStatement", "Transaction"]


class PreparedStatement(BlockingContext[AsyncPreparedStatement]):
    """Blocking twin of :class:`AsyncPreparedStatement` (same attributes and methods).

    Formerly ``PreparedStatementSync`` (deprecated alias), when ``PreparedStatement`` named
    the async statement.
    """

    query_text = mirror("query_text", doc="The SQL text.")
    handle = mirror("handle", doc="The server's handle (it may change when values are bound).")
    dataset_schema = mirror("dataset_schema", doc="The result schema, if the server sent one.")
    parameter_schema = mirror("parameter_schema", doc="The parameters the statement takes.")
    transaction_id = mirror("transaction_id", doc="The transaction it was prepared in.")
    parameters = mirror("parameters", doc="The parameters currently bound (None when none).")
    closed = mirror("closed", doc="True once closed.")
    bind = direct(AsyncPreparedStatement.bind)
    probe_binding = blocking(AsyncPreparedStatement.probe_binding)
    execute = blocking(AsyncPreparedStatement.execute)
    query = blocking(AsyncPreparedStatement.query)
    execute_update = blocking(AsyncPreparedStatement.execute_update)
    close = blocking(AsyncPreparedStatement.close)


class Transaction(BlockingContext[AsyncTransaction]):
    """Blocking twin of :class:`AsyncTransaction`: ``with client.begin_transaction() as txn:``.

    Formerly ``TransactionSync`` (deprecated alias), when ``Transaction`` named the async
    transaction.
    """

    id = mirror("id", doc="The server's transaction id.")
    closed = mirror("closed", doc="True once committed or rolled back.")
    commit = blocking(AsyncTransaction.commit)
    rollback = blocking(AsyncTransaction.rollback)


class FlightSqlClient(BlockingContext[AsyncFlightSqlClient]):
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
    >>> with FlightSqlClient("grpc://127.0.0.1:8815") as client:
    ...     df = client.query("SELECT * FROM trips WHERE fare > ?", [2.5]).to_pandas()
    ...     with client.begin_transaction() as txn:
    ...         deleted = client.execute_update("DELETE FROM trips WHERE fare < 0", transaction=txn)
    """

    def __init__(
        self,
        location_or_client: LocationLike | FlightClient,
        *,
        poll: bool | PollPolicy = True,
        **client_options: Unpack[ClientKeywords],
    ) -> None:
        shared = location_or_client if isinstance(location_or_client, FlightClient) else None
        original = shared.async_client if shared is not None else location_or_client
        super().__init__(AsyncFlightSqlClient(original, poll=poll, **client_options))
        self._flight = shared or FlightClient.wrap(self._async.flight_client, self._portal)

    @property
    def async_client(self) -> AsyncFlightSqlClient:
        """The underlying async client (its coroutines run on flightnb's loop thread)."""
        return self._async

    @property
    def flight_client(self) -> FlightClient:
        """The blocking Flight client underneath (for plain Flight calls)."""
        return self._flight

    location = mirror("location", doc="Where the server is.")
    close = blocking(AsyncFlightSqlClient.close)
    execute = blocking(AsyncFlightSqlClient.execute)
    query = blocking(AsyncFlightSqlClient.query)
    execute_update = blocking(AsyncFlightSqlClient.execute_update)
    get_schema = blocking(AsyncFlightSqlClient.get_schema)
    prepare = blocking_to(PreparedStatement)(AsyncFlightSqlClient.prepare)
    ingest = blocking(AsyncFlightSqlClient.ingest)
    get_sql_info = blocking(AsyncFlightSqlClient.get_sql_info)
    get_catalogs = blocking(AsyncFlightSqlClient.get_catalogs)
    get_db_schemas = blocking(AsyncFlightSqlClient.get_db_schemas)
    get_tables = blocking(AsyncFlightSqlClient.get_tables)
    get_table_types = blocking(AsyncFlightSqlClient.get_table_types)
    get_primary_keys = blocking(AsyncFlightSqlClient.get_primary_keys)
    get_exported_keys = blocking(AsyncFlightSqlClient.get_exported_keys)
    get_imported_keys = blocking(AsyncFlightSqlClient.get_imported_keys)
    get_cross_reference = blocking(AsyncFlightSqlClient.get_cross_reference)
    get_xdbc_type_info = blocking(AsyncFlightSqlClient.get_xdbc_type_info)
    begin_transaction = blocking_to(Transaction)(AsyncFlightSqlClient.begin_transaction)
    cancel = blocking(AsyncFlightSqlClient.cancel)


# The blocking twins were named PreparedStatementSync and TransactionSync; they now have the
# plain names, the async classes the Async prefix, like the clients.
if TYPE_CHECKING:
    PreparedStatementSync = PreparedStatement
    TransactionSync = Transaction
else:
    __getattr__ = renamed_names(
        __name__,
        globals(),
        {
            f"{name}Sync": (name, f"use flightnb.sql.{name}, the same class")
            for name in ("PreparedStatement", "Transaction")
        },
    )
