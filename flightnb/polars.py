"""polars integration: ``read_flight``, the lazy ``scan_flight``, and ``DataFrame.flight``.

Importing this module, and nothing else, registers the namespace (polars' own plugin API,
``pl.api.register_dataframe_namespace``): converting a table to polars does not, and
``import flightnb`` alone never imports polars. Reads keep the received chunks and hand
polars 64-byte aligned Arrow buffers, which it adopts without copying (see
:func:`flightnb.convert.to_polars`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import polars as pl

from flightnb.client.observer import TransferObserver
from flightnb.functions.read import read_flight as _read_flight
from flightnb.functions.read import read_flight_async as _read_flight_async
from flightnb.functions.write import PutSummary, exchange_flight, write_flight

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from flightnb.client.operations import ExchangeResult
    from flightnb.functions.sources import AsyncSource, Source
    from flightnb.functions.write import WriteSource
    from flightnb.types import DescriptorLike, TicketLike

__all__ = ["FlightNamespace", "read_flight", "read_flight_async", "scan_flight"]


def read_flight(source: Source, *, rechunk: bool = False, **read_options: Any) -> pl.DataFrame:
    """Read a flight into a polars DataFrame: :func:`flightnb.read_flight` with ``to="polars"``.

    Zero-copy from the received buffers.

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
    >>> frame = read_flight("grpc://localhost:8815", path="trips")
    >>> frame.n_chunks() > 1  # one chunk per batch the server sent
    True
    """
    frame: pl.DataFrame = _read_flight(source, to="polars", rechunk=rechunk, **read_options)
    return frame


async def read_flight_async(
    source: AsyncSource, *, rechunk: bool = False, **read_options: Any
) -> pl.DataFrame:
    """Async twin of :func:`read_flight`."""
    frame: pl.DataFrame = await _read_flight_async(
        source, to="polars", rechunk=rechunk, **read_options
    )
    return frame


def scan_flight(
    source: Source,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    ticket: TicketLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    pushdown: bool = True,
    max_concurrency: int | None = None,
    progress: bool | TransferObserver | None = False,
    **client_options: Any,
) -> pl.LazyFrame:
    """A lazy polars scan of a flight or a Flight SQL query, read when collected.

    The schema is fetched now (GetSchema, or the prepared statement's dataset schema) and
    kept. Each ``collect`` (or ``sink_parquet``, ...) streams the data batch by batch
    through :func:`flightnb.open_flight`, so memory stays bounded; ``head(n)`` stops reading
    after ``n`` rows and cancels every call still running.

    For ``sql=`` sources the scan pushes down what polars asks for: the needed columns become
    the select list, the safely translatable conjuncts of the predicate a ``WHERE`` (values
    bound as Arrow parameters; for servers that cannot bind, written as typed, escaped SQL
    literals, or kept on the client) and ``head(n)`` a ``LIMIT``. The whole predicate is
    always applied again to what arrives, so server rules (NULLs, NaN, collations) cannot
    change the result. Plain Flight sources are filtered and projected batch by batch on the
    client. ``explain()`` says what is pushed and which fallbacks apply. See
    ``docs/scaling.md`` for the rules.

    Parameters
    ----------
    source : str, Location, FlightClient or FlightSqlClient
        Where to read from (not an AsyncFlightClient: polars reads from its own threads).
    path, command, descriptor, ticket, sql, parameters
        What to read, exactly one of them, as for :func:`flightnb.read_flight`.
    pushdown : bool, default True
        False sends ``sql`` as written and does everything on the client.
    max_concurrency : int, optional
        Endpoints read at once (see :func:`flightnb.open_flight`).
    progress : bool, TransferObserver or None, default False
        Progress of each read, as for :func:`flightnb.read_flight`.
    **client_options
        Passed to the client when ``source`` is a URI (``token=``, ``headers=``, TLS...).

    Returns
    -------
    polars.LazyFrame

    Examples
    --------
    >>> trips = scan_flight("grpc://127.0.0.1:8815", sql="SELECT * FROM trips")
    >>> trips.filter(pl.col("fare") > 5).select("trip_id", "fare").head(5).collect().shape
    (5, 2)
    """
    from flightnb.scan.source import FlightScan

    scan = FlightScan(
        source,
        ticket=ticket,
        path=path,
        command=command,
        descriptor=descriptor,
        sql=sql,
        parameters=parameters,
        pushdown=pushdown,
        max_concurrency=max_concurrency,
        progress=progress,
        client_options=client_options,
    )
    return scan.lazy_frame()


@pl.api.register_dataframe_namespace("flight")
class FlightNamespace:
    """``df.flight``: send this DataFrame to a Flight service."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame = frame

    def put(
        self, source: WriteSource, *, path: str | Sequence[str] | None = None, **options: Any
    ) -> PutSummary:
        """Upload with DoPut (with progress); returns what was sent and what the server stored.

        See :func:`flightnb.functions.write.write_flight` (``path="t?mode=append"`` on the embedded
        server appends to an existing table).
        """
        return write_flight(source, self._frame, path=path, **options)

    @overload
    def exchange(
        self, source: WriteSource, *, to: Literal["polars"] = "polars", **options: Any
    ) -> pl.DataFrame: ...

    @overload
    def exchange(
        self, source: WriteSource, *, to: Literal["arrow"], **options: Any
    ) -> pa.Table: ...

    @overload
    def exchange(
        self, source: WriteSource, *, to: Literal["pandas"], **options: Any
    ) -> pd.DataFrame: ...

    @overload
    def exchange(self, source: WriteSource, *, to: str, **options: Any) -> ExchangeResult: ...

    def exchange(
        self, source: WriteSource, *, to: str = "polars", **options: Any
    ) -> ExchangeResult:
        """Send over DoExchange; returns the server's answer (a DataFrame by default)."""
        return exchange_flight(source, self._frame, to=to, **options)
