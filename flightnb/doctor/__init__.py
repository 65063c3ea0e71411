"""``flightnb doctor``: what a Flight server speaks, and what flightnb does about its gaps.

:func:`diagnose` (and :func:`diagnose_async`) probe a server within bounded time and without
writing to it, and return a :class:`Diagnosis`; :func:`render_text` prints it as one table.
The command line is ``python -m flightnb doctor URI``; in a notebook, ``%flight doctor URI``.
"""

from flightnb.doctor.model import Check, Diagnosis, Failure, Status
from flightnb.doctor.probes import DEFAULT_PROBE_SECONDS, diagnose, diagnose_async
from flightnb.doctor.report import render_text

__all__ = [
    "DEFAULT_PROBE_SECONDS",
    "Check",
    "Diagnosis",
    "Failure",
    "Status",
    "diagnose",
    "diagnose_async",
    "render_text",
]
