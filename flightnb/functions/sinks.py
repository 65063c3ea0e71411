"""Sinks: stream a flight into Parquet, Arrow IPC, or a dataset of one file per endpoint.

Shims over the clients' methods of the same name
(:meth:`~flightnb.client.operations.AsyncFlightOperations.write_parquet`, ...): they open a
client for a location, or use the client given, and call the method; the files themselves
are written by :mod:`flightnb.sink_files`. Every sink reads through ``open_flight``
(bounded memory, every endpoint at once) and writes on a worker thread while the client
keeps receiving. A failed, cancelled or interrupted write never leaves a file under the
final name; failures of the file system raise :class:`FlightSinkError`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightnb.client.batch_stream import DEFAULT_MAX_BUFFER_BYTES
from flightnb.client.observer import TransferObserver
from flightnb.errors import FlightArgumentError
from flightnb.functions.sources import blocking_call
from flightnb.sink_files import MANIFEST_NAME, FlightSinkError, WriteSummary

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from flightnb.client.aio import ClientOptions
    from flightnb.functions.sources import Source
    from flightnb.types import DescriptorLike, TicketLike

__all__ = [
    "MANIFEST_NAME",
    "SINK_SUFFIXES",
    "FlightSinkError",
    "WriteSummary",
    "check_sink",
    "write_dataset",
    "write_ipc",
    "write_parquet",
    "write_sink",
]


def write_parquet(
    source: Source,
    where: str | os.PathLike[str],
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    max_concurrency: int | None = None,
    preserve_order: bool | None = None,
    stall_timeout: float | None = None,
    timeout: float | None = None,
    row_group_size: int = 1 << 20,
    compression: str | None = "zstd",
    compression_level: int | None = None,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    progress: bool | TransferObserver | None = None,
    **client_options: Unpack[ClientOptions],
) -> WriteSummary:
    """Stream a flight into one Parquet file, with bounded memory.

    Parameters
    ----------
    source, ticket, path, command, descriptor, sql, parameters
        What to read, as for :func:`flightnb.open_flight`.
    where : str or path-like
        The file to write. It appears only once complete (written as a hidden temporary
        file next to it, then renamed); an existing file is replaced.
    max_concurrency, preserve_order, stall_timeout, timeout, max_buffer_bytes, progress
        As for :func:`flightnb.open_flight`.
    row_group_size : int
        Rows per row group (the last one may be smaller). The rows gathered for a row group
        count against ``max_buffer_bytes``: the receive buffer shrinks by as much, to no
        less than a quarter of the budget.
    compression : str or None
        ``"zstd"`` (default), ``"lz4"``, ``"snappy"``, ``"gzip"``, ``"brotli"`` or None.
    compression_level : int, optional

    Returns
    -------
    WriteSummary

    Raises
    ------
    FlightSinkError
        The file could not be created, written (disk full) or renamed.
    FlightError
        The read failed (the server died, a stall, a cancel); nothing is left behind.

    Examples
    --------
    >>> write_parquet("grpc://127.0.0.1:8815", "trips.parquet", path="trips")  # doctest: +ELLIPSIS
    WriteSummary(rows=..., ...)
    """
    return blocking_call(
        source,
        client_options,
        "write_parquet",
        lambda client: client.write_parquet(
            where,
            ticket=ticket,
            path=path,
            command=command,
            descriptor=descriptor,
            sql=sql,
            parameters=parameters,
            max_concurrency=max_concurrency,
            preserve_order=preserve_order,
            stall_timeout=stall_timeout,
            timeout=timeout,
            row_group_size=row_group_size,
            compression=compression,
            compression_level=compression_level,
            max_buffer_bytes=max_buffer_bytes,
            progress=progress,
        ),
    )


def write_ipc(
    source: Source,
    where: str | os.PathLike[str],
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    max_concurrency: int | None = None,
    preserve_order: bool | None = None,
    stall_timeout: float | None = None,
    timeout: float | None = None,
    format: str = "file",
    compression: str | None = None,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    progress: bool | TransferObserver | None = None,
    **client_options: Unpack[ClientOptions],
) -> WriteSummary:
    """Stream a flight into an Arrow IPC file (``.arrow``/``.feather``) or stream (``.arrows``).

    Parameters are those of :func:`write_parquet`, except:

    format : {"file", "stream"}
        The IPC file format (random access, what ``pyarrow.ipc.open_file`` and Feather v2
        read) or the streaming format. The file format cannot hold a dictionary that
        changes between batches; use ``"stream"`` for such flights.
    compression : {None, "lz4", "zstd"}
        Buffer compression of the IPC body.
    """
    return blocking_call(
        source,
        client_options,
        "write_ipc",
        lambda client: client.write_ipc(
            where,
            ticket=ticket,
            path=path,
            command=command,
            descriptor=descriptor,
            sql=sql,
            parameters=parameters,
            max_concurrency=max_concurrency,
            preserve_order=preserve_order,
            stall_timeout=stall_timeout,
            timeout=timeout,
            format=format,
            compression=compression,
            max_buffer_bytes=max_buffer_bytes,
            progress=progress,
        ),
    )


def write_dataset(
    source: Source,
    base_dir: str | os.PathLike[str],
    *,
    ticket: TicketLike | None = None,
    path: str | Sequence[str] | None = None,
    command: str | bytes | None = None,
    descriptor: DescriptorLike | None = None,
    sql: str | None = None,
    parameters: Any = None,
    max_concurrency: int | None = None,
    stall_timeout: float | None = None,
    timeout: float | None = None,
    format: str = "parquet",
    max_rows_per_file: int | None = None,
    existing_data_behavior: str = "error",
    resume: bool = False,
    row_group_size: int = 1 << 20,
    compression: str | None = None,
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    progress: bool | TransferObserver | None = None,
    **client_options: Unpack[ClientOptions],
) -> WriteSummary:
    """Stream a flight into a directory: one file per endpoint, all endpoints at once.

    Endpoint ``i`` becomes ``part-0000i.parquet`` (``.arrow`` for ``format="ipc"``), or
    ``part-0000i-0000k.*`` files of at most ``max_rows_per_file`` rows. Each endpoint's files
    are written under temporary names and renamed together when the endpoint is complete;
    ``_flightnb_manifest.json`` records the plan (tickets, expiration times) and the
    finished endpoints. ``pyarrow.dataset.dataset(base_dir)`` reads the result (it skips the
    manifest and temporary files).

    Parameters
    ----------
    format : {"parquet", "ipc"}
    max_rows_per_file : int, optional
        Split an endpoint into files of at most this many rows.
    existing_data_behavior : {"error", "overwrite_or_ignore", "delete_matching"}
        What to do when ``base_dir`` is not empty: refuse; write, replacing files of the
        same name; or first delete the files an earlier write_dataset made.
    resume : bool
        Finish an interrupted write: re-plan the flight, refuse if its tickets differ from
        the manifest's or have expired, and read only the endpoints not yet finished.
    compression : str, optional
        Parquet: default ``"zstd"``; IPC: default none (``"lz4"``, ``"zstd"``).
    row_group_size, max_buffer_bytes, ...
        As for :func:`write_parquet`. Row groups are cut smaller when the rows gathered
        for all open files exceed half of ``max_buffer_bytes``.

    Returns
    -------
    WriteSummary
        ``skipped`` lists the endpoints a resumed write found finished.

    Examples
    --------
    >>> summary = write_dataset(URI, "trips/", path="trips", max_rows_per_file=5_000_000)

    After an interruption, from a server that hands out the same tickets again (the embedded
    server does not):

    >>> write_dataset(URI, "trips/", path="trips", resume=True)  # doctest: +SKIP
    """
    return blocking_call(
        source,
        client_options,
        "write_dataset",
        lambda client: client.write_dataset(
            base_dir,
            ticket=ticket,
            path=path,
            command=command,
            descriptor=descriptor,
            sql=sql,
            parameters=parameters,
            max_concurrency=max_concurrency,
            stall_timeout=stall_timeout,
            timeout=timeout,
            format=format,
            max_rows_per_file=max_rows_per_file,
            existing_data_behavior=existing_data_behavior,
            resume=resume,
            row_group_size=row_group_size,
            compression=compression,
            max_buffer_bytes=max_buffer_bytes,
            progress=progress,
        ),
    )


#: File suffixes :func:`write_sink` knows, and the sink each picks.
SINK_SUFFIXES = {
    ".parquet": ("parquet", None),
    ".arrow": ("ipc", "file"),
    ".feather": ("ipc", "file"),
    ".arrows": ("ipc", "stream"),
}


def check_sink(where: str | os.PathLike[str]) -> str:
    """The suffix of ``where`` if a sink knows it; FlightArgumentError if not."""
    suffix = Path(where).suffix.lower()
    if suffix not in SINK_SUFFIXES:
        raise FlightArgumentError(
            f"cannot tell the format of {os.fspath(where)!r}: use a name ending in "
            + ", ".join(SINK_SUFFIXES)
        )
    return suffix


def write_sink(source: Any, where: str | os.PathLike[str], **arguments: Any) -> WriteSummary:
    """:func:`write_parquet` or :func:`write_ipc`, chosen by the suffix of ``where``.

    ``.parquet``: Parquet; ``.arrow`` / ``.feather``: the IPC file format; ``.arrows``: the
    IPC stream format. The ``%flight ... --sink PATH`` magic uses this.
    """
    kind, ipc_format = SINK_SUFFIXES[check_sink(where)]
    if kind == "parquet":
        return write_parquet(source, where, **arguments)
    return write_ipc(source, where, format=ipc_format or "file", **arguments)
