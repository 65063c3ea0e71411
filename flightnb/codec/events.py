"""Events the FlightData decoder produces, one or none per received message."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class SchemaReceived:
    """The stream's schema arrived; every batch that follows has it."""

    schema: pa.Schema
    app_metadata: bytes | None = None


@dataclass(frozen=True)
class DictionaryReceived:
    """A dictionary batch arrived (new, replacement, or delta when ``is_delta``).

    Its values are applied to the record batches that follow it.
    """

    dictionary_id: int
    is_delta: bool
    app_metadata: bytes | None = None


@dataclass(frozen=True)
class BatchReceived:
    """A record batch, with the ``app_metadata`` its FlightData message carried."""

    batch: pa.RecordBatch
    app_metadata: bytes | None = None


@dataclass(frozen=True)
class MetadataReceived:
    """A FlightData message that carried only ``app_metadata`` and no Arrow data."""

    app_metadata: bytes


@dataclass(frozen=True)
class StreamEnded:
    """The stream finished. ``schema`` is None when the server never sent one."""

    schema: pa.Schema | None


Event = SchemaReceived | DictionaryReceived | BatchReceived | MetadataReceived | StreamEnded
"""Any event the decoder emits; match on its class."""
