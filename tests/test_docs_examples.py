"""The ``# runnable`` examples of docs/client.md and docs/codec.md run against a real server.

A fenced block whose info string is ``python`` and whose first line is ``# runnable`` is
executed as a script, in a fresh namespace holding only ``LOCATION`` (the ``flight_server``
fixture's ``grpc://127.0.0.1:<port>``). Other ``python`` blocks are illustrations (they need a
remote server, credentials or the reader's own stubs) and are only checked to parse; those
with top-level ``await``, as in a notebook cell, are parsed as the body of an ``async def``.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = ("client.md", "codec.md")
MARKER = "# runnable"
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _blocks(page: str) -> list[tuple[int, str]]:
    """(line number, code) of every ``python`` block of a page."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _FENCE.finditer(text)]


RUNNABLE = [
    pytest.param(page, code, id=f"{page}:{line}")
    for page in PAGES
    for line, code in _blocks(page)
    if code.startswith(MARKER)
]


def test_enough_runnable_examples() -> None:
    assert len(RUNNABLE) >= 4
    assert {param.values[0] for param in RUNNABLE} == set(PAGES)


@pytest.mark.parametrize(("page", "code"), RUNNABLE)
def test_runnable_example(flight_server: Any, page: str, code: str) -> None:
    namespace: dict[str, Any] = {"__name__": "__docs_example__", "LOCATION": flight_server.location}
    exec(compile(code, f"docs/{page}", "exec"), namespace)


@pytest.mark.parametrize("page", PAGES)
def test_illustrations_parse(page: str) -> None:
    for line, code in _blocks(page):
        if code.startswith(MARKER):
            continue
        if "await " in code or "async with" in code:
            code = "async def _cell():\n" + textwrap.indent(code, "    ")
        try:
            ast.parse(code)
        except SyntaxError as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"docs/{page}:{line}: {exc}")
