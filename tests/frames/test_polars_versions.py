"""The polars these tests run against is in the range pyproject.toml declares.

CI runs tests/frames a second time with the newest polars 1.x first on ``PYTHONPATH`` and
``FLIGHTNB_EXPECT_POLARS=1``; this test makes sure that environment really imports it (newer
polars split into ``polars`` and ``polars-runtime-*`` packages, which must match).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import polars as pl
import pytest

pytestmark = pytest.mark.frames

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_polars_is_at_least_the_declared_floor() -> None:
    declared = re.search(r'^polars = \["polars>=([\d.]+)', PYPROJECT.read_text(), re.MULTILINE)
    assert declared is not None, "the polars extra of pyproject.toml"
    assert _version(pl.__version__) >= _version(declared.group(1))


def test_the_expected_major_version_is_imported() -> None:
    expected = os.environ.get("FLIGHTNB_EXPECT_POLARS")
    if not expected:
        pytest.skip(f"FLIGHTNB_EXPECT_POLARS not set (polars {pl.__version__})")
    assert pl.__version__.split(".")[0] == expected, pl.__file__
    assert pl.DataFrame({"x": [1, 2]}).sum().item() == 3  # the compiled runtime loads too
