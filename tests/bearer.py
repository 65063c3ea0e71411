"""Other clients of the embedded server (pyarrow.flight, ADBC) with its token as a bearer header.

flightnb's own clients find the token of their user's local server by themselves; these
clients are handed it, as docs/server.md shows.
"""

from __future__ import annotations

from typing import Any

import pyarrow.flight as flight


class _Bearer(flight.ClientMiddleware):  # type: ignore[misc]
    def __init__(self, header: str) -> None:
        super().__init__()
        self._header = header

    def sending_headers(self) -> dict[str, str]:
        return {"authorization": self._header}


class BearerFactory(flight.ClientMiddlewareFactory):  # type: ignore[misc]
    """Adds ``authorization: Bearer <token>`` to every call of a pyarrow.flight client."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._header = f"Bearer {token}"

    def start_call(self, info: Any) -> _Bearer:
        return _Bearer(self._header)


def pyarrow_client(server: Any, location: str | None = None) -> flight.FlightClient:
    """A pyarrow.flight client of ``server`` (at ``location``, default its own) with its token."""
    return flight.connect(location or server.location, middleware=[BearerFactory(server.token)])


def adbc_connect(server: Any, **kwargs: Any) -> Any:
    """An ADBC Flight SQL DB-API connection to ``server`` with its token."""
    from adbc_driver_flightsql import DatabaseOptions, dbapi

    db_kwargs = {DatabaseOptions.AUTHORIZATION_HEADER.value: f"Bearer {server.token}"}
    return dbapi.connect(server.location, db_kwargs=db_kwargs, **kwargs)
