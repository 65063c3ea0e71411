"""The tables the third-party servers serve, built here so that tests can compare against them.

Both servers get the same rows; only the timestamp column's type differs, each server's own
natural type: roapi reads ``timestamp[us]`` from Parquet as is, Deephaven holds times as
``java.time.Instant``, which it sends as ``timestamp[ns, tz=UTC]``.

No float column holds NaN: ``pyarrow.Table.equals`` treats NaN as unequal to itself, and the
tables are compared whole.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

__all__ = ["TRIPS_ROWS", "VENDORS", "trips_table", "zones_table"]

#: Rows of ``trips``: a few batches' worth on every server, small enough to start quickly.
TRIPS_ROWS = 5000

#: Vendor names, with a null, an empty string, non-ASCII text and SQL's quote and wildcards.
VENDORS = ["acme", "Acme", "blue cab", "", "zoë", "o'hare", "50%_off", None]


def trips_table(timestamp_type: pa.DataType | None = None, rows: int = TRIPS_ROWS) -> pa.Table:
    """A taxi-trip-like table of ``rows`` rows with nulls in every column but ``trip_id``.

    Columns: ``trip_id`` int64 (0..rows-1, no nulls), ``passengers`` int64, ``fare`` float64,
    ``vendor`` string, ``paid`` bool, ``pickup`` timestamp (``timestamp_type``, by default
    ``timestamp[us]``), ``day`` date32. Every column but ``trip_id`` is null on a different
    stride of rows, so each row's pattern of nulls differs from its neighbours'.
    """
    timestamp_type = timestamp_type or pa.timestamp("us")
    zone = dt.timezone.utc if getattr(timestamp_type, "tz", None) else None
    start = dt.datetime(2024, 1, 1, 6, 30, tzinfo=zone)
    ids = range(rows)
    return pa.table(
        {
            "trip_id": pa.array(ids, pa.int64()),
            "passengers": pa.array([None if k % 7 == 3 else k % 6 + 1 for k in ids], pa.int64()),
            "fare": pa.array(
                [None if k % 11 == 5 else round(2.5 + (k * 37 % 400) / 8, 3) for k in ids],
                pa.float64(),
            ),
            "vendor": pa.array([VENDORS[k % len(VENDORS)] for k in ids], pa.string()),
            "paid": pa.array([None if k % 5 == 2 else k % 3 != 0 for k in ids], pa.bool_()),
            "pickup": pa.array(
                [
                    None if k % 13 == 4 else start + dt.timedelta(minutes=7 * k, microseconds=k)
                    for k in ids
                ],
                timestamp_type,
            ),
            "day": pa.array(
                [
                    None if k % 17 == 6 else dt.date(2024, 1, 1) + dt.timedelta(days=k % 366)
                    for k in ids
                ],
                pa.date32(),
            ),
        }
    )


def zones_table() -> pa.Table:
    """A small second table: five zones, ``zone_id`` int64 and ``name`` string, no nulls."""
    return pa.table(
        {
            "zone_id": pa.array([1, 2, 3, 4, 5], pa.int64()),
            "name": pa.array(["Airport", "Downtown", "Harbor", "Old Town", "University"]),
        }
    )
