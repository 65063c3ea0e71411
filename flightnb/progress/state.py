"""The state of a transfer as a display sees it: pure counting and formatting, no rendering.

:class:`ProgressState` turns the observer calls (``started``, ``polled``, ``progressed``,
``finished``) into what every front end shows: rows, bytes, batches per part and overall,
throughput, ETA, a fraction (None when the total is unknown), status and a one-line error.
:class:`Throttle` decides when a front end may redraw, so rendering stays a small, bounded
cost whatever the message rate. Neither imports IPython, ipywidgets or tqdm.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass

from flightnb.client.observer import TransferStats
from flightnb.types import DescriptorType, FlightDescriptor, FlightInfo

__all__ = [
    "ProgressState",
    "Throttle",
    "describe_descriptor",
    "describe_request",
    "error_text",
    "format_bytes",
    "format_count",
    "format_duration",
    "shorten",
]

RUNNING = "running"
DONE = "done"
ERROR = "error"
CANCELLED = "cancelled"
TIMED_OUT = "timed out"

_LABEL_LIMIT = 60
# A cancellation this close to the read's deadline is the deadline firing (seconds).
_DEADLINE_SLACK_SECONDS = 0.05

_MIB = float(2**20)
_ERROR_TEXT_LIMIT = 300


def format_count(value: int) -> str:
    """``10000`` -> ``"10,000"``."""
    return f"{value:,}"


def format_bytes(value: float) -> str:
    """Bytes in binary units: ``"512 B"``, ``"1.5 KiB"``, ``"95.4 MiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float) -> str:
    """``0.42`` -> ``"0.4 s"``, ``75`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def error_text(error: BaseException) -> str:
    """One line naming the error: its class and message, never trailers or headers.

    Only the exception's own message is used (a :class:`~flightnb.FlightError` keeps headers
    and trailers in attributes, not in its message); it is cut to one line of bounded length.
    """
    message = getattr(error, "message", None)
    if not isinstance(message, str):
        message = str(error)
    code = getattr(error, "code", None)
    if isinstance(code, str) and code:
        message = f"[{code}] {message}"
    first_line = " ".join(message.split())
    if len(first_line) > _ERROR_TEXT_LIMIT:
        first_line = first_line[: _ERROR_TEXT_LIMIT - 1] + "…"
    name = type(error).__name__
    return f"{name}: {first_line}" if first_line else name


def shorten(text: str, limit: int = _LABEL_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_descriptor(descriptor: FlightDescriptor) -> str:
    """``"datasets/trips"``, ``"SQL 'SELECT …'"`` or ``"command 'score'"``, for labels."""
    if descriptor.descriptor_type is DescriptorType.PATH:
        return "/".join(descriptor.path)
    query = _sql_query_of(descriptor.command)
    if query is not None:
        return f"SQL {shorten(query)!r}"
    command = descriptor.command.decode("utf-8", errors="replace")
    return f"command {shorten(command)!r}" if command.strip() else "command"


def _sql_query_of(command: bytes) -> str | None:
    """The query text of a packed Flight SQL ``CommandStatementQuery``, else None."""
    if b"CommandStatementQuery" not in command:
        return None  # cheap check first: most commands are not Flight SQL queries
    try:
        from google.protobuf import any_pb2

        from flightnb._proto import FlightSql_pb2 as sql

        packed = any_pb2.Any.FromString(command)
        message = sql.CommandStatementQuery()
        if not packed.Unpack(message):
            return None
    except Exception:
        return None
    return str(message.query)


def describe_request(info: FlightInfo | None, kind: str) -> str:
    """What is being transferred, for a header: ``"read datasets/trips"``.

    Without a FlightInfo (a single ticket, or a display started before the plan) it is
    ``"read ticket"``; an upload without a target is ``"upload"``.
    """
    descriptor = info.descriptor if info is not None else None
    if descriptor is None:
        return "upload" if kind == "upload" else f"{kind} ticket"
    if descriptor.descriptor_type is DescriptorType.PATH and not descriptor.path:
        return f"{kind} command"
    described = describe_descriptor(descriptor)
    return f"{kind} to {described}" if kind == "upload" else f"{kind} {described}"


@dataclass(frozen=True)
class PartView:
    """A snapshot of one stream (endpoint) of a transfer."""

    index: int
    rows: int
    bytes: int
    batches: int
    started: bool
    done: bool


class ProgressState:
    """Everything a progress display shows, computed from the observer calls.

    Feed it the calls a :class:`~flightnb.client.observer.TransferObserver` receives; read
    the properties at render time. ``progressed`` only keeps a reference to the live
    counters, so it costs one dictionary store per message.

    Parameters
    ----------
    label : str, optional
        What is transferred, for headers; by default derived from the FlightInfo.
    clock : callable, optional
        Monotonic clock in seconds (tests pass a fake one).
    timeout : float, optional
        The read's deadline in seconds, when it has one: a cancellation once it has passed
        is shown as "timed out" (the deadline cancels the read from outside, so the display
        sees only the cancellation).

    Examples
    --------
    >>> from flightnb.client.observer import TransferStats
    >>> state = ProgressState(clock=lambda: 0.0)
    >>> state.started(info=None, parts=1, kind="read")
    >>> stats = TransferStats()
    >>> stats.rows, stats.bytes, stats.batches = 1000, 2**20, 10
    >>> state.progressed(0, stats)
    >>> state.rows, state.fraction
    (1000, None)
    """

    def __init__(
        self,
        *,
        label: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        timeout: float | None = None,
    ) -> None:
        self._clock = clock
        self._label = label
        self.timeout = timeout
        self.kind = "read"
        self.parts = 1
        self.total_records = -1
        self.total_bytes = -1
        self.poll_progress: float | None = None
        self.status = RUNNING
        self.error: str | None = None
        self.start_time = clock()
        self.end_time: float | None = None
        self._stats: dict[int, TransferStats] = {}

    # -- observer calls ----------------------------------------------------------------------

    def started(self, *, info: FlightInfo | None, parts: int, kind: str) -> None:
        """The transfer began: remember the totals FlightInfo announces (-1 = unknown)."""
        self.kind = kind
        self.parts = max(1, parts)
        if info is not None:
            self.total_records = info.total_records
            self.total_bytes = info.total_bytes
        if self._label is None:
            self._label = describe_request(info, kind)
        self.start_time = self._clock()

    def polled(self, progress: float | None) -> None:
        """PollFlightInfo progress (0..1) of a query that has not produced data yet."""
        self.poll_progress = progress

    def progressed(self, part: int, stats: TransferStats) -> None:
        """Stream ``part`` received a message; ``stats`` are its live counters."""
        self._stats[part] = stats

    def finished(self, error: BaseException | None) -> None:
        """The transfer ended, with ``error`` if it failed."""
        self.end_time = self._clock()
        if error is None:
            self.status = DONE
            return
        from flightnb.errors import FlightCancelledError, FlightTimedOutError

        cancelled = isinstance(error, FlightCancelledError) or type(error).__name__ in (
            "CancelledError",
            "KeyboardInterrupt",
        )
        if isinstance(error, FlightTimedOutError) or (
            cancelled
            and self.timeout is not None
            and self.elapsed >= self.timeout - _DEADLINE_SLACK_SECONDS
        ):
            self.status = TIMED_OUT
            self.error = (
                error_text(error)
                if isinstance(error, FlightTimedOutError)
                else f"FlightTimedOutError: did not finish within {self.timeout:g} s"
            )
            return
        self.status = CANCELLED if cancelled else ERROR
        self.error = error_text(error)

    # -- what displays read ------------------------------------------------------------------

    @property
    def label(self) -> str:
        """What is transferred: ``"read datasets/trips"``, ``"read ticket"``."""
        return self._label or f"{self.kind}"

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def rows(self) -> int:
        return sum(s.rows for s in list(self._stats.values()))

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in list(self._stats.values()))

    @property
    def batches(self) -> int:
        return sum(s.batches for s in list(self._stats.values()))

    def part_views(self) -> list[PartView]:
        """One snapshot per part, in part order (parts not started yet show zeros)."""
        views = []
        for index in range(self.parts):
            stats = self._stats.get(index)
            if stats is None:
                views.append(PartView(index, 0, 0, 0, started=False, done=self.status == DONE))
            else:
                done = stats.finished is not None or self.status == DONE
                views.append(PartView(index, stats.rows, stats.bytes, stats.batches, True, done))
        return views

    @property
    def elapsed(self) -> float:
        """Seconds since ``started`` (frozen at ``finished``)."""
        end = self.end_time if self.end_time is not None else self._clock()
        return max(0.0, end - self.start_time)

    @property
    def rows_per_second(self) -> float:
        elapsed = self.elapsed
        return self.rows / elapsed if elapsed > 0 else 0.0

    @property
    def mib_per_second(self) -> float:
        elapsed = self.elapsed
        return self.bytes / _MIB / elapsed if elapsed > 0 else 0.0

    @property
    def fraction(self) -> float | None:
        """Done fraction in [0, 1], or None while the total is unknown (indeterminate).

        Rows against ``total_records`` when known, else bytes against ``total_bytes``
        (wire bytes against the server's estimate: an approximation). A finished
        transfer is 1.0.
        """
        if self.status == DONE:
            return 1.0
        if self.total_records > 0:
            return min(1.0, self.rows / self.total_records)
        if self.total_bytes > 0:
            return min(1.0, self.bytes / self.total_bytes)
        if self.total_records == 0 or self.total_bytes == 0:
            return 0.0
        return None

    @property
    def eta(self) -> float | None:
        """Seconds left at the average rate so far; None when unknown or not running."""
        fraction = self.fraction
        if not self.running or fraction is None or fraction <= 0:
            return None
        return self.elapsed * (1.0 - fraction) / fraction

    # -- text ------------------------------------------------------------------------------

    def counters_text(self) -> str:
        """``"10,000 rows · 1.2 MiB · 100 batches"``."""
        return (
            f"{format_count(self.rows)} rows · {format_bytes(self.bytes)} · "
            f"{format_count(self.batches)} batches"
        )

    def rate_text(self) -> str:
        """``"52,000 rows/s · 4.1 MiB/s"`` (bytes in the unit that fits)."""
        rate = format_bytes(self.mib_per_second * _MIB)
        return f"{format_count(int(self.rows_per_second))} rows/s · {rate}/s"

    def timing_text(self) -> str:
        """``"elapsed 3.2 s · ETA 1.1 s"`` (ETA only when known)."""
        text = f"elapsed {format_duration(self.elapsed)}"
        eta = self.eta
        if eta is not None:
            text += f" · ETA {format_duration(eta)}"
        return text

    def summary(self) -> str:
        """One line for the end (or any moment) of the transfer.

        Examples: ``"read numbers: done, 10,000 rows · 1.2 MiB · 100 batches in 5.1 s
        (1,960 rows/s · 0.2 MiB/s)"`` or ``"read numbers: error after 1.0 s, 200 rows ·
        ... — FlightUnavailableError: [UNAVAILABLE] ..."``.
        """
        head = f"{self.label} ({self.parts} endpoints)" if self.parts > 1 else self.label
        if self.status == DONE:
            return (
                f"{head}: done, {self.counters_text()} in {format_duration(self.elapsed)} "
                f"({self.rate_text()})"
            )
        if self.status == RUNNING:
            return f"{head}: running, {self.counters_text()}, {self.timing_text()}"
        text = (
            f"{head}: {self.status} after {format_duration(self.elapsed)}, {self.counters_text()}"
        )
        return f"{text} — {self.error}" if self.error else text

    def summary_html(self) -> str:
        """The summary as a small static HTML block (kept in a saved notebook)."""
        colour = {
            DONE: "#2e7d32",
            ERROR: "#c62828",
            CANCELLED: "#ef6c00",
            TIMED_OUT: "#ef6c00",
        }.get(self.status, "#1565c0")
        mark = {DONE: "✔", ERROR: "✖", CANCELLED: "■", TIMED_OUT: "⏱"}.get(self.status, "…")
        head = html.escape(self.label)
        if self.parts > 1:
            head += f" ({self.parts} endpoints)"
        details = f"{self.counters_text()} in {format_duration(self.elapsed)}"
        if self.status == DONE:
            details += f" ({self.rate_text()})"
        parts = [
            f'<div class="flightnb-summary flightnb-{self.status.replace(" ", "-")}" '
            f'style="font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; '
            f'border-left: 4px solid {colour}; padding: 2px 8px; margin: 2px 0;">',
            f'<span style="color: {colour}; font-weight: bold;">{mark} {head}: '
            f"{html.escape(self.status)}</span> · {html.escape(details)}",
        ]
        if self.error:
            parts.append(
                f'<div class="flightnb-error" style="color: {colour};">'
                f"{html.escape(self.error)}</div>"
            )
        parts.append("</div>")
        return "".join(parts)


class Throttle:
    """Decides when a display may redraw: not before ``delay``, then at most every ``interval``.

    ``force`` skips the delay (``progress=True``). The first call after the delay is always
    due, so a display appears as soon as it may.

    Parameters
    ----------
    interval : float
        Minimum seconds between two redraws (0.15 s keeps rendering far below 3 % of a
        transfer and still looks live).
    delay : float
        Seconds to wait after the start before the first redraw; quick transfers never draw.
    clock : callable, optional
        Monotonic clock in seconds.
    """

    __slots__ = ("_clock", "_last", "_start", "delay", "interval")

    def __init__(
        self,
        *,
        interval: float = 0.15,
        delay: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.delay = delay
        self._clock = clock
        self._start = clock()
        self._last: float | None = None

    def restart(self) -> None:
        """Start counting the delay from now (at ``started``)."""
        self._start = self._clock()
        self._last = None

    @property
    def delay_passed(self) -> bool:
        return self._clock() - self._start >= self.delay

    def due(self) -> bool:
        """True when a redraw may happen now (and records it as done)."""
        now = self._clock()
        if now - self._start < self.delay:
            return False
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True
