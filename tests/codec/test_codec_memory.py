"""Where decoded data lives: the system allocator by default, or the pool the caller gives."""

from __future__ import annotations

import pyarrow as pa

from flightnb.codec import FlightDataDecoder, FlightDataEncoder
from flightnb.codec.events import BatchReceived

TABLE = pa.table({"x": pa.array(range(200_000), pa.int64())})


def _decode(decoder: FlightDataDecoder) -> list[pa.RecordBatch]:
    encoder = FlightDataEncoder(TABLE.schema)
    batches = []
    for message in [encoder.schema_message(), *encoder.encode_table(TABLE)]:
        batches += [e.batch for e in decoder.receive(message) if isinstance(e, BatchReceived)]
    return batches


def test_bodies_go_to_the_system_pool_by_default() -> None:
    pool = pa.system_memory_pool()
    before = pool.bytes_allocated()
    batches = _decode(FlightDataDecoder())
    assert pool.bytes_allocated() - before >= TABLE.nbytes
    assert pa.Table.from_batches(batches).equals(TABLE)


def test_a_given_pool_is_used() -> None:
    pool = pa.proxy_memory_pool(pa.system_memory_pool())
    batches = _decode(FlightDataDecoder(memory_pool=pool))
    assert pool.bytes_allocated() >= TABLE.nbytes
    del batches
    assert pool.bytes_allocated() == 0
