"""The %flight magic as a notebook user meets it: cells run in a real Jupyter kernel (nbclient).

Servers run in the test process on 127.0.0.1 (the pyarrow.flight test server, the embedded
Flight SQL server, the authenticating test server); the kernel reaches them over loopback.
Each test executes one small notebook and checks its saved outputs: what a user would see.
"""

from __future__ import annotations

import decimal
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pyarrow as pa
import pytest
from jupyter_client.manager import start_new_kernel

from flightnb.server import serve

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def sql_location() -> Iterator[str]:
    server = serve(sample_size=500, block=False)
    try:
        yield server.location
    finally:
        server.shutdown()


def run(cells: list[str], cwd: Path, timeout: int = 90) -> list[Any]:
    """Execute ``cells`` in a fresh python3 kernel (errors allowed); the executed code cells."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return list(notebook.cells)


def text(cell: Any) -> str:
    """Everything a cell shows: streams, plain text, HTML and error lines."""
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        data = output.get("data", {})
        parts.append(data.get("text/plain", "") + data.get("text/html", ""))
        if output.get("output_type") == "error":
            parts.append(
                f"{output['ename']}: {output['evalue']}\n" + "\n".join(output["traceback"])
            )
    return "".join(parts)


def error(cell: Any) -> dict[str, Any] | None:
    return next((o for o in cell.outputs if o.get("output_type") == "error"), None)


def html(cell: Any) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def assert_ok(cells: list[Any]) -> None:
    for cell in cells:
        assert error(cell) is None, (cell.source, text(cell))


def assert_one_line_error(cell: Any, ename: str, *fragments: str) -> str:
    """The cell failed with ``ename`` shown as one line; that line.

    IPython prints a UsageError as one line on stderr (no error output); a FlightError is an
    error output whose traceback flightnb's handler makes one line.
    """
    if ename == "UsageError":
        lines = [
            line
            for o in cell.outputs
            if o.get("output_type") == "stream" and o.get("name") == "stderr"
            for line in o["text"].splitlines()
            if line.startswith("UsageError: ")
        ]
        assert len(lines) == 1, (cell.source, text(cell))
        assert error(cell) is None
        message = lines[0]
    else:
        found = error(cell)
        assert found is not None, (cell.source, text(cell))
        assert found["ename"] == ename, text(cell)
        assert "\n" not in found["evalue"]
        assert len(found["traceback"]) == 1, found["traceback"]
        message = f"{found['ename']}: {found['evalue']}"
    for fragment in fragments:
        assert fragment in message, message
    return message


def _body_rows(markup: str) -> int:
    body = markup.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr>")


# --- 1. rich results -----------------------------------------------------------------------


def test_results_render_as_html_tables_and_o_stores_real_objects(
    flight_server: Any, sql_location: str, tmp_path: Path
) -> None:
    flight_server.add_table(
        "kernel/decimal",
        pa.table({"d": pa.array([decimal.Decimal("1.50")], pa.decimal256(40, 2))}),
    )
    cells = run(
        [
            "%load_ext flightnb",
            f"%flight connect {flight_server.location}",
            "%flight get numbers --no-progress",
            "%flight get numbers --no-progress --to pandas",
            "%flight get numbers --no-progress --to polars",
            "x = %flight get numbers --no-progress --to pandas\ntype(x).__name__, len(x)",
            "%config FlightMagic.displaylimit = None\n%flight get parts 0 --no-progress",
            "%config FlightMagic.displaylimit = 0\n%flight get parts 1 --no-progress",
            "%config FlightMagic.displaylimit = 3\n%flight get numbers --no-progress -o small",
            "%flight info numbers -o info\n%flight list -o flights\n%flight schema numbers -o sch\n"
            "import pyarrow as pa\n"
            "print(type(info).__name__, isinstance(flights, list), "
            "type(flights[0]).__name__, isinstance(sch, pa.Schema), small.num_rows)",
            f"%flight connect {sql_location} --alias sql",
            "%flight tables -o tabs\n%flight catalogs -o cats\n"
            "print(type(tabs).__name__, 'trips' in tabs.column('table_name').to_pylist(), "
            "type(cats).__name__)",
            "%flight get --conn default kernel/decimal --no-progress --to polars",
            "%flight get --conn default kernel/decimal --no-progress --to pandas\n'pandas ok'",
        ],
        tmp_path,
    )
    by_index = {i: c for i, c in enumerate(cells)}
    assert_ok(cells[:12])
    for index, dtype in ((2, "int64"), (3, "int64"), (4, "Int64")):
        markup = html(by_index[index])
        assert "flightnb-result" in markup and dtype in markup, markup[:500]
        assert "10,000 rows, 2 columns" in markup
        assert "showing the first 10" in markup and _body_rows(markup) == 10
    assert "('DataFrame', 10000)" in text(cells[5])
    for index in (6, 7):  # displaylimit None and 0: every row
        markup = html(cells[index])
        assert _body_rows(markup) == 100 and "showing" not in markup
    assert "small: 10,000 rows, 2 columns" in html(cells[8]) and _body_rows(html(cells[8])) == 3
    assert "FlightInfo True FlightInfo True 10000" in text(cells[9])
    assert "Table True Table" in text(cells[11])
    message = assert_one_line_error(cells[12], "UsageError", "column 'd'", "decimal256(40, 2)")
    assert "--to arrow" in message and "--to pandas" in message
    assert "panicked" not in text(cells[12])
    assert "pandas ok" in text(cells[13])


# --- 2. connections ------------------------------------------------------------------------


def test_connections_from_env_file_aliases_and_reload(
    flight_server: Any,
    auth_flight_server: Any,
    sql_location: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "wonderland"
    config = tmp_path / "connections.toml"
    config.write_text(
        f'[connections.warehouse]\nuri = "{sql_location}"\n\n'
        f'[connections.secure]\nuri = "{auth_flight_server.location}"\n'
        'user = "alice"\npassword_env = "KERNEL_TEST_PASSWORD"\n'
    )
    monkeypatch.setenv("FLIGHTNB_URI", flight_server.location)
    monkeypatch.setenv("FLIGHTNB_CONNECTIONS", str(config))
    monkeypatch.setenv("KERNEL_TEST_PASSWORD", secret)
    monkeypatch.setenv("KERNEL_TEST_WRONG", "not-the-password")
    cells = run(
        [
            "%load_ext flightnb",
            "%flight get numbers --no-progress -o n\nprint('env rows', n.num_rows)",
            "%flight connections",
            "%flight use warehouse\n%flight sql --no-progress SELECT 42 AS answer",
            "%flight get --conn env ints --no-progress -o i\nprint('ints', i.num_rows)",
            "%flight connect grpc://127.0.0.1:1 --alias dead",
            f"%flight connect {auth_flight_server.location} --user alice "
            "--password-env KERNEL_TEST_WRONG",
            "%flight connections",
            "%reload_ext flightnb",
            "%flight connections",
            "%flight sql --no-progress SELECT 7 AS after_reload",
            "%flight use secure\n"
            "%flight get --ticket numbers --no-progress -o s\nprint(s.num_rows)",
            "%flight connect warehouse --alias wh2\n%flight connections",
        ],
        tmp_path,
    )
    for index in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12):
        assert error(cells[index]) is None, (cells[index].source, text(cells[index]))
    assert "env rows 10000" in text(cells[1])
    listing = text(cells[2])
    assert "warehouse" in listing and "secure" in listing and "basic (alice)" in listing
    assert (
        re.search(r"\*\s+env\s", listing)
        or "<td style='text-align:left'>*</td><td style='text-align:left'>env" in listing
    )
    assert "42" in text(cells[3]) and "ints 6" in text(cells[4])
    assert_one_line_error(cells[5], "UsageError", "cannot reach grpc://127.0.0.1:1")
    assert_one_line_error(cells[6], "UsageError", "refused the login of 'alice'")
    # Both failures left the active connection as it was: warehouse.
    for index in (7, 9):
        active = re.findall(r"<tr><td[^>]*>\*</td><td[^>]*>([^<]+)</td>", html(cells[index]))
        assert active == ["warehouse"], html(cells[index])
        assert "dead" not in html(cells[index])
    assert "after_reload" in text(cells[10]) and "7" in text(cells[10])
    assert "10000" in text(cells[11])
    assert "wh2" in html(cells[12])
    saved = json.dumps([c.outputs for c in cells])
    assert secret not in saved and "not-the-password" not in saved


def test_connections_file_refuses_secrets(tmp_path: Path) -> None:
    from IPython.core.error import UsageError

    from flightnb.notebook.connections import read_connections_file

    config = tmp_path / "connections.toml"
    config.write_text('[connections.a]\nuri = "grpc://h:1"\ntoken = "s3cr3t"\n')
    with pytest.raises(UsageError, match="token_env") as caught:
        read_connections_file(config)
    assert "s3cr3t" not in str(caught.value)
    config.write_text('[connections.a]\nuri = "grpc://h:1"\nheaders = {authorization = "x"}\n')
    with pytest.raises(UsageError, match="looks like a credential"):
        read_connections_file(config)


# --- 3. background reads ---------------------------------------------------------------------


def test_background_reads_progress_while_a_cell_computes(
    flight_server: Any, tmp_path: Path
) -> None:
    cells = run(
        [
            "%load_ext flightnb",
            f"%flight connect {flight_server.location}",
            # "slow": 100 batches with 50 ms before each, about 5 s.
            "import time\nstarted = time.monotonic()\n"
            "h = %flight get slow --bg --no-progress\nh.status",
            # The cell blocks the kernel until the read is done (at most a minute): the
            # read goes on while no cell awaits.
            "deadline = time.monotonic() + 60\n"
            "while h.status == 'running' and time.monotonic() < deadline:\n"
            "    time.sleep(0.05)\n"
            "print('status after the blocking cell:', h.status)",
            "r = h.result(timeout=30)\nprint('rows', r.num_rows)",
            "h2 = %flight get slow --bg --no-progress\nh2.cancel()",
            "await h2",
            "print(h2.status)",
            "h3 = %flight get slow --bg --no-progress\nt = await h3\nprint('awaited', t.num_rows)",
        ],
        tmp_path,
    )
    assert "'running'" in text(cells[2])
    assert "status after the blocking cell: done" in text(cells[3])
    assert "rows 10000" in text(cells[4])
    assert "True" in text(cells[5])
    assert_one_line_error(cells[6], "FlightCancelledError", "the read of slow was cancelled")
    assert "cancelled" in text(cells[7])
    assert "awaited 10000" in text(cells[8])


# --- 4. accessors come from importing flightnb.pandas / flightnb.polars only -----------------


def test_the_extension_imports_no_dataframe_library_and_registers_no_accessor(
    tmp_path: Path,
) -> None:
    cells = run(
        [
            "import sys\n%load_ext flightnb\nprint('eager', 'pandas' in sys.modules, "
            "'polars' in sys.modules)",
            "import pandas as pd\nimport polars as pl\n"
            "print('before', hasattr(pd.DataFrame({'a': [1]}), 'flight'), "
            "hasattr(pl.DataFrame({'a': [1]}), 'flight'))",
            "import flightnb.pandas, flightnb.polars\n"
            "print('after', hasattr(pd.DataFrame({'a': [1]}), 'flight'), "
            "hasattr(pl.DataFrame({'a': [1]}), 'flight'))",
        ],
        tmp_path,
    )
    assert_ok(cells)
    assert "eager False False" in text(cells[0])
    assert "before False False" in text(cells[1])
    assert "after True True" in text(cells[2])


# --- 5. SQL verbatim, --file -----------------------------------------------------------------


def test_sql_text_is_taken_verbatim(sql_location: str, tmp_path: Path) -> None:
    (tmp_path / "query.sql").write_text("SELECT count(*) AS n FROM trips WHERE trip_id < :limit\n")
    cells = run(
        [
            "%load_ext flightnb",
            f"%flight connect {sql_location}",
            "%flight sql --no-progress -o a SELECT 'don''t' AS said -- don't split me\n"
            "a.column('said').to_pylist()",
            "price = 5\n%flight sql --no-progress -o b SELECT '$price' AS d, '{price}' AS c\n"
            "b.to_pylist()",
            "limit = 10",
            "%%flight sql --no-progress --file query.sql -o c\n-- the query is in the file",
            "%flight sql --no-progress --file query.sql -o c2\n"
            "c.column('n').to_pylist(), c2.column('n').to_pylist()",
            "%%flight sql --no-progress --file query.sql\nSELECT 1",
        ],
        tmp_path,
    )
    assert_ok(cells[:7])
    assert '["don\'t"]' in text(cells[2])
    assert "'$price'" in text(cells[3]) and "'{price}'" in text(cells[3])
    # trip_id counts from 1: nine trips below 10, the same from the cell and the line form.
    assert "([9], [9])" in text(cells[6])
    assert_one_line_error(cells[7], "UsageError", "give the query once")


# --- 6. messages -----------------------------------------------------------------------------


def test_messages_labels_help_and_quiet_grpc(
    flight_server: Any, sql_location: str, tmp_path: Path
) -> None:
    cells = run(
        [
            "%load_ext flightnb",
            "%flight help",
            f"%flight connect {flight_server.location}",
            "%flight get numbers --frobnicate",
            "%flight get slow --progress --timeout 1",
            "import pandas as pd\nimport flightnb.pandas\n"
            f"pd.DataFrame({{'a': range(10)}}).flight.put({flight_server.location!r}, "
            "path='kernel/upload', progress=True)\nprint('uploaded')",
            f"%flight connect {sql_location} --alias sql\n"
            "%flight sql --progress SELECT 40 + 2 AS answer",
            # A TLS handshake against a plaintext server: gRPC core logs "Handshake failed".
            f"%flight connect grpc+tls://127.0.0.1:{flight_server.port} --alias tls",
            "print('the next cell')",
            "import os\nprint('verbosity', os.environ.get('GRPC_VERBOSITY'))",
        ],
        tmp_path,
    )
    usage = text(cells[1])
    for option in (
        "--timeout",
        "--progress",
        "--no-progress",
        "--catalog",
        "--schema",
        "--conn",
        "--file",
        "--alias",
        "--bg",
        "--to",
        "--header-env",
        "-o",
    ):
        assert option in usage, option
    message = assert_one_line_error(cells[3], "UsageError", "%flight get: unrecognized arguments")
    assert "%flight %flight" not in message
    timed_out = assert_one_line_error(cells[4], "FlightTimedOutError")
    assert timed_out
    assert "flightnb-timed-out" in html(cells[4]) and "read slow: timed out" in html(cells[4])
    assert "upload to kernel/upload" in html(cells[5])
    assert "read SQL &#x27;SELECT 40 + 2 AS answer&#x27;" in html(cells[6])
    assert_one_line_error(cells[7], "UsageError", "grpc+tls://127.0.0.1")
    everything = "".join(text(c) for c in cells)
    assert "ssl_transport_security" not in everything and "Handshake failed" not in everything
    assert "verbosity ERROR" in text(cells[9])


def test_plain_flight_server_is_told_it_does_not_speak_flight_sql(
    flight_server: Any, sql_location: str, tmp_path: Path
) -> None:
    cells = run(
        [
            "%load_ext flightnb",
            f"%flight connect {flight_server.location}",
            "%flight tables",
            "%flight sql SELECT 1",
            "%flight get --cmd 'SELECT 1'",
            f"%flight connect {sql_location} --alias sql",
            "%flight get --cmd 'SELECT 1'",
        ],
        tmp_path,
    )
    for index in (2, 3, 4):
        assert_one_line_error(cells[index], "UsageError", "does not speak Flight SQL")
    assert_one_line_error(cells[6], "UsageError", "%flight sql")


# --- 7. secrets ------------------------------------------------------------------------------


def test_credentials_typed_into_cells_are_refused(flight_server: Any, tmp_path: Path) -> None:
    secret = "Bearer abc.def.ghi"
    cells = run(
        [
            "%load_ext flightnb",
            f"%flight connect {flight_server.location} --header 'authorization={secret}'",
            f"%flight connect {flight_server.location} --header x-api-key=k3y-v4lue",
            f"%flight connect {flight_server.location} --header 'x-note={secret}'",
            f"%flight connect {flight_server.location} --user alice --password hunter2",
            f"%flight connect {flight_server.location} --token t0ken",
            f"%flight connect {flight_server.location} --header x-team=blue\n'fine'",
        ],
        tmp_path,
    )
    for index in range(1, 6):
        message = assert_one_line_error(cells[index], "UsageError", "--token-env")
        for typed in ("abc.def.ghi", "k3y-v4lue", "hunter2", "t0ken"):
            assert typed not in message
    assert error(cells[6]) is None and "fine" in text(cells[6])


# --- 8. tab completion -----------------------------------------------------------------------


def _complete(client: Any, code: str) -> list[str]:
    message_id = client.complete(code, len(code))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = client.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == message_id:
            return list(reply["content"]["matches"])
    raise AssertionError(f"no completion reply for {code!r}")


def test_tab_completion_in_a_kernel(flight_server: Any, sql_location: str) -> None:
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        for code in (
            "%load_ext flightnb",
            f"%flight connect {flight_server.location} --alias plain",
            f"%flight connect {sql_location} --alias sql",
        ):
            reply = client.execute_interactive(code, timeout=60)
            assert reply["content"]["status"] == "ok", code
        assert "get" in _complete(client, "%flight g")
        assert "connections" in _complete(client, "%flight conn")
        assert {"--to", "--timeout", "--ticket"} <= set(_complete(client, "%flight get x --t"))
        assert set(_complete(client, "%flight get x --to p")) >= {"pandas", "polars"}
        assert {"plain", "sql"} <= set(_complete(client, "%flight use "))
        assert "plain" in _complete(client, "%flight get x --conn pl")
        assert "trips" in _complete(client, "%flight tables tr")
        assert "trips" in _complete(client, "%flight sql SELECT * FROM tr")
        assert "trips" in _complete(client, "t = %flight get tr")
        reply = client.execute_interactive("%flight use plain", timeout=60)
        assert reply["content"]["status"] == "ok"
        assert "numbers" in _complete(client, "%flight get num")
        assert "ordered" in _complete(client, "%flight info multi or")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
