"""Reading the flatbuffer metadata of one Arrow IPC message (``FlightData.data_header``).

Only what the decoder needs is read: the message kind, the declared body length, the
dictionary id and delta flag, and where the body buffer table sits so the body can be laid
out again at 64-byte aligned offsets. Arrays themselves are built by pyarrow. Every offset is
bounds-checked, so hostile headers give :class:`FlightDecodeError`, never an ``IndexError``
or a huge allocation.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from flightnb.errors import FlightDecodeError

# Arrow MetadataVersion: V1..V5 are 0..4. V4 and V5 are what pyarrow (and every current
# implementation) reads and writes.
OLDEST_SUPPORTED_VERSION = 3
NEWEST_KNOWN_VERSION = 4


class MessageKind(IntEnum):
    """The ``MessageHeader`` union of Message.fbs."""

    NONE = 0
    SCHEMA = 1
    DICTIONARY_BATCH = 2
    RECORD_BATCH = 3
    TENSOR = 4
    SPARSE_TENSOR = 5


@dataclass(frozen=True)
class IpcHeader:
    """What the decoder needs from one IPC message header."""

    kind: MessageKind
    version: int
    body_length: int
    #: Byte position in the header of the (offset, length) int64 pairs of the body buffers.
    buffers_position: int
    buffer_count: int
    #: Byte position of the Message's ``bodyLength`` scalar, -1 when absent (no body).
    body_length_position: int
    dictionary_id: int = 0
    is_delta: bool = False


_U8 = struct.Struct("<B")
_I16 = struct.Struct("<h")
_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")


class _Table:
    """A flatbuffer table inside ``buf``; every access is bounds-checked."""

    __slots__ = ("buf", "pos", "vtable", "vtable_size")

    def __init__(self, buf: memoryview, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        _check(buf, pos, 4)
        vtable = pos - _I32.unpack_from(buf, pos)[0]
        _check(buf, vtable, 4)
        self.vtable = vtable
        self.vtable_size = _U16.unpack_from(buf, vtable)[0]
        _check(buf, vtable, self.vtable_size)

    def _field(self, index: int) -> int:
        slot = 4 + 2 * index
        if slot + 2 > self.vtable_size:
            return 0
        return int(_U16.unpack_from(self.buf, self.vtable + slot)[0])

    def scalar(self, index: int, fmt: struct.Struct, default: int = 0) -> int:
        off = self._field(index)
        if not off:
            return default
        _check(self.buf, self.pos + off, fmt.size)
        return int(fmt.unpack_from(self.buf, self.pos + off)[0])

    def scalar_position(self, index: int) -> int:
        off = self._field(index)
        return self.pos + off if off else -1

    def _indirect(self, index: int) -> int:
        off = self._field(index)
        if not off:
            return -1
        at = self.pos + off
        _check(self.buf, at, 4)
        return at + int(_U32.unpack_from(self.buf, at)[0])

    def table(self, index: int) -> _Table | None:
        at = self._indirect(index)
        return None if at < 0 else _Table(self.buf, at)

    def struct_vector(self, index: int, item_size: int) -> tuple[int, int]:
        """(position of the first item, item count) of a vector of structs; (0, 0) if absent."""
        at = self._indirect(index)
        if at < 0:
            return 0, 0
        _check(self.buf, at, 4)
        count = int(_U32.unpack_from(self.buf, at)[0])
        _check(self.buf, at + 4, count * item_size)
        return at + 4, count


def _check(buf: memoryview, pos: int, size: int) -> None:
    if pos < 0 or size < 0 or pos + size > len(buf):
        raise FlightDecodeError(
            f"flatbuffer offset {pos}+{size} outside the {len(buf)}-byte header",
            where="data_header",
        )


def _record_batch_buffers(batch: _Table | None) -> tuple[int, int]:
    if batch is None:
        raise FlightDecodeError("batch message without its RecordBatch table", where="data_header")
    return batch.struct_vector(2, 16)


def read_ipc_header(header: memoryview) -> IpcHeader:
    """Parse the flatbuffer ``Message`` in ``header`` (no continuation or length prefix)."""
    if len(header) < 8:
        raise FlightDecodeError(
            f"{len(header)} bytes are too short for an IPC message header", where="data_header"
        )
    if bytes(header[:4]) == b"\xff\xff\xff\xff":
        raise FlightDecodeError(
            "starts with an IPC continuation marker; FlightData carries the flatbuffer alone",
            where="data_header",
        )
    root = _U32.unpack_from(header, 0)[0]
    message = _Table(header, root)
    version = message.scalar(0, _I16)
    kind_value = message.scalar(1, _U8)
    body_length = message.scalar(3, _I64)
    if body_length < 0:
        raise FlightDecodeError(f"negative body length {body_length}", where="data_header")
    try:
        kind = MessageKind(kind_value)
    except ValueError:
        raise FlightDecodeError(
            f"unknown message header type {kind_value}", where="data_header"
        ) from None
    if not OLDEST_SUPPORTED_VERSION <= version <= NEWEST_KNOWN_VERSION:
        raise FlightDecodeError(
            f"metadata version V{version + 1} is not supported (V4 and V5 are)",
            where="data_header",
        )
    buffers_position = buffer_count = 0
    dictionary_id, is_delta = 0, False
    if kind is MessageKind.RECORD_BATCH:
        buffers_position, buffer_count = _record_batch_buffers(message.table(2))
    elif kind is MessageKind.DICTIONARY_BATCH:
        dictionary = message.table(2)
        if dictionary is None:
            raise FlightDecodeError("dictionary batch without its table", where="data_header")
        dictionary_id = dictionary.scalar(0, _I64)
        is_delta = bool(dictionary.scalar(2, _U8))
        buffers_position, buffer_count = _record_batch_buffers(dictionary.table(1))
    return IpcHeader(
        kind=kind,
        version=version,
        body_length=body_length,
        buffers_position=buffers_position,
        buffer_count=buffer_count,
        body_length_position=message.scalar_position(3),
        dictionary_id=dictionary_id,
        is_delta=is_delta,
    )


_ALIGNMENT = 64


def _aligned(n: int) -> int:
    return (n + _ALIGNMENT - 1) & ~(_ALIGNMENT - 1)


def _buffer(header: memoryview, info: IpcHeader, index: int) -> tuple[int, int]:
    """``(offset, length)`` of buffer ``index``, refused unless it lies inside the body."""
    offset, length = struct.unpack_from("<qq", header, info.buffers_position + 16 * index)
    if offset < 0 or length < 0 or offset + length > info.body_length:
        raise FlightDecodeError(
            f"buffer {index} at {offset}+{length} lies outside the {info.body_length}-byte body",
            where="data_header",
        )
    return offset, length


def check_body_buffers(header: memoryview, info: IpcHeader) -> None:
    """Refuse a header whose buffers do not all lie inside its body (for in-place use)."""
    for i in range(info.buffer_count):
        _buffer(header, info, i)


def plan_aligned_body(
    header: memoryview, info: IpcHeader
) -> tuple[bytearray, list[tuple[int, int, int]], int]:
    """Plan a copy of the body that puts every buffer at a 64-byte aligned offset.

    Returns the patched header (buffer offsets and body length rewritten), the copies to make
    as ``(source offset, destination offset, length)``, and the new body's size.
    """
    patched = bytearray(header)
    copies: list[tuple[int, int, int]] = []
    destination = 0
    for i in range(info.buffer_count):
        at = info.buffers_position + 16 * i
        offset, length = _buffer(header, info, i)
        struct.pack_into("<q", patched, at, destination)
        if length:
            copies.append((offset, destination, length))
            destination = _aligned(destination + length)
    if info.body_length_position >= 0:
        struct.pack_into("<q", patched, info.body_length_position, destination)
    return patched, copies, destination
