"""flightnb.ray against roapi (DataFusion's Flight SQL server): planned once, read by Ray.

roapi's tickets name a result it keeps for one DoGet, so each Dataset here is consumed once
(``materialize()``), as the docs advise for such servers.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.flight as flight
import pytest
import ray
from thirdparty_servers import RoapiServer, statement_command

import flightnb
import flightnb.ray as fr

pytestmark = pytest.mark.usefixtures("ray_cluster")


def _endpoints(server: RoapiServer, query: str) -> int:
    """How many endpoints roapi plans for ``query``, asked with pyarrow.flight."""
    descriptor = flight.FlightDescriptor.for_command(statement_command(query))
    with server.flight_client() as client:
        return len(client.get_flight_info(descriptor).endpoints)


def _table(dataset: ray.data.Dataset) -> pa.Table:
    return pa.concat_tables(ray.get(dataset.to_arrow_refs()))


def test_roapi_query_read_by_workers_equals_the_written_table(roapi_server: RoapiServer) -> None:
    query = "SELECT * FROM trips"
    ds = fr.read_flight(roapi_server.location, sql=query).materialize()
    assert ds.num_blocks() == _endpoints(roapi_server, query)
    got = _table(ds).sort_by("trip_id").combine_chunks()
    assert got.equals(roapi_server.tables["trips"].combine_chunks())


def test_roapi_columns_go_into_the_query(roapi_server: RoapiServer) -> None:
    query = "SELECT * FROM trips WHERE fare > 20"
    ds = fr.read_flight(roapi_server.location, sql=query, columns=["trip_id", "fare"])
    got = _table(ds.materialize()).sort_by("trip_id")
    expected = flightnb.read_flight(
        roapi_server.location,
        sql="SELECT trip_id, fare FROM trips WHERE fare > 20 ORDER BY trip_id",
        progress=False,
    )
    assert got.schema.names == ["trip_id", "fare"]
    assert got.combine_chunks().equals(expected.combine_chunks())
