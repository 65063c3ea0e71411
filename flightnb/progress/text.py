"""A text progress bar on stderr (tqdm) for scripts and terminals."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from flightnb.client.observer import TransferStats
from flightnb.types import FlightInfo

_MIN_INTERVAL_SECONDS = 0.2


class TextProgress:
    """Rows, bytes and throughput of a read on stderr; shown only after ``delay`` seconds.

    Rendering failures never reach the transfer: the bar is dropped and the read goes on.
    """

    def __init__(self, *, delay: float = 0.5, file: Any = None) -> None:
        self._delay = delay
        self._file = file or sys.stderr
        self._bar: Any = None
        self._total_rows: int | None = None
        self._rows: dict[int, int] = {}
        self._bytes: dict[int, int] = {}
        self._started = time.monotonic()
        self._last_render = 0.0
        self._broken = False

    def started(
        self,
        *,
        info: FlightInfo | None,
        parts: int,
        kind: str,
        cancel: Callable[[], None] | None,
    ) -> None:
        self._started = time.monotonic()
        if info is not None and info.total_records >= 0:
            self._total_rows = info.total_records

    def polled(self, progress: float | None) -> None:
        pass

    def progressed(self, part: int, stats: TransferStats) -> None:
        self._rows[part] = stats.rows
        self._bytes[part] = stats.bytes
        now = time.monotonic()
        if now - self._last_render < _MIN_INTERVAL_SECONDS or now - self._started < self._delay:
            return
        self._last_render = now
        self._render()

    def _render(self) -> None:
        if self._broken:
            return
        try:
            if self._bar is None:
                from tqdm.auto import tqdm

                self._bar = tqdm(
                    total=self._total_rows,
                    unit=" rows",
                    unit_scale=True,
                    file=self._file,
                    desc="flight",
                    leave=True,
                )
            rows = sum(self._rows.values())
            self._bar.update(rows - self._bar.n)
            self._bar.set_postfix_str(f"{sum(self._bytes.values()) / 2**20:.1f} MiB", refresh=False)
        except Exception:
            self._broken = True

    def finished(self, error: BaseException | None) -> None:
        if self._bar is None:
            return
        try:
            self._render()
            if error is not None:
                self._bar.set_description(f"flight failed: {type(error).__name__}")
            self._bar.close()
        except Exception:
            pass
