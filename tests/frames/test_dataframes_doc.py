"""The ``# runnable`` examples of docs/dataframes.md run against a real server.

A ``python`` block whose first line is ``# runnable`` is executed with ``LOCATION`` set to
the ``flight_server`` fixture's location; the other blocks must at least parse.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.frames

PAGE = Path(__file__).resolve().parents[2] / "docs" / "dataframes.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _blocks() -> list[str]:
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_every_block_parses() -> None:
    blocks = _blocks()
    assert len(blocks) >= 3
    for code in blocks:
        ast.parse(code)


@pytest.mark.parametrize(
    "code", [code for code in _blocks() if code.startswith("# runnable\n")], ids=lambda _: "block"
)
def test_runnable_block(code: str, flight_server: Any) -> None:
    exec(compile(code, str(PAGE), "exec"), {"LOCATION": flight_server.location})
