"""How a blocking call hands its coroutine to flightnb's loop thread, and takes it back.

An interrupt may land anywhere in the hand-over, so the call must be cancellable at every
stage of it: before the loop has started the coroutine (it is closed there, unstarted) and
after (its task is cancelled, and its clean-up runs before the caller goes on).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator

import pytest

from flightnb.client.loop_thread import LoopPortal, LoopThread, _HandedOver

WAIT = 30.0  # bound on every wait for the loop: only a broken hand-over reaches it


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.stop()


def _hold(loop_thread: LoopThread) -> threading.Event:
    """Keep the loop busy in a callback until the returned event is set."""
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        holding.set()
        release.wait(WAIT)

    loop_thread.loop.call_soon_threadsafe(hold)
    assert holding.wait(WAIT)
    return release


def test_a_call_abandoned_before_the_loop_starts_it_is_closed_unstarted(
    loop_thread: LoopThread,
) -> None:
    began = threading.Event()

    async def body() -> int:
        began.set()
        return 1

    coroutine = body()
    release = _hold(loop_thread)
    call = _HandedOver(coroutine, loop_thread.loop)
    call.hand_over()
    call.abandon()
    release.set()
    assert call.ended.wait(WAIT)
    assert call.future.cancelled()
    assert not began.is_set()
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED


def test_a_call_abandoned_while_it_runs_is_cancelled_and_cleans_up_first(
    loop_thread: LoopThread,
) -> None:
    running = threading.Event()
    cleaned_up = threading.Event()

    async def body() -> int:
        try:
            running.set()
            await asyncio.Event().wait()  # never set: only a cancel ends this
            return 1
        finally:
            await asyncio.sleep(0)  # clean-up that itself awaits
            cleaned_up.set()

    call = _HandedOver(body(), loop_thread.loop)
    call.hand_over()
    assert running.wait(WAIT)
    call.abandon()
    assert call.ended.wait(WAIT)
    assert cleaned_up.is_set()
    assert call.future.cancelled()


def test_a_call_abandoned_once_it_has_finished_changes_nothing(loop_thread: LoopThread) -> None:
    async def body() -> int:
        return 7

    call = _HandedOver(body(), loop_thread.loop)
    call.hand_over()
    assert call.future.result(WAIT) == 7
    call.abandon()
    assert call.ended.wait(WAIT)
    assert call.future.result(0) == 7


def test_run_returns_the_result_and_raises_the_error(loop_thread: LoopThread) -> None:
    async def answer() -> str:
        return threading.current_thread().name

    async def fail() -> None:
        raise LookupError("from the loop")

    assert loop_thread.run(answer()) == "flightnb-loop"
    with pytest.raises(LookupError, match="from the loop"):
        loop_thread.run(fail())


def test_run_on_a_stopped_loop_raises_and_closes_the_coroutine(loop_thread: LoopThread) -> None:
    async def body() -> int:
        return 1

    loop_thread.stop()
    coroutine = body()
    with pytest.raises(RuntimeError, match="shut down"):
        loop_thread.run(coroutine)
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED


def test_a_portal_runs_a_worker_threads_coroutine_on_the_callers_loop() -> None:
    async def on_loop() -> str:
        return threading.current_thread().name

    async def main() -> tuple[str, str]:
        portal = LoopPortal(asyncio.get_running_loop())
        from_worker = await asyncio.to_thread(portal.run, on_loop())
        return from_worker, threading.current_thread().name

    from_worker, loop_thread_name = asyncio.run(main())
    assert from_worker == loop_thread_name


def test_a_portal_refuses_to_wait_on_its_own_loop() -> None:
    async def body() -> int:
        return 1

    async def main() -> None:
        coroutine = body()
        with pytest.raises(RuntimeError, match="cannot wait on the loop it runs on"):
            LoopPortal(asyncio.get_running_loop()).run(coroutine)
        assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED

    asyncio.run(main())
