"""Small deterministic building blocks shared by every source generator.

Everything random is drawn from a ``random.Random`` seeded by a string that names what is being
generated, so any file can be regenerated on its own and the bytes never depend on the order in
which files are produced, on the wall clock or on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import time
from datetime import UTC, datetime

_HEX_VARIANT = dict(zip("0123456789abcdef", "89ab89ab89ab89ab", strict=True))


def rng_for(*parts: object) -> random.Random:
    """A generator seeded by the names of what it generates (stable across processes)."""
    return random.Random(":".join(str(p) for p in parts))


def stable_hash(*parts: object, length: int = 16) -> str:
    """A hex string derived from the arguments; used for ids that must be stable per resource."""
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()[:length]


def uuids(rng: random.Random, n: int) -> list[str]:
    """``n`` version-4 style UUID strings drawn from ``rng`` in one bulk call."""
    h = rng.randbytes(16 * n).hex()
    v = _HEX_VARIANT
    return [
        f"{h[o : o + 8]}-{h[o + 8 : o + 12]}-4{h[o + 13 : o + 16]}-{v[h[o + 16]]}{h[o + 17 : o + 20]}-{h[o + 20 : o + 32]}"
        for o in range(0, 32 * n, 32)
    ]


def uuid1(rng: random.Random) -> str:
    return uuids(rng, 1)[0]


def hex_id(rng: random.Random, length: int = 17) -> str:
    """Resource-id suffix as EC2 prints it (``0a1b2c...``, 17 hex characters)."""
    return rng.randbytes((length + 1) // 2).hex()[:length]


def iso_seconds(epoch: float) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (CloudTrail eventTime)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def iso_millis(epoch_ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` (Config capture times, CloudWatch export lines)."""
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000))
        + f".{epoch_ms % 1000:03d}Z"
    )


def compact(epoch: float, seconds: bool = False) -> str:
    """``YYYYMMDDTHHmmZ`` or ``YYYYMMDDTHHmmssZ`` as used in AWS object names."""
    fmt = "%Y%m%dT%H%M%SZ" if seconds else "%Y%m%dT%H%MZ"
    return time.strftime(fmt, time.gmtime(int(epoch)))


def date_parts(epoch: float) -> tuple[int, int, int, int]:
    t = time.gmtime(int(epoch))
    return t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour


def parse_time(value: str | datetime | float | int) -> float:
    """Epoch seconds from an ISO-8601 string (``Z`` or offset; naive means UTC) or datetime."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    """A gzip member with a zero mtime and no file name, so equal input gives equal bytes."""
    return gzip.compress(data, compresslevel=level, mtime=0)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
