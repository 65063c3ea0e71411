"""What ``flightnb doctor`` found out about a server: typed results, no I/O.

A :class:`Diagnosis` is a list of :class:`Check` rows, one per capability, each saying whether
the server has it, what was observed, and what flightnb does where it is missing. The probes
(:mod:`flightnb.doctor.probes`) build it; the command line, the ``%flight doctor`` magic and
the tests read it (:mod:`flightnb.doctor.report` renders it).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Check", "Diagnosis", "Failure", "Status"]


class Status(enum.Enum):
    """The verdict of one check."""

    YES = "yes"
    """The server has it (the probe succeeded, or the server said so)."""
    NO = "no"
    """The server lacks it (UNIMPLEMENTED, or the server said so)."""
    UNKNOWN = "?"
    """No verdict: the probe timed out, was refused, or gave an answer that proves nothing."""
    INFO = "info"
    """A value the server reported (its name, its dialect's quote character, ...)."""
    SKIPPED = "-"
    """Not probed: it would write, or an earlier answer made it moot."""


class Failure(enum.Enum):
    """Why a server could not be diagnosed at all."""

    UNREACHABLE = "unreachable"
    AUTH = "auth"


@dataclass(frozen=True)
class Check:
    """One row of the diagnosis.

    Attributes
    ----------
    group : str
        ``"connection"``, ``"Flight"``, ``"optional RPC"``, ``"Flight SQL"`` or ``"SqlInfo"``.
    name : str
        The capability: an RPC (``"PollFlightInfo"``), an action, or a Flight SQL feature
        (``"parameter binding"``). Unique within a diagnosis.
    status : Status
        Whether the server has it.
    detail : str
        What was observed (an answer's code, a count, a value); never a secret.
    fallback : str
        What flightnb does about a missing capability; empty when nothing is needed.
    """

    group: str
    name: str
    status: Status
    detail: str = ""
    fallback: str = ""


@dataclass(frozen=True)
class Diagnosis:
    """Everything ``flightnb doctor`` learnt about one server.

    Attributes
    ----------
    uri : str
        The server's location.
    auth : str
        The authentication that worked: ``"none"``, ``"bearer token"``, ``"basic
        handshake"``, ``"anonymous handshake"``; ``"failed"`` when the server refused.
    checks : tuple of Check
        One row per capability, in the order they were probed.
    failure : Failure or None
        Set when the server could not be diagnosed (unreachable, or it refused the login).
    reason : str
        One line saying why, when ``failure`` is set.
    seconds : float
        How long the probes took.

    Examples
    --------
    >>> d = Diagnosis("grpc://h:1", "none", (Check("Flight", "ListFlights", Status.YES),))
    >>> d.supports("ListFlights"), d.supports("DoExchange")
    (True, None)
    """

    uri: str
    auth: str
    checks: tuple[Check, ...] = ()
    failure: Failure | None = None
    reason: str = ""
    seconds: float = 0.0
    _by_name: dict[str, Check] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {check.name: check for check in self.checks})

    @property
    def answered(self) -> bool:
        """True when the server answered and let us in (the CLI then exits with 0)."""
        return self.failure is None

    @property
    def speaks_flight_sql(self) -> bool:
        """True when the server answered GetSqlInfo."""
        return self.supports("GetSqlInfo") is True

    def check(self, name: str) -> Check:
        """The row named ``name``; KeyError when it was not probed."""
        return self._by_name[name]

    def supports(self, name: str) -> bool | None:
        """True / False for a yes / no verdict on ``name``; None for no verdict or no row."""
        check = self._by_name.get(name)
        if check is None or check.status not in (Status.YES, Status.NO):
            return None
        return check.status is Status.YES

    @property
    def gaps(self) -> tuple[Check, ...]:
        """The rows where flightnb works around something the server lacks."""
        return tuple(c for c in self.checks if c.fallback and c.status is not Status.YES)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON): enums as their values."""
        return {
            "uri": self.uri,
            "auth": self.auth,
            "answered": self.answered,
            "failure": self.failure.value if self.failure else None,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
            "checks": [{**asdict(c), "status": c.status.value} for c in self.checks],
        }
