"""The SQL dialect of the server behind a client, asked once and remembered.

Code that writes SQL text for a server (the polars scan's filters and columns, the Dask
reader's partition queries) quotes names and writes values in that server's dialect
(:mod:`flightnb.protocol.dialects`). The dialect comes from SqlInfo's
``FLIGHT_SQL_SERVER_NAME``; it is asked once per :class:`~flightnb.AsyncFlightClient` and kept
with what else was learnt of that server (:func:`~flightnb.sql.capabilities.capabilities_of`).
"""

from __future__ import annotations

from flightnb.client.aio import AsyncFlightClient
from flightnb.errors import FlightError
from flightnb.protocol.dialects import GENERIC, Dialect, dialect_for
from flightnb.sql.capabilities import capabilities_of
from flightnb.sql.client import AsyncFlightSqlClient

__all__ = ["server_dialect"]


async def server_dialect(client: AsyncFlightClient) -> Dialect:
    """The dialect of ``client``'s server; generic when the server does not name itself.

    A server that refuses GetSqlInfo, or answers without ``FLIGHT_SQL_SERVER_NAME``, is
    taken to speak standard SQL (double-quoted names, conservative literals).
    """
    found = capabilities_of(client)
    if found.dialect is None:
        try:
            async with AsyncFlightSqlClient(client) as sql_client:
                info = await sql_client.get_sql_info(["FLIGHT_SQL_SERVER_NAME"])
        except FlightError:
            found.dialect = GENERIC
        else:
            name = info.get("FLIGHT_SQL_SERVER_NAME")
            found.dialect = dialect_for(name if isinstance(name, str) else None)
    return found.dialect
