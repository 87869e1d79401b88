"""The integrity record of a fastnn safetensors file: a CRC-32 of each tensor's bytes and of the header, kept as
one string in the safetensors ``__metadata__`` (which holds only strings), so any safetensors reader still
loads the file and ignores it.

    __metadata__["fastnn.checksums"] = '{"algorithm":"crc32","header":"1a2b3c4d","tensors":{"w":"..."}}'

safetensors alone cannot notice a flipped bit: the data section has no redundancy, and most header flips
leave valid JSON with a different name, shape or number. With the record, a flip anywhere is detected: in a
tensor's bytes by its CRC (CRC-32 catches every 1-3 bit error and every burst up to 32 bits; anything else
with probability 1 - 2**-32), in the header by the header CRC, over a canonical form of every entry and
every other metadata string, and in the record itself because the two no longer agree.

Why CRC-32 (zlib) and not SHA-256: this guards against accidents (bit rot, a bad disk or transfer), not an
attacker, who could rewrite any checksum along with the data; on 200 MiB zlib.crc32 takes ~155 ms against
SHA-256's ~220 ms (with SHA-NI; several times slower without) on this machine, about as long as writing and
fsyncing the file, and it ships with Python.
"""
from __future__ import annotations

import json
import zlib

KEY = "fastnn.checksums"
ALGORITHM = "crc32"


def crc(data) -> str:
    """CRC-32 of a buffer (bytes, memoryview, NumPy array) as 8 hex digits."""
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


def _canonical(entries: dict, meta: dict) -> bytes:
    """The header without the record, in one fixed spelling (key order and spacing do not matter)."""
    items = sorted([name, e["dtype"], list(e["shape"]), list(e["data_offsets"])] for name, e in entries.items())
    rest = sorted([k, v] for k, v in meta.items() if k != KEY)
    return json.dumps([items, rest], separators=(",", ":"), ensure_ascii=True).encode()


def make_record(entries: dict, meta: dict, tensor_crcs: dict[str, str]) -> str:
    """The record's string for a header of ``entries`` and ``meta`` (without the record)."""
    return json.dumps({"algorithm": ALGORITHM, "header": crc(_canonical(entries, meta)), "tensors": tensor_crcs},
                      separators=(",", ":"), sort_keys=True)


def parse_record(text: str, corrupt) -> dict:
    """The record (checked for its form) from its metadata string; ``corrupt(what)`` makes the error."""
    try:
        record = json.loads(text)
    except ValueError:
        raise corrupt(f"the integrity record {KEY!r} is not JSON (a corrupted header)") from None
    if (not isinstance(record, dict) or set(record) != {"algorithm", "header", "tensors"}
            or not isinstance(record["tensors"], dict) or not isinstance(record["header"], str)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in record["tensors"].items())):
        raise corrupt(f"the integrity record {KEY!r} is malformed (a corrupted header)")
    if record["algorithm"] != ALGORITHM:
        raise corrupt(f"the integrity record uses an unknown algorithm {str(record['algorithm'])[:40]!r}")
    return record


def check_header(record: dict, entries: dict, meta: dict, corrupt) -> None:
    got = crc(_canonical(entries, meta))
    if got != record["header"]:
        raise corrupt(f"the header's checksum does not match (stored crc32 {record['header'][:16]}, computed {got}): "
                      "a tensor's name, dtype, shape or offsets, or the structure, was changed after saving")
    missing = set(record["tensors"]) ^ set(entries)
    if missing:
        raise corrupt(f"the integrity record does not list the tensors of the header ({sorted(missing)[:3]})")


def check_tensor(record: dict, name: str, raw, corrupt) -> None:
    stored = record["tensors"][name]
    got = crc(raw)
    if got != stored:
        raise corrupt(f"checksum mismatch in tensor {name!r} (stored crc32 {stored[:16]}, computed {got}): its bytes "
                      "changed after saving (a flipped bit, a bad disk or copy); pass checksum=False to read it "
                      "anyway")
