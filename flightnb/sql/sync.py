"""The blocking Flight SQL client: twins of the async client, its statements and transactions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightnb.client.blocking import (
    BlockingContext,
    blocking,
    blocking_to,
    direct,
    mirror,
)
from flightnb.client.sync import FlightClient, FlightOperations
from flightnb.sql.client import AsyncFlightSqlClient
from flightnb.sql.polling import PollPolicy
from flightnb.sql.statements import PreparedStatement, Transaction

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientKeywords
    from flightnb.types import LocationLike

__all__ = ["FlightSqlClient", "PreparedStatementSync", "TransactionSync"]


class PreparedStatementSync(BlockingContext[PreparedStatement]):
    """Blocking twin of :class:`PreparedStatement` (same attributes and methods)."""

    query_text = mirror("query_text", doc="The SQL text.")
    handle = mirror("handle", doc="The server's handle (it may change when values are bound).")
    dataset_schema = mirror("dataset_schema", doc="The result schema, if the server sent one.")
    parameter_schema = mirror("parameter_schema", doc="The parameters the statement takes.")
    transaction_id = mirror("transaction_id", doc="The transaction it was prepared in.")
    parameters = mirror("parameters", doc="The parameters currently bound (None when none).")
    closed = mirror("closed", doc="True once closed.")
    bind = direct(PreparedStatement.bind)
    probe_binding = blocking(PreparedStatement.probe_binding)
    execute = blocking(PreparedStatement.execute)
    query = blocking(PreparedStatement.query)
    execute_update = blocking(PreparedStatement.execute_update)
    close = blocking(PreparedStatement.close)


class TransactionSync(BlockingContext[Transaction]):
    """Blocking twin of :class:`Transaction`: ``with client.begin_transaction() as txn:``."""

    id = mirror("id", doc="The server's transaction id.")
    closed = mirror("closed", doc="True once committed or rolled back.")
    commit = blocking(Transaction.commit)
    rollback = blocking(Transaction.rollback)


class FlightSqlClient(FlightOperations, BlockingContext[AsyncFlightSqlClient]):
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
    prepare = blocking_to(PreparedStatementSync)(AsyncFlightSqlClient.prepare)
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
    begin_transaction = blocking_to(TransactionSync)(AsyncFlightSqlClient.begin_transaction)
    cancel = blocking(AsyncFlightSqlClient.cancel)
