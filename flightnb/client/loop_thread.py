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
import time
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

from flightnb import _tracking
from flightnb.errors import FlightCancelledError

T = TypeVar("T")

_CANCEL_GRACE_SECONDS = 5.0
# At interpreter exit: how long stop() waits for calls in flight to finish cancelling.
_EXIT_GRACE_SECONDS = 2.0
_JOIN_MIN_SECONDS = 0.2
_WAKE_UP_SECONDS = 0.1


class LoopThread:
    """Runs coroutines on a private event loop living on a daemon thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="flightnb-loop", daemon=True
        )
        self._thread.start()
        self._tracked = _tracking.opened(self, "loop thread", "a private LoopThread")

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
        return _wait_for(self._loop, coroutine)

    async def run_async(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` on this loop, from any event loop.

        On the loop's own thread it is simply awaited; from another loop (a notebook
        kernel's) it is handed to this loop and awaited there, and cancelling the waiter
        cancels it. So async helpers given a blocking client never schedule a second task
        onto the loop they already run on.
        """
        if threading.current_thread() is self._thread:
            return await coroutine
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    def stop(self, grace: float = _EXIT_GRACE_SECONDS) -> None:
        """Cancel what still runs, stop the loop and close it (called at interpreter exit).

        Bounded by about ``grace`` seconds, so exit never hangs on flightnb: tasks that do not
        finish cancelling within it, or a loop blocked by a callback, are left to die with the
        process. Once the loop is closed, a blocking call (say from an atexit handler that
        was registered before flightnb started, and so runs after this one) raises
        RuntimeError at once instead of waiting forever for a loop that no longer runs.
        """
        if self._loop.is_closed():
            return
        if not self._thread.is_alive():
            _close_stopped_loop(self._loop)
            _tracking.closed(self._tracked)
            return
        deadline = time.monotonic() + grace

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_all(), self._loop).result(
                timeout=max(0.0, deadline - time.monotonic())
            )
        with contextlib.suppress(RuntimeError):  # closed meanwhile by a concurrent stop()
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=max(_JOIN_MIN_SECONDS, deadline - time.monotonic()))
        if not self._thread.is_alive():
            _close_stopped_loop(self._loop)
            _tracking.closed(self._tracked)


def _close_stopped_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a loop whose thread has ended; never raises (this runs at interpreter exit)."""
    if loop.is_running() or loop.is_closed():
        return
    with contextlib.suppress(Exception):
        loop.close()


def _wait_for(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on ``loop`` (another thread's) and wait for its result.

    A KeyboardInterrupt while waiting (Ctrl-C, or a Jupyter kernel interrupt) cancels the
    coroutine, and with it any gRPC call in flight, then propagates.
    """
    call = _HandedOver(coroutine, loop)
    try:
        call.hand_over()
        # Waking up now and then lets interrupts that arrive without a real signal
        # (IPython's, ``_thread.interrupt_main``) be seen while we wait.
        while True:
            try:
                return call.future.result(timeout=_WAKE_UP_SECONDS)
            except concurrent.futures.TimeoutError:
                if call.future.done():
                    raise  # the coroutine's own TimeoutError, not our wait's
                if loop.is_closed():  # stopped (at exit) before the call ran
                    raise RuntimeError("the event loop of this call has shut down") from None

    except concurrent.futures.CancelledError:
        # Cancelled from elsewhere (the loop shutting down): a Flight error, as everywhere.
        raise FlightCancelledError("the call was cancelled", code="CANCELLED") from None
    except KeyboardInterrupt:
        call.abandon()
        # Give the cancellation a moment to reach the wire (and the server to hear of an
        # abandoned flight); never hang on it.
        call.ended.wait(_CANCEL_GRACE_SECONDS)
        raise


class _HandedOver(Generic[T]):
    """One coroutine handed from a waiting thread to the loop, and its outcome.

    ``asyncio.run_coroutine_threadsafe`` returns its future only after it has scheduled the
    coroutine and woken the loop, so a KeyboardInterrupt landing inside it leaves the
    caller unable to tell whether the coroutine runs, and nothing to cancel it with. Here
    the caller holds the future before anything is handed over, and :meth:`abandon`, which
    reaches the loop after the hand-over (the loop runs callbacks in the order they were
    scheduled), cancels the task if there is one and otherwise closes the coroutine on the
    loop, unstarted. Either way ``ended`` is set once the coroutine is over, clean-up included.
    """

    def __init__(self, coroutine: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop):
        self.future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self.ended = threading.Event()
        self._coroutine = coroutine
        self._loop = loop
        self._task: asyncio.Task[T] | None = None  # set on the loop

    def hand_over(self) -> None:
        """Schedule the coroutine on the loop (from the waiting thread)."""
        try:
            self._loop.call_soon_threadsafe(self._start)
        except RuntimeError:  # the loop has closed
            self._coroutine.close()
            raise RuntimeError("the event loop of this call has shut down") from None

    def abandon(self) -> None:
        """Cancel the call (from the waiting thread), however far the hand-over got."""
        self.future.cancel()
        try:
            self._loop.call_soon_threadsafe(self._abandon)
        except RuntimeError:  # the loop has closed, so nothing of the call runs
            self._coroutine.close()
            self.ended.set()

    def _start(self) -> None:  # on the loop
        self._task = self._loop.create_task(self._coroutine)
        self._task.add_done_callback(self._settle)

    def _abandon(self) -> None:  # on the loop, always after _start if that was scheduled
        if self._task is None:  # never started: close it here, on its own loop
            self._coroutine.close()
            self.ended.set()
        else:
            self._task.cancel()

    def _settle(self, task: asyncio.Task[T]) -> None:  # on the loop, once the task is over
        try:
            if task.cancelled():
                self.future.cancel()
            elif not self.future.set_running_or_notify_cancel():
                return  # the caller has given up on the outcome
            elif (error := task.exception()) is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(task.result())
        finally:
            self.ended.set()


class LoopPortal:
    """Blocking calls into a running event loop from other threads (a worker of that loop).

    The caller's own loop, seen from the thread an async sink writes its files on: ``run``
    hands a coroutine to the loop and waits for it, as :meth:`LoopThread.run` does.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result (never from the loop)."""
        if _running_loop() is self._loop:
            coroutine.close()
            raise RuntimeError("a blocking call cannot wait on the loop it runs on")
        return _wait_for(self._loop, coroutine)

    async def run_async(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine``: this is the loop's own side."""
        return await coroutine


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def current_portal() -> LoopThread | LoopPortal:
    """The running loop as a portal: flightnb's loop thread when on it, else a LoopPortal."""
    loop = asyncio.get_running_loop()
    shared = _shared
    if shared is not None and shared.loop is loop:
        return shared
    return LoopPortal(loop)


def running_on_loop_thread() -> LoopThread | None:
    """flightnb's loop thread if the running loop is its loop, else None."""
    shared = _shared
    if shared is not None and _running_loop() is shared.loop:
        return shared
    return None


_shared: LoopThread | None = None
_shared_lock = threading.Lock()


def shared_loop_thread() -> LoopThread:
    """The process-wide loop thread, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LoopThread()
            atexit.register(_shared.stop)
            # Meant to live as long as the process (stopped at exit): never a leak.
            _tracking.closed(_shared._tracked)
        return _shared
