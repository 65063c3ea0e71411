"""Generated protobuf and gRPC modules for the Flight protocols. Do not edit.

Regenerate with ``python scripts/generate_protos.py``. The messages live in ``POOL``, a
descriptor pool private to flightnb, so that user code can load its own Flight stubs into
protobuf's default pool without symbol clashes.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2

POOL = descriptor_pool.DescriptorPool()
for _well_known in (timestamp_pb2, descriptor_pb2):
    POOL.AddSerializedFile(_well_known.DESCRIPTOR.serialized_pb)
