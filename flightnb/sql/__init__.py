"""Flight SQL client: queries, prepared statements, ingestion, metadata and transactions.

Imports neither ``pyarrow.flight`` nor a database; the embedded server lives in
:mod:`flightnb.server`.
"""

from flightnb.sql.client import AsyncFlightSqlClient, IngestMode
from flightnb.sql.parameters import parameters_table
from flightnb.sql.polling import PollPolicy
from flightnb.sql.results import SqlInfoValues, decode_sql_info, table_schemas
from flightnb.sql.statements import PreparedStatement, Transaction
from flightnb.sql.sync import FlightSqlClient, PreparedStatementSync, TransactionSync

__all__ = [
    "AsyncFlightSqlClient",
    "FlightSqlClient",
    "IngestMode",
    "PollPolicy",
    "PreparedStatement",
    "PreparedStatementSync",
    "SqlInfoValues",
    "Transaction",
    "TransactionSync",
    "decode_sql_info",
    "parameters_table",
    "table_schemas",
]
