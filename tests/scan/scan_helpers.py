"""Helpers of the scan and Dask tests."""

from __future__ import annotations

from typing import Any


class CountingObserver:
    """A TransferObserver that counts what each read received."""

    def __init__(self) -> None:
        self.bytes = 0
        self.batches = 0
        self._last: dict[int, tuple[int, int]] = {}

    def started(self, **_: Any) -> None:
        self._last.clear()

    def polled(self, progress: float | None) -> None:
        pass

    def progressed(self, part: int, stats: Any) -> None:
        before = self._last.get(part, (0, 0))
        self.bytes += stats.bytes - before[0]
        self.batches += stats.batches - before[1]
        self._last[part] = (stats.bytes, stats.batches)

    def finished(self, error: BaseException | None) -> None:
        pass
