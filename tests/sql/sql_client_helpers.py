"""Helpers shared by the Flight SQL client tests."""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa


def unique_name(prefix: str) -> str:
    """A table name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def adbc_query(conn: Any, query: str, parameters: Any = None) -> pa.Table:
    """A query's result through ADBC, as a pyarrow Table."""
    with conn.cursor() as cur:
        cur.execute(query, parameters)
        return cur.fetch_arrow_table()


class RecordingObserver:
    """A TransferObserver that records every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def started(self, *, info: Any, parts: int, kind: str, cancel: Any) -> None:
        self.calls.append(("started", info))

    def polled(self, progress: float | None) -> None:
        self.calls.append(("polled", progress))

    def progressed(self, part: int, stats: Any) -> None:
        self.calls.append(("progressed", stats.rows))

    def finished(self, error: BaseException | None) -> None:
        self.calls.append(("finished", error))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]
