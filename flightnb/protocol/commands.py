"""Flight SQL messages in and out of ``google.protobuf.Any``, shared by server and client.

Flight SQL wraps every command in an ``Any`` whose type URL names the message, serialized into
the ``cmd`` of a FlightDescriptor, the ``body`` of an Action or Result, or a Ticket. This module
only knows protobuf: it imports neither ``pyarrow.flight`` nor a database.

Examples
--------
>>> from flightnb._proto import FlightSql_pb2
>>> data = pack(FlightSql_pb2.CommandStatementQuery(query="SELECT 1"))
>>> unpack(data).query
'SELECT 1'
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message

from flightnb._proto import FlightSql_pb2

__all__ = [
    "ACTION_BEGIN_SAVEPOINT",
    "ACTION_BEGIN_TRANSACTION",
    "ACTION_CANCEL_FLIGHT_INFO",
    "ACTION_CANCEL_QUERY",
    "ACTION_CLOSE_PREPARED_STATEMENT",
    "ACTION_CREATE_PREPARED_STATEMENT",
    "ACTION_CREATE_PREPARED_SUBSTRAIT_PLAN",
    "ACTION_END_SAVEPOINT",
    "ACTION_END_TRANSACTION",
    "TYPE_URL_PREFIX",
    "CommandDecodeError",
    "message_class",
    "pack",
    "type_url",
    "unpack",
    "unpack_as",
]

TYPE_URL_PREFIX = "type.googleapis.com/"
_PACKAGE = "arrow.flight.protocol.sql."

# Action type names of Flight SQL: the request message name without "Action" and "Request".
ACTION_CREATE_PREPARED_STATEMENT = "CreatePreparedStatement"
ACTION_CREATE_PREPARED_SUBSTRAIT_PLAN = "CreatePreparedSubstraitPlan"
ACTION_CLOSE_PREPARED_STATEMENT = "ClosePreparedStatement"
ACTION_BEGIN_TRANSACTION = "BeginTransaction"
ACTION_END_TRANSACTION = "EndTransaction"
ACTION_BEGIN_SAVEPOINT = "BeginSavepoint"
ACTION_END_SAVEPOINT = "EndSavepoint"
ACTION_CANCEL_QUERY = "CancelQuery"
# Not Flight SQL but core Flight; its body is a plain CancelFlightInfoRequest, not an Any.
ACTION_CANCEL_FLIGHT_INFO = "CancelFlightInfo"

_M = TypeVar("_M", bound=Message)

_CLASSES: dict[str, type[Message]] = {
    _PACKAGE + name: getattr(FlightSql_pb2, name)
    for name in FlightSql_pb2.DESCRIPTOR.message_types_by_name
}


class CommandDecodeError(ValueError):
    """Bytes that are not an ``Any`` holding a known Flight SQL message."""


def type_url(message: Message | type[Message]) -> str:
    """The ``Any`` type URL of a Flight SQL message (instance or class)."""
    return TYPE_URL_PREFIX + str(message.DESCRIPTOR.full_name)


def message_class(url: str) -> type[Message] | None:
    """The generated class behind a type URL, or None when it is not a Flight SQL message."""
    return _CLASSES.get(url.rpartition("/")[2])


def pack(message: Message) -> bytes:
    """Serialize ``message`` wrapped in an ``Any``."""
    # Set the fields directly rather than Any.Pack: it works the same with our private
    # descriptor pool and keeps the URL format explicit.
    wrapper = any_pb2.Any(type_url=type_url(message), value=message.SerializeToString())
    data: bytes = wrapper.SerializeToString()
    return data


def _parse_any(data: bytes) -> any_pb2.Any:
    wrapper = any_pb2.Any()
    try:
        wrapper.ParseFromString(bytes(data))
    except DecodeError as exc:
        raise CommandDecodeError(f"not a protobuf Any: {exc}") from exc
    if not wrapper.type_url:
        raise CommandDecodeError("not a Flight SQL command: the Any has no type URL")
    return wrapper


def unpack(data: bytes) -> Message:
    """Parse an ``Any``-wrapped Flight SQL message of whatever type it names.

    Raises
    ------
    CommandDecodeError
        When ``data`` is not an ``Any`` or names a message that is not part of Flight SQL.
    """
    wrapper = _parse_any(data)
    cls = message_class(wrapper.type_url)
    if cls is None:
        raise CommandDecodeError(f"unknown command type {wrapper.type_url!r}")
    message = cls()
    try:
        message.ParseFromString(wrapper.value)
    except DecodeError as exc:
        raise CommandDecodeError(f"invalid {cls.DESCRIPTOR.name}: {exc}") from exc
    return message


def unpack_as(data: bytes, cls: type[_M]) -> _M:
    """Parse an ``Any`` that must hold a ``cls`` message (e.g. an action's result)."""
    message = unpack(data)
    if not isinstance(message, cls):
        raise CommandDecodeError(f"expected {cls.DESCRIPTOR.name}, got {message.DESCRIPTOR.name}")
    return message
