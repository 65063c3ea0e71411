"""Flight's value types, and their conversion to and from the generated protobuf messages.

Names follow ``pyarrow.flight`` (``Ticket``, ``FlightDescriptor.for_path``, ``Location``,
``FlightInfo``...). Every function that takes one of these also takes the matching
``pyarrow.flight`` object, or a plain ``bytes``/``str`` where that is unambiguous.
This is the only module that touches the generated message classes.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, Union, cast

import pyarrow as pa

from flightnb._proto import Flight_pb2 as pb
from flightnb.errors import FlightArgumentError, FlightArgumentTypeError, FlightDecodeError

if TYPE_CHECKING:
    import pyarrow.flight as paf

    # What a parameter taking one of our value types also takes (see the module's docstring).
    # For type checkers only: importing pyarrow.flight at run time would make flightnb heavy.
    TicketLike: TypeAlias = "Ticket | str | bytes | bytearray | memoryview | paf.Ticket"
    DescriptorLike: TypeAlias = "FlightDescriptor | paf.FlightDescriptor"
    LocationLike: TypeAlias = "Location | str | bytes | paf.Location"

__all__ = [
    "Action",
    "ActionType",
    "CancelStatus",
    "DescriptorType",
    "FlightDescriptor",
    "FlightEndpoint",
    "FlightInfo",
    "Location",
    "PollInfo",
    "Result",
    "SessionOptionValue",
    "Ticket",
]


class DescriptorType(enum.IntEnum):
    """How a :class:`FlightDescriptor` names its data."""

    UNKNOWN = 0
    PATH = 1
    CMD = 2


class CancelStatus(enum.IntEnum):
    """Result of :meth:`AsyncFlightClient.cancel_flight_info`."""

    UNSPECIFIED = 0
    CANCELLED = 1
    CANCELLING = 2
    NOT_CANCELLABLE = 3


@dataclass(frozen=True)
class Ticket:
    """Opaque handle the server gave out for one DoGet."""

    ticket: bytes

    def __repr__(self) -> str:
        return f"Ticket({self.ticket!r})"


@dataclass(frozen=True)
class FlightDescriptor:
    """Names a dataset by path or by an opaque command (e.g. a Flight SQL query)."""

    descriptor_type: DescriptorType
    path: tuple[str, ...] = ()
    command: bytes = b""

    @classmethod
    def for_path(cls, *path: str | bytes) -> FlightDescriptor:
        """A descriptor for a path such as ``("datasets", "trips")``."""
        parts = tuple(p.decode() if isinstance(p, bytes) else str(p) for p in path)
        return cls(DescriptorType.PATH, path=parts)

    @classmethod
    def for_command(cls, command: str | bytes) -> FlightDescriptor:
        """A descriptor for an opaque command."""
        return cls(
            DescriptorType.CMD,
            command=command.encode() if isinstance(command, str) else bytes(command),
        )

    def __str__(self) -> str:
        if self.descriptor_type is DescriptorType.PATH:
            return "/".join(self.path)
        return f"<command {len(self.command)} bytes>"


@dataclass(frozen=True)
class Location:
    """A URI where a Flight service can be reached (``grpc://host:port``, ...)."""

    uri: str

    REUSE_CONNECTION = "arrow-flight-reuse-connection://?"

    @classmethod
    def for_grpc_tcp(cls, host: str, port: int) -> Location:
        return cls(f"grpc+tcp://{_host(host)}:{port}")

    @classmethod
    def for_grpc_tls(cls, host: str, port: int) -> Location:
        return cls(f"grpc+tls://{_host(host)}:{port}")

    @classmethod
    def for_grpc_unix(cls, path: str) -> Location:
        return cls(f"grpc+unix://{path}")

    @classmethod
    def reuse_connection(cls) -> Location:
        """The special location meaning "fetch from the server you asked"."""
        return cls(cls.REUSE_CONNECTION)

    def __str__(self) -> str:
        return self.uri


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@dataclass(frozen=True)
class FlightEndpoint:
    """One part of a flight: a ticket and where it can be fetched."""

    ticket: Ticket
    locations: tuple[Location, ...] = ()
    expiration_time: dt.datetime | None = None
    app_metadata: bytes = b""

    @classmethod
    def from_adbc_partition(cls, data: bytes) -> FlightEndpoint:
        """The endpoint of an ADBC Flight SQL partition (``adbc_execute_partitions``).

        The ADBC Flight SQL driver describes each partition as a serialized ``FlightInfo``
        with exactly one endpoint; read it with ``do_get`` or hand it to Dask workers.

        Raises
        ------
        FlightDecodeError
            If ``data`` is not a FlightInfo, or has no endpoint or several.

        Examples
        --------
        >>> partitions, _ = cursor.adbc_execute_partitions("SELECT ...")  # doctest: +SKIP
        >>> endpoint = FlightEndpoint.from_adbc_partition(partitions[0])  # doctest: +SKIP
        """
        message = pb.FlightInfo()
        try:
            message.ParseFromString(bytes(data))
        except Exception as exc:  # protobuf's DecodeError, without importing its module
            raise FlightDecodeError(
                f"not an ADBC Flight SQL partition (a serialized FlightInfo): {exc}",
                where="ADBC partition",
            ) from None
        if len(message.endpoint) != 1:
            raise FlightDecodeError(
                f"an ADBC partition has one endpoint; this one has {len(message.endpoint)}",
                where="ADBC partition",
            )
        return endpoint_from_proto(message.endpoint[0])


@dataclass(frozen=True)
class FlightInfo:
    """A planned flight: schema, endpoints, and size hints (-1 when unknown)."""

    schema: pa.Schema | None
    descriptor: FlightDescriptor | None
    endpoints: tuple[FlightEndpoint, ...]
    total_records: int = -1
    total_bytes: int = -1
    ordered: bool = False
    app_metadata: bytes = b""

    def __repr__(self) -> str:
        return (
            f"FlightInfo(descriptor={self.descriptor}, endpoints={len(self.endpoints)}, "
            f"total_records={self.total_records}, total_bytes={self.total_bytes}, "
            f"ordered={self.ordered})"
        )


@dataclass(frozen=True)
class PollInfo:
    """Progress of a long-running query (PollFlightInfo)."""

    info: FlightInfo | None
    descriptor: FlightDescriptor | None
    progress: float | None = None
    expiration_time: dt.datetime | None = None

    @property
    def is_complete(self) -> bool:
        """True when there is nothing left to poll for."""
        return self.descriptor is None


@dataclass(frozen=True)
class Action:
    """A request to run a server-defined action."""

    type: str
    body: bytes = b""


@dataclass(frozen=True)
class ActionType:
    """An action a server offers."""

    type: str
    description: str = ""


@dataclass(frozen=True)
class Result:
    """One result of an action."""

    body: bytes = field(repr=False)


SessionOptionValue = Union[str, bool, int, float, Sequence[str], None]  # noqa: UP007 (runtime alias, 3.10)


# --- coercion of user input ------------------------------------------------------------


def descriptor_from(
    path: str | bytes | Sequence[str | bytes] | None = None,
    command: str | bytes | None = None,
    descriptor: Any = None,
) -> FlightDescriptor:
    """The descriptor named by whichever one of ``path``, ``command``, ``descriptor`` is given.

    A ``str`` path is one path element (``"a/b"`` stays ``"a/b"``); a sequence gives several.
    """
    given = sum(value is not None for value in (path, command, descriptor))
    if given != 1:
        raise FlightArgumentError("give exactly one of path=, command= or descriptor=")
    if path is not None:
        parts = [path] if isinstance(path, (str, bytes)) else list(path)
        return FlightDescriptor.for_path(*parts)
    if command is not None:
        return FlightDescriptor.for_command(command)
    return as_descriptor(descriptor)


def as_ticket(value: Any) -> Ticket:
    """A :class:`Ticket` from ours, pyarrow.flight's, ``bytes`` or ``str``."""
    if isinstance(value, Ticket):
        return value
    if isinstance(value, str):
        return Ticket(value.encode())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Ticket(bytes(value))
    inner = getattr(value, "ticket", None)
    if inner is not None:
        return Ticket(bytes(inner))
    raise FlightArgumentTypeError(f"cannot use {type(value).__name__} as a ticket")


def as_descriptor(value: Any) -> FlightDescriptor:
    """A :class:`FlightDescriptor` from ours or pyarrow.flight's."""
    if isinstance(value, FlightDescriptor):
        return value
    kind = getattr(value, "descriptor_type", None)
    if kind is not None:
        kind_name = getattr(kind, "name", str(kind)).rsplit(".", 1)[-1].upper()
        if kind_name == "PATH":
            return FlightDescriptor.for_path(*(value.path or ()))
        if kind_name in ("CMD", "COMMAND"):
            return FlightDescriptor.for_command(bytes(value.command or b""))
    raise FlightArgumentTypeError(
        f"cannot use {type(value).__name__} as a flight descriptor; "
        "use FlightDescriptor.for_path(...) or FlightDescriptor.for_command(...)"
    )


def as_location(value: Any) -> Location:
    """A :class:`Location` from ours, pyarrow.flight's, or a URI string."""
    if isinstance(value, Location):
        return value
    if isinstance(value, (str, bytes)):
        return Location(value.decode() if isinstance(value, bytes) else value)
    uri = getattr(value, "uri", None)
    if uri is not None:
        return Location(uri.decode() if isinstance(uri, bytes) else str(uri))
    raise FlightArgumentTypeError(f"cannot use {type(value).__name__} as a location")


def as_action(value: Any, body: bytes | str | None = None) -> Action:
    """An :class:`Action` from ours, pyarrow.flight's, or an action type name (plus body)."""
    if isinstance(value, Action):
        return value
    if isinstance(value, str):
        return Action(value, body.encode() if isinstance(body, str) else bytes(body or b""))
    kind = getattr(value, "type", None)
    if isinstance(kind, str):
        raw = getattr(value, "body", b"")
        return Action(kind, raw.to_pybytes() if hasattr(raw, "to_pybytes") else bytes(raw or b""))
    raise FlightArgumentTypeError(f"cannot use {type(value).__name__} as an action")


def _from_serialized(value: Any, message_type: Any, convert: Any) -> Any:
    """Convert a pyarrow.flight object through its protobuf serialization, if it has one."""
    serialize = getattr(value, "serialize", None)
    if serialize is None:
        return None
    return convert(message_type.FromString(bytes(serialize())))


def as_info(value: Any) -> FlightInfo:
    """A :class:`FlightInfo` from ours or pyarrow.flight's."""
    if isinstance(value, FlightInfo):
        return value
    info = _from_serialized(value, pb.FlightInfo, info_from_proto)
    if info is None:
        raise FlightArgumentTypeError(f"cannot use {type(value).__name__} as a FlightInfo")
    return info  # type: ignore[no-any-return]


def as_endpoint(value: Any) -> FlightEndpoint:
    """A :class:`FlightEndpoint` from ours or pyarrow.flight's."""
    if isinstance(value, FlightEndpoint):
        return value
    endpoint = _from_serialized(value, pb.FlightEndpoint, endpoint_from_proto)
    if endpoint is not None:
        return endpoint  # type: ignore[no-any-return]
    try:
        return FlightEndpoint(
            ticket=as_ticket(value.ticket),
            locations=tuple(as_location(loc) for loc in value.locations),
            expiration_time=getattr(value, "expiration_time", None),
            app_metadata=bytes(getattr(value, "app_metadata", b"") or b""),
        )
    except AttributeError:
        raise FlightArgumentTypeError(
            f"cannot use {type(value).__name__} as a flight endpoint"
        ) from None


# --- protobuf conversion -----------------------------------------------------------------


def read_ipc_schema(data: bytes) -> pa.Schema | None:
    """A schema from IPC-encapsulated schema bytes (FlightInfo.schema); None when empty."""
    if not data:
        return None
    try:
        return pa.ipc.read_schema(pa.py_buffer(data))
    except (pa.ArrowException, ValueError) as exc:
        raise FlightDecodeError(f"invalid schema bytes: {exc}", where="FlightInfo") from exc


def _timestamp(message: Any, name: str) -> dt.datetime | None:
    if not message.HasField(name):
        return None
    stamp = getattr(message, name)
    return dt.datetime.fromtimestamp(stamp.seconds + stamp.nanos / 1e9, tz=dt.timezone.utc)


def descriptor_to_proto(descriptor: FlightDescriptor) -> pb.FlightDescriptor:
    return pb.FlightDescriptor(
        type=cast(Any, int(descriptor.descriptor_type)),
        path=list(descriptor.path),
        cmd=descriptor.command,
    )


def descriptor_from_proto(message: pb.FlightDescriptor) -> FlightDescriptor:
    return FlightDescriptor(
        DescriptorType(message.type) if message.type in (0, 1, 2) else DescriptorType.UNKNOWN,
        path=tuple(message.path),
        command=message.cmd,
    )


def endpoint_to_proto(endpoint: FlightEndpoint) -> pb.FlightEndpoint:
    message = pb.FlightEndpoint(
        ticket=pb.Ticket(ticket=endpoint.ticket.ticket),
        location=[pb.Location(uri=loc.uri) for loc in endpoint.locations],
        app_metadata=endpoint.app_metadata,
    )
    if endpoint.expiration_time is not None:
        message.expiration_time.FromDatetime(endpoint.expiration_time)
    return message


def endpoint_from_proto(message: pb.FlightEndpoint) -> FlightEndpoint:
    return FlightEndpoint(
        ticket=Ticket(message.ticket.ticket),
        locations=tuple(Location(loc.uri) for loc in message.location),
        expiration_time=_timestamp(message, "expiration_time"),
        app_metadata=message.app_metadata,
    )


def info_from_proto(message: pb.FlightInfo) -> FlightInfo:
    return FlightInfo(
        schema=read_ipc_schema(message.schema),
        descriptor=descriptor_from_proto(message.flight_descriptor)
        if message.HasField("flight_descriptor")
        else None,
        endpoints=tuple(endpoint_from_proto(e) for e in message.endpoint),
        total_records=message.total_records,
        total_bytes=message.total_bytes,
        ordered=message.ordered,
        app_metadata=message.app_metadata,
    )


def info_to_proto(info: FlightInfo) -> pb.FlightInfo:
    message = pb.FlightInfo(
        schema=info.schema.serialize().to_pybytes() if info.schema is not None else b"",
        endpoint=[endpoint_to_proto(e) for e in info.endpoints],
        total_records=info.total_records,
        total_bytes=info.total_bytes,
        ordered=info.ordered,
        app_metadata=info.app_metadata,
    )
    if info.descriptor is not None:
        message.flight_descriptor.CopyFrom(descriptor_to_proto(info.descriptor))
    return message


def poll_info_from_proto(message: pb.PollInfo) -> PollInfo:
    return PollInfo(
        info=info_from_proto(message.info) if message.HasField("info") else None,
        descriptor=descriptor_from_proto(message.flight_descriptor)
        if message.HasField("flight_descriptor")
        else None,
        progress=message.progress if message.HasField("progress") else None,
        expiration_time=_timestamp(message, "expiration_time"),
    )


def session_value_to_proto(value: SessionOptionValue) -> pb.SessionOptionValue:
    message = pb.SessionOptionValue()
    if value is None:
        return message
    if isinstance(value, bool):
        message.bool_value = value
    elif isinstance(value, int):
        message.int64_value = value
    elif isinstance(value, float):
        message.double_value = value
    elif isinstance(value, str):
        message.string_value = value
    else:
        message.string_list_value.values.extend(str(v) for v in value)
    return message


def session_value_from_proto(message: pb.SessionOptionValue) -> SessionOptionValue:
    kind = message.WhichOneof("option_value")
    if kind is None:
        return None
    if kind == "string_list_value":
        return list(message.string_list_value.values)
    value: SessionOptionValue = getattr(message, kind)
    return value
