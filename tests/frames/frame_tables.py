"""Tables that the conversion tests serve and compare against."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

ROWS_PER_BATCH = 500
BATCHES = 10


def mixed_batch(index: int) -> pa.RecordBatch:
    start = index * ROWS_PER_BATCH
    numbers = range(start, start + ROWS_PER_BATCH)
    epoch = dt.datetime(2026, 1, 1)
    return pa.record_batch(
        {
            "i": pa.array([None if k % 7 == 0 else k for k in numbers], pa.int64()),
            "f": pa.array([k / 2 for k in numbers], pa.float64()),
            "b": pa.array([k % 3 == 0 for k in numbers]),
            "t": pa.array([epoch + dt.timedelta(seconds=k) for k in numbers], pa.timestamp("us")),
            "s": pa.array([f"row {k}" for k in numbers]),
        }
    )


def mixed_table() -> pa.Table:
    return pa.Table.from_batches([mixed_batch(i) for i in range(BATCHES)])


def buffer_addresses(column: pa.ChunkedArray) -> list[list[int | None]]:
    """The address of every buffer of every chunk (None for an absent validity bitmap)."""
    return [
        [None if buffer is None else buffer.address for buffer in chunk.buffers()]
        for chunk in column.chunks
    ]
