"""The %flight magic in a real IPython InteractiveShell against real servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import flightnb
from flightnb.notebook.background import BackgroundRead
from flightnb.notebook.rendering import FlightList


@pytest.fixture
def shell(flight_server: Any) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "flightnb")
    ip.run_line_magic("flight", f"connect {flight_server.location}")
    yield ip
    magic = ip.magics_manager.registry["FlightMagic"]
    magic.connection = None  # closes every connection
    ip.run_line_magic("config", "FlightMagic.to = 'arrow'")
    InteractiveShell.clear_instance()


def line(shell: InteractiveShell, text: str) -> Any:
    name, _, rest = text.partition(" ")
    return shell.run_line_magic(name, rest)


def test_get_path_returns_table(shell: InteractiveShell, flight_server: Any) -> None:
    result = line(shell, "flight get multi ordered --no-progress")
    expected = pa.concat_tables([flight_server.table(f"parts/{i}") for i in range(3)])
    assert isinstance(result, pa.Table) and result.equals(expected)


def test_get_ticket_and_to(shell: InteractiveShell, flight_server: Any) -> None:
    frame = line(shell, "flight get --ticket numbers --to pandas --no-progress")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 10_000
    shell.run_line_magic("config", "FlightMagic.to = 'polars'")
    assert isinstance(line(shell, "flight get numbers --no-progress"), pl.DataFrame)


def test_output_variable_and_jupysql_assignment(shell: InteractiveShell) -> None:
    assert line(shell, "flight get numbers -o numbers_df --no-progress") is None
    assert shell.user_ns["numbers_df"].num_rows == 10_000
    assert line(shell, "flight trips << get --ticket ints --no-progress") is None
    assert isinstance(shell.user_ns["trips"], pa.Table)


def test_listing_info_schema_actions_are_real_objects_shown_as_tables(
    shell: InteractiveShell,
) -> None:
    listing = line(shell, "flight list")
    assert isinstance(listing, FlightList) and isinstance(listing[0], flightnb.FlightInfo)
    assert "<table>" in listing._repr_html_() and "numbers" in listing._repr_html_()
    info = line(shell, "flight info multi ordered")
    assert isinstance(info, flightnb.FlightInfo) and len(info.endpoints) == 3
    html = shell.display_formatter.format(info)[0]["text/html"]
    assert "parts/0" in html and "ordered" in html
    schema = line(shell, "flight schema numbers")
    assert isinstance(schema, pa.Schema) and schema.names == ["n", "s"]
    actions = line(shell, "flight actions")
    assert "echo" in [a.type for a in actions]
    echoed = line(shell, "flight action echo hello")
    assert [r.body for r in echoed] == [b"hello"]


def test_cell_form_action_body(shell: InteractiveShell) -> None:
    result = shell.run_cell_magic("flight", "action echo", "multi\nline body")
    assert result[0].body == b"multi\nline body"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("flight frobnicate", "unknown subcommand"),
        ("flight get", "give a PATH"),
        ("flight get a --ticket b", "give a PATH"),
        ("flight get a --to excel", "invalid choice"),
        ("flight connect", "required"),
        ("flight get 'unbalanced", "quotation"),
        ("flight get numbers --frobnicate", "^%flight get: unrecognized arguments"),
    ],
)
def test_wrong_usage_is_a_one_line_usage_error(
    shell: InteractiveShell, text: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as excinfo:
        line(shell, text)
    assert "\n" not in str(excinfo.value).strip()


def test_get_without_connection_is_usage_error() -> None:
    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "flightnb")
        with pytest.raises(UsageError, match="connect"):
            ip.run_line_magic("flight", "get numbers")
    finally:
        InteractiveShell.clear_instance()


def test_token_from_environment_never_in_output(
    shell: InteractiveShell,
    auth_flight_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLIGHT_PASSWORD_FOR_TEST", "wonderland")
    line(
        shell,
        f"flight connect {auth_flight_server.location} --user alice "
        "--password-env FLIGHT_PASSWORD_FOR_TEST",
    )
    table = line(shell, "flight get --ticket numbers --no-progress")
    assert table.num_rows == 10_000
    magic = shell.magics_manager.registry["FlightMagic"]
    assert "wonderland" not in repr(magic.connection) + capsys.readouterr().out
    monkeypatch.delenv("FLIGHT_TOKEN_MISSING", raising=False)
    with pytest.raises(UsageError, match="FLIGHT_TOKEN_MISSING"):
        line(
            shell, f"flight connect {auth_flight_server.location} --token-env FLIGHT_TOKEN_MISSING"
        )


def test_background_read_without_running_loop(shell: InteractiveShell, flight_server: Any) -> None:
    handle = line(shell, "flight get --ticket slow --bg --no-progress")
    assert isinstance(handle, BackgroundRead)
    assert not handle.done() and "running" in repr(handle)
    table = handle.result(timeout=30)
    assert table.num_rows == 10_000 and handle.done() and "done" in repr(handle)
    cancelled = line(shell, "flight get --ticket slow --bg --no-progress")
    assert cancelled.cancel()


def test_background_reads_use_the_connections_login(
    shell: InteractiveShell, auth_flight_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.setenv("FLIGHT_PASSWORD_FOR_TEST", "wonderland")
    line(
        shell,
        f"flight connect {auth_flight_server.location} --user alice "
        "--password-env FLIGHT_PASSWORD_FOR_TEST",
    )

    async def in_a_running_loop() -> Any:
        handle = line(shell, "flight get --ticket numbers --bg --no-progress")
        return await handle

    assert asyncio.run(in_a_running_loop()).num_rows == 10_000


def test_credentials_in_the_uri_are_refused_without_echo(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError) as excinfo:
        line(shell, "flight connect grpc://alice:s3cret-pw@127.0.0.1:1")
    assert "s3cret-pw" not in str(excinfo.value)


# --- credentials: judged by name and value; sessions the server issues ----------------------


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("authorization", "Anonymous", True),
        ("Proxy-Authorization", "x", True),
        ("cookie", "a=b", True),
        ("x-api-key", "k", True),
        ("x-deephaven-auth-cookie-request", "true", False),
        ("x-session-id", "42", False),
        ("x-team", "Bearer abc", True),
        ("x-note", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", True),
        ("x-note", "550e8400-e29b-41d4-a716-446655440000", True),
        ("x-note", "ghp_ABCdef1234567890abcdefXYZ", True),
        ("database", "analytics_2024", False),
    ],
)
def test_headers_are_judged_as_credentials_by_name_and_value(
    name: str, value: str, secret: bool
) -> None:
    from flightnb.notebook.connections import looks_like_credential

    assert looks_like_credential(name, value) is secret


def test_magic_keeps_the_session_a_server_issues(monkeypatch: pytest.MonkeyPatch) -> None:
    from flight_servers import SessionFlightServer

    server = SessionFlightServer()
    server.add_table("t", pa.table({"n": [1, 2, 3]}))
    monkeypatch.setenv("FLIGHTNB_TEST_LOGIN", "Anonymous")
    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "flightnb")
        line(
            ip,
            f"flight connect {server.location} --token-env FLIGHTNB_TEST_LOGIN "
            "--header x-deephaven-auth-cookie-request=true",
        )
        # GetFlightInfo plans a ticket of this session, DoGet must present the same one.
        assert line(ip, "flight get t --to arrow --no-progress").num_rows == 3
    finally:
        ip.magics_manager.registry["FlightMagic"].connection = None
        InteractiveShell.clear_instance()
        server.shutdown()
    calls = server.sessions.calls
    assert len(calls) >= 3 and {c.session for c in calls} == {calls[0].session}, calls
    assert [c.presented for c in calls[1:]] == ["latest"] * (len(calls) - 1)
    assert all("x-deephaven-auth-cookie-request" in c.headers for c in calls)


def test_connect_by_name_keeps_the_files_grpc_options(
    flight_server: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "connections.toml"
    config.write_text(
        f'[connections.far]\nuri = "{flight_server.location}"\n'
        'grpc_options = {"grpc.keepalive_time_ms" = 60000}\n'
    )
    monkeypatch.setenv("FLIGHTNB_CONNECTIONS", str(config))
    ip = InteractiveShell.instance()
    magic = None
    try:
        ip.run_line_magic("load_ext", "flightnb")
        magic = ip.magics_manager.registry["FlightMagic"]
        line(ip, "flight connect far --alias near --header x-team=blue")
        spec = magic.connections.get("near").spec
        assert spec.uri == flight_server.location and spec.source != "magic"
        assert spec.grpc_options == (("grpc.keepalive_time_ms", 60000),)
        assert dict(spec.headers) == {"x-team": "blue"}
        assert line(ip, "flight get numbers --no-progress").num_rows == 10_000
    finally:
        if magic is not None:
            magic.connection = None
        InteractiveShell.clear_instance()
