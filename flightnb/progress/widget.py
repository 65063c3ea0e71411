"""Notebook progress: an ipywidgets display that ends as a static HTML summary.

While a transfer runs the cell shows a header, one bar per endpoint (multi-endpoint reads),
an overall bar, counters, throughput, elapsed time, ETA and a Cancel button. At the end the
same output is replaced by :meth:`ProgressState.summary_html`: static HTML is saved with the
notebook, widget state is not. IPython and ipywidgets are imported only when a display is
first drawn.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from typing import Any

from flightnb.client.observer import TransferStats
from flightnb.progress.state import (
    CANCELLED,
    DONE,
    ERROR,
    TIMED_OUT,
    ProgressState,
    Throttle,
    format_bytes,
    format_count,
)
from flightnb.types import FlightInfo

__all__ = ["WidgetProgress"]

_log = logging.getLogger("flightnb.progress")

_INTERVAL_SECONDS = 0.15
_BAR_STYLE = {DONE: "success", ERROR: "danger", CANCELLED: "warning", TIMED_OUT: "warning"}
_COLOUR = {DONE: "#2e7d32", ERROR: "#c62828", CANCELLED: "#ef6c00", TIMED_OUT: "#ef6c00"}


class WidgetProgress:
    """A live ipywidgets progress display for one transfer, in the current notebook cell.

    Nothing is drawn before the transfer has lasted ``delay`` seconds, so quick reads leave
    no output; once drawn, the display is replaced by a one-line HTML summary at the end.
    Any rendering failure disables the display and never reaches the transfer.

    Parameters
    ----------
    delay : float
        Seconds before the widget appears; 0 shows it at once (``progress=True``).
    interval : float
        Minimum seconds between two redraws.
    label : str, optional
        What is transferred, for the header (default: the flight's path or command).
    timeout : float, optional
        The read's deadline, so that hitting it shows as "timed out" (not "cancelled").

    Attributes
    ----------
    state : ProgressState
        The counters shown.
    widget : ipywidgets.VBox or None
        The display while it is shown (None before the delay and after the end).
    summary_html : str or None
        The final HTML, once the transfer finished and the display had been shown.

    Examples
    --------
    >>> table = read_flight(uri, path="trips", progress=WidgetProgress(delay=0))  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        delay: float = 0.5,
        interval: float = _INTERVAL_SECONDS,
        label: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.state = ProgressState(label=label, timeout=timeout)
        self._throttle = Throttle(interval=interval, delay=delay)
        self._cancel: Callable[[], None] | None = None
        self._cancel_requested = False
        self._lock = threading.Lock()
        self._handle: Any = None
        self._parts: list[tuple[Any, Any]] = []
        self._children: list[Any] = []
        self._broken = False
        self._shown = False
        self.widget: Any = None
        self.summary_html: str | None = None
        self._reserved: Any = None
        # Child widgets, set when the display is built.
        self._header: Any = None
        self._bar: Any = None
        self._bar_label: Any = None
        self._counters: Any = None
        self._timing: Any = None
        self._button: Any = None
        self._error: Any = None

    # -- TransferObserver --------------------------------------------------------------------

    def started(
        self,
        *,
        info: FlightInfo | None,
        parts: int,
        kind: str,
        cancel: Callable[[], None] | None,
    ) -> None:
        self.state.started(info=info, parts=parts, kind=kind)
        self._cancel = cancel
        self._throttle.restart()
        if self._throttle.delay <= 0:
            self._refresh()

    def polled(self, progress: float | None) -> None:
        self.state.polled(progress)
        if self._throttle.due():
            self._refresh()

    def progressed(self, part: int, stats: TransferStats) -> None:
        self.state.progressed(part, stats)
        if self._throttle.due():
            self._refresh()

    def finished(self, error: BaseException | None) -> None:
        self.state.finished(error)
        if not self._shown or self._broken:
            return
        try:
            with self._lock:
                self._draw()
                self.summary_html = self.state.summary_html()
                self._replace_with_summary(self.summary_html)
        except Exception:
            self._fail("finish")

    # -- building and drawing ----------------------------------------------------------------

    def _refresh(self) -> None:
        if self._broken:
            return
        try:
            with self._lock:
                if self.widget is None:
                    self._build()
                self._draw()
        except Exception:
            self._fail("render")

    def _build(self) -> None:
        import ipywidgets as w

        state = self.state
        self._header = w.HTML()
        self._parts = []
        rows: list[Any] = [self._header]
        if state.parts > 1:
            for index in range(state.parts):
                bar = w.FloatProgress(
                    value=0.0, min=0.0, max=1.0, description=f"endpoint {index + 1}"
                )
                bar.style.description_width = "initial"
                label = w.Label()
                self._parts.append((bar, label))
                rows.append(w.HBox([bar, label]))
        self._bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, description="total")
        self._bar.style.description_width = "initial"
        self._bar_label = w.Label()
        rows.append(w.HBox([self._bar, self._bar_label]))
        self._counters = w.Label()
        self._timing = w.Label()
        rows.append(w.HBox([self._counters]))
        rows.append(w.HBox([self._timing]))
        self._button = w.Button(
            description="Cancel",
            button_style="",
            icon="stop",
            tooltip="Cancel this transfer",
            disabled=self._cancel is None,
        )
        self._button.on_click(self._on_cancel_click)
        self._error = w.HTML(layout=w.Layout(display="none"))
        rows.append(self._button)
        rows.append(self._error)
        self.widget = w.VBox(rows)
        self.widget.add_class("flightnb-progress")
        self._children = [self.widget, *_descendants(self.widget)]
        self._handle = self._show(self.widget)
        self._shown = True

    def _draw(self) -> None:
        state = self.state
        status = state.status
        colour = _COLOUR.get(status, "#1565c0")
        header = f"<b>flightnb</b> · {html.escape(state.label)}"
        if state.parts > 1:
            header += f" · {state.parts} endpoints"
        header += f' · <span style="color: {colour};">{html.escape(status)}</span>'
        self._header.value = header

        for view, (bar, label) in zip(state.part_views(), self._parts, strict=False):
            counters = f"{format_count(view.rows)} rows · {format_bytes(view.bytes)}"
            if view.done:
                bar.value, bar.bar_style = 1.0, _BAR_STYLE.get(status, "success")
                label.value = f"{counters} · done"
            elif not view.started:
                bar.value, bar.bar_style = 0.0, ""
                label.value = "waiting" if state.running else status
            else:
                # No per-endpoint totals exist in Flight: a full "info" bar means "running,
                # size unknown".
                bar.value, bar.bar_style = 1.0, "info" if state.running else "danger"
                label.value = counters if state.running else f"{counters} · {status}"

        fraction = state.fraction
        if not state.running:
            self._bar.bar_style = _BAR_STYLE.get(status, "danger")
            self._bar.value = 1.0 if fraction is None or status != DONE else fraction
            self._bar_label.value = (
                "100%" if status == DONE else f"{status} at {_percent(fraction)}"
            )
        elif fraction is None and state.rows == 0 and state.poll_progress is not None:
            self._bar.bar_style = ""
            self._bar.value = max(0.0, min(1.0, state.poll_progress))
            self._bar_label.value = f"query {_percent(state.poll_progress)}"
        elif fraction is None:
            # Indeterminate: a full pale bar, and words saying the total is unknown.
            self._bar.bar_style = "info"
            self._bar.value = 1.0
            self._bar_label.value = "total unknown"
        else:
            self._bar.bar_style = ""
            self._bar.value = fraction
            self._bar_label.value = _percent(fraction)

        self._counters.value = state.counters_text()
        self._timing.value = f"{state.rate_text()} · {state.timing_text()}"
        if not state.running:
            self._button.disabled = True
            self._button.layout.display = "none"
        if state.error:
            self._error.value = (
                f'<div style="color: {colour}; font-weight: bold;">{html.escape(state.error)}</div>'
            )
            self._error.layout.display = None

    def reserve_output(self) -> None:
        """Claim an (empty) output in the current cell, which the display will take over.

        For transfers that draw from another thread or later (background reads): the display
        then lands in the cell that started the transfer, whatever cell runs meanwhile.
        """
        try:
            from IPython.display import HTML, display

            self._reserved = display(HTML(""), display_id=True)  # type: ignore[no-untyped-call]
        except Exception:
            self._reserved = None

    def _on_cancel_click(self, _button: Any) -> None:
        cancel = self._cancel
        if cancel is None or self._cancel_requested or not self.state.running:
            return
        self._cancel_requested = True
        try:
            self._button.disabled = True
            self._button.description = "Cancelling…"
        except Exception:
            self._fail("cancel")
        cancel()

    def _replace_with_summary(self, summary: str) -> None:
        self._update(self._handle, summary)
        self.widget = None
        # Free the widgets' comms; the cell now shows the static summary.
        for child in self._children:
            child.close()
        self._children = []

    def _fail(self, where: str) -> None:
        """Disable the display after a rendering failure; the transfer goes on."""
        self._broken = True
        _log.debug("progress widget failed in %s; display disabled", where, exc_info=True)

    # -- the notebook (overridden in tests) --------------------------------------------------

    def _show(self, widget: Any) -> Any:
        """Display ``widget`` in the current cell; return a handle for :meth:`_update`."""
        from IPython.display import display

        if self._reserved is not None:
            self._reserved.update(widget)
            return self._reserved
        return display(widget, display_id=True)  # type: ignore[no-untyped-call]

    def _update(self, handle: Any, summary_html: str) -> None:
        """Replace what ``handle`` shows by static HTML."""
        from IPython.display import HTML, display

        if handle is not None:
            handle.update(HTML(summary_html))  # type: ignore[no-untyped-call]
        else:
            display(HTML(summary_html))  # type: ignore[no-untyped-call]


def _descendants(widget: Any) -> list[Any]:
    found = []
    for child in getattr(widget, "children", ()):
        found.append(child)
        found.extend(_descendants(child))
    return found


def _percent(fraction: float | None) -> str:
    return "?" if fraction is None else f"{fraction:.0%}"
