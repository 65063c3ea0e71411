"""The ``>>>`` examples of every docstring run, against the embedded server where they need one.

Examples name the address ``python -m flightnb serve`` listens on (``grpc://127.0.0.1:8815``
or ``grpc://localhost:8815``) or ``URI``; here they reach a server on a free port instead (the
address is rewritten, ``URI`` and ``uri`` are bound to it). Examples with top-level ``await``,
as written in a notebook, run one after the other on an event loop, with ``client`` an
``AsyncFlightSqlClient`` of that server. An example marked
``# doctest: +SKIP`` must have its docstring listed in :data:`SKIPPED`, with the reason it
cannot run here; the docstring's other examples still run.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import doctest
import importlib
import inspect
import io
import pkgutil
import re
from collections.abc import Iterator

import pytest

import flightnb
from flightnb.server import FlightSqlServer
from flightnb.sql import AsyncFlightSqlClient
from flightnb.workers import close_worker_clients

_ADDRESSES = re.compile(r"grpc://(?:127\.0\.0\.1|localhost):8815")

# The docstrings whose examples are skipped, and why.
SKIPPED = {
    "flightnb.codec.decoder.FlightDataDecoder": "iterates the reader's own generated gRPC stub",
    "flightnb.notebook.background.BackgroundRead": "a %flight magic, which needs IPython",
    "flightnb.pandas.FlightAccessor": "exchange: the embedded server has no DoExchange",
    "flightnb.ray.read_flight": "needs a Ray cluster (tests/ray makes the same calls on one)",
    "flightnb.ray.write_flight": "needs a Ray cluster (tests/ray makes the same calls on one)",
    "flightnb.progress.widget.WidgetProgress": "shows a widget, which needs a notebook frontend",
    "flightnb.functions.sinks.write_dataset": (
        "resume: the embedded server mints new tickets per plan"
    ),
    "flightnb.types.FlightEndpoint.from_adbc_partition": "needs an ADBC cursor's partitions",
}


def _modules() -> Iterator[str]:
    for info in pkgutil.walk_packages(flightnb.__path__, "flightnb."):
        if "._proto" not in info.name and info.name != "flightnb.__main__":
            yield info.name


def _doctests() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found: dict[str, doctest.DocTest] = {}
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name):
            # Private objects are not documented (and a subclass of a library's class would
            # bring that library's own examples along).
            private = any(part.startswith("_") for part in test.name.split("."))
            if test.examples and not private:
                found.setdefault(test.name, test)
    return sorted(found.values(), key=lambda t: t.name)


TESTS = _doctests()


def _skipped(test: doctest.DocTest) -> bool:
    """Whether any example of the docstring is skipped (the others still run)."""
    return any(example.options.get(doctest.SKIP) for example in test.examples)


def _runs(test: doctest.DocTest) -> bool:
    return not all(example.options.get(doctest.SKIP) for example in test.examples)


def _awaits(test: doctest.DocTest) -> bool:
    return any(
        re.search(r"\bawait\b|\basync (with|for)\b", example.source) for example in test.examples
    )


@pytest.fixture(scope="module")
def server() -> Iterator[FlightSqlServer]:
    server = FlightSqlServer(sample_size=2_000, batch_size=500, endpoints=2)
    try:
        yield server
    finally:
        server.shutdown()


def test_there_are_examples_to_run() -> None:
    assert len([t for t in TESTS if _runs(t) and not _awaits(t)]) >= 40
    assert len([t for t in TESTS if _runs(t) and _awaits(t)]) >= 9


def test_every_skipped_example_says_why() -> None:
    assert sorted(t.name for t in TESTS if _skipped(t)) == sorted(SKIPPED)


@pytest.mark.parametrize(
    "test", [t for t in TESTS if _runs(t) and not _awaits(t)], ids=lambda t: t.name
)
def test_docstring_example(
    test: doctest.DocTest, server: FlightSqlServer, tmp_path: object, monkeypatch: object
) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    for example in test.examples:
        example.source = _ADDRESSES.sub(server.location, example.source)
    test.globs = {**test.globs, "URI": server.location, "uri": server.location}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    output: list[str] = []
    try:
        result = runner.run(test, out=output.append, clear_globs=True)
    finally:
        close_worker_clients()  # Dask's default scheduler reads in this process's threads
    assert result.failed == 0, "".join(output)


_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


async def _run_awaiting(test: doctest.DocTest, location: str) -> list[str]:
    """Run the examples in order on this loop, as a notebook would; the failures."""
    failures: list[str] = []
    checker = doctest.OutputChecker()
    async with AsyncFlightSqlClient(location) as client:
        globs = {**test.globs, "URI": location, "uri": location, "client": client}
        for example in test.examples:
            if example.options.get(doctest.SKIP):
                continue
            source = _ADDRESSES.sub(location, example.source)
            code = compile(source, test.name, "single", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                result = eval(code, globs)
                if inspect.iscoroutine(result):
                    await result
            if not checker.check_output(example.want, out.getvalue(), _FLAGS):
                failures.append(f"{source}expected: {example.want!r}, got: {out.getvalue()!r}")
    return failures


@pytest.mark.parametrize(
    "test", [t for t in TESTS if _runs(t) and _awaits(t)], ids=lambda t: t.name
)
def test_docstring_example_with_await(test: doctest.DocTest, server: FlightSqlServer) -> None:
    assert asyncio.run(_run_awaiting(test, server.location)) == []
