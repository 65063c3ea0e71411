"""The probes' plumbing: run one probe with a deadline, turn what happened into a row.

A probe that fails is a :class:`~flightnb.doctor.model.Check` row, never an exception; every
row's text passes through :meth:`ProbeRunner.redact`, so no secret reaches the diagnosis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flightnb.client.aio import AsyncFlightClient
from flightnb.doctor.fallbacks import FALLBACKS, NOTES
from flightnb.doctor.model import Check, Status
from flightnb.errors import FlightError, FlightTimedOutError
from flightnb.sql.client import AsyncFlightSqlClient

__all__ = ["DEFAULT_PROBE_SECONDS", "NO_ANSWER", "REFUSED", "Outcome", "ProbeRunner"]

DEFAULT_PROBE_SECONDS = 5.0
"""How long one probe may take before it counts as unanswered."""

#: Codes that mean the server did not really answer.
NO_ANSWER = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"})
#: Codes that mean the server refused the credentials, not the request.
REFUSED = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
_DETAIL_CHARS = 90

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What one probe returned, or the error it ended with."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str | None:
        """The gRPC status name of a FlightError; None for success or local errors."""
        return self.error.code if isinstance(self.error, FlightError) else None


class ProbeRunner:
    """Runs probes on one client, with a deadline each, and collects their rows."""

    def __init__(self, client: AsyncFlightClient, timeout: float, secrets: Iterable[str]) -> None:
        self.client = client
        self.sql = AsyncFlightSqlClient(client, poll=False)
        self.timeout = timeout
        self.secrets = {s for s in secrets if s}
        self.checks: dict[str, Check] = {}

    # --- plumbing ---------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` without any secret (longest first, so no part of one is left)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def add(self, group: str, name: str, status: Status, detail: str = "") -> Check:
        """Record a row (replacing an earlier row of that name, in place)."""
        # A fallback answers a gap: a "no", or an upload, which is never probed.
        gap = status is Status.NO or (name == "DoPut" and status is not Status.YES)
        fallback = FALLBACKS.get(name, "") if gap else ""
        if status is Status.YES:
            fallback = NOTES.get(name, "")
        check = Check(group, name, status, self.redact(detail), fallback)
        self.checks[name] = check
        return check

    async def attempt(self, make: Callable[[], Awaitable[T]]) -> Outcome:
        """Run one probe with its deadline; any failure is returned, not raised."""
        try:
            return Outcome(await asyncio.wait_for(make(), self.timeout + 1.0))
        except asyncio.TimeoutError:
            error = FlightTimedOutError(
                f"no answer within {self.timeout:g} s", code="DEADLINE_EXCEEDED"
            )
            return Outcome(error=error)
        except Exception as exc:  # a probe that fails is a row, whatever failed
            return Outcome(error=exc)

    def describe(self, outcome: Outcome) -> str:
        """A short, secret-free account of a failed probe: ``CODE: message``."""
        error = outcome.error
        if error is None:
            return ""
        if isinstance(error, FlightError):
            head = error.code or type(error).__name__
            text = f"{head}: {error.message}" if error.message else head
        else:
            text = f"{type(error).__name__}: {error}"
        text = " ".join(self.redact(text).split())
        return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "..."

    def verdict(self, outcome: Outcome) -> Status:
        """For an RPC probed with a made-up request: any real answer proves it exists."""
        if outcome.ok:
            return Status.YES
        code = outcome.code
        if code == "UNIMPLEMENTED":
            return Status.NO
        if code is None or code in NO_ANSWER or code in REFUSED:
            return Status.UNKNOWN
        return Status.YES

    def rpc(self, group: str, name: str, outcome: Outcome, success: str) -> Check:
        status = self.verdict(outcome)
        if outcome.ok:
            detail = success
        elif status is Status.YES:
            detail = f"exists (a made-up request got {self.describe(outcome)})"
        else:
            detail = self.describe(outcome)
        return self.add(group, name, status, detail)
