"""The protobuf wire format of ``FlightData``, read and written by hand.

Parsing the four fields ourselves lets ``data_body`` stay a view into the bytes that came off
the network: a generated protobuf class would copy it into a new ``bytes`` object first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flightnb.errors import FlightDecodeError

# Field numbers of FlightData (Flight.proto).
DESCRIPTOR_FIELD = 1
HEADER_FIELD = 2
APP_METADATA_FIELD = 3
BODY_FIELD = 1000

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5
_EMPTY = memoryview(b"")


@dataclass(frozen=True)
class RawFlightData:
    """The fields of one FlightData message, as views into the received bytes."""

    descriptor: memoryview
    data_header: memoryview
    app_metadata: memoryview
    data_body: memoryview


def _read_varint(view: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while pos < end:
        byte = view[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise FlightDecodeError("varint longer than 10 bytes", where="FlightData")
    raise FlightDecodeError("message ends inside a varint", where="FlightData")


def parse_flight_data(data: bytes | bytearray | memoryview) -> RawFlightData:
    """Split serialized FlightData into its fields without copying any of them.

    Unknown fields are skipped, as protobuf requires; a repeated field keeps its last value.
    """
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    fields = {
        DESCRIPTOR_FIELD: _EMPTY,
        HEADER_FIELD: _EMPTY,
        APP_METADATA_FIELD: _EMPTY,
        BODY_FIELD: _EMPTY,
    }
    pos, end = 0, len(view)
    while pos < end:
        key, pos = _read_varint(view, pos, end)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise FlightDecodeError("field number 0", where="FlightData")
        if wire_type == _LENGTH_DELIMITED:
            length, pos = _read_varint(view, pos, end)
            if length > end - pos:
                raise FlightDecodeError(
                    f"field {number} declares {length} bytes but only {end - pos} remain",
                    where="FlightData",
                )
            if number in fields:
                fields[number] = view[pos : pos + length]
            pos += length
        elif number in fields:
            raise FlightDecodeError(
                f"field {number} has wire type {wire_type}, expected bytes", where="FlightData"
            )
        elif wire_type == _VARINT:
            _, pos = _read_varint(view, pos, end)
        elif wire_type == _FIXED64:
            pos += 8
        elif wire_type == _FIXED32:
            pos += 4
        else:
            raise FlightDecodeError(f"unsupported wire type {wire_type}", where="FlightData")
    if pos > end:
        raise FlightDecodeError("message ends inside a fixed-size field", where="FlightData")
    return RawFlightData(
        descriptor=fields[DESCRIPTOR_FIELD],
        data_header=fields[HEADER_FIELD],
        app_metadata=fields[APP_METADATA_FIELD],
        data_body=fields[BODY_FIELD],
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_prefix(number: int, length: int) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(length)


def encode_flight_data(
    *,
    descriptor: bytes | None = None,
    data_header: bytes | memoryview | None = None,
    app_metadata: bytes | memoryview | None = None,
    data_body: bytes | memoryview | Sequence[bytes | memoryview] | None = None,
) -> bytes:
    """Serialize FlightData from its parts (``descriptor`` is a serialized FlightDescriptor).

    ``data_body`` may be a sequence of pieces, which are joined in the one copy that builds
    the message.
    """
    parts: list[bytes | memoryview] = []
    for number, value in (
        (DESCRIPTOR_FIELD, descriptor),
        (HEADER_FIELD, data_header),
        (APP_METADATA_FIELD, app_metadata),
    ):
        if value is not None and len(value):
            parts.append(_field_prefix(number, memoryview(value).nbytes))
            parts.append(value)
    if data_body is not None:
        pieces = [data_body] if isinstance(data_body, bytes | memoryview) else list(data_body)
        size = sum(memoryview(piece).nbytes for piece in pieces)
        if size:
            parts.append(_field_prefix(BODY_FIELD, size))
            parts.extend(pieces)
    return b"".join(parts)
