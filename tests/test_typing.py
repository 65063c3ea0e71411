"""A user's typed script: mypy (strict) and pyright (basic) infer what each ``to=`` returns.

The script is checked as a user would check their own code, against this tree's flightnb.
pyarrow ships no type information, so both checkers see its classes as unknown (``Any``);
pandas has none for mypy either. What can be told apart is asserted: the pandas and polars
frames under pyright, the polars frame under mypy, and that the results of two different
``to=`` values are not interchangeable. For the same reason a parameter that also takes a
``pyarrow.flight`` object (a ticket, descriptor or location) accepts anything under both.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flightnb.client.aio import AsyncFlightClient, ClientKeywords, ClientOptions

# The tree under test: an editable install is an import hook, which neither checker follows.
ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    '''
    """Reads typed the way a user writes them."""

    from __future__ import annotations

    import pandas as pd
    import polars as pl
    import pyarrow as pa
    from typing_extensions import assert_type

    import flightnb
    import flightnb.polars
    import flightnb.sql
    from flightnb import FlightClient
    from flightnb.functions.write import exchange_flight

    URI = "grpc://127.0.0.1:8815"


    def reads() -> None:
        table = flightnb.read_flight(URI, path="trips")
        assert_type(table, pa.Table)
        arrow = flightnb.read_flight(URI, path="trips", to="arrow")
        assert_type(arrow, pa.Table)
        pandas_frame = flightnb.read_flight(URI, sql="SELECT 1", to="pandas", token="secret")
        assert_type(pandas_frame, pd.DataFrame)
        polars_frame = flightnb.read_flight(URI, ticket=b"t", to="polars")
        assert_type(polars_frame, pl.DataFrame)
        reader = flightnb.read_flight(URI, path="trips", to="reader")
        assert_type(reader, pa.RecordBatchReader)
        reveal_type(pandas_frame)
        reveal_type(polars_frame)
        with FlightClient(URI, token="secret", timeout=5.0) as client:
            assert_type(client.read_flight(flightnb.FlightDescriptor.for_path("t")), pa.Table)
            assert_type(client.read_flight(path="t", to="polars"), pl.DataFrame)
            assert_type(
                client.read_flight(path="t", to="pandas", dtype_backend="pyarrow"), pd.DataFrame
            )
            assert_type(client.read_flight(path="t", to="reader"), pa.RecordBatchReader)
            with client.open_flight(path="trips") as batches:
                assert_type(batches, flightnb.FlightBatchReader)
                assert_type(batches.read_polars(), pl.DataFrame)
                assert_type(batches.read_pandas(dtype_backend="numpy_nullable"), pd.DataFrame)
            assert_type(client.write_flight(table, path="uploads"), flightnb.PutSummary)
            assert_type(client.exchange_flight(table, path="echo", to="polars"), pl.DataFrame)
            assert_type(client.write_parquet("t.parquet", path="t"), flightnb.WriteSummary)
            assert_type(client.write_ipc("t.arrow", path="t"), flightnb.WriteSummary)
            assert_type(client.write_dataset("t/", path="t"), flightnb.WriteSummary)
            assert_type(client.do_get(b"t").read_polars(), pl.DataFrame)
            assert_type(flightnb.read_flight(client, path="trips", to="polars"), pl.DataFrame)
            assert_type(flightnb.open_flight(client, path="trips"), flightnb.FlightBatchReader)
            assert_type(client.do_get(b"trips"), flightnb.FlightStreamReader)
            with client.do_put(flightnb.FlightDescriptor.for_path("t"), table.schema) as writer:
                assert_type(writer, flightnb.FlightPutWriter)
            exchange = client.do_exchange(flightnb.FlightDescriptor.for_path("echo"))
            assert_type(exchange, flightnb.FlightExchange)
            assert_type(exchange.reader, flightnb.FlightStreamReader)
        summary = flightnb.write_flight(URI, table, path="uploads", max_chunksize=1024)
        assert_type(summary, flightnb.PutSummary)
        assert_type(exchange_flight(URI, polars_frame, path="echo", to="polars"), pl.DataFrame)
        assert_type(exchange_flight(URI, pandas_frame, path="echo", to="pandas"), pd.DataFrame)
        assert_type(flightnb.polars.read_flight(URI, path="trips"), pl.DataFrame)
        written = flightnb.write_parquet(URI, "trips.parquet", path="trips", token="secret")
        assert_type(written, flightnb.WriteSummary)
        with flightnb.FlightSqlClient(URI, token="secret", timeout=5.0) as sql_client:
            assert_type(flightnb.read_flight(sql_client, sql="SELECT 1"), pa.Table)
            assert_type(sql_client.read_flight(sql="SELECT 1", to="polars"), pl.DataFrame)
            assert_type(sql_client.open_flight(sql="SELECT 1"), flightnb.FlightBatchReader)
            with sql_client.begin_transaction() as txn:
                assert_type(txn, flightnb.sql.Transaction)
                sql_client.execute_update("DELETE FROM trips", transaction=txn)
            with sql_client.prepare("SELECT ?") as statement:
                assert_type(statement, flightnb.sql.PreparedStatement)


    async def async_reads() -> None:
        polars_frame = await flightnb.read_flight_async(URI, path="trips", to="polars")
        assert_type(polars_frame, pl.DataFrame)
        pandas_frame = await flightnb.read_flight_async(URI, path="trips", to="pandas")
        assert_type(pandas_frame, pd.DataFrame)
        reveal_type(polars_frame)
        async with flightnb.AsyncFlightClient(URI) as client:
            table = await flightnb.read_flight_async(client, path="trips")
            assert_type(table, pa.Table)
            assert_type(await client.read_flight(path="t", to="polars"), pl.DataFrame)
            assert_type(await client.read_flight(path="t", to="pandas"), pd.DataFrame)
            reader = await client.open_flight(path="t")
            assert_type(reader, flightnb.AsyncFlightBatchReader)
            assert_type(await reader.read_polars(), pl.DataFrame)
            assert_type(await client.write_flight(table, path="t"), flightnb.PutSummary)
            assert_type(await client.write_parquet("t.parquet", path="t"), flightnb.WriteSummary)
            assert_type(client.do_get(b"trips"), flightnb.AsyncFlightStreamReader)
            writer = await client.do_put(flightnb.FlightDescriptor.for_path("t"), table.schema)
            assert_type(writer, flightnb.AsyncFlightPutWriter)
            exchange = await client.do_exchange(flightnb.FlightDescriptor.for_path("echo"))
            assert_type(exchange, flightnb.AsyncFlightExchange)
        async with flightnb.AsyncFlightSqlClient(URI) as sql_client:
            assert_type(await sql_client.read_flight(sql="SELECT 1"), pa.Table)
            async with sql_client.begin_transaction() as txn:
                assert_type(txn, flightnb.sql.AsyncTransaction)
            async with sql_client.prepare("SELECT ?") as statement:
                assert_type(statement, flightnb.sql.AsyncPreparedStatement)
    '''
)

# Each marked line misuses a result or an argument: P, pyright flags it; M, mypy does too
# (mypy sees pandas frames as Any, so it cannot tell one frame from the other).
WRONG = textwrap.dedent(
    """
    from __future__ import annotations

    import pandas as pd
    import polars as pl

    import flightnb

    URI = "grpc://127.0.0.1:8815"


    def wrong() -> None:
        polars_as_pandas: pd.DataFrame = flightnb.read_flight(URI, path="t", to="polars")  # P
        pandas_as_polars: pl.DataFrame = flightnb.read_flight(URI, path="t", to="pandas")  # P
        polars_as_int: int = flightnb.read_flight(URI, path="t", to="polars")  # P M
        flightnb.FlightClient(URI, tokn="secret")  # P M
        flightnb.FlightClient(URI, timeout="soon")  # P M
        flightnb.write_flight(URI, {"n": [1]}, max_chunksize="big")  # P M
        flightnb.write_flight(URI, {"n": [1]}, pth="uploads")  # P M
        flightnb.read_flight(URI, path="t", progres=False)  # P M
        flightnb.open_flight(URI, path="t", token=3)  # P M
        flightnb.write_parquet(URI, "t.parquet", path="t", tokn="secret")  # P M
        flightnb.FlightSqlClient(URI, timeout="soon")  # P M
        flightnb.FlightSqlClient(URI).execute_update("DELETE FROM t", transaction=1)  # P M
        flightnb.FlightClient(URI).read_flight(path="t", dtype_backend="arrow")  # P M
        flightnb.FlightClient(URI).write_parquet("t.parquet", path="t", row_group_sise=9)  # P M
        polars_from_method: pd.DataFrame = flightnb.FlightClient(URI).read_flight(to="polars")  # P
    """
)


def _marked(mark: str) -> list[int]:
    """The lines of WRONG that the checker named by ``mark`` must flag."""
    return [n for n, line in enumerate(WRONG.splitlines(), 1) if mark in line.partition("#")[2]]


MYPY_CONFIG = textwrap.dedent(
    """
    [mypy]
    strict = True
    mypy_path = {root}

    # Neither ships type information (pandas has separate stubs, pandas-stubs).
    [mypy-pyarrow.*,pandas.*]
    ignore_missing_imports = True

    # Found on mypy_path, flightnb would be checked as the user's own code; as an installed
    # package it is only read for its types. The project's own mypy run checks it.
    [mypy-flightnb.*]
    ignore_errors = True
    """
)


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _pyright(directory: Path, script: Path) -> list[dict[str, object]]:
    _write(
        directory,
        "pyrightconfig.json",
        json.dumps({"typeCheckingMode": "basic", "extraPaths": [str(ROOT)]}),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyright",
            "--outputjson",
            "--pythonpath",
            sys.executable,
            str(script),
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = json.loads(done.stdout)
    diagnostics: list[dict[str, object]] = report["generalDiagnostics"]
    return diagnostics


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module's mypy runs: flightnb is analysed once, not per test."""
    return tmp_path_factory.mktemp("mypy_cache")


def _mypy(directory: Path, script: Path, cache: Path) -> list[str]:
    config = _write(directory, "mypy.ini", MYPY_CONFIG.format(root=ROOT))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(cache),
            "--no-error-summary",
            str(script),
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert not done.stderr.strip(), done.stderr
    return done.stdout.splitlines()


def _lines(diagnostics: list[dict[str, object]], severity: str) -> list[str]:
    return [str(d["message"]) for d in diagnostics if d["severity"] == severity]


def test_pyright_infers_each_target(tmp_path: Path) -> None:
    diagnostics = _pyright(tmp_path, _write(tmp_path, "user.py", SCRIPT))
    assert _lines(diagnostics, "error") == []
    assert _lines(diagnostics, "warning") == []
    assert _lines(diagnostics, "information") == [
        'Type of "pandas_frame" is "DataFrame"',
        'Type of "polars_frame" is "DataFrame"',
        'Type of "polars_frame" is "DataFrame"',
    ]


def test_pyright_refuses_one_target_for_another(tmp_path: Path) -> None:
    diagnostics = _pyright(tmp_path, _write(tmp_path, "wrong.py", WRONG))
    errors = [d for d in diagnostics if d["severity"] == "error"]
    lines = sorted({d["range"]["start"]["line"] + 1 for d in errors})  # type: ignore[index]
    assert lines == _marked("P"), _lines(diagnostics, "error")


def test_mypy_strict_infers_polars_and_accepts_the_script(tmp_path: Path, mypy_cache: Path) -> None:
    output = _mypy(tmp_path, _write(tmp_path, "user.py", SCRIPT), mypy_cache)
    notes = [line for line in output if ": note: Revealed type is" in line]
    errors = [line for line in output if ": error:" in line]
    assert errors == []
    # pandas is untyped for mypy, so its frame is Any; polars ships its types.
    assert [note.split("Revealed type is ")[1] for note in notes] == [
        '"Any"',
        '"polars.dataframe.frame.DataFrame"',
        '"polars.dataframe.frame.DataFrame"',
    ]


def test_mypy_refuses_misused_results_and_arguments(tmp_path: Path, mypy_cache: Path) -> None:
    output = _mypy(tmp_path, _write(tmp_path, "wrong.py", WRONG), mypy_cache)
    errors = [line for line in output if ": error:" in line]
    assert sorted({int(line.split(":")[1]) for line in errors}) == _marked("M"), output


def test_client_options_are_the_clients_keywords_but_timeout() -> None:
    # read_flight(uri, token=...) is checked against ClientOptions: it must name every
    # keyword the client takes, except timeout, which each helper has of its own.
    parameters = inspect.signature(AsyncFlightClient).parameters.values()
    keywords = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(ClientOptions.__annotations__) == keywords - {"timeout"}
    assert [
        getattr(ref, "__forward_arg__", ref) for ref in ClientOptions.__annotations__.values()
    ] == [
        inspect.signature(AsyncFlightClient).parameters[name].annotation
        for name in ClientOptions.__annotations__
    ]


def test_a_sql_client_takes_every_keyword_of_the_flight_client() -> None:
    parameters = inspect.signature(AsyncFlightClient).parameters.values()
    keywords = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(ClientKeywords.__annotations__) == keywords
