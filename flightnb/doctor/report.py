"""A diagnosis as one table: rows for the notebook, wrapped text for a terminal."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from flightnb.doctor.model import Diagnosis

__all__ = ["COLUMNS", "render_text", "rows", "title"]

COLUMNS = ("group", "check", "status", "detail", "flightnb does")
# Widths of the wrapped columns (detail, flightnb does) in the terminal table.
_WRAP: tuple[int | None, ...] = (None, None, None, 44, 48)


def title(diagnosis: Diagnosis) -> str:
    """The line above the table: where, which auth, how long; or why it failed."""
    head = f"flightnb doctor {diagnosis.uri}"
    if not diagnosis.answered:
        return f"{head}: {diagnosis.reason}"
    return f"{head} (auth: {diagnosis.auth}; {diagnosis.seconds:.1f} s)"


def rows(diagnosis: Diagnosis) -> list[list[str]]:
    """One list of cells per check, in :data:`COLUMNS` order."""
    return [
        [check.group, check.name, check.status.value, check.detail, check.fallback]
        for check in diagnosis.checks
    ]


def render_text(diagnosis: Diagnosis) -> str:
    """The diagnosis as an aligned text table; long cells wrap within their column.

    Examples
    --------
    >>> from flightnb.doctor.model import Check, Diagnosis, Status
    >>> print(render_text(Diagnosis("grpc://h:1", "none", (Check("Flight", "DoGet", Status.YES),))))
    flightnb doctor grpc://h:1 (auth: none; 0.0 s)
    group   check  status  detail  flightnb does
    ------  -----  ------  ------  -------------
    Flight  DoGet  yes
    """
    table = rows(diagnosis)
    if not table:
        return title(diagnosis)
    cells = [
        [
            textwrap.wrap(cell, width) or [""] if width else [cell]
            for cell, width in zip(row, _WRAP, strict=True)
        ]
        for row in table
    ]
    widths = [len(c) for c in COLUMNS]
    for row_cells in cells:
        widths = [
            max(w, *(len(line) for line in cell)) for w, cell in zip(widths, row_cells, strict=True)
        ]
    lines = [title(diagnosis), _line(COLUMNS, widths), _line(["-" * w for w in widths], widths)]
    for row_cells in cells:
        height = max(len(cell) for cell in row_cells)
        for i in range(height):
            lines.append(_line([cell[i] if i < len(cell) else "" for cell in row_cells], widths))
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
