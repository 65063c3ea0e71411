"""Notebook integration: the ``%flight`` magic, its displays, completion. Needs IPython.

Modules, one job each: ``parsing`` (the magic's command lines), ``connections`` (named
connections, the environment, the TOML file), ``rendering`` (how results look),
``background`` (``--bg`` reads on flightnb's loop thread), ``completion`` (tab completion),
``quiet`` (gRPC core's log lines in kernels), ``placeholders`` (``:name`` parameters) and
``magic`` (dispatch). The ``DataFrame.flight`` accessors are not the notebook's business:
importing :mod:`flightnb.pandas` or :mod:`flightnb.polars` registers them, anywhere.
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext flightnb``: the magic, its displays and completion.

    Connections belong to the shell, not to the magic, so ``%reload_ext flightnb`` keeps them.
    """
    from flightnb.notebook.completion import FlightCompleter, install_completer
    from flightnb.notebook.magic import FlightMagic
    from flightnb.notebook.rendering import install_error_display, register_formatters

    magic = FlightMagic(shell=ipython)
    ipython.register_magics(magic)
    register_formatters(ipython, magic)
    install_error_display(ipython)
    install_completer(ipython, FlightCompleter(magic._parser, lambda: magic.connections))
