"""The public names are pinned, sorted, and importing flightnb stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import flightnb
import flightnb.codec

PUBLIC = {
    "Action",
    "ActionType",
    "AsyncFlightBatchReader",
    "AsyncFlightClient",
    "AsyncFlightSqlClient",
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
    "FlightInfo",
    "FlightInternalError",
    "FlightInvalidArgumentError",
    "FlightNotFoundError",
    "FlightNotImplementedError",
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


def test_public_names_are_pinned_and_sorted() -> None:
    assert set(flightnb.__all__) == PUBLIC
    assert flightnb.__all__ == sorted(flightnb.__all__)
    assert flightnb.codec.__all__ == sorted(flightnb.codec.__all__)
    for name in flightnb.__all__:
        assert hasattr(flightnb, name), name


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
    import flightnb.write

    assert flightnb.write_flight is flightnb.write.write_flight
    assert flightnb.write_flight_async is flightnb.write.write_flight_async
    assert flightnb.PutSummary is flightnb.write.PutSummary


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
        "print(flightnb.write.write_flight.__module__, flightnb.sql.table_schemas.__module__, "
        "flightnb.convert.ConversionArgumentError.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["flightnb.write", "flightnb.sql.results", "flightnb.convert"]


def test_every_submodule_reachable_as_an_attribute_exists() -> None:
    package = Path(flightnb.__file__).parent
    for name in flightnb._SUBMODULES:
        assert (package / f"{name}.py").exists() or (package / name / "__init__.py").exists()
