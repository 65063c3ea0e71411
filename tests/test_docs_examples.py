"""The ``# runnable`` examples of the docs run against real servers; the others say why not.

A fenced block whose info string is ``python`` and whose first line is ``# runnable`` is
executed as a script. For docs/client.md and docs/codec.md its namespace holds only
``LOCATION`` (the ``flight_server`` fixture's ``grpc://127.0.0.1:<port>``); for the how-to
pages, ``LOCATION`` is the server the page is about (the embedded DuckDB server, or a TLS
server that wants a token) and the PEM bytes it needs (``CA_PEM``, ``CERT_PEM``, ``KEY_PEM``).
Every other block, in any language, starts with a ``# not run: <reason>`` (``--`` for SQL)
comment; the python ones are still parsed (top-level ``await``, as in a notebook cell, as the
body of an ``async def``). Blocks without a language are program output and trees.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as flight
import pytest
from certificates import issue, make_ca
from flight_servers import TEST_USERS, FlightTestServer

from flightnb.workers import close_worker_clients

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


# --- the how-to pages: each runnable block against the server its page is about ----------

HOW_TO = DOCS / "how-to"
_TLS_USER = ("alice", TEST_USERS["alice"])


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    ca, ca_cert, ca_key = make_ca()
    return {"ca": ca, "server": issue(ca_cert, ca_key, "localhost", ips=("127.0.0.1",))}


@pytest.fixture(scope="module")
def embedded_server() -> Iterator[Any]:
    from flightnb.server import FlightSqlServer

    server = FlightSqlServer(sample_size=5_000, batch_size=1_000, endpoints=2)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def tls_token_server(pki: dict[str, Any]) -> Iterator[FlightTestServer]:
    pair = flight.CertKeyPair(cert=pki["server"].certificate, key=pki["server"].private_key)
    with FlightTestServer(
        "grpc+tls://127.0.0.1:0", users=TEST_USERS, tls_certificates=[pair]
    ) as server:
        server.add_table("trips", pa.table({"trip_id": list(range(100))}))
        yield server


def _how_to_namespace(page: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    pki = request.getfixturevalue("pki")
    if page == "connect-tls-tokens.md":
        server = request.getfixturevalue("tls_token_server")
        request.getfixturevalue("monkeypatch").setenv(
            "FLIGHT_TOKEN", server._tokens.login(*_TLS_USER)
        )
        return {
            "LOCATION": f"grpc+tls://127.0.0.1:{server.port}",
            "CA_PEM": pki["ca"].certificate,
            "USERNAME": _TLS_USER[0],
            "PASSWORD": _TLS_USER[1],
        }
    return {
        "LOCATION": request.getfixturevalue("embedded_server").location,
        "CA_PEM": pki["ca"].certificate,
        "CERT_PEM": pki["server"].certificate,
        "KEY_PEM": pki["server"].private_key,
    }


HOW_TO_RUNNABLE = [
    pytest.param(path.name, code, id=f"how-to/{path.name}:{line}")
    for path in sorted(HOW_TO.glob("*.md"))
    for line, code in _blocks(f"how-to/{path.name}")
    if code.startswith(MARKER)
]


def test_every_how_to_task_has_a_runnable_example() -> None:
    pages = {path.name for path in HOW_TO.glob("*.md")} - {"index.md"}
    assert {param.values[0] for param in HOW_TO_RUNNABLE} == pages


@pytest.mark.parametrize(("page", "code"), HOW_TO_RUNNABLE)
def test_how_to_example(
    request: pytest.FixtureRequest, tmp_path: Path, page: str, code: str
) -> None:
    namespace = {"__name__": "__docs_example__", **_how_to_namespace(page, request)}
    request.getfixturevalue("monkeypatch").chdir(tmp_path)  # the examples write files
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"docs/how-to/{page}", "exec"), namespace)
    finally:
        close_worker_clients()  # Dask's default scheduler reads in this process's threads


# --- every code block of every page runs somewhere, or says why not ----------------------

_ANY_FENCE = re.compile(r"^```([\w+-]+)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_WHY_NOT = re.compile(r"^(#|--) not run: \S")
# The tests that run a page's ``# runnable`` blocks, besides this module.
RUN_ELSEWHERE = {
    "dataframes.md": "tests/frames/test_dataframes_doc.py",
    "sql.md": "tests/sql/test_sql_client_docs.py",
}


def _ran_here(page: str) -> bool:
    return page in PAGES or page.startswith("how-to/")


def test_every_code_block_runs_or_says_why_not() -> None:
    unexplained = []
    for path in sorted(DOCS.rglob("*.md")):
        page = path.relative_to(DOCS).as_posix()
        text = path.read_text(encoding="utf-8")
        for match in _ANY_FENCE.finditer(text):
            code = match.group(2)
            line = text.count("\n", 0, match.start()) + 1
            if code.startswith(MARKER):
                assert match.group(1) == "python", f"{page}:{line}"
                assert _ran_here(page) or page in RUN_ELSEWHERE, f"{page}:{line}"
            elif not _WHY_NOT.match(code):
                unexplained.append(f"{page}:{line}")
    assert unexplained == []


def test_the_other_runners_exist() -> None:
    root = DOCS.parent
    for runner in RUN_ELSEWHERE.values():
        assert (root / runner).is_file(), runner
