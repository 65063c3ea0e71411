"""Credentials never show: not in reprs, errors, logs, progress displays, magic output or a
saved notebook.

Canary secrets are used the ways a notebook user passes credentials: ``token=``, a basic-auth
password (``handshake`` and ``%flight connect --user``), an ``authorization`` header
(``headers=`` and ``--header``), and the token a server hands out after a handshake. Every
text a user could see or save is searched for each canary and for the base64 form it takes
in a basic-auth header.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pyarrow as pa
import pyarrow.flight as paflight
import pytest
from IPython.core.interactiveshell import InteractiveShell

import flightnb
from flightnb import AsyncFlightClient, FlightClient, FlightDescriptor, read_flight
from flightnb.progress import TextProgress, WidgetProgress

CANARY = "canary-7f3a9c-secret"  # a valid token, alice's password, a header value
ISSUED = "canary-issued-4b1d"  # the token the server hands out after a handshake
WRONG = "canary-wrong-e58a"  # a token / password / header the server refuses
USER = "alice"
TABLE = pa.table({"n": pa.array(range(50_000), pa.int64())})


def _basic(password: str) -> str:
    return base64.b64encode(f"{USER}:{password}".encode()).decode()


FORBIDDEN = [CANARY, ISSUED, WRONG, _basic(CANARY), _basic(WRONG)]


def assert_no_secret(text: str, where: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"{secret!r} leaked into {where}"


# --- a server with tokens, basic auth and handshakes -------------------------------------


def _first(headers: dict[str, list[Any]], name: str) -> str:
    values = headers.get(name) or [""]
    value = values[0]
    return value.decode() if isinstance(value, bytes) else str(value)


class _Issue(paflight.ServerMiddleware):
    def __init__(self, token: str | None) -> None:
        self.token = token

    def sending_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}


class _Guard(paflight.ServerMiddlewareFactory):
    """Bearer CANARY or ISSUED passes; a Basic header on Handshake logs in alice/CANARY."""

    def start_call(self, info: Any, headers: dict[str, list[Any]]) -> _Issue:
        authorization = _first(headers, "authorization")
        if info.method == paflight.FlightMethod.HANDSHAKE:
            if authorization.startswith("Basic "):
                if authorization[6:] != _basic(CANARY):
                    raise paflight.FlightUnauthenticatedError("invalid username or password")
                return _Issue(ISSUED)
            return _Issue(None)
        token = authorization.removeprefix("Bearer ") or _first(headers, "auth-token-bin")
        if token not in (CANARY, ISSUED):
            raise paflight.FlightUnauthenticatedError("unknown bearer token")
        return _Issue(None)


class _Payloads(paflight.ServerAuthHandler):
    """Handshake payloads (BasicAuth) for clients that send them; the header does the work."""

    def authenticate(self, outgoing: Any, incoming: Any) -> None:
        try:
            payload = incoming.read()
        except OSError:
            return
        if payload is not None:
            basic = paflight.BasicAuth.deserialize(payload)
            if basic.password.decode() != CANARY:
                raise paflight.FlightUnauthenticatedError("invalid username or password")
            outgoing.write(ISSUED.encode())

    def is_valid(self, token: bytes) -> str:
        return ""  # the middleware checks every call


class _Guarded(paflight.FlightServerBase):
    def get_flight_info(self, context: Any, descriptor: Any) -> paflight.FlightInfo:
        endpoint = paflight.FlightEndpoint(b"t", [])
        return paflight.FlightInfo(TABLE.schema, descriptor, [endpoint], TABLE.num_rows, -1)

    def do_get(self, context: Any, ticket: Any) -> paflight.FlightDataStream:
        return paflight.RecordBatchStream(
            pa.RecordBatchReader.from_batches(TABLE.schema, TABLE.to_batches(10_000))
        )


@pytest.fixture(scope="module")
def location() -> Iterator[str]:
    server = _Guarded(
        "grpc://127.0.0.1:0", auth_handler=_Payloads(), middleware={"guard": _Guard()}
    )
    try:
        yield f"grpc://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in ("flightnb", "grpc", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            parts.extend(traceback.format_exception(record.exc_info[1]))
    return "\n".join(parts)


def _error_text(error: BaseException) -> str:
    """Everything an error shows: str, repr, attributes and the whole chained traceback."""
    parts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    if isinstance(error, flightnb.FlightError):
        parts += [error.message, repr(error.trailers), repr(error.extra_info)]
        parts += [repr(error.arrow_detail), repr(error.arrow_message)]
    cause = error.__cause__
    if cause is not None:
        parts.append(repr(cause))
        for name in ("details", "debug_error_string", "trailing_metadata", "initial_metadata"):
            method = getattr(cause, name, None)
            if callable(method):
                parts.append(repr(method()))
    return "\n".join(parts)


# --- clients and errors -------------------------------------------------------------------


def _shown(obj: Any) -> str:
    return f"{obj!r}\n{obj}"


def test_clients_errors_and_logs_show_no_secret(location: str, logs: Any) -> None:
    seen: list[tuple[str, str]] = []
    bearer = {"authorization": f"Bearer {CANARY}"}
    good = {
        "token=": FlightClient(location, token=CANARY),
        "token callable": FlightClient(location, token=lambda: CANARY),
        "headers=": FlightClient(location, headers=bearer),
        "sql client": flightnb.FlightSqlClient(location, token=CANARY),
    }
    for name, client in good.items():
        flight = client if isinstance(client, FlightClient) else client.flight_client
        assert flight.do_get(b"t").read_all().num_rows == TABLE.num_rows
        seen.append((f"repr of {name} client", _shown(client)))
        client.close()
    with FlightClient(location) as client:
        client.handshake(USER, CANARY)
        assert client.get_flight_info(FlightDescriptor.for_path("t")).total_records == 50_000
        seen.append(("repr of a client after handshake", _shown(client)))
        seen.append(("repr of the sql client around it", _shown(flightnb.FlightSqlClient(client))))

    async def async_client() -> str:
        async with AsyncFlightClient(location, token=CANARY, headers={"x-api-key": CANARY}) as c:
            await c.do_get(b"t").read_all()
            await c.handshake(USER, CANARY)
            return _shown(c) + _shown(flightnb.AsyncFlightSqlClient(c))

    seen.append(("repr of an async client", asyncio.run(async_client())))

    rejected = {
        "token=": lambda: FlightClient(location, token=WRONG),
        "headers=": lambda: FlightClient(location, headers={"authorization": f"Bearer {WRONG}"}),
        "sql client": lambda: flightnb.FlightSqlClient(location, token=WRONG),
    }
    for name, make in rejected.items():
        client = make()
        calls = {
            "GetFlightInfo": lambda c=client: c.get_flight_info(FlightDescriptor.for_path("t")),
            "DoGet": lambda c=client: c.do_get(b"t").read_all(),
        }
        if isinstance(client, flightnb.FlightSqlClient):
            calls = {"sql query": lambda c=client: c.query("SELECT 1")}
        for call_name, call in calls.items():
            with pytest.raises(flightnb.FlightUnauthenticatedError) as caught:
                call()
            seen.append((f"{call_name} error with {name}", _error_text(caught.value)))
        client.close()
    with FlightClient(location) as client:
        with pytest.raises(flightnb.FlightUnauthenticatedError) as caught:
            client.handshake(USER, WRONG)
        seen.append(("handshake error", _error_text(caught.value)))
        with pytest.raises(flightnb.FlightUnauthenticatedError) as caught:
            read_flight(location, path="t", token=WRONG, progress=False)
        seen.append(("read_flight error", _error_text(caught.value)))

    seen.append(("logs", _log_text(logs)))
    for where, text in seen:
        assert_no_secret(text, where)
    assert any("UNAUTHENTICATED" in text for _, text in seen)


def test_connection_repr_shows_header_names_only(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flightnb.notebook.connections import ConnectionSpec, open_connection

    monkeypatch.setenv("FLIGHTNB_TEST_AUTH", f"Bearer {CANARY}")
    spec = ConnectionSpec(
        "t",
        location,
        headers={"x-team": "a"},
        headers_env={"authorization": "FLIGHTNB_TEST_AUTH"},
    )
    connection = open_connection(spec, check=False)
    try:
        text = _shown(connection)
        assert "authorization" in text and "x-team" in text
        assert_no_secret(text, "Connection repr")
    finally:
        connection.close()


# --- progress displays ------------------------------------------------------------------


class _RecordedWidget(WidgetProgress):
    """A WidgetProgress that records every text it shows instead of displaying it."""

    def __init__(self) -> None:
        super().__init__(delay=0, interval=0)
        self.texts: list[str] = []

    def _draw(self) -> None:
        super()._draw()
        for child in self._children:
            for attribute in ("value", "description", "tooltip"):
                value = getattr(child, attribute, None)
                if isinstance(value, str):
                    self.texts.append(value)

    def _show(self, widget: Any) -> Any:
        return "handle"

    def _update(self, handle: Any, summary_html: str) -> None:
        self.texts.append(summary_html)


def _display(kind: str) -> tuple[Any, Any]:
    """A progress display shown from the start, and a function returning all it showed."""
    if kind == "widget":
        widget = _RecordedWidget()
        return widget, lambda: "\n".join([*widget.texts, widget.summary_html or ""])
    out = io.StringIO()
    return TextProgress(delay=0, interval=0, file=out, use_tqdm=kind == "tqdm"), out.getvalue


def _read(location: str, how: str, progress: Any) -> None:
    if how == "token":
        assert read_flight(location, path="t", token=CANARY, progress=progress).num_rows == 50_000
    elif how == "handshake":
        with FlightClient(location) as client:
            client.handshake(USER, CANARY)
            assert read_flight(client, path="t", progress=progress).num_rows == 50_000
    else:
        with pytest.raises(flightnb.FlightUnauthenticatedError):
            # A ticket read: the display is up before the server refuses the call.
            read_flight(location, ticket="t", token=WRONG, progress=progress)


def test_progress_displays_show_no_secret(location: str, logs: Any) -> None:
    shown: dict[tuple[str, str], str] = {}
    for how in ("token", "handshake", "wrong"):
        for kind in ("tqdm", "plain", "widget"):
            display, text_of = _display(kind)
            _read(location, how, display)
            shown[kind, how] = text_of()
    for where, text in shown.items():
        assert_no_secret(text, f"{where[0]} progress after a read with {where[1]}")
    assert_no_secret(_log_text(logs), "logs")
    # The displays did show the transfers, and the failure (without the token).
    assert "50,000" in shown["plain", "token"] and "50,000" in shown["widget", "handshake"]
    assert "unknown bearer token" in shown["widget", "wrong"]  # text shows none: no data came


# --- the %flight magic ------------------------------------------------------------------


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "flightnb")
    yield ip
    magic = ip.magics_manager.registry["FlightMagic"]
    magic.connection = None  # closes every connection
    InteractiveShell.clear_instance()


def test_magic_output_shows_no_secret(
    shell: InteractiveShell,
    location: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    logs: Any,
) -> None:
    monkeypatch.setenv("FLIGHTNB_TEST_TOKEN", CANARY)
    monkeypatch.setenv("FLIGHTNB_TEST_PASSWORD", CANARY)
    monkeypatch.setenv("FLIGHTNB_TEST_WRONG", WRONG)
    monkeypatch.setenv("FLIGHTNB_TEST_AUTH", f"Bearer {CANARY}")
    monkeypatch.setenv("FLIGHTNB_TEST_AUTH_WRONG", f"Bearer {WRONG}")
    magic = shell.magics_manager.registry["FlightMagic"]
    reprs = []
    good = [
        f"connect {location} --token-env FLIGHTNB_TEST_TOKEN",
        f"connect {location} --user {USER} --password-env FLIGHTNB_TEST_PASSWORD",
        f"connect {location} --header-env authorization=FLIGHTNB_TEST_AUTH --header x-team=a",
    ]
    for command in good:
        assert shell.run_cell(f"%flight {command}").success
        reprs.append(repr(magic.connection))
        result = shell.run_cell("%flight get --ticket t --progress")
        assert result.success and result.result.num_rows == 50_000
        assert shell.run_cell("%flight info t").success
    # Connecting checks the credentials at once: a wrong one fails there, and the previous
    # connection stays active.
    bad = [
        f"connect {location} --token-env FLIGHTNB_TEST_WRONG",
        f"connect {location} --header-env authorization=FLIGHTNB_TEST_AUTH_WRONG",
        f"connect {location} --no-check --token-env FLIGHTNB_TEST_WRONG",
    ]
    errors = []
    for command in bad:
        result = shell.run_cell(f"%flight {command}")
        if "--no-check" not in command:
            assert not result.success
            errors.append(str(result.error_in_exec))
        reprs.append(repr(magic.connection))
    for cell in ("%flight get --ticket t --progress", "%flight info t", "%flight list"):
        result = shell.run_cell(cell)
        assert not result.success
        errors.append(_error_text(result.error_in_exec))
    result = shell.run_cell(
        f"%flight connect {location} --user {USER} --password-env FLIGHTNB_TEST_WRONG"
    )
    assert not result.success
    errors.append(_error_text(result.error_in_exec))
    # Credentials typed into the cell are refused without echoing them (the cell is saved
    # with the notebook), and so is a mistyped header.
    for header in (
        f"authorization=Bearer {CANARY}",
        f"authorization: Bearer {CANARY}",
        f"={CANARY}",
    ):
        result = shell.run_cell(f"%flight connect {location} --header '{header}'")
        assert not result.success
        # Only the message: IPython shows a UsageError as this one line (a traceback
        # would quote the cell, which holds what the user typed).
        errors.append(str(result.error_in_exec))
    captured = capsys.readouterr()
    assert "connected to" in captured.out and "UNAUTHENTICATED" in captured.out
    assert "--header wants NAME=VALUE" in captured.err + captured.out
    assert "looks like a credential" in captured.err + captured.out
    assert_no_secret(captured.out, "magic stdout")
    assert_no_secret(captured.err, "magic stderr (progress)")
    assert_no_secret("\n".join(reprs), "Connection repr")
    assert_no_secret("\n".join(errors), "magic errors")
    assert_no_secret(_log_text(logs), "logs")


# --- a saved notebook -------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_saved_notebook_holds_no_secret(
    location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits these; the notebook names only the variables.
    monkeypatch.setenv("FLIGHTNB_NB_TOKEN", CANARY)
    monkeypatch.setenv("FLIGHTNB_NB_PASSWORD", CANARY)
    monkeypatch.setenv("FLIGHTNB_NB_WRONG", WRONG)
    cells = [
        "%load_ext flightnb",
        f"%flight connect {location} --token-env FLIGHTNB_NB_TOKEN",
        "t = %flight get --ticket t --progress\nt.num_rows",
        "%flight info t",
        "get_ipython().find_magic('flight').__self__.connection",
        f"%flight connect {location} --user {USER} --password-env FLIGHTNB_NB_PASSWORD",
        "%flight get t --progress --to pandas",
        f"%flight connect {location} --token-env FLIGHTNB_NB_WRONG",
        "%flight get --ticket t --progress",
        f"%flight connect {location} --user {USER} --password-env FLIGHTNB_NB_WRONG",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        notebook, timeout=60, kernel_name="python3", allow_errors=True, store_widget_state=True
    )
    client.execute()
    path = tmp_path / "secrets.ipynb"
    nbformat.write(notebook, path)
    saved = path.read_text()

    outputs = [cell.outputs for cell in notebook.cells]
    assert "connected to" in str(outputs[1])
    assert "50000" in str(outputs[2])
    # A wrong token fails at connect (the check), and the previous connection stays.
    assert "UNAUTHENTICATED" in str(outputs[7]) and "unknown bearer token" in str(outputs[7])
    assert not any(o.get("output_type") == "error" for o in outputs[8])
    assert "UNAUTHENTICATED" in str(outputs[9])
    assert not any(o.get("output_type") == "error" for o in outputs[2])
    assert_no_secret(saved, "the saved notebook")
