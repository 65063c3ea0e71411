"""Deprecated: the Flight SQL command code moved to :mod:`flightnb.protocol.commands`.

The server needs it as much as the client, and importing this package would load the client.
Every name still resolves here, with a :class:`DeprecationWarning`; this module goes in the
next release.
"""

from __future__ import annotations

from flightnb._deprecated import renamed_names
from flightnb.protocol import commands as _commands

__all__ = list(_commands.__all__)  # a star import still gets every name, with a warning

__getattr__ = renamed_names(
    __name__,
    vars(_commands),
    {name: (name, f"use flightnb.protocol.commands.{name}") for name in _commands.__all__},
)
