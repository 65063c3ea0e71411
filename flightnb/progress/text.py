"""Text progress on stderr for scripts and terminals: a tqdm bar, or plain lines without tqdm."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TextIO

from flightnb.client.observer import TransferStats
from flightnb.progress.state import ProgressState, Throttle, format_bytes, format_count
from flightnb.types import FlightInfo

__all__ = ["TextProgress"]

_BAR_INTERVAL_SECONDS = 0.2
# Without tqdm every redraw is a new line: few of them, so a log stays readable.
_LINE_INTERVAL_SECONDS = 2.0


class TextProgress:
    """Rows, bytes, throughput and ETA of a transfer on stderr.

    Shown only once the transfer has lasted ``delay`` seconds, so quick reads print nothing;
    ``delay=0`` shows it from the start. Uses a tqdm bar when tqdm is installed, otherwise a
    plain line every few seconds and a summary line at the end. A rendering failure drops
    the display; the transfer goes on.

    Parameters
    ----------
    delay : float
        Seconds before anything is shown.
    file : file-like, optional
        Where to write (default ``sys.stderr``).
    interval : float, optional
        Minimum seconds between redraws (default 0.2 with tqdm, 2 for plain lines).
    use_tqdm : bool, optional
        False forces the plain-line display, True the tqdm bar. By default the bar is used
        when tqdm is installed and the output is a terminal or a ``file`` you passed; on a
        stderr that is not a terminal (a log file, a pipe, a notebook kernel) plain lines
        are written, since a bar's carriage returns garble those.
    label : str, optional
        What is transferred (default: the flight's path or command).
    timeout : float, optional
        The read's deadline, so that hitting it shows as "timed out" (not "cancelled").

    Examples
    --------
    >>> from flightnb import read_flight
    >>> table = read_flight(uri, path="trips", progress=TextProgress(delay=0))  # on stderr
    """

    def __init__(
        self,
        *,
        delay: float = 0.5,
        file: TextIO | None = None,
        interval: float | None = None,
        use_tqdm: bool | None = None,
        label: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self._file = file
        if use_tqdm is None:
            use_tqdm = file is not None or _is_terminal(sys.stderr)
        self._bar_class: Any = _tqdm_class() if use_tqdm else None
        if interval is None:
            interval = _BAR_INTERVAL_SECONDS if self._bar_class else _LINE_INTERVAL_SECONDS
        self.state = ProgressState(label=label, timeout=timeout)
        self._throttle = Throttle(interval=interval, delay=delay)
        self._bar: Any = None
        self._shown = False
        self._broken = False

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
        self._throttle.restart()

    def polled(self, progress: float | None) -> None:
        self.state.polled(progress)
        if self._throttle.due():
            self._render()

    def progressed(self, part: int, stats: TransferStats) -> None:
        self.state.progressed(part, stats)
        if self._throttle.due():
            self._render()

    def finished(self, error: BaseException | None) -> None:
        self.state.finished(error)
        if not self._shown or self._broken:
            return
        try:
            if self._bar is not None:
                self._update_bar()
                self._bar.set_description_str(f"{self.state.label}: {self.state.status}")
                self._bar.close()
                self._bar = None
                if self.state.error:
                    self._write_line(self.state.summary())
            else:
                self._write_line(self.state.summary())
        except Exception:
            self._broken = True

    # -- rendering ---------------------------------------------------------------------------

    @property
    def _out(self) -> TextIO:
        return self._file if self._file is not None else sys.stderr

    def _render(self) -> None:
        if self._broken:
            return
        try:
            self._shown = True
            if self._bar_class is None:
                self._write_line(self.state.summary())
                return
            if self._bar is None:
                self._bar = self._new_bar()
            self._update_bar()
        except Exception:
            self._broken = True

    def _new_bar(self) -> Any:
        state = self.state
        total = state.total_records if state.total_records > 0 else None
        if total is not None:
            layout = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} rows [{info}]"
        else:
            layout = "{desc}: {n_fmt} rows, total unknown [{info}]"
        return self._bar_class(
            total=total,
            desc=state.label,
            file=self._out,
            bar_format=layout,
            # We throttle ourselves; tqdm should draw whenever we call refresh.
            mininterval=0,
            miniters=0,
            leave=True,
            dynamic_ncols=False,
        )

    def _update_bar(self) -> None:
        state = self.state
        bar = self._bar
        bar.n = state.rows
        parts = [format_bytes(state.bytes), f"{format_count(state.batches)} batches"]
        parts.append(state.rate_text())
        parts.append(state.timing_text())
        bar.info = " · ".join(parts)
        bar.refresh()

    def _write_line(self, text: str) -> None:
        self._out.write(f"flightnb: {text}\n")
        self._out.flush()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:  # a replaced stream without isatty, or a closed one
        return False


@functools.cache
def _tqdm_class() -> Any:
    """tqdm's terminal bar without its monitor thread, or None when tqdm is missing."""
    try:
        from tqdm.std import tqdm
    except ImportError:
        return None

    class _Bar(tqdm):  # type: ignore[misc]
        # The monitor thread would outlive the transfer; we refresh the bar ourselves.
        monitor_interval = 0
        info = ""

        @property
        def format_dict(self) -> dict[str, Any]:
            # Our own counters, rate and ETA (from ProgressState) as a bar_format field.
            values: dict[str, Any] = super().format_dict
            values["info"] = self.info
            return values

    return _Bar
