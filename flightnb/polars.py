"""polars integration: ``flightnb.polars.read_flight`` and the ``DataFrame.flight`` namespace.

Importing this module registers the namespace (polars' own plugin API); ``import flightnb``
alone never imports polars. Reads keep the received chunks and hand polars 64-byte aligned
Arrow buffers, which it adopts without copying (see :func:`flightnb.convert.to_polars`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from flightnb.convert import check_rechunk, to_polars
from flightnb.read import read_flight as _read_flight
from flightnb.read import read_flight_async as _read_flight_async
from flightnb.write import PutSummary, exchange_flight, write_flight

__all__ = ["FlightNamespace", "read_flight", "read_flight_async"]


def read_flight(source: Any, *, rechunk: bool = False, **read_options: Any) -> pl.DataFrame:
    """Read a flight into a polars DataFrame (zero-copy from the received buffers).

    Parameters
    ----------
    source
        What :func:`flightnb.read_flight` takes, with its keyword arguments in
        ``read_options`` (``ticket=``, ``path=``, ``sql=``, ``progress=``, ...).
    rechunk : bool, default False
        False keeps one chunk per received batch, on every polars version. True makes each
        column one contiguous chunk (a copy).

    Examples
    --------
    >>> frame = read_flight("grpc://localhost:8815", path="trips")  # doctest: +SKIP
    >>> frame.n_chunks()  # doctest: +SKIP
    10
    """
    check_rechunk(rechunk)  # before anything is sent
    table = _read_flight(source, to="arrow", **read_options)
    return to_polars(table, rechunk=rechunk)


async def read_flight_async(
    source: Any, *, rechunk: bool = False, **read_options: Any
) -> pl.DataFrame:
    """Async twin of :func:`read_flight`."""
    check_rechunk(rechunk)
    table = await _read_flight_async(source, to="arrow", **read_options)
    return to_polars(table, rechunk=rechunk)


@pl.api.register_dataframe_namespace("flight")
class FlightNamespace:
    """``df.flight``: send this DataFrame to a Flight service."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def put(
        self, source: Any, *, path: str | Sequence[str] | None = None, **options: Any
    ) -> PutSummary:
        """Upload with DoPut (with progress); returns what was sent and what the server stored.

        See :func:`flightnb.write.write_flight` (``path="t?mode=append"`` on the embedded
        server appends to an existing table).
        """
        return write_flight(source, self._frame, path=path, **options)

    def exchange(self, source: Any, *, to: str = "polars", **options: Any) -> Any:
        """Send over DoExchange; returns the server's answer (a DataFrame by default)."""
        return exchange_flight(source, self._frame, to=to, **options)
