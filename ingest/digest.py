"""CloudTrail log file integrity validation, as ``aws cloudtrail validate-logs`` does it.

Each hourly digest file lists the SHA-256 of the log files delivered in its hour and links to
the previous digest. A digest is signed (SHA256withRSA) over::

    <digestEndTime>\\n<digestS3Bucket>/<digestS3Object>\\n<hex sha256 of the digest>\\n<previous signature or "null">

The signature of a digest is in its S3 object metadata (``x-amz-meta-signature``) and, for every
digest but the newest, also in the next digest (``previousDigestSignature``). Validation walks the
chain from the newest digest back to the start time and reports every digest and log file as
valid, modified, not found, or unverifiable.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from loglake.catalog.storage import StorageSettings
from loglake.errors import UserError
from loglake.ingest.layout import walk

_DIGEST = re.compile(
    r"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/CloudTrail-Digest/(?P<region>[a-z0-9-]+)/"
    r"\d{4}/\d{2}/\d{2}/(?P=account)_CloudTrail-Digest_(?P=region)_(?P<trail>.+)_"
    r"(?P<home>[a-z0-9-]+)_(?P<stamp>\d{8}T\d{6}Z)\.json\.gz$"
)
REQUIRED = (
    "digestPublicKeyFingerprint",
    "digestS3Bucket",
    "digestS3Object",
    "previousDigestSignature",
    "digestEndTime",
    "digestStartTime",
)

VALID = "valid"


@dataclass
class FileResult:
    kind: str  # "digest" or "log"
    url: str
    status: str  # "valid", "INVALID: ...", or "UNVERIFIED: ..."

    @property
    def valid(self) -> bool:
        return self.status == VALID

    @property
    def invalid(self) -> bool:
        return self.status.startswith("INVALID")

    def line(self) -> str:
        label = "Digest file" if self.kind == "digest" else "Log file"
        return f"{label}\t{self.url}\t{self.status}"


@dataclass
class ValidationReport:
    start: dt.datetime
    end: dt.datetime
    results: list[FileResult] = field(default_factory=list)
    gaps: list[tuple[str, str]] = field(default_factory=list)
    found_start: str | None = None
    found_end: str | None = None

    @property
    def digests(self) -> list[FileResult]:
        return [r for r in self.results if r.kind == "digest"]

    @property
    def logs(self) -> list[FileResult]:
        return [r for r in self.results if r.kind == "log"]

    @property
    def ok(self) -> bool:
        return bool(self.digests) and not any(r.invalid for r in self.results)

    def status_of(self, url_suffix: str) -> str | None:
        for result in self.results:
            if result.url.endswith(url_suffix):
                return result.status
        return None

    def summary(self, verbose: bool = False) -> str:
        lines = []
        for result in self.results:
            if verbose or not result.valid:
                lines.append(result.line())
        for older, newer in self.gaps:
            lines.append(f"No log files were delivered by CloudTrail between {older} and {newer}")
        lines.append(f"Results requested for {_iso(self.start)} to {_iso(self.end)}")
        if not self.digests:
            lines.append("No digests found")
            return "\n".join(lines)
        lines.append(f"Results found for {self.found_start} to {self.found_end}:")
        for kind, items in (("digest", self.digests), ("log", self.logs)):
            total = len(items)
            valid = sum(r.valid for r in items)
            invalid = sum(r.invalid for r in items)
            text = f"{valid}/{total} {kind} files valid"
            if invalid:
                text += f", {invalid}/{total} {kind} files INVALID"
            unverified = total - valid - invalid
            if unverified:
                text += f", {unverified}/{total} {kind} files UNVERIFIED"
            lines.append(text)
        return "\n".join(lines)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str | dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    text = str(value).strip().replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"not a date or time: {value!r} (use e.g. 2024-05-10T00:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------- public keys
def fingerprint(key: rsa.RSAPublicKey) -> str:
    """MD5 of the key's DER-encoded PKCS #1 form, in hex (the shape of CloudTrail's fingerprints)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return hashlib.md5(der).hexdigest()


def _load_der(der: bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_der_public_key(der)
    except ValueError:
        key = _load_pkcs1(der)
    if not isinstance(key, rsa.RSAPublicKey):
        raise UserError("public key is not an RSA key")
    return key


def _load_pkcs1(der: bytes) -> rsa.RSAPublicKey:
    pem = (
        b"-----BEGIN RSA PUBLIC KEY-----\n"
        + base64.encodebytes(der)
        + b"-----END RSA PUBLIC KEY-----\n"
    )
    key = serialization.load_pem_public_key(pem)
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def load_public_keys(source: str | Path | bytes) -> dict[str, rsa.RSAPublicKey]:
    """Public keys by fingerprint, from the JSON ``aws cloudtrail list-public-keys`` prints,
    from PEM (one or several keys) or from DER."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    keys: dict[str, rsa.RSAPublicKey] = {}
    stripped = data.strip()
    if stripped.startswith((b"{", b"[")):
        try:
            document = orjson.loads(stripped)
        except orjson.JSONDecodeError as error:
            raise UserError(f"public keys file is not valid JSON: {error}") from None
        entries = document.get("PublicKeyList", []) if isinstance(document, dict) else document
        for entry in entries:
            value = entry["Value"]
            der = value if isinstance(value, bytes) else base64.b64decode(value)
            key = _load_der(der)
            keys[str(entry.get("Fingerprint") or fingerprint(key)).lower()] = key
        return keys
    if b"-----BEGIN" in stripped:
        for block in re.findall(rb"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", data, re.S):
            loaded = serialization.load_pem_public_key(block)
            if not isinstance(loaded, rsa.RSAPublicKey):
                raise UserError("public key is not an RSA key")
            keys[fingerprint(loaded)] = loaded
        return keys
    key = _load_der(stripped)
    return {fingerprint(key): key}


# ---------------------------------------------------------------- validation
@dataclass
class _Digest:
    url: str
    path: str
    account: str
    region: str
    trail: str
    stamp: str  # YYYYMMDDTHHMMSSZ


def _list_digests(settings: StorageSettings, url: str, start: dt.datetime) -> list[_Digest]:
    src = settings.with_root(url)
    fs = src.filesystem()
    out = []
    for entry in walk(fs, src.fs_path(src.root), since=start.date()):
        name = entry["name"]
        match = _DIGEST.search(name)
        if match is None:
            continue
        full = f"s3://{name}" if src.is_s3 else name
        out.append(
            _Digest(full, name, match["account"], match["region"], match["trail"], match["stamp"])
        )
    return out


def validate_trail(
    settings: StorageSettings,
    url: str,
    *,
    start: str | dt.datetime,
    end: str | dt.datetime | None = None,
    public_keys: dict[str, rsa.RSAPublicKey],
    account: str | None = None,
    region: str | None = None,
    trail: str | None = None,
) -> ValidationReport:
    """Validate the digest chains and log files under ``url`` for ``[start, end]``."""
    start_time = _parse_time(start)
    end_time = _parse_time(end) if end is not None else dt.datetime.now(dt.UTC)
    report = ValidationReport(start_time, end_time)
    src = settings.with_root(url)
    fs = src.filesystem()
    digests = _list_digests(settings, url, start_time)
    chains: dict[tuple[str, str, str], list[_Digest]] = {}
    for digest in digests:
        if account and digest.account != account:
            continue
        if region and digest.region != region:
            continue
        if trail and digest.trail != trail:
            continue
        chains.setdefault((digest.account, digest.region, digest.trail), []).append(digest)
    limit = (end_time + dt.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    lowest = start_time.strftime("%Y%m%dT%H%M%SZ")
    for key in sorted(chains):
        chain = sorted(
            (d for d in chains[key] if lowest <= d.stamp <= limit), key=lambda d: d.stamp
        )
        _validate_chain(src, fs, chain, start_time, public_keys, report)
    return report


def _read(fs: Any, path: str) -> bytes | None:
    try:
        return fs.cat_file(path)
    except (FileNotFoundError, OSError):
        return None


#: where a local copy of a bucket keeps each digest's S3 metadata: <root>/digest-metadata/<key>.json
SIDECAR_PREFIX = "digest-metadata"


def _signature_from_metadata(fs: Any, path: str, root: str | None, key: str) -> str | None:
    """The signature in the digest's S3 metadata, or in a sidecar next to a local copy."""
    if hasattr(fs, "metadata"):
        try:
            meta = fs.metadata(path)
        except Exception:
            meta = {}
        signature = meta.get("signature") or meta.get("x-amz-meta-signature")
        if signature:
            return signature
    if root is None:
        return None
    raw = _read(
        fs, f"{root}/{SIDECAR_PREFIX}/{key}.json" if root else f"{SIDECAR_PREFIX}/{key}.json"
    )
    if raw is None:
        return None
    try:
        return orjson.loads(raw).get("signature")
    except (orjson.JSONDecodeError, AttributeError):
        return None


def _bucket_root(src: StorageSettings, digest: _Digest, recorded_key: str) -> str | None:
    """Where the bucket's keys start, given a digest read from ``digest.path``."""
    if src.is_s3:
        return digest.path.split("/", 1)[0]
    if digest.path.endswith("/" + recorded_key):
        return digest.path[: -len(recorded_key) - 1]
    return None


def _validate_chain(
    src: StorageSettings,
    fs: Any,
    chain: list[_Digest],
    start: dt.datetime,
    keys: dict[str, rsa.RSAPublicKey],
    report: ValidationReport,
) -> None:
    """Walk one trail/region chain from the newest digest back."""
    expected_next: tuple[str | None, str | None, str | None] | None = None  # (key, hash, sig)
    position = len(chain) - 1
    while position >= 0:
        digest = chain[position]
        raw = _read(fs, digest.path)
        # a link the newer digest points at that is not where it should be
        if expected_next is not None and expected_next[0] is not None:
            pointed = expected_next[0]
            if not digest.path.endswith(pointed):
                root = _bucket_root_guess(digest)
                report.results.append(
                    FileResult("digest", _display(src, root, pointed), "INVALID: not found")
                )
                expected_next = None
        if raw is None:
            report.results.append(FileResult("digest", digest.url, "INVALID: not found"))
            position -= 1
            continue
        try:
            content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
            body = orjson.loads(content)
            missing = [k for k in REQUIRED if k not in body]
            if missing:
                raise ValueError(f"missing {missing}")
        except (ValueError, OSError, EOFError):
            report.results.append(FileResult("digest", digest.url, "INVALID: invalid format"))
            expected_next = None
            position -= 1
            continue
        digest_hash = hashlib.sha256(content).hexdigest()
        bucket, key = body["digestS3Bucket"], body["digestS3Object"]
        root = _bucket_root(src, digest, key)
        status = VALID
        if (src.is_s3 and digest.path != f"{bucket}/{key}") or root is None:
            status = "INVALID: has been moved from its original location"
        signature = _signature_from_metadata(fs, digest.path, root, key)
        if signature is None and expected_next is not None:
            signature = expected_next[2]
        if (
            status == VALID
            and expected_next is not None
            and expected_next[1] is not None
            and expected_next[1] != digest_hash
        ):
            status = "INVALID: hash value doesn't match"
        if status == VALID:
            status = _check_signature(body, digest_hash, signature, keys)
        report.results.append(FileResult("digest", digest.url, status))
        if report.found_end is None:
            report.found_end = body["digestEndTime"]
        report.found_start = body["digestStartTime"]
        if status != "INVALID: has been moved from its original location" and root is not None:
            for log in body.get("logFiles") or []:
                report.results.append(_check_log(src, fs, root, log))
        previous = body.get("previousDigestS3Object")
        if previous:
            expected_next = (
                previous,
                body.get("previousDigestHashValue"),
                body.get("previousDigestSignature"),
            )
        else:
            expected_next = None
            if position > 0:  # validation was off for a while: the chain restarts
                older = chain[position - 1]
                report.gaps.append((_stamp_iso(older.stamp), body["digestStartTime"]))
        if _parse_time(body["digestStartTime"]) < start:
            break
        position -= 1
    if expected_next is not None and expected_next[0] is not None and position < 0:
        # the newest-to-oldest walk ended while the chain still pointed further back
        pointed = expected_next[0]
        pointed_stamp = pointed[-24:-8] if pointed.endswith(".json.gz") else ""
        if pointed_stamp >= start.strftime("%Y%m%dT%H%M%SZ"):
            root = _bucket_root_guess(chain[0]) if chain else None
            report.results.append(
                FileResult("digest", _display(src, root, pointed), "INVALID: not found")
            )


def _bucket_root_guess(digest: _Digest) -> str | None:
    match = re.search(r"(^|/)AWSLogs/", digest.path)
    if match is None:
        return None
    return digest.path[: match.start()] if match.start() else ""


def _display(src: StorageSettings, root: str | None, key: str) -> str:
    if root is None:
        return key
    path = f"{root}/{key}" if root else key
    return f"s3://{path}" if src.is_s3 else path


def _stamp_iso(stamp: str) -> str:
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"


def _check_signature(
    body: dict, digest_hash: str, signature: str | None, keys: dict[str, rsa.RSAPublicKey]
) -> str:
    fp = str(body["digestPublicKeyFingerprint"]).lower()
    key = keys.get(fp)
    if key is None:
        return f"INVALID: public key not found for fingerprint {fp}"
    if not signature:
        return "UNVERIFIED: signature not available (it is kept in the S3 object metadata)"
    previous = body.get("previousDigestSignature") or "null"
    to_sign = (
        f"{body['digestEndTime']}\n{body['digestS3Bucket']}/{body['digestS3Object']}\n"
        f"{digest_hash}\n{previous}"
    ).encode()
    try:
        key.verify(bytes.fromhex(signature), to_sign, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return "INVALID: signature verification failed"
    return VALID


def _check_log(src: StorageSettings, fs: Any, root: str, log: dict) -> FileResult:
    key = log.get("s3Object", "")
    path = f"{log.get('s3Bucket')}/{key}" if src.is_s3 else f"{root}/{key}"
    url = f"s3://{path}" if src.is_s3 else path
    raw = _read(fs, path)
    if raw is None:
        return FileResult("log", url, "INVALID: not found")
    try:
        content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError):
        return FileResult("log", url, "INVALID: invalid format")
    if hashlib.sha256(content).hexdigest() != str(log.get("hashValue", "")).lower():
        return FileResult("log", url, "INVALID: hash value doesn't match")
    return FileResult("log", url, VALID)


def sign_digest(private_key: rsa.RSAPrivateKey, body: dict, content: bytes) -> str:
    """The hex signature CloudTrail would put on a digest (used to build test chains)."""
    previous = body.get("previousDigestSignature") or "null"
    to_sign = (
        f"{body['digestEndTime']}\n{body['digestS3Bucket']}/{body['digestS3Object']}\n"
        f"{hashlib.sha256(content).hexdigest()}\n{previous}"
    ).encode()
    return private_key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256()).hex()
