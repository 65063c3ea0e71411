"""One-call uploads (DoPut) and exchanges (DoExchange) of a whole table."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

import pyarrow as pa

from flightnb.client.aio import AsyncFlightClient
from flightnb.client.blocking import same_call
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.client.observer import TransferObserver, notify, observed_transfer
from flightnb.client.sync import FlightClient
from flightnb.convert import as_table, check_target, convert_table
from flightnb.narrowing import Narrowing, narrow_large_types
from flightnb.progress.state import describe_descriptor
from flightnb.requests import bounded, observer_for
from flightnb.sql.results import update_count
from flightnb.types import descriptor_from

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientOptions
    from flightnb.types import DescriptorLike, LocationLike

    #: Where an upload or exchange goes: a location, or a client whose connection it uses.
    WriteSource: TypeAlias = "LocationLike | FlightClient | AsyncFlightClient"
    #: What ``to=`` may return when the type checker does not know which value it is.
    ExchangeResult: TypeAlias = "pa.Table | pd.DataFrame | pl.DataFrame"

__all__ = [
    "PutSummary",
    "exchange_flight",
    "exchange_flight_async",
    "write_flight",
    "write_flight_async",
]

DEFAULT_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class PutSummary:
    """What an upload sent, and what the server answered.

    Attributes
    ----------
    rows, batches, bytes : int
        What was sent (``bytes`` on the wire).
    seconds : float
        Wall time of the upload.
    rows_written : int or None
        The rows the server says it stored, when it answered with a Flight SQL
        ``DoPutUpdateResult`` (the embedded server does); None for servers that do not say.
    results : tuple of bytes
        The ``app_metadata`` of every PutResult, as received.
    narrowed : tuple of str
        Columns sent with 32-bit offsets instead of the large types they had (see
        ``keep_large_types`` of :func:`write_flight_async`).
    kept_large : tuple of str
        Columns whose data does not fit 32-bit offsets, sent with their large types.
    """

    rows: int
    batches: int
    bytes: int
    seconds: float
    rows_written: int | None
    results: tuple[builtins.bytes, ...]  # the field ``bytes`` shadows the type here
    narrowed: tuple[str, ...] = ()
    kept_large: tuple[str, ...] = ()

    def __str__(self) -> str:
        stored = "" if self.rows_written is None else f", {self.rows_written:,} stored"
        text = f"uploaded {self.rows:,} rows ({self.bytes / 2**20:.1f} MiB{stored}) in " + (
            f"{self.seconds:.2f} s"
        )
        if self.narrowed:
            text += f"; large types sent as 32-bit: {', '.join(self.narrowed)}"
        if self.kept_large:
            text += f"; too large for 32-bit offsets, sent as is: {', '.join(self.kept_large)}"
        return text


def _summary(writer: Any, narrowing: Narrowing) -> PutSummary:
    counts = [c for c in map(update_count, writer.results) if c is not None]
    stats = writer.stats
    return PutSummary(
        rows=stats.rows,
        batches=stats.batches,
        bytes=stats.bytes,
        seconds=stats.elapsed,
        rows_written=sum(counts) if counts else None,
        results=tuple(writer.results),
        narrowed=narrowing.narrowed,
        kept_large=narrowing.kept,
    )


def as_arrow_table(data: Any) -> pa.Table:
    """What :func:`write_flight` and :func:`exchange_flight` send (see ``convert.as_table``)."""
    return as_table(data, what="data to upload")


async def _with_client(source: WriteSource, client_options: Mapping[str, Any], work: Any) -> Any:
    if isinstance(source, FlightClient):
        # Its channels live on flightnb's loop thread: run there (or here, if on it already).
        return await shared_loop_thread().run_async(work(source.async_client))
    if isinstance(source, AsyncFlightClient):
        return await work(source)

    async def once() -> Any:
        async with AsyncFlightClient(source, **client_options) as client:
            return await work(client)

    # A location: a client of its own on flightnb's loop thread (one gRPC loop per process).
    return await shared_loop_thread().run_async(once())


async def write_flight_async(
    source: WriteSource,
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

    Whether an upload to an existing flight appends, replaces or is refused is the server's
    choice; the embedded server refuses unless the path asks (``path="trips?mode=append"``,
    ``?mode=replace``; see :mod:`flightnb.server`).

    Large string, binary and list columns (64-bit offsets: what polars exports) are sent in
    their 32-bit forms when the data fits, since many servers refuse the large ones;
    ``keep_large_types=True`` sends them as they are. The summary names the columns
    narrowed, and those too large to narrow (:mod:`flightnb.narrowing`).
    """
    table = as_arrow_table(data)
    narrowing = Narrowing(table) if keep_large_types else narrow_large_types(table)
    table = narrowing.table
    target = descriptor_from(path, command, descriptor)
    # The display names the target ("upload to uploads/trips"), not just "upload".
    observer = observer_for(
        progress, timeout=timeout, label=f"upload to {describe_descriptor(target)}"
    )

    async def work(client: AsyncFlightClient) -> PutSummary:
        async with observed_transfer(observer, info=None, parts=1, kind="upload"):
            writer = await client.do_put(target, table.schema)
            if observer is not None:
                writer.on_progress = lambda stats: notify(observer, "progressed", 0, stats)
            async with writer:
                await writer.write_table(table, max_chunksize=max_chunksize)
            return _summary(writer, narrowing)

    return await bounded(_with_client(source, client_options, work), timeout)


@same_call(write_flight_async)
def write_flight(source: WriteSource, data: Any, **options: Any) -> PutSummary:
    """Blocking :func:`write_flight_async` (same parameters)."""
    return shared_loop_thread().run(write_flight_async(source, data, **options))


@overload
async def exchange_flight_async(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["arrow"] = "arrow",
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pa.Table: ...


@overload
async def exchange_flight_async(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["pandas"],
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pd.DataFrame: ...


@overload
async def exchange_flight_async(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["polars"],
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pl.DataFrame: ...


@overload
async def exchange_flight_async(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: str = "arrow",
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> ExchangeResult: ...


async def exchange_flight_async(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: str = "arrow",
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> ExchangeResult:
    """Send ``data`` over DoExchange and return what the server sends back."""
    check_target(to)
    table = as_arrow_table(data)
    target = descriptor_from(path, command, descriptor)

    async def work(client: AsyncFlightClient) -> pa.Table:
        async with await client.do_exchange(target) as exchange:
            await exchange.begin(table.schema)

            async def send() -> None:
                await exchange.write_table(table, max_chunksize=max_chunksize)
                await exchange.done_writing()

            # Read while writing: a server that answers batch by batch would otherwise
            # fill its send window and stall both sides.
            sender = asyncio.ensure_future(send())
            try:
                result = await exchange.read_all()
            finally:
                if not sender.done():
                    sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if sender.exception() is not None and not sender.cancelled():
                raise sender.exception()  # type: ignore[misc]
            return result

    table_back = await bounded(_with_client(source, client_options, work), timeout)
    return convert_table(table_back, to)


@overload
def exchange_flight(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["arrow"] = "arrow",
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pa.Table: ...


@overload
def exchange_flight(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["pandas"],
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pd.DataFrame: ...


@overload
def exchange_flight(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: Literal["polars"],
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> pl.DataFrame: ...


@overload
def exchange_flight(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: str = "arrow",
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> ExchangeResult: ...


def exchange_flight(
    source: WriteSource,
    data: Any,
    *,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    to: str = "arrow",
    timeout: float | None = None,
    max_chunksize: int = DEFAULT_CHUNK_ROWS,
    **client_options: Unpack[ClientOptions],
) -> ExchangeResult:
    """Blocking :func:`exchange_flight_async`."""
    return shared_loop_thread().run(
        exchange_flight_async(
            source,
            data,
            path=path,
            command=command,
            descriptor=descriptor,
            to=to,
            timeout=timeout,
            max_chunksize=max_chunksize,
            **client_options,
        )
    )
