"""CloudTrail log file integrity validation over a digest chain signed with a key made here."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loglake.cli import main as cli
from loglake.ingest.digest import fingerprint, load_public_keys, sign_digest, validate_trail

ACCOUNT = "111122223333"
REGION = "us-east-1"
TRAIL = "main-trail"
BUCKET = "trail-bucket"


@pytest.fixture(scope="module")
def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Chain:
    """Writes a trail's log files and hourly digests into a bucket-shaped folder (or S3)."""

    def __init__(self, root: str, fs, key: rsa.RSAPrivateKey, *, s3: bool):
        # on S3 the digests record the real bucket and key; a local folder stands for the bucket
        self.bucket, _, prefix = root.partition("/") if s3 else (BUCKET, "", "")
        self.prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self.root = self.bucket if s3 else root.rstrip("/")
        self.fs, self.key, self.s3 = fs, key, s3
        self.previous: dict | None = None
        self.logs: list[str] = []
        self.digests: list[str] = []

    def put(self, key: str, data: bytes, metadata: dict | None = None) -> None:
        path = f"{self.root}/{key}"
        if self.s3 and metadata:
            self.fs.pipe_file(path, data, Metadata=metadata)
        else:
            self.fs.pipe_file(path, data)
        if not self.s3 and metadata:  # a local copy keeps the S3 metadata in a sidecar
            self.fs.pipe_file(f"{self.root}/digest-metadata/{key}.json", orjson.dumps(metadata))

    def log_file(self, when: dt.datetime, n: int) -> dict:
        day = when.strftime("%Y/%m/%d")
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{when:%Y%m%dT%H%M}Z_{n:016d}.json.gz"
        key = f"{self.prefix}AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{day}/{name}"
        body = orjson.dumps(
            {
                "Records": [
                    {
                        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "eventID": f"e{n}",
                        "eventName": "ListBuckets",
                    }
                ]
            }
        )
        self.put(key, gzip.compress(body))
        self.logs.append(key)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "s3Bucket": self.bucket,
            "s3Object": key,
            "hashValue": hashlib.sha256(body).hexdigest(),
            "hashAlgorithm": "SHA-256",
            "newestEventTime": stamp,
            "oldestEventTime": stamp,
        }

    def digest(self, end: dt.datetime, logs: list[dict], *, start_new_chain: bool = False) -> str:
        name = f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{end:%Y%m%dT%H%M%S}Z.json.gz"
        key = f"{self.prefix}AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{end:%Y/%m/%d}/{name}"
        previous = None if start_new_chain else self.previous
        body = {
            "awsAccountId": ACCOUNT,
            "digestStartTime": (end - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "digestEndTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "digestS3Bucket": self.bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": fingerprint(self.key.public_key()),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": None,
            "oldestEventTime": None,
            "previousDigestS3Bucket": self.bucket if previous else None,
            "previousDigestS3Object": previous["key"] if previous else None,
            "previousDigestHashValue": previous["hash"] if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous["signature"] if previous else None,
            "logFiles": logs,
        }
        content = orjson.dumps(body)
        signature = sign_digest(self.key, body, content)
        self.put(
            key,
            gzip.compress(content),
            {"signature": signature, "signature-algorithm": "SHA256withRSA"},
        )
        self.previous = {
            "key": key,
            "hash": hashlib.sha256(content).hexdigest(),
            "signature": signature,
        }
        self.digests.append(key)
        return key


def build(root: str, fs, key: rsa.RSAPrivateKey, s3: bool, hours: int = 4) -> Chain:
    chain = Chain(root, fs, key, s3=s3)
    start = dt.datetime(2024, 5, 10, 1, 0, tzinfo=dt.UTC)
    for hour in range(hours):
        end = start + dt.timedelta(hours=hour + 1)
        logs = [chain.log_file(end - dt.timedelta(minutes=m), hour * 10 + m) for m in (40, 20)]
        chain.digest(end, logs)
    return chain


def keys_of(key: rsa.RSAPrivateKey) -> dict:
    return load_public_keys(public_keys_json(key))


def public_keys_json(key: rsa.RSAPrivateKey) -> bytes:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    return orjson.dumps(
        {
            "PublicKeyList": [
                {
                    "Value": base64.b64encode(der).decode(),
                    "ValidityStartTime": "2024-01-01T00:00:00Z",
                    "ValidityEndTime": "2025-01-01T00:00:00Z",
                    "Fingerprint": fingerprint(key.public_key()),
                }
            ]
        }
    )


@pytest.fixture(params=["local", "s3"])
def place(request, tmp_path):
    """Where the trail bucket lives: a local folder or a bucket on the S3 test server."""
    if request.param == "local":
        import fsspec

        return str(tmp_path / BUCKET), fsspec.filesystem("file", auto_mkdir=True), False, None
    settings = request.getfixturevalue("s3_settings")
    return settings.root, settings.filesystem(), True, settings


def run(place, chain: Chain, key: rsa.RSAPrivateKey, **kw):
    root, _, s3, settings = place
    from loglake.catalog import StorageSettings

    settings = settings or StorageSettings.resolve(root, environ={})
    url = root if not s3 else settings.root
    return validate_trail(
        settings,
        url,
        start="2024-05-10T00:00:00Z",
        end="2024-05-10T06:00:00Z",
        public_keys=keys_of(key),
        **kw,
    )


def test_intact_chain_is_valid(place, key_pair):
    root, fs, s3, _ = place
    chain = build(root if not s3 else root[5:], fs, key_pair, s3)
    assert chain.digests
    report = run(place, chain, key_pair)
    assert report.ok, report.summary()
    assert len(report.digests) == 4 and all(r.valid for r in report.digests)
    assert len(report.logs) == 8 and all(r.valid for r in report.logs)
    assert "4/4 digest files valid" in report.summary()
    assert "8/8 log files valid" in report.summary()


def test_tampered_deleted_and_broken_chain_are_reported(place, key_pair):
    root, fs, s3, _ = place
    chain = build(root if not s3 else root[5:], fs, key_pair, s3, hours=5)
    base = chain.root
    # two log files per hourly digest: logs[0] is in digest 0, logs[8] in digest 4
    tampered, deleted = chain.logs[0], chain.logs[8]
    body = orjson.loads(gzip.decompress(fs.cat_file(f"{base}/{tampered}")))
    body["Records"][0]["eventName"] = "DeleteTrail"
    fs.pipe_file(f"{base}/{tampered}", gzip.compress(orjson.dumps(body)))
    fs.rm_file(f"{base}/{deleted}")
    missing_digest = chain.digests[1]
    fs.rm_file(f"{base}/{missing_digest}")
    # a digest whose content was changed after signing
    forged = chain.digests[3]
    digest_body = orjson.loads(gzip.decompress(fs.cat_file(f"{base}/{forged}")))
    digest_body["logFiles"] = digest_body["logFiles"][:1]
    fs.pipe_file(f"{base}/{forged}", gzip.compress(orjson.dumps(digest_body)))

    report = run(place, chain, key_pair)
    assert not report.ok
    assert report.status_of(tampered) == "INVALID: hash value doesn't match"
    assert report.status_of(deleted) == "INVALID: not found"
    assert report.status_of(missing_digest) == "INVALID: not found"
    assert report.status_of(forged) in (
        "INVALID: signature verification failed",
        "INVALID: hash value doesn't match",
    )
    assert report.status_of(chain.digests[4]) == "valid"
    assert report.status_of(chain.logs[1]) == "valid"
    text = report.summary()
    assert "digest files INVALID" in text and "log files INVALID" in text


def test_restarted_chain_reports_a_gap_and_unknown_key(tmp_path, key_pair):
    import fsspec

    fs = fsspec.filesystem("file", auto_mkdir=True)
    root = str(tmp_path / BUCKET)
    chain = build(root, fs, key_pair, False, hours=2)
    later = dt.datetime(2024, 5, 10, 5, 0, tzinfo=dt.UTC)
    chain.digest(later, [chain.log_file(later - dt.timedelta(minutes=5), 99)], start_new_chain=True)
    from loglake.catalog import StorageSettings

    settings = StorageSettings.resolve(root, environ={})
    report = validate_trail(
        settings,
        root,
        start="2024-05-10T00:00:00Z",
        end="2024-05-10T06:00:00Z",
        public_keys=keys_of(key_pair),
    )
    assert report.ok
    assert report.gaps == [("2024-05-10T03:00:00Z", "2024-05-10T04:00:00Z")]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    wrong = validate_trail(
        settings,
        root,
        start="2024-05-10T00:00:00Z",
        end="2024-05-10T06:00:00Z",
        public_keys=keys_of(other),
    )
    assert all(r.status.startswith("INVALID: public key not found") for r in wrong.digests)


def test_cli_trail_validate(tmp_path, key_pair, capsys):
    import fsspec

    fs = fsspec.filesystem("file", auto_mkdir=True)
    root = str(tmp_path / BUCKET)
    chain = build(root, fs, key_pair, False, hours=3)
    keys = tmp_path / "keys.json"
    keys.write_bytes(public_keys_json(key_pair))
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key_pair.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    args = [
        "trail",
        "validate",
        root,
        "--start",
        "2024-05-10T00:00:00Z",
        "--end",
        "2024-05-10T06:00:00Z",
    ]
    assert cli([*args, "--public-keys", str(keys)]) == 0
    assert "3/3 digest files valid" in capsys.readouterr().out
    assert cli([*args, "--public-keys", str(pem), "--verbose"]) == 0
    out = capsys.readouterr().out
    assert out.count("\tvalid") == 3 + 6
    Path(root, chain.logs[0]).write_bytes(gzip.compress(b'{"Records":[]}'))
    assert cli([*args, "--public-keys", str(keys)]) == 1
    captured = capsys.readouterr()
    assert "INVALID: hash value doesn't match" in captured.err
    assert "5/6 log files valid, 1/6 log files INVALID" in captured.out
