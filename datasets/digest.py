"""CloudTrail digest files: hourly, chained, signed with SHA256withRSA like CloudTrail signs them.

The RSA key of each region is derived from its name (so the same seed gives the same bytes) and
written next to the data as PEM files plus the JSON ``aws cloudtrail list-public-keys`` prints.
S3 keeps the signature of a digest in object metadata (``x-amz-meta-signature``); a local folder
has no metadata, so every digest also gets a small JSON sidecar under ``digest-metadata/`` with the
same two keys boto3 shows in ``Metadata``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ._util import date_parts, gzip_bytes, iso_seconds, rng_for, sha256_hex
from .sink import Sink

SIDE_PREFIX = "digest-metadata"
KEYS_PREFIX = "cloudtrail-public-keys"
_SIEVE_LIMIT = 30_000


def _small_primes(limit: int) -> list[int]:
    flags = bytearray([1]) * limit
    flags[0:2] = b"\x00\x00"
    for i in range(2, int(limit**0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = bytearray(len(flags[i * i :: i]))
    return [i for i in range(3, limit) if flags[i]]


# one gcd with the product of the small odd primes replaces thousands of trial divisions
_PRIMORIAL = math.prod(_small_primes(_SIEVE_LIMIT))


def _probable_prime(rng: random.Random, bits: int) -> int:
    n = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
    while True:
        n += 2
        if n.bit_length() > bits:
            n = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if math.gcd(n, _PRIMORIAL) != 1:
            continue
        d, s = n - 1, 0
        while d % 2 == 0:
            d //= 2
            s += 1
        for _ in range(16):
            a = rng.randrange(2, n - 2)
            x = pow(a, d, n)
            if x in (1, n - 1):
                continue
            for _ in range(s - 1):
                x = pow(x, 2, n)
                if x == n - 1:
                    break
            else:
                break
        else:
            return n


@functools.lru_cache(maxsize=32)
def signing_key(region: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """The region's RSA key, derived from the region name rather than drawn from the OS.

    Like CloudTrail's, one key per region serves every account (and every seed), and the same
    name always gives the same key, so outputs are reproducible byte for byte.
    """
    rng = rng_for("loglake-datasets", "cloudtrail-digest-key", region, bits)
    e = 65537
    while True:
        p = _probable_prime(rng, bits // 2)
        q = _probable_prime(rng, bits // 2)
        if p == q:
            continue
        phi = (p - 1) * (q - 1)
        if phi % e == 0:
            continue
        d = pow(e, -1, phi)
        if q > p:
            p, q = q, p
        numbers = rsa.RSAPrivateNumbers(
            p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(e, p * q)
        )
        return numbers.private_key()


def public_der(key: rsa.RSAPrivateKey) -> bytes:
    """DER PKCS#1 RSAPublicKey, the ``Value`` ListPublicKeys returns."""
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )


def fingerprint(key: rsa.RSAPrivateKey) -> str:
    return hashlib.md5(public_der(key)).hexdigest()


def write_keys(
    sink: Sink, seed: int, regions: list[str], valid_from: float, valid_to: float
) -> list[str]:
    """PEM files and the list-public-keys JSON of every region; returns the keys written."""
    written = []
    for region in regions:
        key = signing_key(region)
        base = f"{KEYS_PREFIX}/{region}"
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        )
        listing = {
            "PublicKeyList": [
                {
                    "Value": base64.b64encode(public_der(key)).decode(),
                    "ValidityStartTime": iso_seconds(valid_from).replace("Z", "+00:00"),
                    "ValidityEndTime": iso_seconds(valid_to).replace("Z", "+00:00"),
                    "Fingerprint": fingerprint(key),
                }
            ]
        }
        sink.put(f"{base}/private.pem", private)
        sink.put(f"{base}/public.pem", public)
        sink.put(f"{base}/list-public-keys.json", orjson.dumps(listing, option=orjson.OPT_INDENT_2))
        written += [f"{base}/private.pem", f"{base}/public.pem", f"{base}/list-public-keys.json"]
    return written


def data_to_sign(
    end_time: str, bucket: str, s3_object: str, digest_bytes: bytes, previous: str | None
) -> bytes:
    return f"{end_time}\n{bucket}/{s3_object}\n{sha256_hex(digest_bytes)}\n{previous or 'null'}".encode()


@dataclass
class LogFileEntry:
    key: str
    delivered: float
    oldest: float
    newest: float
    digest: Any  # hex string, or a Future resolving to (hex string, ...)


@dataclass
class DigestChain:
    """The hourly digest chain of one trail in one account and region."""

    sink: Sink
    seed: int
    account_id: str
    region: str
    home_region: str
    trail: str
    org_id: str | None
    start: float
    offset: int = 0
    files: list[LogFileEntry] = field(default_factory=list)
    prev_key: str | None = None
    prev_hash: str | None = None
    prev_sig: str | None = None
    window_start: float = 0.0
    active: bool = True
    written: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.offset = rng_for(self.seed, "digest-offset", self.account_id, self.region).randrange(
            0, 240
        )
        self.window_start = self.start
        self.key = signing_key(self.region)
        self.fp = fingerprint(self.key)

    def add(self, entry: LogFileEntry) -> None:
        self.files.append(entry)

    def advance(self, now: float) -> None:
        """Write every hourly digest whose end time is at or before ``now``."""
        while self.active:
            end = (int(self.window_start) // 3600 + 1) * 3600 + self.offset
            if end > now:
                return
            self._emit(end)

    def stop(self, t: float) -> None:
        """Logging stopped: a final digest now, then nothing until :meth:`restart`."""
        if self.active:
            self._emit(t)
            self.active = False

    def restart(self, t: float) -> None:
        self.active = True
        self.window_start = t
        self.prev_key = self.prev_hash = self.prev_sig = None

    def _emit(self, end: float) -> None:
        taken = [f for f in self.files if f.delivered < end]
        self.files = [f for f in self.files if f.delivered >= end]
        y, m, d, _ = date_parts(end)
        org = f"{self.org_id}/" if self.org_id else ""
        stamp = iso_seconds(end).replace("-", "").replace(":", "")
        key = (
            f"AWSLogs/{org}{self.account_id}/CloudTrail-Digest/{self.region}/{y:04d}/{m:02d}/{d:02d}/"
            f"{self.account_id}_CloudTrail-Digest_{self.region}_{self.trail}_{self.home_region}_{stamp}.json.gz"
        )
        s3_object = self.sink.s3_key(key)
        log_files = []
        for f in taken:
            digest = f.digest if isinstance(f.digest, str) else f.digest.result()[0]
            log_files.append(
                {
                    "s3Bucket": self.sink.bucket,
                    "s3Object": self.sink.s3_key(f.key),
                    "hashValue": digest,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": iso_seconds(f.newest),
                    "oldestEventTime": iso_seconds(f.oldest),
                }
            )
        end_time = iso_seconds(end)
        doc = {
            "awsAccountId": self.account_id,
            "digestStartTime": iso_seconds(self.window_start),
            "digestEndTime": end_time,
            "digestS3Bucket": self.sink.bucket,
            "digestS3Object": s3_object,
            "digestPublicKeyFingerprint": self.fp,
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": iso_seconds(max(f.newest for f in taken)) if taken else None,
            "oldestEventTime": iso_seconds(min(f.oldest for f in taken)) if taken else None,
            "previousDigestS3Bucket": self.sink.bucket if self.prev_key else None,
            "previousDigestS3Object": self.sink.s3_key(self.prev_key) if self.prev_key else None,
            "previousDigestHashValue": self.prev_hash,
            "previousDigestHashAlgorithm": "SHA-256" if self.prev_key else None,
            "previousDigestSignature": self.prev_sig,
            "logFiles": log_files,
        }
        body = orjson.dumps(doc)
        signature = self.key.sign(
            data_to_sign(end_time, self.sink.bucket, s3_object, body, self.prev_sig),
            padding.PKCS1v15(),
            hashes.SHA256(),
        ).hex()
        meta = {"signature": signature, "signature-algorithm": "SHA256withRSA"}
        self.sink.put(key, gzip_bytes(body), metadata=meta)
        self.sink.put(f"{SIDE_PREFIX}/{key}.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2))
        self.written.append(key)
        self.prev_key, self.prev_hash, self.prev_sig = key, sha256_hex(body), signature
        self.window_start = end
