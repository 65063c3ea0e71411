"""Reads that run while the user keeps working: ``%flight get ... --bg``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
from collections.abc import Generator
from typing import Any

Future = asyncio.Future[Any] | concurrent.futures.Future[Any]


class BackgroundRead:
    """Handle of a background read: ``done()``, ``cancel()``, ``result()``, ``await handle``.

    In a Jupyter kernel the read runs on the kernel's own event loop, which makes progress
    between cells; a cell cannot block waiting for it, so ``result()`` answers only once the
    read is done and ``await handle`` waits. Without a running loop (terminal IPython) the read
    runs on flightnb's loop thread and ``result()`` waits.
    """

    def __init__(self, future: Future, description: str) -> None:
        self._future = future
        self.description = description

    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> bool:
        """Cancel the read and its gRPC calls."""
        return self._future.cancel()

    def cancelled(self) -> bool:
        return self._future.cancelled()

    def result(self, timeout: float | None = None) -> Any:
        """The data; re-raises the read's error."""
        if isinstance(self._future, concurrent.futures.Future):
            return self._future.result(timeout)
        if not self._future.done():
            raise RuntimeError(
                f"the {self.description} is still running on this kernel's event loop; "
                "use `await handle` to wait for it, or check handle.done()"
            )
        return self._future.result()

    def __await__(self) -> Generator[Any, None, Any]:
        future = self._future
        if isinstance(future, concurrent.futures.Future):
            return asyncio.wrap_future(future).__await__()
        return future.__await__()

    @property
    def status(self) -> str:
        if not self._future.done():
            return "running"
        if self._future.cancelled():
            return "cancelled"
        error = self._future.exception()
        return f"failed: {type(error).__name__}: {error}" if error else "done"

    def __repr__(self) -> str:
        return f"<BackgroundRead {self.description}: {self.status}>"

    def _repr_html_(self) -> str:
        return f"<code>{html.escape(repr(self))}</code>"
