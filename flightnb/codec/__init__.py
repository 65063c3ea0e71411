"""Sans-IO FlightData codec: bytes in, Arrow out, and back. Imports neither grpc nor asyncio."""

from flightnb.codec.decoder import (
    FlightDataDecoder,
    FlightDataLike,
    aiter_batches,
    iter_batches,
    read_table,
    read_table_async,
)
from flightnb.codec.encoder import FlightDataEncoder
from flightnb.codec.events import (
    BatchReceived,
    DictionaryReceived,
    Event,
    MetadataReceived,
    SchemaReceived,
    StreamEnded,
)
from flightnb.codec.wire import RawFlightData, encode_flight_data, parse_flight_data

__all__ = [
    "BatchReceived",
    "DictionaryReceived",
    "Event",
    "FlightDataDecoder",
    "FlightDataEncoder",
    "FlightDataLike",
    "MetadataReceived",
    "RawFlightData",
    "SchemaReceived",
    "StreamEnded",
    "aiter_batches",
    "encode_flight_data",
    "iter_batches",
    "parse_flight_data",
    "read_table",
    "read_table_async",
]
