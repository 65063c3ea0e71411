"""Coverage-guided fuzz target for :class:`flightnb.codec.FlightDataDecoder` (atheris).

Usage::

    python tests/fuzz/atheris_decoder.py [libFuzzer flags] [corpus_dir ...]
    python tests/fuzz/atheris_decoder.py -runs=20000 /tmp/flightnb-corpus
    python tests/fuzz/atheris_decoder.py -max_total_time=3600 -jobs=2 /tmp/flightnb-corpus

An empty (or missing) corpus directory is seeded with valid streams first; without one, a
temporary seeded directory is used. A crash (any exception but a ``FlightError``, or a
native crash inside pyarrow) makes libFuzzer write ``crash-<sha1>``; copy it into
``tests/fuzz/regressions/`` so ``test_atheris_smoke.py`` replays it forever.

Input framing (see :func:`split_input`): the first byte holds options (bit 0: full
validation), then messages follow, each as a 2-byte little-endian length and that many
bytes (a short last message takes what is left). Every message is one FlightData, fed to one
decoder in order, so the fuzzer explores sequences: schema, dictionaries, batches.
"""

from __future__ import annotations

import struct
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

MAX_MESSAGES = 64


def split_input(data: bytes) -> tuple[bool, list[bytes]]:
    """(validate, messages) of one fuzz input."""
    if not data:
        return False, []
    validate = bool(data[0] & 1)
    messages = []
    pos = 1
    while pos < len(data) and len(messages) < MAX_MESSAGES:
        if pos + 2 > len(data):
            messages.append(data[pos:])
            break
        (length,) = struct.unpack_from("<H", data, pos)
        pos += 2
        messages.append(data[pos : pos + length])
        pos += length
    return validate, messages


def join_messages(messages: list[bytes], *, validate: bool = False) -> bytes:
    """The fuzz input for ``messages`` (each must be < 64 KiB)."""
    out = bytearray([1 if validate else 0])
    for message in messages:
        out += struct.pack("<H", len(message)) + message
    return bytes(out)


def check_one_input(data: bytes) -> None:
    """Decode one input; anything but a FlightError escaping is a bug."""
    # Imported here so the replay test works without atheris' import hook.
    from flightnb.codec import BatchReceived, FlightDataDecoder
    from flightnb.errors import FlightError

    validate, messages = split_input(data)
    decoder = FlightDataDecoder(validate=validate)
    try:
        for message in messages:
            for event in decoder.receive(message):
                if isinstance(event, BatchReceived) and validate:
                    # Fully validated data must be safe to use.
                    event.batch.to_pylist()
        decoder.end()
    except FlightError:
        pass


def seed_inputs() -> Iterator[bytes]:
    """Valid streams: many types, dictionaries (with deltas), compression, metadata."""
    import pyarrow as pa

    from flightnb.codec import FlightDataEncoder

    tables = [
        pa.table({"n": pa.array([1, 2, None], pa.int64()), "s": ["a", None, "ccc"]}),
        pa.table({"f": pa.array([0.5, None], pa.float32()), "b": [b"\x00\xff", None]}),
        pa.table({"l": pa.array([[1, 2], None, []], pa.list_(pa.int16()))}),
        pa.table({"st": pa.array([{"x": 1, "y": "z"}, None])}),
        pa.table({"d": pa.array(["a", "b", "a", None]).dictionary_encode()}),
        pa.table(
            {
                "t": pa.array([0, 10**15], pa.timestamp("us", tz="Europe/Paris")),
                "dec": pa.array([Decimal("1.500"), Decimal("-2.125")], pa.decimal128(20, 3)),
                "flag": [True, None],
            }
        ),
    ]
    for table in tables:
        for compression in (None, "lz4"):
            encoder = FlightDataEncoder(table.schema, compression=compression)
            messages = [encoder.schema_message(), *encoder.encode_table(table, max_chunksize=2)]
            yield join_messages(messages)
            yield join_messages(messages, validate=True)
            yield join_messages(
                [messages[0], FlightDataEncoder.metadata_message(b"m"), *messages[1:]]
            )
    # Replacement and delta dictionaries across batches.
    schema = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
    options = pa.ipc.IpcWriteOptions(emit_dictionary_deltas=True)
    encoder = FlightDataEncoder(schema, options=options)
    messages = [encoder.schema_message()]
    for values in (["a", "b"], ["a", "b", "c"], ["x"]):
        array = pa.array(values).dictionary_encode()
        messages += encoder.encode_batch(pa.record_batch([array], schema=schema))
    yield join_messages(messages, validate=True)


def write_seeds(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seed_inputs()):
        (directory / f"seed-{i:03d}").write_bytes(seed)


def main(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports(include=["flightnb"]):
        import flightnb.codec  # noqa: F401 - instrumented for coverage feedback

    corpus_dirs = [arg for arg in argv[1:] if not arg.startswith("-")]
    args = list(argv)
    if not corpus_dirs:
        temporary = Path(tempfile.mkdtemp(prefix="flightnb-corpus-"))
        args.append(str(temporary))
        corpus_dirs = [str(temporary)]
    for directory in corpus_dirs:
        path = Path(directory)
        # A file argument is an input to replay (libFuzzer runs it once), not a corpus.
        if not path.exists() or (path.is_dir() and not any(path.iterdir())):
            write_seeds(path)
    atheris.Setup(args, check_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
