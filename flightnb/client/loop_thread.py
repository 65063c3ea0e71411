"""One private event loop on a daemon thread, for running async code from blocking code.

grpc.aio channels belong to the loop that created them, so every sync client runs its async
client on this one loop. It works the same in a plain script, in IPython, and inside a Jupyter
kernel whose own loop is already running (we never touch that loop).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_CANCEL_GRACE_SECONDS = 5.0
_WAKE_UP_SECONDS = 0.1


class LoopThread:
    """Runs coroutines on a private event loop living on a daemon thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="flightnb-loop", daemon=True
        )
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result.

        A KeyboardInterrupt while waiting (Ctrl-C, or a Jupyter kernel interrupt) cancels
        the coroutine, and with it any gRPC call in flight, then propagates.
        """
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("a blocking flightnb call cannot run on flightnb's own loop")
        if self._loop.is_closed():
            coroutine.close()
            raise RuntimeError("flightnb's event loop has shut down")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            # Waking up now and then lets interrupts that arrive without a real signal
            # (IPython's, ``_thread.interrupt_main``) be seen while we wait.
            while True:
                try:
                    return future.result(timeout=_WAKE_UP_SECONDS)
                except concurrent.futures.TimeoutError:
                    if future.done():
                        raise  # the coroutine's own TimeoutError, not our wait's

        except KeyboardInterrupt:
            future.cancel()
            # Give the cancellation a moment to reach the wire; never hang on it.
            with contextlib.suppress(concurrent.futures.CancelledError, Exception):
                future.result(timeout=_CANCEL_GRACE_SECONDS)
            raise

    def stop(self) -> None:
        """Cancel what still runs and stop the loop (called at interpreter exit)."""
        if self._loop.is_closed() or not self._thread.is_alive():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=_CANCEL_GRACE_SECONDS) if tasks else None

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(
                timeout=_CANCEL_GRACE_SECONDS + 1
            )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=_CANCEL_GRACE_SECONDS)


_shared: LoopThread | None = None
_shared_lock = threading.Lock()


def shared_loop_thread() -> LoopThread:
    """The process-wide loop thread, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LoopThread()
            atexit.register(_shared.stop)
        return _shared
