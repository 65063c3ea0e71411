"""Regenerate the Python modules in ``flightnb/_proto`` from the ``.proto`` files in ``protos/``.

Run ``python scripts/generate_protos.py`` after editing a ``.proto`` file, and
``python scripts/generate_protos.py --check`` to fail when the committed modules are stale.

Two rewrites make the output fit inside a package that users may import next to their own
Flight stubs:

* Messages are registered in a descriptor pool private to flightnb, not protobuf's default
  pool. Users often generate their own ``Flight_pb2`` from the same protocol; sharing the
  default pool would make the second import fail with "duplicate symbol".
* protoc writes ``import Flight_pb2`` in the gRPC module; it becomes a package import.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"
OUT_DIR = ROOT / "flightnb" / "_proto"
PACKAGE = "flightnb._proto"

INIT_TEXT = '''"""Generated protobuf and gRPC modules for the Flight protocols. Do not edit.

Regenerate with ``python scripts/generate_protos.py``. The messages live in ``POOL``, a
descriptor pool private to flightnb, so that user code can load its own Flight stubs into
protobuf's default pool without symbol clashes.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2

POOL = descriptor_pool.DescriptorPool()
for _well_known in (timestamp_pb2, descriptor_pb2):
    POOL.AddSerializedFile(_well_known.DESCRIPTOR.serialized_pb)
'''


def _rewrite(name: str, text: str) -> str:
    text = text.replace(
        "_descriptor_pool.Default().AddSerializedFile",
        f"__import__({PACKAGE!r}, fromlist=['POOL']).POOL.AddSerializedFile",
    )
    return re.sub(
        r"^import (\w+_pb2) as (\w+)$",
        rf"from {PACKAGE} import \1 as \2",
        text,
        flags=re.MULTILINE,
    )


def generate(out_dir: Path) -> None:
    """Write freshly generated modules for every proto in ``protos/`` into ``out_dir``."""
    protos = sorted(PROTO_DIR.glob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTO_DIR}",
                f"--python_out={tmp}",
                f"--pyi_out={tmp}",
                f"--grpc_python_out={tmp}",
                *map(str, protos),
            ],
            check=True,
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "__init__.py").write_text(INIT_TEXT)
        for produced in sorted(Path(tmp).iterdir()):
            (out_dir / produced.name).write_text(_rewrite(produced.name, produced.read_text()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if flightnb/_proto is stale")
    args = parser.parse_args()
    if not args.check:
        generate(OUT_DIR)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh = {p.name: p.read_text() for p in Path(tmp).iterdir()}
    current = {p.name: p.read_text() for p in OUT_DIR.iterdir() if p.is_file()}
    stale = sorted(n for n in fresh.keys() | current.keys() if fresh.get(n) != current.get(n))
    if stale:
        print("stale generated modules: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
