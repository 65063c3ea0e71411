"""The examples of docs/sql.md: ``# runnable`` blocks run against the embedded server.

A ``python`` block whose first line is ``# runnable`` runs as a script with ``LOCATION`` (the
``sql_server`` fixture's URI) in its namespace; the other blocks must parse (top-level
``await`` as the body of an ``async def``).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from flightnb.server import FlightSqlServer

PAGE = Path(__file__).resolve().parents[2] / "docs" / "sql.md"
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
BLOCKS = [
    (PAGE.read_text(encoding="utf-8").count("\n", 0, m.start()) + 1, m.group(1))
    for m in _FENCE.finditer(PAGE.read_text(encoding="utf-8"))
]
RUNNABLE = [
    pytest.param(code, id=f"sql.md:{line}")
    for line, code in BLOCKS
    if code.startswith("# runnable")
]


def test_enough_runnable_examples() -> None:
    assert len(RUNNABLE) >= 5


@pytest.mark.parametrize("code", RUNNABLE)
def test_runnable_example(sql_server: FlightSqlServer, code: str) -> None:
    namespace: dict[str, Any] = {"__name__": "__docs_example__", "LOCATION": sql_server.location}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, str(PAGE), "exec"), namespace)


def test_illustrations_parse() -> None:
    for line, code in BLOCKS:
        if "await " in code or "async with" in code:
            code = "async def _cell():\n" + textwrap.indent(code, "    ")
        try:
            ast.parse(code)
        except SyntaxError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"docs/sql.md:{line}: {exc}")
