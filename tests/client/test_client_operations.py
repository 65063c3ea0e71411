"""The clients own the one-call operations; the top-level functions are shims over them.

Each method runs against a real server (a pyarrow.flight server for plain Flight, the
embedded DuckDB server for Flight SQL) and is compared with the top-level function and with
pyarrow.flight reading the same data.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.flight as paflight
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

import flightnb
import flightnb.dask
import flightnb.pandas as fpd
import flightnb.polars as fpl
from flightnb import (
    AsyncFlightClient,
    AsyncFlightSqlClient,
    FlightArgumentError,
    FlightBatchReader,
    FlightClient,
    FlightDescriptor,
    FlightSqlClient,
)
from flightnb.convert import DEFAULT_DTYPE_BACKEND
from flightnb.functions import read as read_module
from flightnb.functions import sinks as sinks_module
from flightnb.functions import streaming as streaming_module
from flightnb.functions import write as write_module
from flightnb.server import FlightSqlServer

OPERATIONS = (
    "read_flight",
    "open_flight",
    "write_flight",
    "exchange_flight",
    "write_parquet",
    "write_ipc",
    "write_dataset",
)
CLIENTS = (AsyncFlightClient, FlightClient, AsyncFlightSqlClient, FlightSqlClient)
NOWHERE = "grpc://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def sql_server() -> Iterator[FlightSqlServer]:
    server = FlightSqlServer(sample_size=3_000, batch_size=500, endpoints=2)
    try:
        yield server
    finally:
        server.shutdown()


def _pyarrow_read(location: str, path: str) -> pa.Table:
    client = paflight.FlightClient(location)
    try:
        info = client.get_flight_info(paflight.FlightDescriptor.for_path(path))
        return pa.concat_tables(client.do_get(e.ticket).read_all() for e in info.endpoints)
    finally:
        client.close()


# --- every client has them ------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda c: c.__name__)
def test_every_client_has_every_operation(cls: type) -> None:
    for name in OPERATIONS:
        method = getattr(cls, name)
        assert callable(method), (cls, name)
        assert "descriptor" in inspect.signature(method).parameters, (cls, name)


def test_the_blocking_operations_are_twins_of_the_async_ones() -> None:
    for name in OPERATIONS:
        twin = inspect.getattr_static(FlightClient, name)
        original = inspect.getattr_static(AsyncFlightClient, name)
        assert twin.__wrapped__ is original, name
        assert inspect.signature(twin).parameters == inspect.signature(original).parameters


# --- reads ----------------------------------------------------------------------------------


@pytest.mark.parametrize("to", ["arrow", "pandas", "polars", "reader"])
def test_read_flight_method_matches_the_function_and_pyarrow(flight_server: Any, to: str) -> None:
    location = flight_server.location
    expected = _pyarrow_read(location, "numbers")
    as_arrow: Callable[[Any], pa.Table] = {
        "arrow": lambda t: t,
        "pandas": pa.Table.from_pandas,
        "polars": lambda f: f.to_arrow(),
        "reader": lambda r: r.read_all(),
    }[to]
    with FlightClient(location) as client:  # a reader reads through its client: read it here
        by_method = as_arrow(client.read_flight(path="numbers", to=to, progress=False))
    by_function = as_arrow(flightnb.read_flight(location, path="numbers", to=to, progress=False))
    for result in (by_method, by_function):
        assert result.select(expected.column_names).to_pylist() == expected.to_pylist()


def test_read_flight_method_takes_a_descriptor_positionally(flight_server: Any) -> None:
    with FlightClient(flight_server.location) as client:
        table = client.read_flight(FlightDescriptor.for_path("numbers"), max_concurrency=1)
    assert table.equals(_pyarrow_read(flight_server.location, "numbers"))


def test_async_client_methods_on_its_own_loop(flight_server: Any) -> None:
    location = flight_server.location
    expected = _pyarrow_read(location, "numbers")

    async def main() -> tuple[pa.Table, pa.Table, pl.DataFrame]:
        async with AsyncFlightClient(location) as client:
            table = await client.read_flight(path="numbers", progress=False)
            async with await client.open_flight(path="numbers", progress=False) as reader:
                streamed = await reader.read_all()
            frame = await client.read_flight(ticket="numbers", to="polars", progress=False)
            return table, streamed, frame

    table, streamed, frame = asyncio.run(main())
    assert table.equals(expected)
    assert streamed.equals(expected)
    assert frame.to_arrow().to_pylist() == expected.to_pylist()


def test_async_client_refuses_a_reader_that_would_block_its_loop() -> None:
    async def main() -> None:
        async with AsyncFlightClient(NOWHERE) as client:
            with pytest.raises(FlightArgumentError, match="open_flight"):
                await client.read_flight(path="numbers", to="reader")

    asyncio.run(main())


def test_open_flight_method_gives_a_blocking_reader(flight_server: Any) -> None:
    expected = _pyarrow_read(flight_server.location, "numbers")
    with FlightClient(flight_server.location) as client:
        with client.open_flight(path="numbers", progress=False) as reader:
            assert isinstance(reader, FlightBatchReader)
            assert reader.read_all().equals(expected)
        with flightnb.open_flight(client, path="numbers", progress=False) as reader:
            assert reader.read_all().equals(expected)


def test_plain_clients_send_sql_to_a_flight_sql_client(sql_server: FlightSqlServer) -> None:
    with FlightClient(sql_server.location) as client:
        with pytest.raises(FlightArgumentError, match="Flight SQL client"):
            client.read_flight(sql="SELECT 1")
        # The top-level function views the client as a Flight SQL client, as before.
        assert flightnb.read_flight(client, sql="SELECT 1 AS one").to_pylist() == [{"one": 1}]
        assert not client.closed


def test_sql_client_read_flight_matches_query_and_the_function(
    sql_server: FlightSqlServer,
) -> None:
    query = "SELECT trip_id, fare FROM trips WHERE fare > ? ORDER BY trip_id"
    with FlightSqlClient(sql_server.location) as client:
        by_method = client.read_flight(sql=query, parameters=[5.0], progress=False)
        by_query = client.query(query, [5.0])
        frame = client.read_flight(sql=query, parameters=[5.0], to="pandas", progress=False)
    by_function = flightnb.read_flight(
        sql_server.location, sql=query, parameters=[5.0], progress=False
    )
    assert by_method.num_rows > 0
    assert by_method.equals(by_query)
    assert by_method.equals(by_function)
    assert frame["fare"].tolist() == by_method.column("fare").to_pylist()


def test_async_sql_client_streams_a_query(sql_server: FlightSqlServer) -> None:
    async def main() -> pa.Table:
        async with AsyncFlightSqlClient(sql_server.location) as client:
            reader = await client.open_flight(sql="SELECT * FROM trips", progress=False)
            async with reader:
                return await reader.read_all()

    table = asyncio.run(main())
    assert table.num_rows == 3_000


def test_a_client_given_to_a_function_stays_open(flight_server: Any) -> None:
    with FlightClient(flight_server.location) as client:
        flightnb.read_flight(client, path="numbers", progress=False)
        flightnb.write_flight(client, pa.table({"n": [1]}), path="operations/kept", progress=False)
        assert not client.closed
        assert client.read_flight(ticket="numbers").num_rows > 0

    async def main() -> bool:
        async with AsyncFlightClient(flight_server.location) as aclient:
            await flightnb.read_flight_async(aclient, path="numbers", progress=False)
            return aclient.closed

    assert asyncio.run(main()) is False


# --- pandas: one dtype_backend on every path --------------------------------------------------


def test_one_documented_default_dtype_backend() -> None:
    assert DEFAULT_DTYPE_BACKEND == "numpy"
    for function in (
        flightnb.read_flight,
        fpd.read_flight,
        FlightClient.read_flight,
        AsyncFlightClient.read_flight,
        flightnb.FlightBatchReader.read_pandas,
        flightnb.AsyncFlightBatchReader.read_pandas,
        flightnb.FlightStreamReader.read_pandas,
        flightnb.AsyncFlightStreamReader.read_pandas,
    ):
        default = inspect.signature(function).parameters["dtype_backend"].default
        assert default == DEFAULT_DTYPE_BACKEND, function
    # Dask alone keeps Arrow types, since it turns object columns (decimals) into strings.
    assert inspect.signature(flightnb.dask.read_flight).parameters["dtype_backend"].default == (
        "pyarrow"
    )


def test_read_flight_to_pandas_takes_dtype_backend(flight_server: Any) -> None:
    location = flight_server.location
    default = flightnb.read_flight(location, ticket="numbers", to="pandas", progress=False)
    arrow = flightnb.read_flight(
        location, ticket="numbers", to="pandas", dtype_backend="pyarrow", progress=False
    )
    via_module = fpd.read_flight(location, ticket="numbers", dtype_backend="pyarrow")
    assert not any(isinstance(t, pd.ArrowDtype) for t in default.dtypes)
    assert all(isinstance(t, pd.ArrowDtype) for t in arrow.dtypes)
    assert list(via_module.dtypes) == list(arrow.dtypes)
    with FlightClient(location) as client:
        frame = client.read_flight(
            ticket="numbers", to="pandas", dtype_backend="numpy_nullable", progress=False
        )
    assert frame.equals(
        flightnb.read_flight(
            location, ticket="numbers", to="pandas", dtype_backend="numpy_nullable"
        )
    )


# --- readers: read_pandas / read_polars -------------------------------------------------------


def test_batch_readers_read_pandas_and_polars(flight_server: Any) -> None:
    expected = _pyarrow_read(flight_server.location, "numbers")
    with FlightClient(flight_server.location) as client:
        with client.open_flight(path="numbers", progress=False) as reader:
            frame = reader.read_pandas(dtype_backend="pyarrow")
        with client.open_flight(path="numbers", progress=False) as reader:
            polars_frame = reader.read_polars()
    assert all(isinstance(t, pd.ArrowDtype) for t in frame.dtypes)
    assert pa.Table.from_pandas(frame).select(expected.column_names).equals(expected)
    assert polars_frame.to_arrow().to_pylist() == expected.to_pylist()

    async def main() -> tuple[pd.DataFrame, pl.DataFrame]:
        async with AsyncFlightClient(flight_server.location) as aclient:
            async with await aclient.open_flight(path="numbers", progress=False) as reader:
                frame = await reader.read_pandas()
            async with await aclient.open_flight(path="numbers", progress=False) as reader:
                return frame, await reader.read_polars(rechunk=True)

    async_frame, async_polars = asyncio.run(main())
    assert async_frame.equals(expected.to_pandas())
    assert async_polars.n_chunks() == 1
    assert async_polars.to_arrow().to_pylist() == expected.to_pylist()


def test_stream_readers_read_pandas_and_polars(flight_server: Any) -> None:
    expected = flight_server.table("numbers")
    with FlightClient(flight_server.location) as client:
        reader = client.do_get(b"numbers")
        assert isinstance(reader, flightnb.FlightStreamReader)
        frame = reader.read_pandas(dtype_backend="numpy_nullable")
        polars_frame = client.do_get(b"numbers").read_polars()
    assert frame.equals(expected.to_pandas(types_mapper=pd.ArrowDtype).astype(frame.dtypes))
    assert polars_frame.to_arrow().to_pylist() == expected.to_pylist()


def test_reader_read_pandas_checks_dtype_backend_first(flight_server: Any) -> None:
    with FlightClient(flight_server.location) as client:
        with client.open_flight(path="numbers", progress=False) as reader:
            with pytest.raises(ValueError, match="dtype_backend"):
                reader.read_pandas(dtype_backend="arrow")  # type: ignore[arg-type]
            assert reader.read_all().num_rows > 0  # nothing was consumed


# --- uploads and exchanges --------------------------------------------------------------------


def test_write_flight_method_matches_the_function(flight_server: Any) -> None:
    table = pa.table({"n": list(range(100)), "s": [str(i) for i in range(100)]})
    with FlightClient(flight_server.location) as client:
        summary = client.write_flight(table, path="operations/method", progress=False)
    flightnb.write_flight(flight_server.location, table, path="operations/function")
    assert summary.rows == 100
    assert flight_server.uploads["operations/method"].equals(table)
    assert flight_server.uploads["operations/function"].equals(table)
    # The server stores what pyarrow.flight's own upload of the table stores.
    client = paflight.FlightClient(flight_server.location)
    try:
        descriptor = paflight.FlightDescriptor.for_path("operations", "pyarrow")
        writer, _ = client.do_put(descriptor, table.schema)
        writer.write_table(table)
        writer.close()
    finally:
        client.close()
    assert flight_server.uploads["operations/pyarrow"].equals(
        flight_server.uploads["operations/method"]
    )


def test_exchange_flight_method_matches_the_function(flight_server: Any) -> None:
    table = pa.table({"n": [1, 2, 3]})
    with FlightClient(flight_server.location) as client:
        echoed = client.exchange_flight(table, path="echo", to="pandas", dtype_backend="pyarrow")
    assert isinstance(echoed["n"].dtype, pd.ArrowDtype)
    from flightnb.functions.write import exchange_flight

    assert exchange_flight(flight_server.location, table, path="echo").equals(table)

    async def main() -> pl.DataFrame:
        async with AsyncFlightClient(flight_server.location) as aclient:
            return await aclient.exchange_flight(table, path="echo", to="polars")

    assert asyncio.run(main()).to_arrow().equals(table)


# --- sinks --------------------------------------------------------------------------------------


def test_sink_methods_match_the_functions(flight_server: Any, tmp_path: Path) -> None:
    location = flight_server.location
    expected = _pyarrow_read(location, "numbers")
    with FlightClient(location) as client:
        client.write_parquet(tmp_path / "method.parquet", path="numbers", progress=False)
        client.write_ipc(tmp_path / "method.arrow", path="numbers", progress=False)
        client.write_dataset(tmp_path / "method", path="numbers", progress=False)
    flightnb.write_parquet(location, tmp_path / "function.parquet", path="numbers")
    assert pq.read_table(tmp_path / "method.parquet").equals(expected)
    assert pq.read_table(tmp_path / "function.parquet").equals(expected)
    assert ipc.open_file(tmp_path / "method.arrow").read_all().equals(expected)
    first = expected.column_names[0]
    dataset = ds.dataset(tmp_path / "method").to_table()
    assert dataset.sort_by(first).equals(expected.sort_by(first))


def test_async_client_sinks_on_its_own_loop(flight_server: Any, tmp_path: Path) -> None:
    expected = _pyarrow_read(flight_server.location, "numbers")

    async def main() -> None:
        async with AsyncFlightClient(flight_server.location) as client:
            await client.write_parquet(tmp_path / "a.parquet", path="numbers", progress=False)
            await client.write_ipc(
                tmp_path / "a.arrows", path="numbers", format="stream", progress=False
            )

    asyncio.run(main())
    assert pq.read_table(tmp_path / "a.parquet").equals(expected)
    assert ipc.open_stream(tmp_path / "a.arrows").read_all().equals(expected)


def test_sink_methods_check_arguments_before_sending(tmp_path: Path) -> None:
    with FlightClient(NOWHERE) as client:
        with pytest.raises(FlightArgumentError, match="compression"):
            client.write_parquet(tmp_path / "x.parquet", path="t", compression="bogus")
        with pytest.raises(FlightArgumentError, match="exactly one"):
            client.write_ipc(tmp_path / "x.arrow")
    assert not list(tmp_path.iterdir())


def test_sql_client_sink_writes_a_query(sql_server: FlightSqlServer, tmp_path: Path) -> None:
    query = "SELECT * FROM trips ORDER BY trip_id"
    with FlightSqlClient(sql_server.location) as client:
        summary = client.write_parquet(tmp_path / "q.parquet", sql=query, progress=False)
        expected = client.query(query)
    assert summary.rows == 3_000
    assert pq.read_table(tmp_path / "q.parquet").equals(expected)


# --- the shims have nothing of their own -----------------------------------------------------

#: What a shim may call: a client from flightnb.functions.sources, the method of its own name, and
#: (for to="reader", whose reader outlives the call) the open_flight shim.
_HELPERS = {"blocking_call", "blocking_client", "async_client", "open_blocking", "open_async"}
_SHIMS: list[tuple[Callable[..., Any], set[str]]] = [
    (read_module.read_flight, {"open_flight", "to_reader"}),
    (read_module.read_flight_async, {"open_flight_async", "to_reader"}),
    (streaming_module.open_flight, set()),
    (streaming_module.open_flight_async, set()),
    (write_module.write_flight, set()),
    (write_module.write_flight_async, set()),
    (write_module.exchange_flight, set()),
    (write_module.exchange_flight_async, set()),
    (sinks_module.write_parquet, set()),
    (sinks_module.write_ipc, set()),
    (sinks_module.write_dataset, set()),
]


def _called(function: Callable[..., Any]) -> set[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(function))))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            target = node.func
            names.add(target.attr if isinstance(target, ast.Attribute) else ast.unparse(target))
    return names


@pytest.mark.parametrize("shim", _SHIMS, ids=lambda s: f"{s[0].__module__}.{s[0].__name__}")
def test_each_shim_only_opens_a_client_and_calls_its_method(
    shim: tuple[Callable[..., Any], set[str]],
) -> None:
    function, allowed = shim
    method = function.__name__.removesuffix("_async")
    called = _called(function)
    assert method in called, function
    assert called <= _HELPERS | {method} | allowed, called - _HELPERS - {method} - allowed


def test_frame_module_reads_are_read_flight_with_a_target(flight_server: Any) -> None:
    assert _called(fpd.read_flight) == {"_read_flight"}
    assert _called(fpl.read_flight) == {"_read_flight"}
    frame = fpl.read_flight(flight_server.location, ticket="numbers", progress=False)
    assert frame.to_arrow().to_pylist() == flight_server.table("numbers").to_pylist()


def test_a_stream_opened_for_a_location_closes_its_client_when_it_ends(
    flight_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[AsyncFlightClient] = []
    close = AsyncFlightClient.close

    async def recording_close(self: AsyncFlightClient) -> None:
        closed.append(self)
        await close(self)

    monkeypatch.setattr(AsyncFlightClient, "close", recording_close)
    reader = flightnb.open_flight(flight_server.location, path="numbers", progress=False)
    assert closed == []  # the stream still needs it
    assert reader.read_all().num_rows > 0
    assert len(closed) == 1 and closed[0].closed
    batches = flightnb.read_flight(flight_server.location, path="numbers", to="reader")
    assert batches.read_all().num_rows > 0
    assert len(closed) == 2


class _FirstBatch:
    """An observer that sets ``arrived`` (an asyncio.Event of ``loop``) at the first message."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.arrived = asyncio.Event()

    def started(self, **_: Any) -> None:
        pass

    def polled(self, progress: float | None) -> None:
        pass

    def progressed(self, part: int, stats: Any) -> None:
        self.loop.call_soon_threadsafe(self.arrived.set)

    def finished(self, error: BaseException | None) -> None:
        pass


def test_cancelling_an_async_sink_leaves_nothing(flight_server: Any, tmp_path: Path) -> None:
    # "slow" sends 100 batches, one every 50 ms: the write is cancelled part way.
    async def main() -> None:
        observer = _FirstBatch(asyncio.get_running_loop())
        async with AsyncFlightClient(flight_server.location) as client:
            write = asyncio.ensure_future(
                client.write_parquet(tmp_path / "slow.parquet", ticket="slow", progress=observer)
            )
            await observer.arrived.wait()
            write.cancel()
            with pytest.raises(asyncio.CancelledError):
                await write

    asyncio.run(main())
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
