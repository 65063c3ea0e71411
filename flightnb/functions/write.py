"""One-call uploads (DoPut) and exchanges (DoExchange) of a whole table.

Shims over the clients' methods of the same name
(:meth:`~flightnb.client.operations.AsyncFlightOperations.write_flight`,
:meth:`~flightnb.client.operations.AsyncFlightOperations.exchange_flight`): they open a
client for a location, or use the client given, and call the method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import pyarrow as pa

from flightnb.client.observer import TransferObserver
from flightnb.client.operations import DEFAULT_CHUNK_ROWS, PutSummary
from flightnb.convert import DEFAULT_DTYPE_BACKEND, DtypeBackend, as_table
from flightnb.functions.sources import async_client, blocking_call

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientOptions
    from flightnb.client.operations import ExchangeResult
    from flightnb.functions.sources import AsyncSource, Source
    from flightnb.types import DescriptorLike

    #: Where a blocking upload or exchange goes (the accessors' ``df.flight.put``).
    WriteSource: TypeAlias = "Source"

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "PutSummary",
    "as_arrow_table",
    "exchange_flight",
    "exchange_flight_async",
    "write_flight",
    "write_flight_async",
]


def as_arrow_table(data: Any) -> pa.Table:
    """What :func:`write_flight` and :func:`exchange_flight` send (see ``convert.as_table``)."""
    return as_table(data, what="data to upload")


async def write_flight_async(
    source: AsyncSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    keep_large_types: bool = False,
    **client_options: Unpack[ClientOptions],
) -> PutSummary:
    """Upload ``data`` with DoPut; returns what was sent and what the server stored.

    Opens a client for ``source`` (or uses the one given, without closing it) and calls its
    :meth:`~flightnb.client.operations.AsyncFlightOperations.write_flight`, which says
    what is sent and how.
    """
    return await async_client(
        source,
        client_options,
        lambda client: client.write_flight(
            data,
            path=path,
            command=command,
            descriptor=descriptor,
            progress=progress,
            timeout=timeout,
            max_chunksize=max_chunksize,
            keep_large_types=keep_large_types,
        ),
    )


def write_flight(
    source: Source,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    progress: bool | TransferObserver | None = None,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    keep_large_types: bool = False,
    **client_options: Unpack[ClientOptions],
) -> PutSummary:
    """Blocking :func:`write_flight_async` (same parameters)."""
    return blocking_call(
        source,
        client_options,
        "write_flight",
        lambda client: client.write_flight(
            data,
            path=path,
            command=command,
            descriptor=descriptor,
            progress=progress,
            timeout=timeout,
            max_chunksize=max_chunksize,
            keep_large_types=keep_large_types,
        ),
    )


@overload
async def exchange_flight_async(
    source: AsyncSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["arrow"] = "arrow",
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pa.Table: ...


@overload
async def exchange_flight_async(
    source: AsyncSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["pandas"],
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pd.DataFrame: ...


@overload
async def exchange_flight_async(
    source: AsyncSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["polars"],
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pl.DataFrame: ...


@overload
async def exchange_flight_async(
    source: AsyncSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: str = "arrow",
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> ExchangeResult: ...


async def exchange_flight_async(
    source: AsyncSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: str = "arrow",
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> ExchangeResult:
    """Send ``data`` over DoExchange and return what the server sends back.

    Opens a client for ``source`` (or uses the one given) and calls its
    :meth:`~flightnb.client.operations.AsyncFlightOperations.exchange_flight`.
    """
    return await async_client(
        source,
        client_options,
        lambda client: client.exchange_flight(
            data,
            path=path,
            command=command,
            descriptor=descriptor,
            to=to,
            dtype_backend=dtype_backend,
            timeout=timeout,
            max_chunksize=max_chunksize,
        ),
    )


@overload
def exchange_flight(
    source: Source,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["arrow"] = "arrow",
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pa.Table: ...


@overload
def exchange_flight(
    source: Source,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["pandas"],
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pd.DataFrame: ...


@overload
def exchange_flight(
    source: Source,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["polars"],
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pl.DataFrame: ...


@overload
def exchange_flight(
    source: Source,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: str = "arrow",
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> ExchangeResult: ...


def exchange_flight(
    source: Source,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: str = "arrow",
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> ExchangeResult:
    """Blocking :func:`exchange_flight_async`."""
    return blocking_call(
        source,
        client_options,
        "exchange_flight",
        lambda client: client.exchange_flight(
            data,
            path=path,
            command=command,
            descriptor=descriptor,
            to=to,
            dtype_backend=dtype_backend,
            timeout=timeout,
            max_chunksize=max_chunksize,
        ),
    )
