"""What the progress displays name, how a deadline shows, and text progress in logs."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest

import flightnb
from flightnb.functions.read import read_flight
from flightnb.progress import TextProgress, auto_observer
from flightnb.progress.state import ProgressState, describe_request
from flightnb.types import FlightDescriptor, FlightInfo


def _info(descriptor: FlightDescriptor | None) -> FlightInfo:
    return FlightInfo(
        schema=None, descriptor=descriptor, endpoints=[], total_records=-1, total_bytes=-1
    )


def test_labels_name_what_is_transferred() -> None:
    from google.protobuf import any_pb2

    from flightnb._proto import FlightSql_pb2 as sql

    packed = any_pb2.Any()
    packed.Pack(sql.CommandStatementQuery(query="SELECT city,   count(*) FROM trips " * 3))
    query = FlightDescriptor.for_command(packed.SerializeToString())
    label = describe_request(_info(query), "read")
    assert label.startswith("read SQL 'SELECT city, count(*) FROM trips") and label.endswith("…'")
    assert describe_request(_info(FlightDescriptor.for_path("a", "b")), "upload") == (
        "upload to a/b"
    )
    assert describe_request(None, "upload") == "upload"
    assert describe_request(None, "read") == "read ticket"
    assert describe_request(_info(FlightDescriptor.for_command(b"score")), "read") == (
        "read command 'score'"
    )


def test_a_cancellation_at_the_deadline_shows_as_timed_out() -> None:
    now = [0.0]
    state = ProgressState(clock=lambda: now[0], timeout=1.0)
    state.started(info=None, parts=1, kind="read")
    now[0] = 1.01
    state.finished(flightnb.FlightCancelledError("the read was cancelled", code="CANCELLED"))
    assert state.status == "timed out"
    assert "FlightTimedOutError" in (state.error or "")
    assert "flightnb-timed-out" in state.summary_html()
    early = ProgressState(clock=lambda: 0.2, timeout=1.0)
    early.started(info=None, parts=1, kind="read")
    early.finished(flightnb.FlightCancelledError("cancelled", code="CANCELLED"))
    assert early.status == "cancelled"


def test_read_with_timeout_shows_timed_out(flight_server: Any) -> None:
    sink = io.StringIO()
    display = TextProgress(delay=0, file=sink, use_tqdm=False, timeout=0.5, label="read slow")
    with pytest.raises(flightnb.FlightTimedOutError):
        read_flight(flight_server.location, path="slow", progress=display, timeout=0.5)
    assert "read slow: timed out" in sink.getvalue()


def test_text_progress_writes_lines_not_carriage_returns_to_a_log(
    flight_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    display = auto_observer(True, label="read the slow flight")
    assert isinstance(display, TextProgress)
    read_flight(flight_server.location, path="slow", progress=display)
    text = log.getvalue()
    assert "\r" not in text
    assert text.splitlines()[-1].startswith("flightnb: read the slow flight: done, 10,000 rows")


def test_read_flight_tells_its_own_display_the_deadline(
    flight_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(flightnb.FlightTimedOutError):
        read_flight(flight_server.location, path="slow", progress=True, timeout=0.5)
    assert "timed out" in capsys.readouterr().err
