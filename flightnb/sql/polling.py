"""Planning a query with PollFlightInfo: a bounded polling loop with backoff."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flightnb.client.observer import TransferObserver, TransferStats, notify
from flightnb.client.rpcs import FlightRpcs
from flightnb.errors import FlightDecodeError, FlightError, FlightTimedOutError
from flightnb.transport.auth import Headers
from flightnb.types import FlightInfo, PollInfo

__all__ = ["ContinuedObserver", "PollPolicy", "poll_until_complete"]


@dataclass(frozen=True)
class PollPolicy:
    """How long and how often to poll a long-running query.

    Parameters
    ----------
    initial_interval : float
        Seconds before the second poll.
    backoff : float
        Factor by which the interval grows after each poll.
    max_interval : float
        Longest wait between polls.
    timeout : float or None
        Give up (cancel the query, raise FlightTimedOutError) after this many seconds of
        polling; None polls as long as ``max_polls`` allows.
    max_polls : int
        Give up after this many PollFlightInfo calls.
    """

    initial_interval: float = 0.05
    backoff: float = 1.5
    max_interval: float = 1.0
    timeout: float | None = None
    max_polls: int = 10_000


async def poll_until_complete(
    client: FlightRpcs,
    first: PollInfo,
    policy: PollPolicy,
    *,
    observer: TransferObserver | None = None,
    timeout: float | None = None,
    headers: Headers = None,
    cancel: Callable[[FlightInfo], Any] | None = None,
) -> FlightInfo:
    """Poll until the query behind ``first`` is complete; returns its final FlightInfo.

    Each poll's ``progress`` goes to ``observer.polled``. When the policy's bound is reached,
    the query is cancelled (``cancel(info)``, best effort) and FlightTimedOutError raised.
    """
    loop = asyncio.get_running_loop()
    deadline = None if policy.timeout is None else loop.time() + policy.timeout
    result, polls, delay = first, 1, policy.initial_interval
    notify(observer, "polled", result.progress)
    while result.descriptor is not None:
        out_of_time = deadline is not None and loop.time() + delay > deadline
        if polls >= policy.max_polls or out_of_time:
            if cancel is not None and result.info is not None:
                with contextlib.suppress(FlightError):
                    await cancel(result.info)
            raise FlightTimedOutError(
                f"the query did not complete after {polls} PollFlightInfo call(s)"
                + (f" in {policy.timeout} s" if out_of_time else ""),
                code="DEADLINE_EXCEEDED",
            )
        await asyncio.sleep(delay)
        delay = min(delay * policy.backoff, policy.max_interval)
        result = await client.poll_flight_info(result.descriptor, timeout=timeout, headers=headers)
        polls += 1
        notify(observer, "polled", result.progress)
    if result.info is None:
        raise FlightDecodeError("the query completed without a FlightInfo", where="PollInfo")
    return result.info


class ContinuedObserver:
    """Forwards a read's observer calls into a transfer that is already bracketed.

    A query that polled first has already reported ``started`` (and ``polled``). The read that
    follows reports ``started`` again, now with the FlightInfo's totals and number of parts,
    then its progress; its ``finished`` is left to the outer bracket, which reports it once.
    """

    def __init__(self, observer: TransferObserver) -> None:
        self._observer = observer

    def started(self, **kwargs: Any) -> None:
        notify(self._observer, "started", **kwargs)

    def polled(self, progress: float | None) -> None:
        notify(self._observer, "polled", progress)

    def progressed(self, part: int, stats: TransferStats) -> None:
        notify(self._observer, "progressed", part, stats)

    def finished(self, error: BaseException | None) -> None:
        pass
