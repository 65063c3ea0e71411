"""Conversion arguments are checked before anything is sent, with errors naming the choices.

The location below has no server: a read that got as far as connecting would fail with
FlightUnavailableError instead of the argument error these tests expect.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import flightnb
import flightnb.pandas as fpd
import flightnb.polars as fpl
from flightnb.convert import (
    DTYPE_BACKENDS,
    TARGETS,
    ConversionArgumentError,
    check_dtype_backend,
    check_target,
    convert_table,
    to_pandas,
    to_polars,
)
from flightnb.errors import FlightArgumentError
from flightnb.functions.write import exchange_flight

pytestmark = pytest.mark.frames

TABLE = pa.table({"n": [1, 2, 3]})


@pytest.fixture(scope="module")
def nowhere() -> Iterator[str]:
    """A loopback address nothing listens on (a bound socket that never listens)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"grpc://127.0.0.1:{sock.getsockname()[1]}"


def test_the_error_is_a_value_error_and_not_a_servers_invalid_argument() -> None:
    assert issubclass(ConversionArgumentError, ValueError)
    assert issubclass(ConversionArgumentError, FlightArgumentError)
    assert issubclass(ConversionArgumentError, flightnb.FlightError)
    assert not issubclass(ConversionArgumentError, flightnb.FlightInvalidArgumentError)


def test_dtype_backend_bogus_names_the_choices(nowhere: str) -> None:
    with pytest.raises(ValueError, match="dtype_backend='bogus' is not one of") as caught:
        fpd.read_flight(nowhere, ticket="numbers", dtype_backend="bogus", progress=False)
    assert isinstance(caught.value, FlightArgumentError)
    for choice in ("'numpy'", "'numpy_nullable'", "'pyarrow'"):
        assert choice in str(caught.value)
    with pytest.raises(ConversionArgumentError, match="dtype_backend"):
        asyncio.run(fpd.read_flight_async(nowhere, ticket="numbers", dtype_backend="Pyarrow"))


@pytest.mark.parametrize(
    "read",
    [
        lambda where: flightnb.read_flight(where, ticket="numbers", to="arrow2", progress=False),
        lambda where: asyncio.run(
            flightnb.read_flight_async(where, ticket="numbers", to="arrow2", progress=False)
        ),
        lambda where: exchange_flight(where, TABLE, path="echo", to="arrow2"),
        lambda where: pl.DataFrame({"n": [1]}).flight.exchange(where, path="echo", to="arrow2"),
        lambda where: pd.DataFrame({"n": [1]}).flight.exchange(where, path="echo", to="arrow2"),
    ],
    ids=["read_flight", "read_flight_async", "exchange_flight", "polars", "pandas"],
)
def test_to_bogus_names_the_choices(nowhere: str, read: Callable[[str], Any]) -> None:
    with pytest.raises(ValueError, match="to='arrow2' is not one of 'arrow', 'pandas', 'polars'"):
        read(nowhere)


def test_a_read_names_reader_among_its_choices(nowhere: str) -> None:
    # A read can also return a stream, so its error names the fourth choice too.
    with pytest.raises(ValueError, match=r"'polars', 'reader'$"):
        flightnb.read_flight(nowhere, ticket="numbers", to="arrow2", progress=False)  # type: ignore[call-overload]


def test_rechunk_must_be_a_bool(nowhere: str) -> None:
    with pytest.raises(ConversionArgumentError, match="rechunk='yes' is not one of True, False"):
        fpl.read_flight(nowhere, ticket="numbers", rechunk="yes", progress=False)  # type: ignore[arg-type]
    with pytest.raises(ConversionArgumentError, match="rechunk=1"):
        asyncio.run(fpl.read_flight_async(nowhere, ticket="numbers", rechunk=1))  # type: ignore[arg-type]
    with pytest.raises(ConversionArgumentError):
        to_polars(TABLE, rechunk=None)  # type: ignore[arg-type]


def test_types_mapper_conflicts_with_a_dtype_backend(nowhere: str) -> None:
    with pytest.raises(ConversionArgumentError, match="types_mapper"):
        fpd.read_flight(
            nowhere,
            ticket="numbers",
            dtype_backend="pyarrow",
            to_pandas_options={"types_mapper": pd.ArrowDtype},
            progress=False,
        )


def test_check_functions_accept_exactly_the_choices() -> None:
    assert [check_target(to) for to in TARGETS] == ["arrow", "pandas", "polars"]
    assert [check_dtype_backend(b) for b in DTYPE_BACKENDS] == list(DTYPE_BACKENDS)
    for bogus in ("Arrow", " pandas", None, 1, b"polars"):
        with pytest.raises(ConversionArgumentError):
            check_target(bogus)
    with pytest.raises(ConversionArgumentError):
        convert_table(TABLE, "numpy")
    with pytest.raises(ConversionArgumentError):
        to_pandas(TABLE, dtype_backend="arrow")
