"""Deprecated: the Flight SQL command code moved to :mod:`flightnb.protocol.commands`.

The server needs it as much as the client, and importing this package would load the client.
Every name still resolves here, with a :class:`DeprecationWarning`; this module goes in the
next release.
"""

from __future__ import annotations

import warnings
from typing import Any

from flightnb.protocol import commands as _commands

__all__ = list(_commands.__all__)


def __getattr__(name: str) -> Any:
    if name not in _commands.__all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"flightnb.sql.commands.{name} moved to flightnb.protocol.commands.{name}; "
        "flightnb.sql.commands goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(_commands, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
