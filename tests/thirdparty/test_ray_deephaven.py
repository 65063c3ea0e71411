"""flightnb.ray against Deephaven, which opens a session per client and reads a statement's
tickets only in the session that planned it: each worker has a session of its own.

Ray's workers were started before Deephaven's token was known, so each worker is given the
token as a picklable callable (called on the worker) rather than from its environment.
"""

from __future__ import annotations

import functools
import logging

import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from thirdparty_servers import DeephavenServer

pytest.importorskip("ray.data")

import ray

import flightnb.ray as fr

pytestmark = pytest.mark.usefixtures("ray_cluster")


def _table(dataset: ray.data.Dataset) -> pa.Table:
    return pa.concat_tables(ray.get(dataset.to_arrow_refs()))


def test_query_runs_in_one_workers_session(
    deephaven_server: DeephavenServer, caplog: pytest.LogCaptureFixture
) -> None:
    query = "SELECT trip_id, vendor, fare FROM trips WHERE fare > 20"
    token = functools.partial(str, deephaven_server.token)
    with caplog.at_level(logging.WARNING, logger="flightnb.ray"):
        ds = fr.read_flight(deephaven_server.location, sql=query, token=token)
    [record] = [r for r in caplog.records if r.name == "flightnb.ray"]
    assert "runs whole on one worker" in record.getMessage()
    got = _table(ds.materialize()).sort_by("trip_id").combine_chunks()
    expected = deephaven_server.adbc_query(query).sort_by("trip_id").combine_chunks()
    assert got.equals(expected)


def test_path_is_planned_again_in_each_workers_session(
    deephaven_server: DeephavenServer,
) -> None:
    token = functools.partial(str, deephaven_server.token)
    ds = fr.read_flight(deephaven_server.location, path=deephaven_server.path("trips"), token=token)
    got = _table(ds.materialize()).sort_by("trip_id").combine_chunks()
    client = deephaven_server.flight_client()
    try:
        ticket = paflight.Ticket(deephaven_server.ticket("trips"))
        expected = client.do_get(ticket).read_all()
    finally:
        client.close()
    assert got.equals(expected.sort_by("trip_id").combine_chunks())
