"""WidgetProgress driven directly with fake counters, and end to end through read_flight.

ipywidgets works without a frontend: the widgets exist, their values change, a Button's
``click()`` runs its handlers. IPython's display is replaced by a recorder.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import ipywidgets
import pyarrow as pa
import pytest

import flightnb
from flightnb import FlightDescriptor, FlightEndpoint, FlightInfo, Ticket, read_flight
from flightnb.client.observer import TransferStats
from flightnb.progress import TextProgress, WidgetProgress, auto_observer


class RecordedWidgetProgress(WidgetProgress):
    """Records what would be displayed in the cell instead of calling IPython."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.displayed: list[Any] = []
        self.replaced: list[str] = []

    def _show(self, widget: Any) -> Any:
        self.displayed.append(widget)
        return "handle"

    def _update(self, handle: Any, summary_html: str) -> None:
        assert handle == "handle"
        self.replaced.append(summary_html)


def _info(total_records: int, parts: int) -> FlightInfo:
    return FlightInfo(
        schema=pa.schema([("n", pa.int64())]),
        descriptor=FlightDescriptor.for_path("trips"),
        endpoints=tuple(FlightEndpoint(Ticket(b"%d" % i), ()) for i in range(parts)),
        total_records=total_records,
    )


def _stats(rows: int, nbytes: int = 0, batches: int = 0) -> TransferStats:
    stats = TransferStats()
    stats.rows, stats.bytes, stats.batches = rows, nbytes, batches
    return stats


def _texts(widget: Any) -> list[str]:
    """Every label, HTML and button text of a widget tree, in order."""
    found = []
    for child in getattr(widget, "children", ()):
        if isinstance(child, ipywidgets.Button):
            found.append(child.description)
        elif hasattr(child, "value") and isinstance(child.value, str):
            found.append(child.value)
        found.extend(_texts(child))
    return found


def _bars(widget: Any) -> list[Any]:
    found = []
    for child in getattr(widget, "children", ()):
        if isinstance(child, ipywidgets.FloatProgress):
            found.append(child)
        found.extend(_bars(child))
    return found


def _button(widget: Any) -> Any:
    return next(c for c in widget.children if isinstance(c, ipywidgets.Button))


def test_multi_endpoint_display_shows_parts_totals_and_summary() -> None:
    display = RecordedWidgetProgress(delay=0, interval=0)
    display.started(info=_info(total_records=300, parts=3), parts=3, kind="read", cancel=None)
    assert display.displayed == [display.widget]
    first, second = _stats(100, 2**20, 1), _stats(50, 2**19, 1)
    first.finished = 1.0
    display.progressed(0, first)
    display.progressed(1, second)

    bars = _bars(display.widget)
    assert [b.description for b in bars] == ["endpoint 1", "endpoint 2", "endpoint 3", "total"]
    assert [b.bar_style for b in bars] == ["success", "info", "", ""]
    assert bars[-1].value == pytest.approx(0.5)
    texts = _texts(display.widget)
    assert texts[0].startswith("<b>flightnb</b> · read trips · 3 endpoints")
    assert "100 rows · 1.0 MiB · done" in texts
    assert "50 rows · 512.0 KiB" in texts
    assert "waiting" in texts
    assert "50%" in texts
    assert "150 rows · 1.5 MiB · 2 batches" in texts
    assert any("ETA" in t for t in texts)
    assert _button(display.widget).disabled  # no cancel callable was given

    second.rows = 200
    display.finished(None)
    assert display.widget is None
    assert len(display.replaced) == 1 and display.summary_html == display.replaced[0]
    assert "flightnb-done" in display.summary_html
    assert "read trips (3 endpoints): done" in display.summary_html
    assert "300 rows" in display.summary_html


def test_unknown_total_is_shown_as_indeterminate() -> None:
    display = RecordedWidgetProgress(delay=0, interval=0)
    display.started(info=None, parts=1, kind="read", cancel=None)
    display.progressed(0, _stats(10))
    total = _bars(display.widget)[-1]
    assert (total.value, total.bar_style) == (1.0, "info")
    assert "total unknown" in _texts(display.widget)
    assert not any("ETA" in t for t in _texts(display.widget))


def test_poll_progress_before_data() -> None:
    display = RecordedWidgetProgress(delay=0, interval=0)
    display.started(info=None, parts=1, kind="read", cancel=None)
    display.polled(0.25)
    assert _bars(display.widget)[-1].value == 0.25
    assert "query 25%" in _texts(display.widget)


def test_cancel_button_calls_cancel_once() -> None:
    calls: list[str] = []
    display = RecordedWidgetProgress(delay=0, interval=0)
    display.started(info=_info(100, 1), parts=1, kind="read", cancel=lambda: calls.append("cancel"))
    button = _button(display.widget)
    assert not button.disabled and button.description == "Cancel"
    # The kernel delivers the click on its own thread, not the transfer's.
    clicker = threading.Thread(target=button.click)
    clicker.start()
    clicker.join(5)
    assert calls == ["cancel"]
    assert button.disabled and button.description == "Cancelling…"
    button.click()
    assert calls == ["cancel"]


def test_error_state_is_red_with_the_error_text() -> None:
    display = RecordedWidgetProgress(delay=0, interval=0)
    display.started(info=_info(100, 1), parts=1, kind="read", cancel=lambda: None)
    display.progressed(0, _stats(20))
    widget = display.widget
    error = flightnb.FlightUnavailableError(
        "server went away", code="UNAVAILABLE", trailers={"authorization": "Bearer s3cret"}
    )
    display.finished(error)
    # The widget was drawn red before it was replaced by the summary.
    assert _bars(widget)[-1].bar_style == "danger"
    error_html = [t for t in _texts(widget) if "server went away" in t]
    assert error_html and "#c62828" in error_html[0]
    summary = display.summary_html
    assert summary is not None
    assert "flightnb-error" in summary
    assert "FlightUnavailableError: [UNAVAILABLE] server went away" in summary
    assert "s3cret" not in summary


def test_quick_transfers_show_nothing_before_the_delay() -> None:
    display = RecordedWidgetProgress(delay=60)
    display.started(info=_info(100, 1), parts=1, kind="read", cancel=None)
    display.progressed(0, _stats(100))
    display.finished(None)
    assert display.displayed == [] and display.replaced == []
    assert display.state.status == "done"


class _BrokenWidgetProgress(RecordedWidgetProgress):
    def _show(self, widget: Any) -> Any:
        raise RuntimeError("the frontend went away")


def test_a_rendering_failure_disables_the_display_only() -> None:
    display = _BrokenWidgetProgress(delay=0, interval=0)
    display.started(info=None, parts=1, kind="read", cancel=None)
    display.progressed(0, _stats(10))
    display.finished(None)
    assert display.replaced == []
    assert display.state.rows == 10 and display.state.status == "done"


def test_end_to_end_multi_endpoint_read(flight_server: Any) -> None:
    display = RecordedWidgetProgress(delay=0)
    table = read_flight(flight_server.location, path=["multi", "ordered"], progress=display)
    assert table.num_rows == 300
    assert len(display.displayed) == 1 and len(display.replaced) == 1
    assert display.state.parts == 3
    assert "read multi/ordered (3 endpoints): done" in display.replaced[0]
    assert "300 rows" in display.replaced[0]


def test_end_to_end_cancel_from_the_button(flight_server: Any) -> None:
    class ClickingDisplay(RecordedWidgetProgress):
        def progressed(self, part: int, stats: TransferStats) -> None:
            super().progressed(part, stats)
            if stats.rows >= 200 and self.widget is not None:
                _button(self.widget).click()

    display = ClickingDisplay(delay=0, interval=0)
    with pytest.raises(flightnb.FlightCancelledError):
        read_flight(flight_server.location, path="slow", progress=display, timeout=30)
    assert display.state.status == "cancelled"
    assert display.summary_html is not None and "flightnb-cancelled" in display.summary_html


def test_text_progress_end_to_end(flight_server: Any) -> None:
    sink = io.StringIO()
    read_flight(flight_server.location, path="slow", progress=TextProgress(delay=0, file=sink))
    out = sink.getvalue()
    assert "read slow" in out and "10000/10000 rows" in out and "done" in out
    assert "ETA" in out


def test_plain_text_lines_without_tqdm(flight_server: Any) -> None:
    sink = io.StringIO()
    display = TextProgress(delay=0, file=sink, use_tqdm=False, interval=1.0)
    read_flight(flight_server.location, path=["multi", "ordered"], progress=display)
    lines = sink.getvalue().splitlines()
    assert lines[-1].startswith("flightnb: read multi/ordered (3 endpoints): done, 300 rows")


def test_text_progress_stays_quiet_for_quick_reads(flight_server: Any) -> None:
    sink = io.StringIO()
    read_flight(flight_server.location, ticket="numbers", progress=TextProgress(file=sink))
    assert sink.getvalue() == ""


def test_auto_observer_outside_a_kernel() -> None:
    assert auto_observer(False) is None
    quiet, forced = auto_observer(None), auto_observer(True)
    assert isinstance(quiet, TextProgress) and isinstance(forced, TextProgress)
    mine = RecordedWidgetProgress()
    assert auto_observer(mine) is mine
