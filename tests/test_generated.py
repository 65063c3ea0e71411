"""The committed generated modules are fresh, and the dependency floors match them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "flightnb" / "_proto"


def _floor(requirement_name: str) -> str:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in dependencies:
        match = re.fullmatch(
            rf"{re.escape(requirement_name)}\s*>=\s*([\w.]+)\s*(,.*)?", requirement.strip()
        )
        if match:
            return match.group(1)
    raise AssertionError(f"no '{requirement_name}>=' floor in pyproject.toml dependencies")


def test_generated_modules_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_protos.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr or result.stdout


def test_protobuf_floor_matches_gencode() -> None:
    header = (GENERATED / "Flight_pb2.py").read_text()
    match = re.search(r"^# Protobuf Python Version: ([\w.]+)$", header, re.MULTILINE)
    assert match, "no 'Protobuf Python Version' line in Flight_pb2.py"
    assert _floor("protobuf") == match.group(1)


def test_grpcio_floor_matches_gencode() -> None:
    text = (GENERATED / "Flight_pb2_grpc.py").read_text()
    match = re.search(r"^GRPC_GENERATED_VERSION = '([\w.]+)'$", text, re.MULTILINE)
    assert match, "no GRPC_GENERATED_VERSION in Flight_pb2_grpc.py"
    assert _floor("grpcio") == match.group(1)
