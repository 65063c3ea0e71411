"""The public names are pinned, sorted, and importing flightnb stays light."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import flightnb
import flightnb.client.streams
import flightnb.client.sync
import flightnb.codec
import flightnb.functions
import flightnb.sql
import flightnb.sql.statements
import flightnb.sql.sync
from flightnb.client.blocking import Twin

PUBLIC = {
    "Action",
    "ActionType",
    "AsyncFlightBatchReader",
    "AsyncFlightClient",
    "AsyncFlightExchange",
    "AsyncFlightPutWriter",
    "AsyncFlightSqlClient",
    "AsyncFlightStreamReader",
    "CancelStatus",
    "DescriptorType",
    "FlightAlreadyExistsError",
    "FlightArgumentError",
    "FlightArgumentTypeError",
    "FlightBatchReader",
    "FlightCancelledError",
    "FlightCapabilityError",
    "FlightClient",
    "FlightClientClosedError",
    "FlightDecodeError",
    "FlightDescriptor",
    "FlightEndpoint",
    "FlightError",
    "FlightExchange",
    "FlightInfo",
    "FlightInternalError",
    "FlightInvalidArgumentError",
    "FlightNotFoundError",
    "FlightNotImplementedError",
    "FlightPutWriter",
    "FlightResourceExhaustedError",
    "FlightServerError",
    "FlightSinkError",
    "FlightSqlClient",
    "FlightStreamChunk",
    "FlightStreamReader",
    "FlightTimedOutError",
    "FlightUnauthenticatedError",
    "FlightUnauthorizedError",
    "FlightUnavailableError",
    "FlightUsageError",
    "Location",
    "PollInfo",
    "PutSummary",
    "Result",
    "Ticket",
    "WriteSummary",
    "__version__",
    "open_flight",
    "open_flight_async",
    "read_flight",
    "read_flight_async",
    "write_dataset",
    "write_flight",
    "write_flight_async",
    "write_ipc",
    "write_parquet",
}

SQL_PUBLIC = {
    "AsyncFlightSqlClient",
    "AsyncPreparedStatement",
    "AsyncTransaction",
    "FlightSqlClient",
    "IngestMode",
    "PollPolicy",
    "PreparedStatement",
    "SqlInfoValues",
    "Transaction",
    "decode_sql_info",
    "parameters_table",
    "table_schemas",
}
FUNCTIONS_PUBLIC = {
    "exchange_flight",
    "exchange_flight_async",
    "open_flight",
    "open_flight_async",
    "read_flight",
    "read_flight_async",
    "write_dataset",
    "write_flight",
    "write_flight_async",
    "write_ipc",
    "write_parquet",
}
PUBLIC_PACKAGES = (
    "flightnb",
    "flightnb.codec",
    "flightnb.dask",
    "flightnb.doctor",
    "flightnb.functions",
    "flightnb.pandas",
    "flightnb.polars",
    "flightnb.progress",
    "flightnb.ray",
    "flightnb.server",
    "flightnb.sql",
)
# Old names kept for one release: (module, old name, the name it now serves there).
# The blocking twins lost their Sync suffix, and the async classes gained the Async prefix
# of the clients, so a plain name in a module of async classes serves the async class.
RENAMED = [
    ("flightnb.client.sync", "FlightStreamReaderSync", "FlightStreamReader"),
    ("flightnb.client.sync", "FlightPutWriterSync", "FlightPutWriter"),
    ("flightnb.client.sync", "FlightExchangeSync", "FlightExchange"),
    ("flightnb.sql.sync", "PreparedStatementSync", "PreparedStatement"),
    ("flightnb.sql.sync", "TransactionSync", "Transaction"),
    ("flightnb.sql", "PreparedStatementSync", "PreparedStatement"),
    ("flightnb.sql", "TransactionSync", "Transaction"),
    ("flightnb.client.streams", "FlightStreamReader", "AsyncFlightStreamReader"),
    ("flightnb.client.streams", "FlightPutWriter", "AsyncFlightPutWriter"),
    ("flightnb.client.streams", "FlightExchange", "AsyncFlightExchange"),
    ("flightnb.sql.statements", "PreparedStatement", "AsyncPreparedStatement"),
    ("flightnb.sql.statements", "Transaction", "AsyncTransaction"),
]


def _isort_order(names: list[str]) -> list[str]:
    """``names`` in ruff's ``__all__`` order (RUF022): CONSTANTS, then Classes, then the rest."""

    def key(name: str) -> tuple[int, str]:
        if name.isupper():
            return (0, name)
        return (1 if name[:1].isupper() else 2, name)

    return sorted(names, key=key)


def test_public_names_are_pinned() -> None:
    assert set(flightnb.__all__) == PUBLIC
    assert set(flightnb.sql.__all__) == SQL_PUBLIC
    assert set(flightnb.functions.__all__) == FUNCTIONS_PUBLIC


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_public_names_are_sorted_and_importable(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == _isort_order(names)
    assert [name for name in names if not hasattr(module, name)] == []


def test_each_reader_and_writer_pair_is_named_like_the_clients() -> None:
    pairs = [
        (flightnb.AsyncFlightClient, flightnb.FlightClient),
        (flightnb.AsyncFlightSqlClient, flightnb.FlightSqlClient),
        (flightnb.AsyncFlightBatchReader, flightnb.FlightBatchReader),
        (flightnb.AsyncFlightStreamReader, flightnb.FlightStreamReader),
        (flightnb.AsyncFlightPutWriter, flightnb.FlightPutWriter),
        (flightnb.AsyncFlightExchange, flightnb.FlightExchange),
        (flightnb.sql.AsyncPreparedStatement, flightnb.sql.PreparedStatement),
        (flightnb.sql.AsyncTransaction, flightnb.sql.Transaction),
    ]
    for asynchronous, blocking in pairs:
        assert asynchronous.__name__ == f"Async{blocking.__name__}"
        assert not any(inspect.iscoroutinefunction(f) for f in vars(blocking).values())
    # Every blocking twin the code declares is one of these pairs.
    twins = {
        cls
        for module in (flightnb.client.sync, flightnb.sql.sync)
        for cls in vars(module).values()
        if isinstance(cls, type) and issubclass(cls, Twin) and cls.__module__ == module.__name__
    }
    assert twins == {blocking for _, blocking in pairs if issubclass(blocking, Twin)}


@pytest.mark.parametrize(("module_name", "old", "new"), RENAMED, ids=lambda v: str(v))
def test_an_old_name_warns_and_is_the_renamed_class(module_name: str, old: str, new: str) -> None:
    module = importlib.import_module(module_name)
    with pytest.warns(DeprecationWarning, match=rf"{module_name}\.{old} is deprecated.*{new}"):
        value = getattr(module, old)
    assert value is getattr(module, new)
    assert old not in getattr(module, "__all__", [])


def test_an_old_name_warns_where_it_is_imported_from() -> None:
    with pytest.warns(DeprecationWarning, match="PreparedStatementSync") as caught:
        from flightnb.sql import PreparedStatementSync
    assert PreparedStatementSync is flightnb.sql.PreparedStatement
    # The warning points at the importing line, not at flightnb or importlib.
    assert {Path(w.filename).name for w in caught} == {Path(__file__).name}


def test_a_blocking_object_is_an_instance_by_its_old_name() -> None:
    with pytest.warns(DeprecationWarning):
        old = flightnb.client.sync.FlightStreamReaderSync
    reader = object.__new__(flightnb.FlightStreamReader)
    assert isinstance(reader, old)


def test_a_name_that_never_existed_is_still_an_attribute_error() -> None:
    for module in (flightnb.sql, flightnb.sql.sync, flightnb.client.sync, flightnb.client.streams):
        with pytest.raises(AttributeError, match="no attribute 'FlightReaderSync'"):
            module.FlightReaderSync  # noqa: B018


def test_every_error_is_a_flight_error() -> None:
    for name in flightnb.__all__:
        value = getattr(flightnb, name)
        if name.endswith("Error"):
            assert issubclass(value, flightnb.FlightError), name


def test_import_does_not_pull_in_dataframe_or_notebook_libraries() -> None:
    code = (
        "import sys, flightnb, flightnb.codec; "
        "print(sorted(m for m in ('pandas', 'polars', 'IPython', 'ipywidgets', 'tqdm', "
        "'dask', 'ray') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_codec_is_sans_io() -> None:
    """The codec's modules import no networking, no event loop, no client code."""
    allowed_flightnb = {"flightnb.codec", "flightnb.errors"}
    codec_dir = Path(flightnb.codec.__file__).parent
    for source in sorted(codec_dir.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                assert root not in {"grpc", "asyncio", "socket", "threading"}, (source, name)
                if root == "flightnb":
                    assert any(name.startswith(a) for a in allowed_flightnb), (source, name)


def test_uploads_are_exported_at_the_top_level() -> None:
    import flightnb.functions.write

    assert flightnb.write_flight is flightnb.functions.write.write_flight
    assert flightnb.write_flight_async is flightnb.functions.write.write_flight_async
    assert flightnb.PutSummary is flightnb.functions.write.PutSummary


def test_the_top_level_functions_are_those_of_the_functions_package() -> None:
    import flightnb.functions

    exported = [name for name in flightnb.__all__ if name in flightnb.functions.__all__]
    assert exported  # read_flight, open_flight, write_flight, the sinks...
    for name in exported:
        assert getattr(flightnb, name) is getattr(flightnb.functions, name), name
        assert getattr(flightnb, name).__module__.startswith("flightnb.functions."), name


def test_lazy_names_are_the_ones_type_checkers_see() -> None:
    """Each name exported on first use is imported under TYPE_CHECKING from the same module."""
    tree = ast.parse(Path(flightnb.__file__).read_text(encoding="utf-8"))
    seen: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for item in node.body:
                assert isinstance(item, ast.ImportFrom) and item.module is not None
                seen.update({alias.name: item.module for alias in item.names})
    assert seen == flightnb._LAZY
    assert set(seen) <= set(flightnb.__all__)


def test_every_public_name_is_listed_by_dir() -> None:
    assert set(flightnb.__all__) <= set(dir(flightnb))


def test_a_misspelt_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="FlightClinet"):
        flightnb.FlightClinet  # type: ignore[attr-defined]  # noqa: B018


def test_import_loads_neither_the_client_nor_grpc() -> None:
    code = (
        "import sys, flightnb; "
        "print(sorted(m for m in sys.modules if m == 'grpc' or m.startswith('flightnb.client')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_lazy_name_is_loaded_on_first_use() -> None:
    code = (
        "import sys, flightnb; client = flightnb.FlightClient; "
        "print(client.__module__, 'flightnb.client.sync' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["flightnb.client.sync", "True"]


def test_submodules_reached_as_attributes_still_load() -> None:
    # ``import flightnb`` once loaded these with the client; code may use them so.
    code = (
        "import flightnb; "
        "print(flightnb.functions.write.write_flight.__module__, "
        "flightnb.sql.table_schemas.__module__, "
        "flightnb.convert.ConversionArgumentError.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [
        "flightnb.functions.write",
        "flightnb.sql.results",
        "flightnb.convert",
    ]


def test_every_submodule_reachable_as_an_attribute_exists() -> None:
    package = Path(flightnb.__file__).parent
    for name in flightnb._SUBMODULES:
        assert (package / f"{name}.py").exists() or (package / name / "__init__.py").exists()
