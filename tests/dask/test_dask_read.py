"""flightnb.dask.read_flight on a real dask.distributed LocalCluster with worker processes."""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator

import pandas as pd
import pytest
from bearer import adbc_connect
from distributed import Client, LocalCluster
from flight_servers import CookieSessionFlightServer, SessionFlightServer, add_split_flight
from named_servers import MySqlNamedServer

import flightnb
import flightnb.dask as fd
from flightnb import workers
from flightnb.errors import FlightArgumentError, FlightError, FlightUnauthorizedError
from flightnb.server import FlightSqlServer
from flightnb.types import FlightEndpoint

TOKEN = "s3cr3t-token-for-graph-test"


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Client]:
    os.environ["FLIGHTNB_TEST_TOKEN"] = TOKEN  # worker processes inherit it
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address="127.0.0.1:0",  # not 8787, which another cluster may hold
        death_timeout=60,
    )
    client = Client(cluster, timeout=60)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        os.environ.pop("FLIGHTNB_TEST_TOKEN", None)


@pytest.fixture(scope="module")
def split_server() -> Iterator[FlightSqlServer]:
    # The token the workers read from FLIGHTNB_TEST_TOKEN; the server refuses any other.
    server = FlightSqlServer(sample_size=3000, batch_size=500, endpoints=4, token=TOKEN)
    try:
        yield server
    finally:
        server.shutdown()


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


def test_one_partition_per_endpoint_read_by_workers(dask_client, split_server):
    frame = fd.read_flight(split_server.location, path="trips", columns=["trip_id", "fare"])
    assert frame.npartitions == 4
    assert list(frame.columns) == ["trip_id", "fare"]
    assert workers.CLIENTS == {}  # planning used no cached client here
    got = _sorted(frame.compute(), "trip_id")
    expected = flightnb.read_flight(split_server.location, path="trips", progress=False)
    expected = expected.select(["trip_id", "fare"]).to_pandas(types_mapper=pd.ArrowDtype)
    pd.testing.assert_frame_equal(got, _sorted(expected, "trip_id"))
    cached = dask_client.run(lambda: len(workers.CLIENTS))
    assert sum(cached.values()) >= 1 and workers.CLIENTS == {}  # the workers read, not us


def test_meta_comes_from_the_schema(split_server):
    before = len(split_server.recent_queries)
    frame = fd.read_flight(
        split_server.location, sql="SELECT * FROM trips", dtype_backend="numpy_nullable"
    )
    assert str(frame.dtypes["trip_id"]) == "Int64"
    assert len(split_server.recent_queries) == before + 1  # planned once, nothing read


def test_pyarrow_flight_servers(dask_client, flight_location):
    frame = fd.read_flight(flight_location, path=["multi", "other_server"])
    expected = flightnb.read_flight(flight_location, path=["multi", "other_server"], progress=False)
    got = frame.compute().reset_index(drop=True)
    assert frame.npartitions == 3
    assert got.shape == (expected.num_rows, expected.num_columns)
    empty = fd.read_flight(flight_location, path="empty")
    assert empty.compute().shape == (0, 2)


def test_failed_endpoint_fails_its_task(dask_client, flight_location):
    import dask.dataframe as dd

    # A partition whose DoGet fails on the worker: the task raises the flightnb error.
    part = fd._Part(
        location=flight_location,
        options=(),
        endpoint=FlightEndpoint(flightnb.Ticket(b"error/unavailable")),
    )
    meta = pd.DataFrame({"n": pd.Series([], dtype="int64")})
    with pytest.raises(FlightError):
        dd.from_map(fd.read_partition, [part], meta=meta).compute()


def test_token_env_reaches_workers_not_the_graph(dask_client, split_server):
    frame = fd.read_flight(split_server.location, path="trips", token_env="FLIGHTNB_TEST_TOKEN")
    graph = dict(frame.__dask_graph__())
    assert TOKEN.encode() not in pickle.dumps(graph)
    from distributed.protocol import serialize  # what actually goes to the scheduler

    assert TOKEN.encode() not in pickle.dumps(serialize(graph))
    assert len(frame.compute()) == 3000
    with pytest.raises(FlightArgumentError):
        fd.read_flight(split_server.location, path="trips", token=TOKEN)


def test_partition_on_splits_a_single_endpoint_query(dask_client, split_server):
    query = "SELECT * FROM trips WHERE duration_s > ?"
    frame = fd.read_flight(
        split_server.location, sql=query, parameters=[300], partition_on="trip_id", npartitions=3
    )
    assert frame.npartitions == 3
    got = _sorted(frame.compute(), "trip_id")
    sent = [q for q, _ in split_server.recent_queries[-3:]]
    assert all('"trip_id" >= ?' in q for q in sent)
    expected = flightnb.read_flight(
        split_server.location, sql=query, parameters=[300], progress=False
    )
    assert got["trip_id"].tolist() == sorted(expected.column("trip_id").to_pylist())


def test_partition_on_needs_sql(split_server):
    with pytest.raises(FlightArgumentError):
        fd.read_flight(split_server.location, path="trips", partition_on="trip_id", npartitions=2)


def test_from_adbc_partition(split_server):
    with adbc_connect(split_server, autocommit=True) as conn, conn.cursor() as cursor:
        partitions, _ = cursor.adbc_execute_partitions("SELECT * FROM trips WHERE trip_id < 100")
        endpoints = [FlightEndpoint.from_adbc_partition(p) for p in partitions]
        assert len(endpoints) == 1
        with flightnb.FlightClient(split_server.location) as client:
            table = client.do_get(endpoints[0].ticket).read_all()
    assert table.num_rows == 99
    with pytest.raises(flightnb.FlightDecodeError):
        FlightEndpoint.from_adbc_partition(b"\xff\xffnot a flight info")


class _NoBindingServer(FlightSqlServer):
    """Answers UNIMPLEMENTED to every binding of parameters, as roapi does."""

    def do_put_prepared_statement_query(self, context, command, reader):
        from flightnb.server.errors import unsupported

        raise unsupported("do_put_prepared_statement_query not implemented")


@pytest.fixture(scope="module")
def no_binding_server() -> Iterator[FlightSqlServer]:
    server = _NoBindingServer(sample_size=3000, batch_size=500)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.mark.parametrize("column", ["trip_id", "started_at", "fare", "distance_km"])
def test_partition_on_writes_bounds_as_literals_without_binding(
    dask_client, no_binding_server, column
):
    query = "SELECT * FROM trips"
    frame = fd.read_flight(
        no_binding_server.location, sql=query, partition_on=column, npartitions=3
    )
    assert frame.npartitions == 3
    got = _sorted(frame.compute(), "trip_id")
    sent = no_binding_server.recent_queries[-3:]
    assert all("?" not in q and parameters == [None] for q, parameters in sent)
    expected = flightnb.read_flight(no_binding_server.location, sql=query, progress=False)
    expected = expected.to_pandas(types_mapper=pd.ArrowDtype)
    pd.testing.assert_frame_equal(got, _sorted(expected, "trip_id"))


@pytest.mark.parametrize("split", [True, False])
def test_the_querys_own_parameters_need_binding(dask_client, no_binding_server, split):
    # Split, the client fails while planning; whole, a worker fails and its error travels.
    from flightnb.errors import FlightCapabilityError

    options = {"partition_on": "trip_id", "npartitions": 2} if split else {}
    refused = r"^this server does not support parameter binding"
    with pytest.raises(FlightCapabilityError, match=refused):
        fd.read_flight(
            no_binding_server.location,
            sql="SELECT * FROM trips WHERE fare > ?",
            parameters=[3.0],
            **options,
        ).compute()


def test_headers_given_as_a_dict_reach_the_workers(dask_client, split_server):
    # Deephaven users pass headers={...}; the workers' client cache must take a dict.
    frame = fd.read_flight(
        split_server.location, path="trips", headers={"x-flightnb-test": "1"}, columns=["trip_id"]
    )
    assert len(frame.compute()) == 3000


class _NoPreparedStatementServer(FlightSqlServer):
    """Has no prepared statements, so nothing to bind parameters to."""

    def create_prepared_statement(self, context, request):
        from flightnb.server.errors import unsupported

        raise unsupported("CreatePreparedStatement is not implemented")


def test_partition_on_without_prepared_statements(dask_client):
    server = _NoPreparedStatementServer(sample_size=500, batch_size=100)
    try:
        frame = fd.read_flight(
            server.location, sql="SELECT * FROM trips", partition_on="trip_id", npartitions=2
        )
        got = _sorted(frame.compute(), "trip_id")
        assert all("?" not in q for q, _ in server.recent_queries[-2:])
        expected = flightnb.read_flight(server.location, sql="SELECT * FROM trips", progress=False)
        expected = expected.to_pandas(types_mapper=pd.ArrowDtype)
        pd.testing.assert_frame_equal(got, _sorted(expected, "trip_id"))
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def session_server() -> Iterator[SessionFlightServer]:
    # Opens a session for whoever logs in with the workers' token, and reads the tickets it
    # planned in that session only, as Deephaven reads a statement's.
    server = SessionFlightServer(login=f"Bearer {TOKEN}")
    add_split_flight(server, rows=100)
    try:
        yield server
    finally:
        server.shutdown()


def test_tickets_of_the_planning_session_are_planned_again_on_the_workers(
    dask_client, session_server, caplog
):
    # The planning client's tickets, read in another session: refused.
    with flightnb.FlightClient(session_server.location, token=TOKEN) as planner:
        info = planner.get_flight_info(flightnb.FlightDescriptor.for_path("split"))
        with flightnb.FlightClient(session_server.location, token=TOKEN) as other:
            with pytest.raises(FlightUnauthorizedError, match="original session"):
                other.do_get(info.endpoints[0].ticket).read_all()
    with caplog.at_level(logging.WARNING, logger="flightnb.dask"):
        frame = fd.read_flight(
            session_server.location, path="split", token_env="FLIGHTNB_TEST_TOKEN"
        )
    assert frame.npartitions == 3  # each worker reads its own endpoint of its own plan
    [record] = [r for r in caplog.records if r.name == "flightnb.dask"]
    assert "session" in record.getMessage() and "\n" not in record.getMessage()
    graph = pickle.dumps(dict(frame.__dask_graph__()))
    assert TOKEN.encode() not in graph
    assert not any(token.encode() in graph for token in session_server.sessions._sessions)
    got = frame.compute().sort_values("n").reset_index(drop=True)
    assert got["n"].tolist() == list(range(300))


def test_a_replanned_flight_must_keep_its_endpoints():
    descriptor = flightnb.FlightDescriptor.for_path("split")
    endpoints = tuple(FlightEndpoint(flightnb.Ticket(b"t%d" % i)) for i in range(3))
    info = flightnb.FlightInfo(None, descriptor, endpoints)
    assert workers.Replan(descriptor, 2, 3)(info) == [2]
    with pytest.raises(FlightError, match=r"3 endpoint.*2 when it was planned"):
        workers.Replan(descriptor, 0, 2)(info)


def test_a_ticket_refused_to_a_workers_session_is_planned_again_there(dask_client, caplog):
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
        with caplog.at_level(logging.WARNING, logger="flightnb.dask"):
            frame = fd.read_flight(server.location, path="split")
        assert not [r for r in caplog.records if r.name == "flightnb.dask"]  # nothing planned
        assert frame.npartitions == 3
        got = frame.compute().sort_values("n").reset_index(drop=True)
        assert got["n"].tolist() == expected
    finally:
        server.shutdown()


def test_a_client_is_refused_as_a_type_error(split_server):
    from flightnb.errors import FlightArgumentTypeError

    with flightnb.FlightClient(split_server.location) as client:
        with pytest.raises(FlightArgumentTypeError, match="needs a location"):
            fd.read_flight(client, path="trips")


@pytest.fixture(scope="module")
def mysql_named_server() -> Iterator[FlightSqlServer]:
    server = MySqlNamedServer(sample_size=500, batch_size=100, token=TOKEN)
    try:
        yield server
    finally:
        server.shutdown()


def test_the_sql_dask_writes_is_quoted_in_the_servers_dialect(dask_client, mysql_named_server):
    # A server calling itself MySQL reads "trip_id" as a string: the names take backticks.
    frame = fd.read_flight(
        mysql_named_server.location,
        sql="SELECT * FROM trips",
        columns=["trip_id", "fare"],
        partition_on="trip_id",
        npartitions=2,
        token_env="FLIGHTNB_TEST_TOKEN",
    )
    got = _sorted(frame.compute(), "trip_id")
    written = [q for q, _ in mysql_named_server.recent_queries if "_flightnb_scan" in q]
    assert written and all("`trip_id`" in q and '"' not in q for q in written)
    assert got["trip_id"].tolist() == list(range(1, 501))


def test_duckdb_gets_double_quoted_names(dask_client, split_server):
    frame = fd.read_flight(
        split_server.location,
        sql="SELECT * FROM trips",
        columns=["trip_id"],
        token_env="FLIGHTNB_TEST_TOKEN",
    )
    assert len(frame.compute()) == 3000
    assert any(
        q.startswith('SELECT "trip_id" FROM (SELECT * FROM trips)')
        for q, _ in split_server.recent_queries
    )


def test_range_queries_quote_names_and_write_values_in_the_dialect():
    import pyarrow as pa

    from flightnb.protocol.dialects import dialect_for

    bounds = [pa.scalar(0), pa.scalar(5), pa.scalar(9)]
    base = "SELECT * FROM (SELECT * FROM t) AS "
    bound = fd._range_queries("SELECT * FROM t", None, "id", bounds)
    assert bound[1] == (
        base + '"_flightnb_scan" WHERE "id" >= ? AND "id" <= ?',
        [bounds[1], bounds[2]],
    )
    mysql = fd._range_queries(
        "SELECT * FROM t", None, "id", bounds, dialect_for("MySQL"), bind=False
    )
    assert mysql[1] == (base + "`_flightnb_scan` WHERE `id` >= 5 AND `id` <= 9", None)
