"""Notebook integration: the ``%flight`` magic and its displays. Needs IPython."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext flightnb``: register the ``%flight`` magic (and the DataFrame accessors)."""
    from flightnb.convert import register_accessors
    from flightnb.notebook.magic import FlightMagic

    ipython.register_magics(FlightMagic)
    register_accessors()
