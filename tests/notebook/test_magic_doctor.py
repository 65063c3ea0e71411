"""``%flight doctor`` in a real IPython InteractiveShell."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from flightnb.doctor import Diagnosis, Status
from flightnb.notebook.rendering import DiagnosisTable


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "flightnb")
    yield ip
    ip.magics_manager.registry["FlightMagic"].connection = None  # closes every connection
    InteractiveShell.clear_instance()


def flight(shell: InteractiveShell, line: str) -> Any:
    return shell.run_line_magic("flight", line)


def test_doctor_a_uri_shows_one_table(shell: InteractiveShell, flight_server: Any) -> None:
    table = flight(shell, f"doctor {flight_server.location}")
    assert isinstance(table, DiagnosisTable)
    diagnosis = table.diagnosis
    assert diagnosis.answered and diagnosis.supports("DoExchange") is True
    assert [row[1] for row in table.rows] == [check.name for check in diagnosis.checks]
    html = table._repr_html_()
    assert html.count("<tr>") == len(diagnosis.checks) + 1
    assert repr(table).startswith(f"flightnb doctor {flight_server.location}")


def test_output_variable_holds_the_diagnosis(shell: InteractiveShell, flight_server: Any) -> None:
    flight(shell, f"doctor {flight_server.location} -o found")
    assert isinstance(shell.user_ns["found"], Diagnosis)
    assert shell.user_ns["found"].check("ListFlights").status is Status.YES


def test_doctor_the_active_connection_with_its_login(
    shell: InteractiveShell,
    auth_flight_server: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOCTOR_MAGIC_PASSWORD", "wonderland")
    flight(
        shell,
        f"connect {auth_flight_server.location} --user alice --password-env DOCTOR_MAGIC_PASSWORD",
    )
    # The connection's login is used as it is: the password is not needed (nor asked) again.
    monkeypatch.delenv("DOCTOR_MAGIC_PASSWORD")
    table = flight(shell, "doctor")
    assert table.diagnosis.auth == "the connection's login"
    assert table.diagnosis.supports("ListFlights") is True
    assert table.diagnosis.supports("DoGet") is True
    # With login options of its own, the line logs in again (and says so).
    monkeypatch.setenv("DOCTOR_MAGIC_PASSWORD", "wonderland")
    again = flight(shell, "doctor --user alice --password-env DOCTOR_MAGIC_PASSWORD")
    assert again.diagnosis.auth == "basic handshake"
    shown = repr(table) + table._repr_html_() + repr(again) + capsys.readouterr().out
    assert "wonderland" not in shown


def test_refusals_are_one_line_usage_errors(
    shell: InteractiveShell, auth_flight_server: Any
) -> None:
    with pytest.raises(UsageError, match=r"^%flight doctor: .* it wants credentials"):
        flight(shell, f"doctor {auth_flight_server.location}")
    with pytest.raises(UsageError, match="--token is not accepted"):
        flight(shell, f"doctor {auth_flight_server.location} --token abc")
    with pytest.raises(UsageError, match="looks like a credential"):
        flight(shell, f"doctor {auth_flight_server.location} --header 'authorization=Bearer abc'")
    with pytest.raises(UsageError, match="neither a URI"):
        flight(shell, "doctor no-such-connection")
    with pytest.raises(UsageError, match="--timeout must be positive"):
        flight(shell, f"doctor {auth_flight_server.location} --timeout 0")
