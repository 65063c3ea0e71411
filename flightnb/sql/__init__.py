"""Flight SQL client: queries, prepared statements, ingestion, metadata and transactions.

Imports neither ``pyarrow.flight`` nor a database; the embedded server lives in
:mod:`flightnb.server`.
"""

from typing import TYPE_CHECKING

from flightnb._deprecated import renamed_names
from flightnb.sql.client import AsyncFlightSqlClient, IngestMode
from flightnb.sql.parameters import parameters_table
from flightnb.sql.polling import PollPolicy
from flightnb.sql.results import SqlInfoValues, decode_sql_info, table_schemas
from flightnb.sql.statements import AsyncPreparedStatement, AsyncTransaction
from flightnb.sql.sync import FlightSqlClient, PreparedStatement, Transaction

__all__ = [
    "AsyncFlightSqlClient",
    "AsyncPreparedStatement",
    "AsyncTransaction",
    "FlightSqlClient",
    "IngestMode",
    "PollPolicy",
    "PreparedStatement",
    "SqlInfoValues",
    "Transaction",
    "decode_sql_info",
    "parameters_table",
    "table_schemas",
]

# Renamed like the clients (blocking: plain name, async: Async prefix); not in __all__.
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
