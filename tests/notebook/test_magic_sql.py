"""%%flight sql and the SQL metadata subcommands against the embedded Flight SQL server."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from flightnb.server import serve


@pytest.fixture(scope="module")
def sql_location() -> Iterator[str]:
    server = serve(sample_size=2000, block=False)
    try:
        yield server.location
    finally:
        server.shutdown()


@pytest.fixture
def shell(sql_location: str) -> Iterator[InteractiveShell]:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "flightnb")
    ip.run_line_magic("flight", f"connect {sql_location}")
    yield ip
    magic = ip.magics_manager.registry["FlightMagic"]
    magic.connection = None  # closes every connection
    InteractiveShell.clear_instance()


def test_cell_sql_with_output_and_to(shell: InteractiveShell) -> None:
    result = shell.run_cell_magic(
        "flight",
        "sql -o counts --to pandas --no-progress",
        "SELECT count(*) AS n FROM trips",
    )
    assert result is None
    frame = shell.user_ns["counts"]
    assert isinstance(frame, pd.DataFrame) and frame["n"][0] == 2000


def test_line_sql_returns_the_result(shell: InteractiveShell) -> None:
    table = shell.run_line_magic("flight", "sql --no-progress SELECT 40 + 2 AS answer")
    assert isinstance(table, pa.Table) and table.column("answer").to_pylist() == [42]


def test_placeholders_bind_notebook_variables_as_parameters(shell: InteractiveShell) -> None:
    shell.user_ns["wanted"] = 7
    shell.user_ns["evil"] = "'); DROP TABLE trips; --"
    table = shell.run_cell_magic(
        "flight",
        "sql --no-progress",
        "SELECT trip_id, :evil AS text, '::kept' AS literal FROM trips WHERE trip_id = :wanted",
    )
    assert table.column("trip_id").to_pylist() == [7]
    assert table.column("text").to_pylist() == ["'); DROP TABLE trips; --"]
    assert table.column("literal").to_pylist() == ["::kept"]
    still_there = shell.run_line_magic(
        "flight", "sql --no-progress SELECT count(*) AS n FROM trips"
    )
    assert still_there.column("n").to_pylist() == [2000]


def test_missing_placeholder_variable_is_usage_error(shell: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="no_such_variable"):
        shell.run_cell_magic("flight", "sql", "SELECT :no_such_variable")


def test_tables_catalogs_and_schema(shell: InteractiveShell) -> None:
    listing = shell.run_line_magic("flight", "tables")
    assert isinstance(listing, pa.Table)
    assert {"trips", "stations"} <= set(listing.column("table_name").to_pylist())
    only = shell.run_line_magic("flight", "tables stat%")
    assert only.column("table_name").to_pylist() == ["stations"]
    catalogs = shell.run_line_magic("flight", "catalogs")
    assert isinstance(catalogs, pa.Table) and catalogs.num_rows >= 1
    schema = shell.run_line_magic("flight", "schema trips")
    assert isinstance(schema, pa.Schema) and "trip_id" in schema.names


def test_sql_errors_carry_the_servers_message(shell: InteractiveShell) -> None:
    import flightnb

    with pytest.raises(flightnb.FlightError, match="no_such_table"):
        shell.run_cell_magic("flight", "sql --no-progress", "SELECT * FROM no_such_table")
