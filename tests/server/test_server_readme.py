"""The README's quickstart, run against the embedded server as the README starts it.

The snippets target ``grpc://localhost:8815`` (where ``python -m flightnb serve`` listens) and
``grpc+unix:///run/flight.sock``; here the same server runs on a free port and a temporary
socket, and the snippets' URIs are rewritten to them. Statements aimed at other servers
(``flight.example``) are left out, and so is the basic-auth handshake: the embedded server has
no authentication. The ``%flight`` magic blocks are left to the magic's own tests.
"""

from __future__ import annotations

import ast
import asyncio
import re
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flightnb.server import FlightSqlServer

README = Path(__file__).resolve().parents[2] / "README.md"
_FENCE = re.compile(r"^```(python|sql)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_TARGETS = ("grpc://localhost:8815", "grpc+unix:///run/flight.sock", "URI")


def _quickstart() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    start, end = text.index("## Quickstart"), text.index("## Documentation")
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(text[start:end])]


def _local_statements(code: str) -> str:
    """The code without top-level statements aimed at other servers."""
    body = code if "await " not in code else "async def _cell():\n" + textwrap.indent(code, "    ")
    tree = ast.parse(body)
    lines = code.splitlines()
    offset = 0 if body is code else 1
    statements = tree.body if body is code else tree.body[0].body  # type: ignore[attr-defined]
    kept = []
    for node in statements:
        source = "\n".join(lines[node.lineno - 1 - offset : node.end_lineno - offset])
        if "flight.example" not in source and ".handshake(" not in source:
            kept.append(textwrap.dedent(source) if offset else source)
    return "\n".join(kept)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory() as folder:
        tcp = FlightSqlServer(sample_size=2000)
        unix = FlightSqlServer(f"grpc+unix://{folder}/flight.sock", sample_size=2000)
        try:
            yield {
                "grpc://localhost:8815": tcp.location,
                "grpc+unix:///run/flight.sock": unix.location,
            }
        finally:
            tcp.shutdown()
            unix.shutdown()


def test_quickstart_targets_the_default_port() -> None:
    blocks = [code for _, code in _quickstart()]
    assert sum("grpc://localhost:8815" in code for code in blocks) >= 3


def test_quickstart_snippets_run(servers: dict[str, str], monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setenv("FLIGHT_TOKEN", "unused-by-the-embedded-server")
    monkeypatch.chdir(tmp_path)  # the sink snippet writes trips.parquet
    namespace: dict[str, Any] = {"__name__": "__readme__", "URI": servers["grpc://localhost:8815"]}
    ran = 0
    for language, code in _quickstart():
        if not any(target in code for target in _TARGETS) or "stub." in code:
            continue
        for original, actual in servers.items():
            code = code.replace(original, actual)
        if language == "sql" or code.lstrip().startswith("%"):
            continue
        code = _local_statements(code)
        if "await " in code or "async with" in code:
            exec(
                compile("async def _cell():\n" + textwrap.indent(code, "    "), "README", "exec"),
                namespace,
            )
            asyncio.run(namespace.pop("_cell")())
        else:
            exec(compile(code, "README.md", "exec"), namespace)
        ran += 1
    assert ran >= 4
    assert namespace["table"].num_rows == 2000
    assert namespace["fares"].shape[0] > 0
    assert namespace["rows"] == namespace["summary"].rows == 2000
    assert (tmp_path / "trips.parquet").is_file()
    assert namespace["expensive"].columns == ["rider_type", "fare"]
