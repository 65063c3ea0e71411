"""The files of the sinks: Parquet, Arrow IPC, and a dataset of one file per endpoint.

What :meth:`~flightnb.client.operations.AsyncFlightOperations.write_parquet` and its
siblings do once a flight is open: read it batch by batch from a blocking
:class:`~flightnb.client.batch_reader.FlightBatchReader` and write it on the calling thread
while the client's loop keeps receiving, so encoding and the network overlap. Files are
written under a hidden temporary name in the target directory (``.<name>.<random>.partial``)
and renamed when complete: a failed, cancelled or interrupted write never leaves a file under
the final name, and is never reported as done. Failures of the file system raise
:class:`FlightSinkError`, which names the file and keeps the ``OSError`` (or Arrow error) as
``__cause__``. Nothing here opens a connection: the caller hands in a function that opens
the reader, called once the arguments and the target are checked.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from flightnb.client.batch_reader import FlightBatchReader
from flightnb.errors import FlightAlreadyExistsError, FlightArgumentError, FlightError
from flightnb.types import FlightInfo, Ticket

__all__ = [
    "MANIFEST_NAME",
    "FlightSinkError",
    "OpenReader",
    "WriteSummary",
    "dataset_options",
    "ipc_options",
    "parquet_options",
    "write_dataset_files",
    "write_file",
]

#: Opens the flight once the sink is ready for it; given the endpoint chooser of a dataset
#: write (see :func:`flightnb.client.operations.start_stream`), or None.
OpenReader = Callable[
    [Callable[[FlightInfo | Ticket], Sequence[int] | None] | None], FlightBatchReader
]

MANIFEST_NAME = "_flightnb_manifest.json"
_MANIFEST_VERSION = 1
_PARTIAL_SUFFIX = ".partial"
_EXISTING = ("error", "overwrite_or_ignore", "delete_matching")
_SUFFIXES = {"parquet": ".parquet", "ipc": ".arrow", "arrow": ".arrow", "feather": ".arrow"}


class FlightSinkError(FlightError):
    """Writing a sink's file failed (unwritable path, disk full, bad data for the format).

    ``path`` is the file (or directory) that could not be written; the original error is the
    ``__cause__``. Nothing is left under the final name.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str]) -> None:
        super().__init__(message)
        self.path = os.fspath(path)


@dataclass(frozen=True)
class WriteSummary:
    """What a sink wrote.

    Attributes
    ----------
    rows : int
        Rows written (this run; resumed endpoints' rows are in ``skipped_rows``).
    bytes : int
        Size of the files written, on disk.
    files : tuple of str
        The files written, under their final names.
    seconds : float
        Wall time of the whole call.
    received_bytes : int
        Bytes received from the servers.
    skipped : tuple of int
        Endpoints a resumed ``write_dataset`` found finished and did not read again.
    skipped_rows : int
        Their rows.
    """

    rows: int
    bytes: int
    files: tuple[str, ...]
    seconds: float
    received_bytes: int = 0
    skipped: tuple[int, ...] = ()
    skipped_rows: int = field(default=0)

    def __str__(self) -> str:
        mib = self.bytes / 2**20
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        files = self.files[0] if len(self.files) == 1 else f"{len(self.files)} files"
        return (
            f"wrote {self.rows:,} rows ({mib:,.1f} MiB) to {files} in {self.seconds:.2f} s "
            f"({rate:,.0f} rows/s)"
        )


# --- one file ------------------------------------------------------------------------------


def _failed(path: Path, what: str, exc: BaseException) -> FlightSinkError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return FlightSinkError(f"{what} {path} failed: {reason}", path=path)


def _claim_partial(final: Path) -> Path:
    """Create the temporary file next to ``final`` (fails early for unwritable places)."""
    if final.is_dir():
        raise FlightSinkError(f"creating {final} failed: it is a directory", path=final)
    partial = final.with_name(f".{final.name}.{secrets.token_hex(4)}{_PARTIAL_SUFFIX}")
    try:
        # x: exclusive create, so two writers never share a temporary file.
        with open(partial, "xb"):
            pass
    except OSError as exc:
        raise _failed(final, "creating", exc) from exc
    return partial


class _File:
    """One output file, written under a temporary name and renamed by :meth:`commit`."""

    def __init__(self, final: Path, schema: pa.Schema, options: _FormatOptions) -> None:
        self.final = final
        self.partial = _claim_partial(final)
        self.rows = 0
        self._options = options
        self._pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.pending_bytes = 0
        self._writer: Any = None
        try:
            if options.format == "parquet":
                import pyarrow.parquet as pq  # only when needed: it is slow to import

                self._writer = pq.ParquetWriter(
                    self.partial,
                    schema,
                    compression=options.compression or "none",
                    compression_level=options.compression_level,
                )
            else:
                write_options = ipc.IpcWriteOptions(compression=options.compression)
                opener = ipc.new_stream if options.format == "stream" else ipc.new_file
                self._writer = opener(self.partial, schema, options=write_options)
        except (OSError, pa.ArrowException) as exc:
            self.abort()
            raise _failed(final, "opening", exc) from exc

    def write(self, batch: pa.RecordBatch) -> None:
        try:
            if self._options.format != "parquet":
                self._writer.write_batch(batch)
                self.rows += batch.num_rows
                return
            # ParquetWriter writes one row group per call: gather the requested size first.
            self._pending.append(batch)
            self.pending_rows += batch.num_rows
            self.pending_bytes += batch.nbytes
            size = self._options.row_group_size
            if self.pending_rows >= size:
                table = pa.Table.from_batches(self._pending)
                whole = (self.pending_rows // size) * size
                self._writer.write_table(table.slice(0, whole), row_group_size=size)
                self.rows += whole
                rest = table.slice(whole)
                self._pending = rest.to_batches()
                self.pending_rows = rest.num_rows
                self.pending_bytes = rest.nbytes
        except (OSError, pa.ArrowException) as exc:
            raise _failed(self.final, "writing", exc) from exc

    def flush(self) -> None:
        """Write what is gathered as a (smaller) row group: the memory bound asks for it."""
        if not self._pending:
            return
        try:
            table = pa.Table.from_batches(self._pending)
            self._writer.write_table(table, row_group_size=max(1, table.num_rows))
        except (OSError, pa.ArrowException) as exc:
            raise _failed(self.final, "writing", exc) from exc
        self.rows += self.pending_rows
        self._pending, self.pending_rows, self.pending_bytes = [], 0, 0

    def close(self) -> None:
        """Write the rest and close the file (still under its temporary name)."""
        self.flush()
        writer, self._writer = self._writer, None
        try:
            if writer is not None:
                writer.close()
        except (OSError, pa.ArrowException) as exc:
            raise _failed(self.final, "closing", exc) from exc

    def commit(self) -> int:
        """Rename the closed file to its final name; returns its size."""
        try:
            os.replace(self.partial, self.final)
            return self.final.stat().st_size
        except OSError as exc:
            raise _failed(self.final, "renaming", exc) from exc

    def abort(self) -> None:
        """Drop the temporary file; never raises (it runs while another error propagates)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        with contextlib.suppress(OSError):
            self.partial.unlink()


@dataclass(frozen=True)
class _FormatOptions:
    format: str  # "parquet", "file" or "stream"
    compression: str | None
    compression_level: int | None = None
    row_group_size: int = 1 << 20


def _check_compression(compression: str | None, *, parquet: bool) -> None:
    if compression is None or (parquet and compression.lower() in ("none", "uncompressed")):
        return
    allowed = ("zstd", "lz4", "snappy", "gzip", "brotli") if parquet else ("zstd", "lz4")
    if compression.lower() not in allowed:
        raise FlightArgumentError(f"compression={compression!r} is not one of {', '.join(allowed)}")


def write_file(
    open_reader: OpenReader, where: str | os.PathLike[str], options: _FormatOptions
) -> WriteSummary:
    """Stream the flight ``open_reader`` opens into the one file ``where``."""
    started = time.monotonic()
    final = Path(where)
    # Checked before anything is sent: an unwritable place fails without a network call.
    probe = _claim_partial(final)
    probe.unlink()
    reader = open_reader(None)
    file: _File | None = None
    try:
        with reader:
            file = _File(final, reader.schema, options)
            for batch in reader:
                file.write(batch)
                # max_buffer_bytes covers the rows gathered for the row group too.
                reader.lend_buffer_bytes(file.pending_bytes)
            file.close()
        size = file.commit()
    except BaseException:
        if file is not None:
            file.abort()
        raise
    return WriteSummary(
        rows=file.rows,
        bytes=size,
        files=(str(final),),
        seconds=time.monotonic() - started,
        received_bytes=reader.stats.bytes,
    )


def parquet_options(
    row_group_size: int, compression: str | None, compression_level: int | None
) -> _FormatOptions:
    """The checked options of a Parquet file (before anything is sent)."""
    if row_group_size < 1:
        raise FlightArgumentError("row_group_size must be at least 1")
    _check_compression(compression, parquet=True)
    return _FormatOptions("parquet", compression, compression_level, row_group_size)


def ipc_options(format: str, compression: str | None) -> _FormatOptions:
    """The checked options of an Arrow IPC file or stream (before anything is sent)."""
    if format not in ("file", "stream"):
        raise FlightArgumentError(f"format={format!r} is not 'file' or 'stream'")
    _check_compression(compression, parquet=False)
    return _FormatOptions(format, compression)


@dataclass(frozen=True)
class DatasetOptions:
    """The checked options of a dataset write."""

    kind: str  # "parquet" or "ipc"
    files: _FormatOptions
    max_rows_per_file: int | None
    existing_data_behavior: str
    resume: bool


def dataset_options(
    format: str,
    max_rows_per_file: int | None,
    existing_data_behavior: str,
    resume: bool,
    row_group_size: int,
    compression: str | None,
) -> DatasetOptions:
    """The checked options of a dataset write (before anything is sent)."""
    kind = "ipc" if format in ("ipc", "arrow", "feather") else format
    if kind not in ("parquet", "ipc"):
        raise FlightArgumentError(f"format={format!r} is not 'parquet' or 'ipc'")
    if existing_data_behavior not in _EXISTING:
        raise FlightArgumentError(
            f"existing_data_behavior={existing_data_behavior!r} is not one of "
            + ", ".join(map(repr, _EXISTING))
        )
    if max_rows_per_file is not None and max_rows_per_file < 1:
        raise FlightArgumentError("max_rows_per_file must be at least 1")
    if row_group_size < 1:
        raise FlightArgumentError("row_group_size must be at least 1")
    if compression is None and kind == "parquet":
        compression = "zstd"
    _check_compression(compression, parquet=kind == "parquet")
    files = _FormatOptions(
        "parquet" if kind == "parquet" else "file",
        compression,
        row_group_size=min(row_group_size, max_rows_per_file or row_group_size),
    )
    return DatasetOptions(kind, files, max_rows_per_file, existing_data_behavior, resume)


# --- a dataset -----------------------------------------------------------------------------


def _ticket_text(ticket: Ticket) -> str:
    return base64.b64encode(ticket.ticket).decode("ascii")


def _planned(what: FlightInfo | Ticket) -> list[dict[str, Any]]:
    """The manifest's view of a plan: each endpoint's ticket and expiration."""
    if isinstance(what, Ticket):
        return [{"ticket": _ticket_text(what), "expiration_time": None}]
    return [
        {
            "ticket": _ticket_text(e.ticket),
            "expiration_time": e.expiration_time.isoformat() if e.expiration_time else None,
        }
        for e in what.endpoints
    ]


class _Manifest:
    """``_flightnb_manifest.json``: the plan, and which endpoints are finished (with files)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path) -> _Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _failed(path, "reading the manifest", exc) from exc
        if not isinstance(data, dict) or data.get("version") != _MANIFEST_VERSION:
            raise FlightArgumentError(f"{path} is not a flightnb manifest this version reads")
        return cls(path, data)

    @property
    def endpoints(self) -> list[dict[str, Any]]:
        endpoints: list[dict[str, Any]] = self.data["endpoints"]
        return endpoints

    def save(self) -> None:
        partial = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}{_PARTIAL_SUFFIX}")
        try:
            partial.write_text(json.dumps(self.data, indent=1), encoding="utf-8")
            os.replace(partial, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise _failed(self.path, "writing the manifest", exc) from exc


def _resume_check(manifest: _Manifest, planned: list[dict[str, Any]], fmt: str) -> list[int]:
    """The endpoints still to read; refuses a plan that is not the manifest's."""
    if manifest.data.get("format") != fmt:
        raise FlightArgumentError(
            f"cannot resume: the dataset was written as {manifest.data.get('format')!r}, "
            f"not {fmt!r}"
        )
    recorded = manifest.endpoints
    if [e["ticket"] for e in recorded] != [p["ticket"] for p in planned]:
        raise FlightArgumentError(
            "cannot resume: the flight was re-planned with other tickets than the manifest's "
            f"({len(planned)} endpoints now, {len(recorded)} recorded); write it again with "
            "existing_data_behavior='delete_matching'"
        )
    now = dt.datetime.now(dt.timezone.utc)
    todo = []
    for index, (entry, plan) in enumerate(zip(recorded, planned, strict=True)):
        if entry.get("done"):
            continue
        expires = plan["expiration_time"]
        if expires is not None and dt.datetime.fromisoformat(expires) <= now:
            raise FlightArgumentError(
                f"cannot resume: the ticket of endpoint {index} expired at {expires}"
            )
        todo.append(index)
    return todo


def _ours(name: str) -> bool:
    """Files write_dataset makes: parts, temporary files, the manifest."""
    return (
        name == MANIFEST_NAME
        or (name.startswith("part-") and name.endswith((".parquet", ".arrow")))
        or (name.startswith(".") and name.endswith(_PARTIAL_SUFFIX))
    )


def _prepare_dir(base: Path, existing_data_behavior: str, resume: bool) -> None:
    try:
        base.mkdir(parents=True, exist_ok=True)
        names = [p.name for p in base.iterdir()]
    except OSError as exc:
        raise _failed(base, "creating", exc) from exc
    if resume:
        if MANIFEST_NAME not in names:
            raise FlightArgumentError(f"cannot resume: {base} has no {MANIFEST_NAME}")
        stale = [n for n in names if n.startswith(".") and n.endswith(_PARTIAL_SUFFIX)]
    elif existing_data_behavior == "error":
        if names:
            raise FlightAlreadyExistsError(
                f"{base} is not empty; pass existing_data_behavior='overwrite_or_ignore' or "
                "'delete_matching', or resume=True to finish an interrupted write"
            )
        stale = []
    elif existing_data_behavior == "delete_matching":
        stale = [n for n in names if _ours(n)]
    else:
        stale = [n for n in names if n.startswith(".") and n.endswith(_PARTIAL_SUFFIX)]
    for name in stale:
        try:
            (base / name).unlink()
        except OSError as exc:
            raise _failed(base / name, "removing", exc) from exc


def write_dataset_files(
    open_reader: OpenReader,
    base_dir: str | os.PathLike[str],
    options: DatasetOptions,
    max_buffer_bytes: int,
) -> WriteSummary:
    """Stream the flight ``open_reader`` opens into ``base_dir``, one file per endpoint.

    See :meth:`~flightnb.client.operations.AsyncFlightOperations.write_dataset`.
    """
    started = time.monotonic()
    kind = options.kind
    base = Path(base_dir)
    _prepare_dir(base, options.existing_data_behavior, options.resume)
    manifest_path = base / MANIFEST_NAME
    manifest = _Manifest.load(manifest_path) if options.resume else None
    chosen: list[int] = []

    def choose(what: FlightInfo | Ticket) -> list[int]:
        # Runs once the flight is planned, before any DoGet.
        nonlocal manifest
        planned = _planned(what)
        if manifest is None:
            entries = [{**p, "done": False, "rows": 0, "files": []} for p in planned]
            header = {"version": _MANIFEST_VERSION, "format": kind, "complete": False}
            manifest = _Manifest(manifest_path, {**header, "endpoints": entries})
            manifest.save()
            chosen[:] = range(len(planned))
        else:
            chosen[:] = _resume_check(manifest, planned, kind)
        return list(chosen)

    reader = open_reader(choose)
    assert manifest is not None
    writer = _DatasetWriter(
        base,
        reader.schema,
        options.files,
        kind,
        options.max_rows_per_file,
        manifest,
        max_buffer_bytes,
    )
    try:
        with reader:
            for item in reader.items():
                if item.batch is None:
                    writer.finish(item.index)
                else:
                    writer.write(item.index, item.batch)
                    reader.lend_buffer_bytes(writer.pending_bytes())
        manifest.data["complete"] = all(e["done"] for e in manifest.endpoints)
        manifest.save()
    except BaseException:
        writer.abort()
        raise
    skipped = tuple(i for i, e in enumerate(manifest.endpoints) if e["done"] and i not in chosen)
    return WriteSummary(
        rows=writer.rows,
        bytes=writer.bytes,
        files=tuple(writer.files),
        seconds=time.monotonic() - started,
        received_bytes=reader.stats.bytes,
        skipped=skipped,
        skipped_rows=sum(manifest.endpoints[i]["rows"] for i in skipped),
    )


class _DatasetWriter:
    """The open files of a dataset write, one endpoint at a time each."""

    def __init__(
        self,
        base: Path,
        schema: pa.Schema,
        options: _FormatOptions,
        kind: str,
        max_rows_per_file: int | None,
        manifest: _Manifest,
        max_buffer_bytes: int,
    ) -> None:
        self.base = base
        self.schema = schema
        self.options = options
        self.suffix = _SUFFIXES[kind]
        self.max_rows = max_rows_per_file
        self.manifest = manifest
        self.max_buffer_bytes = max_buffer_bytes
        self.open: dict[int, list[_File]] = {}
        self.rows = 0
        self.bytes = 0
        self.files: list[str] = []

    def _name(self, index: int, part: int) -> Path:
        if self.max_rows is None:
            return self.base / f"part-{index:05d}{self.suffix}"
        return self.base / f"part-{index:05d}-{part:05d}{self.suffix}"

    def _current(self, index: int) -> _File:
        files = self.open.setdefault(index, [])
        full = bool(files) and self.max_rows is not None and _size(files[-1]) >= self.max_rows
        if not files or full:
            if files:
                files[-1].close()
            files.append(_File(self._name(index, len(files)), self.schema, self.options))
        return files[-1]

    def write(self, index: int, batch: pa.RecordBatch) -> None:
        offset = 0
        while offset < batch.num_rows:  # bounded: every pass writes at least one row
            file = self._current(index)
            room = batch.num_rows - offset
            if self.max_rows is not None:
                room = min(room, self.max_rows - _size(file))
            file.write(batch.slice(offset, room))
            offset += room
        if self.pending_bytes() > self.max_buffer_bytes // 2:
            biggest = max((f[-1] for f in self.open.values() if f), key=lambda f: f.pending_bytes)
            biggest.flush()

    def pending_bytes(self) -> int:
        """Rows gathered for row groups, over every open file."""
        return sum(files[-1].pending_bytes for files in self.open.values() if files)

    def finish(self, index: int) -> None:
        """Endpoint ``index`` is complete: close and rename its files, record it."""
        files = self.open.pop(index, None)
        if not files:  # an endpoint without batches still gets its (empty) file
            files = [_File(self._name(index, 0), self.schema, self.options)]
        names: list[str] = []
        rows = size = 0
        try:
            for file in files:
                file.close()
            for file in files:
                size += file.commit()
                names.append(file.final.name)
                rows += file.rows
        except BaseException:
            # All of an endpoint's files or none: drop the ones already renamed.
            for file in files:
                file.abort()
            for name in names:
                with contextlib.suppress(OSError):
                    (self.base / name).unlink()
            raise
        self.bytes += size
        self.rows += rows
        self.files.extend(str(self.base / n) for n in names)
        entry = self.manifest.endpoints[index]
        entry.update(done=True, rows=rows, files=names)
        self.manifest.save()

    def abort(self) -> None:
        for files in self.open.values():
            for file in files:
                file.abort()
        self.open.clear()


def _size(file: _File) -> int:
    return file.rows + file.pending_rows
