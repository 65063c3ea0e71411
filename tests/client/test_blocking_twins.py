"""The blocking API is the async API, member for member: declared twins, checked here.

For every public member of each async class, its blocking twin has the same name; methods
have the same parameters, defaults and docstring, and were made from the async method
itself (``__wrapped__``). Async iterators come back as iterators, async resources as their
twins. The behaviour tests below use a real pyarrow.flight server.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest

import flightnb
from flightnb import AsyncFlightClient, FlightClient, FlightDescriptor
from flightnb.client.streams import (
    AsyncFlightExchange,
    AsyncFlightPutWriter,
    AsyncFlightStreamReader,
)
from flightnb.client.sync import FlightExchange, FlightPutWriter, FlightStreamReader
from flightnb.sql import AsyncFlightSqlClient, FlightSqlClient
from flightnb.sql.statements import AsyncPreparedStatement, AsyncTransaction
from flightnb.sql.sync import PreparedStatement, Transaction

TWINS = [
    (AsyncFlightClient, FlightClient),
    (AsyncFlightSqlClient, FlightSqlClient),
    (AsyncFlightStreamReader, FlightStreamReader),
    (AsyncFlightPutWriter, FlightPutWriter),
    (AsyncFlightExchange, FlightExchange),
    (AsyncPreparedStatement, PreparedStatement),
    (AsyncTransaction, Transaction),
]
# Async protocol members and their blocking counterparts.
PROTOCOL = {"__aenter__": "__enter__", "__aexit__": "__exit__", "__aiter__": "__iter__"}


def _instance_attributes(cls: type) -> set[str]:
    """Public attributes an async class's ``__init__`` assigns (``self.name = ...``)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if not inspect.isfunction(init):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                    and not target.attr.startswith("_")
                ):
                    names.add(target.attr)
    return names


def _public_members(cls: type) -> dict[str, Any]:
    members = {
        name: inspect.getattr_static(cls, name)
        for name in dir(cls)
        if not name.startswith("_") or name in PROTOCOL
    }
    return {name: member for name, member in members.items() if name not in dir(object)}


@pytest.mark.parametrize(("original", "twin"), TWINS, ids=lambda c: c.__name__)
def test_every_async_member_has_its_twin(original: type, twin: type) -> None:
    missing = []
    for name in _public_members(original):
        twin_name = PROTOCOL.get(name, name)
        if not hasattr(twin, twin_name):
            missing.append(name)
    missing += [name for name in _instance_attributes(original) if not hasattr(twin, name)]
    assert not missing, f"{twin.__name__} lacks {missing}"


@pytest.mark.parametrize(("original", "twin"), TWINS, ids=lambda c: c.__name__)
def test_twin_methods_keep_signature_and_docstring(original: type, twin: type) -> None:
    for name, member in _public_members(original).items():
        if name in PROTOCOL or not inspect.isfunction(member):
            continue  # attributes and properties: the test above checks they exist
        twin_member = inspect.getattr_static(twin, name)
        assert callable(twin_member), f"{twin.__name__}.{name} is not a method"
        assert twin_member.__wrapped__ is member, f"{twin.__name__}.{name} is not generated"
        expected = inspect.signature(member).parameters
        assert inspect.signature(twin_member).parameters == expected, name
        assert twin_member.__doc__ and twin_member.__doc__ == member.__doc__, name
        assert not inspect.iscoroutinefunction(twin_member), name
        returns = inspect.signature(twin_member).return_annotation
        if inspect.isasyncgenfunction(member):
            assert str(returns).startswith("Iterator["), (name, returns)
        assert "Async" not in str(returns) and "Awaitable" not in str(returns), (name, returns)


def test_constructors_take_the_same_arguments() -> None:
    assert inspect.signature(FlightClient) == inspect.signature(AsyncFlightClient)


def test_every_public_method_is_documented() -> None:
    for original, twin in TWINS:
        for cls in (original, twin):
            for name, member in _public_members(cls).items():
                if name in PROTOCOL or name in PROTOCOL.values():
                    continue
                if not (inspect.isfunction(member) or isinstance(member, property)):
                    continue  # plain attributes (slots) are documented by their class
                doc = member.__doc__
                assert doc and doc.strip(), f"{cls.__name__}.{name} has no docstring"


# --- behaviour ------------------------------------------------------------------------------


def test_streams_stay_streams(flight_server: Any) -> None:
    with FlightClient(flight_server.location) as client:
        flights = client.list_flights()
        assert isinstance(flights, Iterator)
        assert any(f.descriptor.path == ("numbers",) for f in flights)
        results = client.do_action("echo", "x")
        assert isinstance(results, Iterator) and [r.body for r in results] == [b"x"]
        # The call starts where it is made: a failure to start raises there, not later.
        with pytest.raises(flightnb.FlightError):
            client.do_action("no_such_action")
        assert not client.closed
    assert client.closed


def test_leaving_a_stream_early_ends_its_call(flight_server: Any) -> None:
    with FlightClient(flight_server.location) as client:
        for _ in range(20):  # each abandoned iterator closes its call; none piles up
            next(iter(client.list_flights()))
        assert client.get_flight_info(FlightDescriptor.for_path("numbers")).total_records > 0


def test_reader_progress_and_exchange_cancel(flight_server: Any) -> None:
    seen: list[int] = []
    with FlightClient(flight_server.location) as client:
        reader = client.do_get(b"batches_of_1000")
        reader.on_progress = lambda stats: seen.append(stats.rows)
        assert reader.read_all().num_rows == 10_000
        assert seen[-1] == 10_000 and len(seen) >= 10
        assert reader.stats.rows == 10_000
        with client.do_exchange(FlightDescriptor.for_path("echo")) as exchange:
            exchange.write_table(pa.table({"a": [1, 2]}))
            exchange.cancel()
        with client.do_put(FlightDescriptor.for_path("twins", "put")) as writer:
            writer.write_table(pa.table({"a": [1, 2]}))
        assert writer.results == [] and writer.stats.rows == 2
        assert flight_server.uploads["twins/put"].num_rows == 2


def test_twin_arguments_reach_the_async_method_as_originals(flight_server: Any) -> None:
    with FlightClient(flight_server.location) as client:
        other = FlightClient(flight_server.location, token="t")
        client.adopt_credentials(other)
        assert "auth=token" in repr(client)
        other.close()
