"""Progress displays for transfers: counting lives in the client, this package only renders.

``read_flight(progress=...)`` picks a display with :func:`auto_observer`: the ipywidgets
display (:class:`WidgetProgress`) inside a Jupyter kernel, text on stderr
(:class:`TextProgress`) elsewhere. IPython, ipywidgets and tqdm are imported only when a
display is drawn.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from flightnb.client.observer import TransferObserver
from flightnb.progress.state import ProgressState, Throttle
from flightnb.progress.text import TextProgress
from flightnb.progress.widget import WidgetProgress

__all__ = [
    "ProgressState",
    "TextProgress",
    "Throttle",
    "TransferObserver",
    "WidgetProgress",
    "auto_observer",
    "in_jupyter_kernel",
]

DEFAULT_DELAY_SECONDS = 0.5


def in_jupyter_kernel() -> bool:
    """True inside a Jupyter (ZMQ) kernel, where widgets can be displayed."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return False  # a kernel always has IPython loaded; don't import it for nothing
    try:
        shell = ipython_module.get_ipython()
    except Exception:
        return False
    return shell is not None and any(
        cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__
    )


def auto_observer(
    progress: bool | TransferObserver | Any | None,
    *,
    label: str | None = None,
    timeout: float | None = None,
) -> TransferObserver | None:
    """The display for ``progress=``.

    Parameters
    ----------
    progress : bool, TransferObserver or None
        False: no display. None: show progress once a transfer lasts more than 0.5 s.
        True: show it from the start (and a final summary even for quick reads). An object
        implementing :class:`TransferObserver` is used as is.
    label : str, optional
        What the header names (``"read SQL 'SELECT …'"``); by default it comes from the
        FlightInfo.
    timeout : float, optional
        The transfer's deadline, so that reaching it shows as "timed out".

    Returns
    -------
    TransferObserver or None
        A :class:`WidgetProgress` in a Jupyter kernel with ipywidgets installed, else a
        :class:`TextProgress` on stderr.
    """
    if progress is False:
        return None
    if progress is not None and progress is not True:
        return progress
    delay = 0.0 if progress else DEFAULT_DELAY_SECONDS
    if in_jupyter_kernel() and importlib.util.find_spec("ipywidgets") is not None:
        return WidgetProgress(delay=delay, label=label, timeout=timeout)
    return TextProgress(delay=delay, label=label, timeout=timeout)
