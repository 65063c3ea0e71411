"""Deterministic benchmark datasets, generated with numpy from a fixed seed.

Two tables, both cut into 64k-row record batches (the batch size servers commonly send):

* ``int64``: 8 int64 columns, about 256 MiB at full scale;
* ``mixed``: int64, float64 (one with 5% nulls), string and dictionary columns, about
  200 MiB at full scale.

``scale="quick"`` makes 1/16-size tables for smoke runs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["BATCH_ROWS", "SCALES", "SEED", "build_datasets", "describe"]

BATCH_ROWS = 65_536
SEED = 20_260_517
MIB = 2**20
SCALES: dict[str, dict[str, int]] = {
    "full": {"int64": 256 * MIB, "mixed": 200 * MIB},
    "quick": {"int64": 16 * MIB, "mixed": 12 * MIB},
}
# int64 x 2 + float64 x 2 + string (16 chars on average + int32 offset) + int32 dictionary index.
_MIXED_BYTES_PER_ROW = 8 * 2 + 8 * 2 + (16 + 4) + 4


def _rows_for(target_bytes: int, bytes_per_row: int) -> int:
    """Whole batches only, at least one."""
    batches = max(1, round(target_bytes / bytes_per_row / BATCH_ROWS))
    return batches * BATCH_ROWS


def _in_batches(table: pa.Table) -> pa.Table:
    batches = table.to_batches(max_chunksize=BATCH_ROWS)
    return pa.Table.from_batches(batches, schema=table.schema)


def int64_table(target_bytes: int, seed: int = SEED) -> pa.Table:
    """Eight columns of uniformly random int64."""
    rng = np.random.default_rng(seed)
    rows = _rows_for(target_bytes, 8 * 8)
    columns = {f"i{k}": rng.integers(-(2**62), 2**62, rows, dtype=np.int64) for k in range(8)}
    return _in_batches(pa.table(columns))


def _random_strings(rng: np.random.Generator, rows: int) -> pa.Array:
    """Lower-case ASCII strings of 4 to 28 characters, built straight from numpy buffers."""
    lengths = rng.integers(4, 29, rows, dtype=np.int32)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    chars = rng.integers(ord("a"), ord("z") + 1, int(offsets[-1]), dtype=np.uint8)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(chars))


def mixed_table(target_bytes: int, seed: int = SEED) -> pa.Table:
    """Integers, floats (one nullable), random strings and a 256-entry dictionary column."""
    rng = np.random.default_rng(seed)
    rows = _rows_for(target_bytes, _MIXED_BYTES_PER_ROW)
    categories = pa.array([f"category_{k:03d}" for k in range(256)])
    price = rng.gamma(2.0, 25.0, rows)
    price_missing = rng.random(rows) < 0.05
    columns = {
        "id": pa.array(np.arange(rows, dtype=np.int64)),
        "quantity": pa.array(rng.integers(0, 1_000, rows, dtype=np.int64)),
        "price": pa.array(price, mask=price_missing),
        "score": pa.array(rng.standard_normal(rows)),
        "name": _random_strings(rng, rows),
        "category": pa.DictionaryArray.from_arrays(
            pa.array(rng.integers(0, len(categories), rows, dtype=np.int32)), categories
        ),
    }
    return _in_batches(pa.table(columns))


def build_datasets(scale: str) -> dict[str, pa.Table]:
    """Both datasets at ``scale`` ("full" or "quick"), keyed by their ticket name."""
    sizes = SCALES[scale]
    return {"int64": int64_table(sizes["int64"]), "mixed": mixed_table(sizes["mixed"])}


def describe(table: pa.Table) -> dict[str, int]:
    """Rows, batches and Arrow size of a dataset, for the report."""
    return {
        "rows": table.num_rows,
        "batches": table.column(0).num_chunks,
        "columns": table.num_columns,
        "nbytes": table.nbytes,
    }
