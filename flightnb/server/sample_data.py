"""Sample tables for the demo server, generated locally from a fixed seed.

``stations`` is a small dimension table, ``trips`` a large fact table that exercises the Arrow
types clients must handle: timestamps with a time zone, decimals, strings with NULLs, a
dictionary-encoded category (a DuckDB ENUM), lists, structs and booleans. The same ``size`` and
``seed`` always give the same rows.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["DEFAULT_SIZE", "load_sample_data", "stations_table", "trips_table"]

DEFAULT_SIZE = 1_000_000
"""Rows of ``trips`` in the demo database."""

_CITIES = ["Amsterdam", "Berlin", "Copenhagen", "Dublin", "Lisbon", "Oslo", "Vienna", "Zurich"]
_STREETS = ["Canal", "Harbour", "Market", "Mill", "Park", "River", "Station", "University"]
_RIDER_TYPES = ["member", "casual", "staff"]
_BIKE_TYPES = ["classic", "electric", "cargo"]
_TAGS = ["commute", "leisure", "rain", "night", "weekend", "tourist", "group", "long"]
_NOTES = [
    "flat tyre reported",
    "dock was full",
    "helmet left behind",
    "great ride",
    "brakes squeak",
    "app crashed",
    "seat too low",
]
_EPOCH_2024_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z in microseconds
_YEAR_US = 366 * 24 * 3600 * 1_000_000

_DDL = """
CREATE TYPE rider_type AS ENUM ('member', 'casual', 'staff');
CREATE TABLE stations (
    station_id INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    city VARCHAR NOT NULL,
    capacity SMALLINT NOT NULL,
    location STRUCT(lat DOUBLE, lon DOUBLE),
    opened_on DATE
);
CREATE TABLE trips (
    trip_id BIGINT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ,
    start_station_id INTEGER NOT NULL REFERENCES stations (station_id),
    end_station_id INTEGER NOT NULL REFERENCES stations (station_id),
    rider_type rider_type NOT NULL,
    bike_type VARCHAR NOT NULL,
    duration_s INTEGER,
    distance_km DOUBLE,
    fare DECIMAL(8, 2) NOT NULL,
    tags VARCHAR[],
    route STRUCT(from_lat DOUBLE, from_lon DOUBLE, to_lat DOUBLE, to_lon DOUBLE),
    is_round_trip BOOLEAN NOT NULL,
    note VARCHAR
);
COMMENT ON TABLE trips IS 'Generated bike-share trips (flightnb sample data)';
COMMENT ON COLUMN trips.fare IS 'Price paid in EUR';
"""


def stations_table(count: int = 200, *, seed: int = 7) -> pa.Table:
    """The ``stations`` rows as Arrow (types are refined by the DuckDB table)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, count + 1, dtype=np.int32)
    city_index = rng.integers(0, len(_CITIES), count)
    names = [
        f"{_STREETS[rng.integers(0, len(_STREETS))]} {kind} {i}"
        for i, kind in zip(
            ids, rng.choice(["Square", "Street", "Gate", "Bridge"], count), strict=True
        )
    ]
    lat = 48.0 + 8.0 * rng.random(count)
    lon = 4.0 + 12.0 * rng.random(count)
    opened = rng.integers(0, 3650, count).astype("timedelta64[D]") + np.datetime64("2012-01-01")
    return pa.table(
        {
            "station_id": ids,
            "name": names,
            "city": pa.array([_CITIES[i] for i in city_index]),
            "capacity": rng.integers(8, 60, count).astype(np.int16),
            "location": pa.StructArray.from_arrays([lat, lon], names=["lat", "lon"]),
            "opened_on": pa.array(opened, type=pa.date32()),
        }
    )


def trips_table(size: int = DEFAULT_SIZE, *, stations: int = 200, seed: int = 42) -> pa.Table:
    """The ``trips`` rows as Arrow; ``fare`` still in cents, cast by :func:`load_sample_data`."""
    rng = np.random.default_rng(seed)
    start = rng.integers(1, stations + 1, size).astype(np.int32)
    round_trip = rng.random(size) < 0.08
    end = np.where(round_trip, start, rng.integers(1, stations + 1, size)).astype(np.int32)
    started = _EPOCH_2024_US + rng.integers(0, _YEAR_US, size)
    duration = rng.gamma(2.0, 600.0, size).astype(np.int32) + 60
    ongoing = rng.random(size) < 0.005
    ended = pa.array(started + duration.astype(np.int64) * 1_000_000, mask=ongoing)
    distance = pa.array(
        np.round(duration / 240.0 * rng.uniform(0.5, 1.5, size), 3), mask=rng.random(size) < 0.05
    )
    tag_counts = rng.integers(0, 4, size)
    offsets = np.concatenate([[0], np.cumsum(tag_counts)]).astype(np.int32)
    # take() keeps one array; pa.array() of a large numpy string array returns chunks.
    tag_values = pa.array(_TAGS).take(pa.array(rng.integers(0, len(_TAGS), int(offsets[-1]))))
    tags = pa.ListArray.from_arrays(
        pa.array(offsets), tag_values, mask=pa.array(rng.random(size) < 0.02)
    )
    coordinates = [48.0 + 8.0 * rng.random(size), 4.0 + 12.0 * rng.random(size)]
    route = pa.StructArray.from_arrays(
        [
            coordinates[0],
            coordinates[1],
            coordinates[0] + rng.normal(0, 0.02, size),
            coordinates[1] + rng.normal(0, 0.02, size),
        ],
        names=["from_lat", "from_lon", "to_lat", "to_lon"],
    )
    has_note = rng.random(size) < 0.03
    notes = pa.array(np.asarray(_NOTES)[rng.integers(0, len(_NOTES), size)], mask=~has_note)
    utc = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "trip_id": np.arange(1, size + 1, dtype=np.int64),
            "started_at": pa.array(started, type=pa.int64()).cast(utc),
            "ended_at": ended.cast(pa.int64()).cast(utc),
            "start_station_id": start,
            "end_station_id": end,
            "rider_type": pa.DictionaryArray.from_arrays(
                rng.choice(3, size, p=[0.6, 0.35, 0.05]).astype(np.int8), _RIDER_TYPES
            ),
            "bike_type": pa.array(np.asarray(_BIKE_TYPES)[rng.integers(0, 3, size)]),
            "duration_s": pa.array(duration, mask=ongoing),
            "distance_km": distance,
            "fare_cents": 100 + (duration // 60) * 15 + rng.integers(0, 50, size),
            "tags": tags,
            "route": route,
            "is_round_trip": round_trip,
            "note": notes,
        }
    )


def load_sample_data(
    con: duckdb.DuckDBPyConnection,
    size: int = DEFAULT_SIZE,
    *,
    stations: int = 200,
    seed: int = 42,
) -> None:
    """Create and fill ``stations`` and ``trips`` in the connection's default schema.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Where to create the tables; they must not exist yet.
    size : int, default 1_000_000
        Rows of ``trips``. Tests use a few thousand for speed.
    stations : int, default 200
        Rows of ``stations``.
    seed : int, default 42
        Seed of the generator; the same seed gives the same rows.

    Examples
    --------
    >>> con = duckdb.connect()
    >>> load_sample_data(con, size=1000)
    >>> con.execute("SELECT count(*) FROM trips").fetchone()
    (1000,)
    """
    con.execute(_DDL)
    stations_rows = stations_table(stations, seed=seed + 1)
    trips_rows = trips_table(size, stations=stations, seed=seed)
    con.register("_flightnb_stations", stations_rows)
    con.register("_flightnb_trips", trips_rows)
    try:
        con.execute("INSERT INTO stations SELECT * FROM _flightnb_stations")
        con.execute(
            """
            INSERT INTO trips
            SELECT trip_id, started_at, ended_at, start_station_id, end_station_id,
                   rider_type::VARCHAR::rider_type, bike_type, duration_s, distance_km,
                   (fare_cents / 100)::DECIMAL(8, 2), tags, route, is_round_trip, note
            FROM _flightnb_trips
            """
        )
    finally:
        con.unregister("_flightnb_stations")
        con.unregister("_flightnb_trips")
