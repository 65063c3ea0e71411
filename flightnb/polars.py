"""polars integration: ``flightnb.polars.read_flight`` and the ``DataFrame.flight`` namespace.

Importing this module registers the namespace (polars' own plugin API); ``import flightnb``
alone never imports polars. Reads hand polars 64-byte aligned Arrow buffers, which it adopts
without copying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from flightnb.read import read_flight as _read_flight
from flightnb.read import read_flight_async as _read_flight_async
from flightnb.write import exchange_flight, write_flight

__all__ = ["FlightNamespace", "read_flight", "read_flight_async"]


def read_flight(source: Any, *, rechunk: bool = False, **read_options: Any) -> pl.DataFrame:
    """Read a flight into a polars DataFrame (zero-copy from the received buffers).

    Takes :func:`flightnb.read_flight`'s arguments. ``rechunk=True`` makes each column one
    contiguous chunk (a copy).
    """
    table = _read_flight(source, to="arrow", **read_options)
    return pl.from_arrow(table, rechunk=rechunk)  # type: ignore[return-value]


async def read_flight_async(
    source: Any, *, rechunk: bool = False, **read_options: Any
) -> pl.DataFrame:
    """Async twin of :func:`read_flight`."""
    table = await _read_flight_async(source, to="arrow", **read_options)
    return pl.from_arrow(table, rechunk=rechunk)  # type: ignore[return-value]


@pl.api.register_dataframe_namespace("flight")
class FlightNamespace:
    """``df.flight``: send this DataFrame to a Flight service."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def put(
        self, source: Any, *, path: str | Sequence[str] | None = None, **options: Any
    ) -> list[bytes]:
        """Upload with DoPut (with progress); returns the server's PutResult metadata."""
        return write_flight(source, self._frame, path=path, **options)

    def exchange(self, source: Any, *, to: str = "polars", **options: Any) -> Any:
        """Send over DoExchange; returns the server's answer (a DataFrame by default)."""
        return exchange_flight(source, self._frame, to=to, **options)
