"""What flightnb does about what a server lacks: the "flightnb does" column of the doctor."""

from __future__ import annotations

__all__ = ["FALLBACKS", "NOTES"]

#: What flightnb does when a server lacks something (a "no" row), by check name.
FALLBACKS = {
    "ListFlights": "%flight list and tab completion show nothing; read by path, ticket or SQL",
    "GetFlightInfo": "none: reads need it (SQL queries, paths)",
    "GetSchema": "schemas come from GetFlightInfo or from the first batch",
    "DoGet": "none: every read needs it",
    "DoPut": (
        "uploads narrow large string/binary/list columns (what polars exports) to their 32-bit "
        "forms when the data fits, for servers that refuse 64-bit offsets; the summary says "
        "so, keep_large_types=True sends them as they are"
    ),
    "ListActions": "none needed: actions are called by name",
    "DoExchange": "not used by reads; do_exchange() raises FlightNotImplementedError",
    "PollFlightInfo": "queries are planned with GetFlightInfo (no progress while planning)",
    "CancelFlightInfo": (
        "cancelling a query uses Flight SQL's older CancelQuery action; a cancelled read "
        "closes its streams"
    ),
    "RenewFlightEndpoint": "none: endpoints are read before they expire",
    "GetSessionOptions": "none: session cookies the server sets are still sent back",
    "CloseSession": "none: the server ends idle sessions itself",
    "GetSqlInfo": "sql= and %flight sql are refused in one line; read by path or ticket",
    "SQL query": "none: read by path or ticket",
    "GetSchema (query)": "the scan takes the schema from the first batch",
    "prepared statements": "queries without parameters run unprepared",
    "dataset_schema": "the scan asks GetSchema of the query, else reads the first batch",
    "parameter binding": (
        "the scan's filter pushdown inlines values as typed literals, or filters on the "
        "client; parameters= fails with a one-line error"
    ),
    "transactions": "begin_transaction() raises FlightNotImplementedError; statements autocommit",
}


#: What flightnb does about something a server has that needs handling (a "yes" row).
NOTES = {
    "issued tokens": "the newest token a server returns is sent on the next call, as ADBC does",
}
