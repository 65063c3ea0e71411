"""ProgressState and Throttle: pure counting, formatting and throttling (no I/O, no IPython)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flightnb import FlightDescriptor, FlightEndpoint, FlightInfo, Ticket
from flightnb.client.observer import TransferStats
from flightnb.errors import FlightCancelledError, FlightUnavailableError
from flightnb.progress.state import ProgressState, Throttle, error_text, format_duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _info(total_records: int = -1, total_bytes: int = -1, parts: int = 1) -> FlightInfo:
    return FlightInfo(
        schema=pa.schema([("n", pa.int64())]),
        descriptor=FlightDescriptor.for_path("datasets", "trips"),
        endpoints=tuple(FlightEndpoint(Ticket(b"t%d" % i), ()) for i in range(parts)),
        total_records=total_records,
        total_bytes=total_bytes,
    )


def _stats(rows: int, nbytes: int, batches: int) -> TransferStats:
    stats = TransferStats()
    stats.rows, stats.bytes, stats.batches = rows, nbytes, batches
    return stats


def test_throughput_eta_and_fraction_with_known_totals() -> None:
    clock = FakeClock()
    state = ProgressState(clock=clock)
    state.started(info=_info(total_records=1000), parts=1, kind="read")
    clock.now += 2.0
    state.progressed(0, _stats(250, 2 * 2**20, 5))
    assert state.label == "read datasets/trips"
    assert state.fraction == pytest.approx(0.25)
    assert state.rows_per_second == pytest.approx(125.0)
    assert state.mib_per_second == pytest.approx(1.0)
    assert state.eta == pytest.approx(6.0)  # 750 rows left at 125 rows/s
    assert "ETA 6.0 s" in state.timing_text()
    assert state.counters_text() == "250 rows · 2.0 MiB · 5 batches"


def test_bytes_total_is_used_when_rows_are_unknown() -> None:
    clock = FakeClock()
    state = ProgressState(clock=clock)
    state.started(info=_info(total_bytes=4000), parts=1, kind="read")
    clock.now += 1.0
    state.progressed(0, _stats(10, 1000, 1))
    assert state.fraction == pytest.approx(0.25)
    assert state.eta == pytest.approx(3.0)


@pytest.mark.parametrize("info", [None, _info()])
def test_unknown_totals_are_indeterminate(info: FlightInfo | None) -> None:
    clock = FakeClock()
    state = ProgressState(clock=clock)
    state.started(info=info, parts=1, kind="read")
    clock.now += 1.0
    state.progressed(0, _stats(500, 1000, 5))
    assert state.fraction is None
    assert state.eta is None
    assert "ETA" not in state.timing_text()
    assert state.rows_per_second == pytest.approx(500.0)
    state.finished(None)
    assert state.fraction == 1.0 and state.status == "done"


def test_parts_are_summed_and_reported_separately() -> None:
    state = ProgressState(clock=FakeClock())
    state.started(info=_info(total_records=300, parts=3), parts=3, kind="read")
    first, second = _stats(100, 10, 1), _stats(40, 4, 1)
    first.finished = 1.0
    state.progressed(0, first)
    state.progressed(1, second)
    assert (state.rows, state.bytes, state.batches) == (140, 14, 2)
    views = state.part_views()
    assert [(v.rows, v.started, v.done) for v in views] == [
        (100, True, True),
        (40, True, False),
        (0, False, False),
    ]
    # The live counters are read at render time, not copied per message.
    second.rows = 100
    assert state.rows == 200


def test_poll_progress_and_elapsed_freezes_at_finish() -> None:
    clock = FakeClock()
    state = ProgressState(clock=clock)
    state.started(info=None, parts=1, kind="read")
    state.polled(0.4)
    assert state.poll_progress == 0.4
    clock.now += 3.0
    state.finished(None)
    clock.now += 10.0
    assert state.elapsed == pytest.approx(3.0)
    assert state.eta is None


def test_error_text_is_one_line_without_trailers() -> None:
    error = FlightUnavailableError(
        "connection refused\n  at 127.0.0.1:9",
        code="UNAVAILABLE",
        trailers={"authorization": "Bearer secret-token"},
    )
    text = error_text(error)
    assert text == "FlightUnavailableError: [UNAVAILABLE] connection refused at 127.0.0.1:9"
    assert "secret" not in text
    assert error_text(ValueError("x" * 1000)).endswith("…")
    assert len(error_text(ValueError("x" * 1000))) < 350
    assert error_text(RuntimeError()) == "RuntimeError"


def test_error_and_cancelled_states_in_summaries() -> None:
    clock = FakeClock()
    state = ProgressState(clock=clock)
    state.started(info=_info(total_records=100), parts=1, kind="read")
    state.progressed(0, _stats(20, 100, 2))
    clock.now += 1.5
    state.finished(FlightUnavailableError("server <went> away", code="UNAVAILABLE"))
    assert state.status == "error"
    assert state.summary() == (
        "read datasets/trips: error after 1.5 s, 20 rows · 100 B · 2 batches — "
        "FlightUnavailableError: [UNAVAILABLE] server <went> away"
    )
    html = state.summary_html()
    assert "flightnb-error" in html and "server &lt;went&gt; away" in html
    assert "<went>" not in html

    cancelled = ProgressState(clock=clock)
    cancelled.started(info=None, parts=1, kind="read")
    cancelled.finished(FlightCancelledError("cancelled from the progress display"))
    assert cancelled.status == "cancelled"
    assert cancelled.label == "read ticket"


def test_done_summary() -> None:
    clock = FakeClock()
    state = ProgressState(clock=clock)
    state.started(info=_info(total_records=10_000, parts=3), parts=3, kind="read")
    state.progressed(0, _stats(10_000, 3 * 2**20, 100))
    clock.now += 2.0
    state.finished(None)
    summary = state.summary()
    assert summary.startswith("read datasets/trips (3 endpoints): done, 10,000 rows")
    assert "5,000 rows/s · 1.5 MiB/s" in summary
    html = state.summary_html()
    assert "flightnb-done" in html and "10,000 rows" in html and "✔" in html


def test_command_labels_are_short() -> None:
    info = FlightInfo(None, FlightDescriptor.for_command("SELECT\n" + "x, " * 100), ())
    state = ProgressState()
    state.started(info=info, parts=1, kind="read")
    assert state.label.startswith("read command 'SELECT x, x,")
    assert len(state.label) < 90


def test_throttle_waits_for_the_delay_then_limits_the_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(interval=0.2, delay=0.5, clock=clock)
    assert not throttle.due()
    clock.now += 0.49
    assert not throttle.due()
    clock.now += 0.02
    assert throttle.due()  # the first one after the delay
    assert not throttle.due()
    clock.now += 0.1
    assert not throttle.due()
    clock.now += 0.11
    assert throttle.due()
    # Many messages in one interval cost one redraw.
    clock.now += 0.25
    assert sum(throttle.due() for _ in range(10_000)) == 1


def test_throttle_without_delay_and_restart() -> None:
    clock = FakeClock()
    throttle = Throttle(interval=0.2, delay=0.0, clock=clock)
    assert throttle.due()
    delayed = Throttle(interval=0.2, delay=1.0, clock=clock)
    clock.now += 5
    delayed.restart()
    assert not delayed.due()


def test_durations() -> None:
    assert format_duration(0.42) == "0.4 s"
    assert format_duration(75) == "1:15"
    assert format_duration(3725) == "1:02:05"
