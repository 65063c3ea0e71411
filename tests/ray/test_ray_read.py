"""flightnb.ray on a real local Ray instance (2 CPUs, worker processes, loopback only)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pyarrow as pa
import pyarrow.flight as paflight
import pytest
import ray
import ray.data
from flight_servers import CookieSessionFlightServer, SessionFlightServer, add_split_flight
from named_servers import MySqlNamedServer

import flightnb
import flightnb.ray as fr
from flightnb import workers
from flightnb.errors import (
    FlightArgumentError,
    FlightArgumentTypeError,
    FlightUnauthorizedError,
    FlightUnavailableError,
)
from flightnb.server import FlightSqlServer

pytestmark = pytest.mark.usefixtures("ray_cluster")


@pytest.fixture(scope="module")
def split_server() -> Iterator[FlightSqlServer]:
    server = FlightSqlServer(sample_size=3000, batch_size=500, endpoints=4)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> list[fr.FlightDatasource]:
    """The datasources read_flight hands to Ray (Ray's own read_datasource still runs)."""
    seen: list[fr.FlightDatasource] = []
    original = ray.data.read_datasource

    def capture(datasource: Any, **options: Any) -> Any:
        seen.append(datasource)
        return original(datasource, **options)

    monkeypatch.setattr(ray.data, "read_datasource", capture)
    return seen


def _table(dataset: ray.data.Dataset) -> pa.Table:
    return pa.concat_tables(ray.get(dataset.to_arrow_refs()))


def _sorted(table: pa.Table, key: str) -> pa.Table:
    return table.sort_by(key).combine_chunks()


def _cached_here(location: str) -> list[object]:
    """This process's cached worker clients for ``location`` (Dask tests may cache others)."""
    return [client for key, client in workers.CLIENTS.items() if key[0] == location]


def test_one_block_per_endpoint_equal_to_the_eager_read(split_server, planned):
    ds = fr.read_flight(split_server.location, path="trips", columns=["trip_id", "fare"])
    tasks = planned[0].get_read_tasks(200)  # Ray's guess does not multiply the endpoints
    assert len(tasks) == 4
    assert all(t.schema == pa.schema(planned[0].schema) for t in tasks)
    assert planned[0].schema.names == ["trip_id", "fare"]
    assert all(t.metadata.size_bytes and t.metadata.num_rows is None for t in tasks)
    materialized = ds.materialize()
    assert materialized.num_blocks() == 4
    expected = flightnb.read_flight(split_server.location, path="trips", progress=False)
    expected = expected.select(["trip_id", "fare"])
    assert _sorted(_table(materialized), "trip_id").equals(_sorted(expected, "trip_id"))
    assert _cached_here(split_server.location) == []  # the workers read, not this process


def test_sql_is_planned_once_on_the_driver(split_server, planned):
    names = split_server_columns(split_server)
    before = len(split_server.recent_queries)
    ds = fr.read_flight(split_server.location, sql="SELECT * FROM trips WHERE fare > 5")
    assert len(split_server.recent_queries) == before + 1
    assert ds.schema().names == names
    assert len(planned[0].get_read_tasks(2)) == 1  # the server answers a query in one endpoint
    got = _table(ds.materialize())
    assert len(split_server.recent_queries) == before + 1  # the workers only redeemed tickets
    expected = flightnb.read_flight(
        split_server.location, sql="SELECT * FROM trips WHERE fare > 5", progress=False
    )
    assert _sorted(got, "trip_id").equals(_sorted(expected, "trip_id"))


def split_server_columns(server: FlightSqlServer) -> list[str]:
    return flightnb.read_flight(server.location, sql="SELECT * FROM trips LIMIT 0").schema.names


def test_parameterized_query_and_columns(split_server):
    ds = fr.read_flight(
        split_server.location,
        sql="SELECT * FROM trips WHERE duration_s > ?",
        parameters=[600],
        columns=["trip_id"],
    )
    got = _table(ds.materialize())
    expected = flightnb.read_flight(
        split_server.location,
        sql="SELECT trip_id FROM trips WHERE duration_s > ?",
        parameters=[600],
        progress=False,
    )
    assert got.schema.names == ["trip_id"]
    assert _sorted(got, "trip_id").equals(_sorted(expected, "trip_id"))


def test_override_num_blocks_merges_endpoints(split_server, planned):
    ds = fr.read_flight(split_server.location, path="trips", override_num_blocks=2)
    tasks = planned[0].get_read_tasks(2)
    assert [len(t.read_fn.parts) for t in tasks] == [2, 2]
    materialized = ds.materialize()
    assert materialized.num_blocks() == 2
    assert materialized.count() == 3000
    fr.read_flight(split_server.location, path="trips", override_num_blocks=3)
    assert [len(t.read_fn.parts) for t in planned[1].get_read_tasks(2)] == [2, 1, 1]
    with pytest.raises(FlightArgumentError):
        fr.read_flight(split_server.location, path="trips", override_num_blocks=0)


def test_single_endpoint_counts_go_into_the_metadata(split_server, planned):
    with FlightSqlServer(sample_size=700, batch_size=100) as single:
        fr.read_flight(single.location, path="trips")
        (task,) = planned[0].get_read_tasks(2)
        assert task.metadata.num_rows == 700
        assert planned[0].estimate_inmemory_data_size() == task.metadata.size_bytes > 0


def test_pyarrow_flight_servers(flight_location, planned):
    ds = fr.read_flight(flight_location, path=["multi", "other_server"])
    expected = flightnb.read_flight(flight_location, path=["multi", "other_server"], progress=False)
    assert len(planned[0].get_read_tasks(2)) == 3
    got = _table(ds.materialize())
    assert got.num_rows == expected.num_rows and got.schema == expected.schema
    empty = fr.read_flight(flight_location, path="empty").materialize()
    assert empty.count() == 0 and len(empty.schema().names) == 2
    by_ticket = _table(fr.read_flight(flight_location, ticket=b"numbers").materialize())
    assert by_ticket.equals(flightnb.read_flight(flight_location, ticket=b"numbers"))
    with flightnb.FlightClient(flight_location) as client:
        with pytest.raises(FlightArgumentTypeError, match="location"):
            fr.read_flight(client, path="numbers")


def test_a_server_dying_mid_read_raises_the_flightnb_error(flight_server, tmp_path):
    from faults.fault_server import FaultServerProcess, Kill, Send

    from flightnb.codec import FlightDataEncoder

    schema = pa.schema([("n", pa.int64())])
    encoder = FlightDataEncoder(schema)
    # 2 MiB: more than gRPC lets the server write ahead of its reader, so the worker has
    # received batches when the process dies, and cannot fail over without duplicating rows.
    sent = pa.table({"n": pa.array(range(2**18), pa.int64())})
    messages = [encoder.schema_message(), *encoder.encode_table(sent, max_chunksize=2**14)]
    steps = [*(Send(m) for m in messages), Kill()]
    # Should the worker fail over anyway, to the planning server, that ticket fails there too.
    ticket = b"error/unavailable"
    with FaultServerProcess({ticket: steps}, tmp_path) as dying:
        flight_server.add_table("ray/numbers", pa.table({"n": pa.array(range(10), pa.int64())}))
        flight_server.add_flight(
            "ray/dies",
            [
                flightnb_endpoint(b"ray/numbers", ()),
                flightnb_endpoint(ticket, (dying.location,)),
            ],
            schema=schema,
        )
        ds = fr.read_flight(flight_server.location, path="ray/dies")
        with pytest.raises(FlightUnavailableError) as caught:
            ds.materialize()
    # What the user sees is flightnb's error type; Ray's task error rides along with it.
    assert isinstance(caught.value, flightnb.FlightError)
    assert isinstance(caught.value, ray.exceptions.RayTaskError)


def flightnb_endpoint(ticket: bytes, locations: tuple[str, ...]) -> Any:
    from flight_servers import Endpoint

    return Endpoint(ticket, locations)


class _GatedServer(paflight.FlightServerBase):
    """Four endpoints; ``part/0`` sends nothing until the other three were sent in full."""

    SCHEMA = pa.schema([("endpoint", pa.int64()), ("i", pa.int64())])

    def __init__(self) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self.location = f"grpc://127.0.0.1:{self.port}"
        self.gate = threading.Event()
        self._sent: set[int] = set()
        self._lock = threading.Lock()

    def get_flight_info(self, context: Any, descriptor: Any) -> paflight.FlightInfo:
        endpoints = [paflight.FlightEndpoint(f"part/{k}".encode(), []) for k in range(4)]
        return paflight.FlightInfo(self.SCHEMA, descriptor, endpoints, -1, -1)

    def do_get(self, context: Any, ticket: paflight.Ticket) -> Any:
        k = int(ticket.ticket.decode().split("/")[1])
        table = pa.table({"endpoint": [k] * 100, "i": range(k * 100, (k + 1) * 100)})
        return paflight.GeneratorStream(self.SCHEMA, self._send(k, table.cast(self.SCHEMA)))

    def _send(self, k: int, table: pa.Table) -> Iterator[pa.RecordBatch]:
        # Bounded, so that a reader that waits for this endpoint first fails instead of hanging.
        if k == 0 and not self.gate.wait(120):
            raise paflight.FlightUnavailableError("the other endpoints were never read")
        yield from table.to_batches()
        with self._lock:  # the stream is sent: gRPC asked for what comes after its last batch
            self._sent.add(k)
            if self._sent == {1, 2, 3}:
                self.gate.set()


def test_a_slow_endpoint_does_not_block_the_others():
    with _GatedServer() as server:
        ds = fr.read_flight(server.location, path="gated")
        got = _table(ds.materialize())
        assert server.gate.is_set()
        assert sorted(got.column("i").to_pylist()) == list(range(400))


def test_token_env_reaches_the_workers_not_what_ray_ships(ray_cluster, auth_flight_server, planned):
    token = ray_cluster.token.encode()
    ds = fr.read_flight(
        auth_flight_server.location, path="numbers", token_env=ray_cluster.token_env
    )
    expected = flightnb.read_flight(
        auth_flight_server.location, path="numbers", token=ray_cluster.token, progress=False
    )
    assert ds.materialize().count() == expected.num_rows  # the workers sent the token
    assert token not in cloudpickle.dumps(planned[0])
    for task in planned[0].get_read_tasks(2):
        assert token not in cloudpickle.dumps(task)
    assert token not in cloudpickle.dumps(ds)
    with pytest.raises(FlightArgumentError):
        fr.read_flight(auth_flight_server.location, path="numbers", token=ray_cluster.token)
    # The writer: uploads from the workers with their token, none in what Ray ships.
    sink = fr.FlightDatasink(
        auth_flight_server.location, path="ray/secret_upload", token_env=ray_cluster.token_env
    )
    assert token not in cloudpickle.dumps(sink)
    rows = ray.data.from_arrow(pa.table({"k": pa.array(range(10), pa.int64())}))
    rows.write_datasink(sink)
    assert sink.summary is not None and sink.summary.rows == 10
    assert auth_flight_server.table("ray/secret_upload").num_rows == 10
    assert not _files_holding(ray_cluster.session_dir, token)


def _files_holding(directory: Path, needle: bytes) -> list[Path]:
    found = []
    for root, _, names in os.walk(directory):
        for name in names:
            path = Path(root, name)
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(path)
    return found


def test_write_back_one_upload_per_block(split_server):
    source = ray.data.from_arrow(
        [pa.table({"k": pa.array(range(i * 50, (i + 1) * 50), pa.int64())}) for i in range(3)]
    )
    summary = fr.write_flight(source, split_server.location, path="ray_upload?mode=create_append")
    assert summary.rows == 150 and summary.rows_written == 150
    back = flightnb.read_flight(split_server.location, sql="SELECT k FROM ray_upload")
    assert sorted(back.column("k").to_pylist()) == list(range(150))
    # The uploads went out from the workers: this process has no cached client for them.
    assert _cached_here(split_server.location) == []


def test_ray_runs_on_loopback():
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}


def test_tickets_of_the_planning_session_are_planned_again_on_the_workers(
    ray_cluster, planned, caplog
):
    # Opens a session for whoever logs in with the workers' token, and reads the tickets it
    # planned in that session only, as Deephaven reads a statement's.
    server = SessionFlightServer(login=f"Bearer {ray_cluster.token}")
    try:
        expected = add_split_flight(server, rows=50)
        with flightnb.FlightClient(server.location, token=ray_cluster.token) as planner:
            info = planner.get_flight_info(flightnb.FlightDescriptor.for_path("split"))
            with flightnb.FlightClient(server.location, token=ray_cluster.token) as other:
                with pytest.raises(FlightUnauthorizedError, match="original session"):
                    other.do_get(info.endpoints[0].ticket).read_all()
        with caplog.at_level(logging.WARNING, logger="flightnb.ray"):
            ds = fr.read_flight(server.location, path="split", token_env=ray_cluster.token_env)
        [record] = [r for r in caplog.records if r.name == "flightnb.ray"]
        assert "session" in record.getMessage() and "\n" not in record.getMessage()
        shipped = cloudpickle.dumps(planned[0].get_read_tasks(2))
        assert not any(token.encode() in shipped for token in server.sessions._sessions)
        assert ray_cluster.token.encode() not in shipped
        got = _sorted(_table(ds), "n")
        assert got.column("n").to_pylist() == expected
        assert len(planned[0].get_read_tasks(2)) == 3  # one task per endpoint still
    finally:
        server.shutdown()


def test_a_ticket_refused_to_a_workers_session_is_planned_again_there(planned, caplog):
    # Sessions named by a cookie: the planning client is issued no credential, so the plan
    # splits by endpoint, and each worker learns of the session from the refusal.
    server = CookieSessionFlightServer()
    try:
        expected = add_split_flight(server, rows=10)
        with flightnb.FlightClient(server.location) as planner:
            info = planner.get_flight_info(flightnb.FlightDescriptor.for_path("split"))
            with flightnb.FlightClient(server.location) as other:
                other.list_actions()  # its own session
                with pytest.raises(FlightUnauthorizedError, match="original session"):
                    other.do_get(info.endpoints[0].ticket).read_all()
        with caplog.at_level(logging.WARNING, logger="flightnb.ray"):
            ds = fr.read_flight(server.location, path="split")
        assert not [r for r in caplog.records if r.name == "flightnb.ray"]  # nothing planned
        assert len(planned[0].get_read_tasks(2)) == 3
        got = _sorted(_table(ds), "n")
        assert got.column("n").to_pylist() == expected
    finally:
        server.shutdown()


def test_columns_pushed_into_a_query_are_quoted_in_the_servers_dialect():
    # A server calling itself MySQL reads "trip_id" as a string: the names take backticks.
    server = MySqlNamedServer(sample_size=300, batch_size=100)
    try:
        ds = fr.read_flight(server.location, sql="SELECT * FROM trips", columns=["trip_id"])
        got = _table(ds.materialize())
        sent = [q for q, _ in server.recent_queries if "_flightnb_scan" in q]
    finally:
        server.shutdown()
    assert sent and all(q.startswith("SELECT `trip_id` FROM") for q in sent)
    assert sorted(got.column("trip_id").to_pylist()) == list(range(1, 301))
