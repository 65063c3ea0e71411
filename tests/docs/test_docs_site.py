"""The documentation site builds with ``mkdocs build --strict`` and its reference is complete.

The build renders the notebooks (without running them: tests/notebook runs them) and the API
reference from the numpydoc docstrings; any warning (a broken link, a docstring mkdocstrings
cannot parse, a page missing from the build) fails it. The reference's inventory
(``objects.inv``) must then hold every public name.
"""

from __future__ import annotations

import html
import importlib
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import yaml

import flightnb

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_PACKAGES = (
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

#: Where a name of ``flightnb.__all__`` may be documented: at the top level or in its package.
TOP_LEVEL_HOMES = ("flightnb", "flightnb.errors", "flightnb.functions")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    # Run from a scratch directory: mkdocs-jupyter keeps its cache under the working directory.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    env.pop("FLIGHTNB_DOCS_EXECUTE", None)
    # No -q: it hides the warnings, and then --strict has none to count.
    command = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    done = subprocess.run(
        [*command, "-f", str(ROOT / "mkdocs.yml"), "-d", str(out / "html")],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out / "html"


def _inventory(site: Path) -> set[str]:
    raw = (site / "objects.inv").read_bytes()
    body = raw.split(b"\n", 4)[4]
    return {line.split(" ", 1)[0] for line in zlib.decompress(body).decode().splitlines()}


def _nav_pages(items: list[object]) -> list[str]:
    pages: list[str] = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            pages += _nav_pages(value)
        else:
            pages.append(str(value))
    return pages


def test_every_top_level_name_is_in_the_reference(site: Path) -> None:
    # A top-level name is documented there, or in the public package it comes from.
    documented = _inventory(site)
    missing = [
        name
        for name in flightnb.__all__
        if not name.startswith("__")
        and not {f"{home}.{name}" for home in TOP_LEVEL_HOMES} & documented
    ]
    assert missing == []


@pytest.mark.parametrize("package", PUBLIC_PACKAGES)
def test_every_name_of_a_public_package_is_in_the_reference(site: Path, package: str) -> None:
    documented = _inventory(site)
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None) or [
        n for n in vars(module) if not n.startswith("_") and callable(getattr(module, n))
    ]
    assert [n for n in names if f"{package}.{n}" not in documented] == []


def test_every_page_is_in_the_navigation() -> None:
    # mkdocs only says INFO for a page left out of the nav; a newcomer would never find it.
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    in_nav = set(_nav_pages(config["nav"]))
    docs = ROOT / "docs"
    pages = {
        path.relative_to(docs).as_posix()
        for pattern in ("*.md", "*.ipynb")
        for path in docs.rglob(pattern)
    }
    assert sorted(pages - in_nav) == []


def test_the_tutorial_renders_the_notebooks(site: Path) -> None:
    for name in ("quickstart", "tour"):
        page = (site / "tutorial" / name / "index.html").read_text(encoding="utf-8")
        assert "read_flight" in page


def test_no_sphinx_role_shows_in_the_reference(site: Path) -> None:
    leftovers = [
        page.relative_to(site).as_posix()
        for page in (site / "reference").rglob("*.html")
        if re.search(r":(class|func|meth|mod|data|attr):<code>", page.read_text(encoding="utf-8"))
    ]
    assert leftovers == []


def _text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


def test_the_blocking_twins_are_documented_as_methods(site: Path) -> None:
    """``write_parquet = blocking(...)`` reads, from the source, as an attribute with no docs;
    the site's Griffe extension shows it as the method it is at run time."""
    as_attributes = [
        page.relative_to(site).as_posix()
        for page in (site / "reference").rglob("*.html")
        if re.search(r"\b(blocking|blocking_\w+|on_loop|mirror)\(", _text(page))
    ]
    assert as_attributes == []
    clients = (site / "reference" / "api" / "clients" / "index.html").read_text(encoding="utf-8")
    start = clients.index('id="flightnb.FlightClient.write_parquet"')
    section = html.unescape(re.sub(r"<[^>]+>", "", clients[start : start + 20_000]))
    assert "write_parquet(" in section and "row_group_size" in section
    assert "Stream a flight into one Parquet file" in section
