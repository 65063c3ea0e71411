"""What a one-call read or write asks for, checked before any network traffic.

Shared by :func:`flightnb.read_flight`, :func:`flightnb.open_flight`, the sinks, the polars
scan and the Dask reader: the request (a ticket, a descriptor or a Flight SQL query), the
progress display of ``progress=``, and the bound of ``timeout=`` on the whole call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flightnb.client.observer import TransferObserver
from flightnb.errors import FlightInvalidArgumentError, FlightTimedOutError
from flightnb.types import FlightDescriptor, Ticket, as_ticket, descriptor_from

__all__ = ["Request", "SqlQuery", "bounded", "observer_for", "read_request"]

T = TypeVar("T")


@dataclass(frozen=True)
class SqlQuery:
    """A ``sql=`` read: a Flight SQL statement query, with parameters bound as Arrow."""

    query: str
    parameters: Any = field(default=None, repr=False)


#: What a read asks for: one DoGet, a whole flight, or a Flight SQL query.
Request = Ticket | FlightDescriptor | SqlQuery


def read_request(
    ticket: Any,
    path: str | Sequence[str] | None,
    command: str | bytes | None,
    descriptor: Any,
    sql: str | None = None,
    parameters: Any = None,
) -> Request:
    """The one request among ``ticket=``, ``path=``, ``command=``, ``descriptor=``, ``sql=``.

    Raises FlightInvalidArgumentError unless exactly one is given, or if ``parameters=``
    comes without ``sql=``: checked before any network traffic.
    """
    given = [
        name
        for name, value in (
            ("ticket", ticket),
            ("path", path),
            ("command", command),
            ("descriptor", descriptor),
            ("sql", sql),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise FlightInvalidArgumentError(
            "give exactly one of ticket=, path=, command=, descriptor= or sql= "
            f"(got {', '.join(given) or 'none'})"
        )
    if parameters is not None and sql is None:
        raise FlightInvalidArgumentError("parameters= goes with sql= only")
    if sql is not None:
        return SqlQuery(sql, parameters)
    if ticket is not None:
        return as_ticket(ticket)
    return descriptor_from(path, command, descriptor)


def observer_for(
    progress: Any, *, timeout: float | None = None, label: str | None = None
) -> TransferObserver | None:
    """The display for ``progress=``: None/True/False pick one, anything else is used as is.

    ``timeout`` is the call's bound, so that reaching it shows as "timed out" rather than
    "cancelled"; ``label`` names what is transferred.
    """
    if progress is False:
        # No display: skip importing the progress package (tens of ms on a first read).
        return None
    if progress is None or progress is True:
        from flightnb.progress import auto_observer

        return auto_observer(progress, label=label, timeout=timeout)
    return progress  # type: ignore[no-any-return]


async def bounded(awaitable: Awaitable[T], timeout: float | None) -> T:
    """Await ``awaitable``, cancelling it (and its RPCs) if it takes over ``timeout`` s."""
    if timeout is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        raise FlightTimedOutError(
            f"the call did not finish within {timeout} s", code="DEADLINE_EXCEEDED"
        ) from None
