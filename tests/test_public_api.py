"""The public names are pinned, sorted, and importing flightnb stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
