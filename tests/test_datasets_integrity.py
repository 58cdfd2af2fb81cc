"""Digests verify like CloudTrail's, the generator is deterministic, and records look like real ones."""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from sample_files import config_item_files, invictus_files, read_sample, stratus_files

from loglake.datasets import generate

# Fields AWS documents for trail records (record contents and userIdentity references) that the
# real samples happen not to contain.
DOCUMENTED_TOP = {"vpcEndpointAccountId", "addendum", "edgeDeviceDetails", "insightDetails"}
DOCUMENTED_IDENTITY = {
    "invokedByDelegate",
    "onBehalfOf",
    "inScopeOf",
    "credentialId",
    "identityProvider",
}
DOCUMENTED_SESSION = {"sourceIdentity", "assumedRoot", "signInSessionArn"}


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trail")
    generate(
        out,
        accounts=1,
        regions=2,
        days=1,
        events_per_day=800,
        seed=21,
        scenarios=[
            "cloudtrail_tampering@2024-05-06T10:30:00Z",
            "compromised_access_key@2024-05-06T14:00:00Z",
        ],
        sources=["cloudtrail"],
        organization_trail=True,
        progress=False,
    )
    return out


def _public_keys(root: Path) -> dict[str, Any]:
    keys = {}
    for listing in root.glob("cloudtrail-public-keys/*/list-public-keys.json"):
        for entry in json.loads(listing.read_text())["PublicKeyList"]:
            der = base64.b64decode(entry["Value"])
            assert hashlib.md5(der).hexdigest() == entry["Fingerprint"]
            keys[entry["Fingerprint"]] = serialization.load_der_public_key(der)
    return keys


def test_digest_chain_verifies(trail: Path) -> None:
    keys = _public_keys(trail)
    assert len(keys) == 2
    digests = sorted(trail.glob("AWSLogs/o-*/*/CloudTrail-Digest/*/*/*/*/*.json.gz"))
    assert digests
    covered: dict[str, int] = defaultdict(int)
    by_region: dict[str, list[dict[str, Any]]] = defaultdict(list)
    starts = 0
    for path in digests:
        key = path.relative_to(trail).as_posix()
        body = gzip.decompress(path.read_bytes())
        doc = json.loads(body)
        meta = json.loads((trail / "digest-metadata" / (key + ".json")).read_text())
        assert meta["signature-algorithm"] == doc["digestSignatureAlgorithm"] == "SHA256withRSA"
        assert doc["digestS3Object"] == key
        assert key.endswith(doc["digestEndTime"].replace("-", "").replace(":", "") + ".json.gz")
        signed = "\n".join(
            [
                doc["digestEndTime"],
                f"{doc['digestS3Bucket']}/{doc['digestS3Object']}",
                hashlib.sha256(body).hexdigest(),
                doc["previousDigestSignature"] or "null",
            ]
        ).encode()
        public = keys[doc["digestPublicKeyFingerprint"]]
        public.verify(bytes.fromhex(meta["signature"]), signed, padding.PKCS1v15(), hashes.SHA256())
        with pytest.raises(InvalidSignature):
            public.verify(
                bytes.fromhex(meta["signature"]), signed + b"x", padding.PKCS1v15(), hashes.SHA256()
            )
        for entry in doc["logFiles"]:
            raw = gzip.decompress((trail / entry["s3Object"]).read_bytes())
            assert hashlib.sha256(raw).hexdigest() == entry["hashValue"]
            records = json.loads(raw)["Records"]
            assert max(r["eventTime"] for r in records) == entry["newestEventTime"]
            assert min(r["eventTime"] for r in records) == entry["oldestEventTime"]
            covered[entry["s3Object"]] += 1
        region = key.split("/")[4]
        by_region[region].append(
            {
                "doc": doc,
                "key": key,
                "sig": meta["signature"],
                "hash": hashlib.sha256(body).hexdigest(),
            }
        )
        if doc["previousDigestSignature"] is None:
            starts += 1
    # every log file is in exactly one digest
    logs = {
        p.relative_to(trail).as_posix()
        for p in trail.glob("AWSLogs/o-*/*/CloudTrail/*/*/*/*/*.json.gz")
    }
    assert set(covered) == logs and set(covered.values()) == {1}
    # the chain links each digest to the one before; StopLogging breaks it once per region
    for chain in by_region.values():
        chain.sort(key=lambda d: d["doc"]["digestEndTime"])
        for prev, cur in itertools.pairwise(chain):
            if cur["doc"]["previousDigestS3Object"] is None:
                continue
            assert cur["doc"]["previousDigestS3Object"] == prev["key"]
            assert cur["doc"]["previousDigestSignature"] == prev["sig"]
            assert cur["doc"]["previousDigestHashValue"] == prev["hash"]
    assert starts == 2 * 2  # first digest + restart after StopLogging, in both regions


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    args = dict(
        accounts=1, regions=2, days=1, events_per_day=400, scenarios=["all"], progress=False
    )
    a = generate(tmp_path / "a", seed=9, **args)
    b = generate(tmp_path / "b", seed=9, **args)
    c = generate(tmp_path / "c", seed=10, **args)

    def tree(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    ta, tb, tc = tree(tmp_path / "a"), tree(tmp_path / "b"), tree(tmp_path / "c")
    assert ta == tb
    assert a.bytes == b.bytes and a.events == b.events
    assert set(ta) != set(tc)
    assert c.events["cloudtrail"] > 0


def _sample_records() -> list[dict[str, Any]]:
    records = []
    for path in invictus_files():
        records += json.loads(read_sample(path))["Records"]
    for path in stratus_files():
        records += json.loads(read_sample(path))
    return records


def _shape(records: list[dict[str, Any]]) -> dict[str, dict[str, set[str]]]:
    shape: dict[str, dict[str, set[str]]] = {
        "top": defaultdict(set),
        "identity": defaultdict(set),
        "session": defaultdict(set),
    }
    for r in records:
        for k, v in r.items():
            shape["top"][k].add(type(v).__name__)
        for k, v in r.get("userIdentity", {}).items():
            shape["identity"][k].add(type(v).__name__)
        for k, v in r.get("userIdentity", {}).get("sessionContext", {}).items():
            shape["session"][k].add(type(v).__name__)
    return shape


def test_cloudtrail_fields_and_types_match_real_records(trail: Path) -> None:
    ours = []
    for path in trail.glob("AWSLogs/o-*/*/CloudTrail/*/*/*/*/*.json.gz"):
        ours += json.loads(gzip.decompress(path.read_bytes()))["Records"]
    real = _shape(_sample_records())
    mine = _shape(ours)
    documented = {
        "top": DOCUMENTED_TOP,
        "identity": DOCUMENTED_IDENTITY,
        "session": DOCUMENTED_SESSION,
    }
    for part in ("top", "identity", "session"):
        extra = set(mine[part]) - set(real[part]) - documented[part]
        assert extra == set(), f"{part}: fields real CloudTrail records do not have: {extra}"
        for field, types in mine[part].items():
            if field in real[part]:
                assert types <= real[part][field], (
                    f"{part}.{field}: {types} vs real {real[part][field]}"
                )
    # and the generated data is rich: most real fields occur
    assert len(set(mine["top"]) & set(real["top"])) >= 20
    for ev in ours:
        assert ev["eventCategory"] in ("Management", "Data")
        assert ev["managementEvent"] is (ev["eventCategory"] == "Management")
        for res in ev.get("resources", []):
            assert set(res) <= {"ARN", "accountId", "type"} and "ARN" in res
        if ev["eventCategory"] == "Data":
            req = ev["requestParameters"]
            arns = [r["ARN"] for r in ev["resources"]]
            assert arns == [
                f"arn:aws:s3:::{req['bucketName']}/{req['key']}",
                f"arn:aws:s3:::{req['bucketName']}",
            ]
            if "tlsDetails" in ev:
                assert ev["tlsDetails"]["clientProvidedHostHeader"] == req["Host"]
            if "errorCode" in ev:
                assert ev["responseElements"] is None
        ident = ev["userIdentity"]
        if ident["type"] == "AWSService" or ident.get("invokedBy"):
            assert ev["sourceIPAddress"].endswith(".amazonaws.com")
        attrs = ident.get("sessionContext", {}).get("attributes")
        if attrs:
            assert attrs["mfaAuthenticated"] in ("true", "false")
            assert attrs["creationDate"] <= ev["eventTime"]


# Keys newer configuration items carry that the (older) reference items predate; each comes from
# the corresponding Describe/Get API (e.g. describe-volumes has Throughput, MultiAttachEnabled).
NEWER_CONFIG_KEYS = {
    "AWS::EC2::Instance": {"iamInstanceProfile"},
    "AWS::EC2::Volume": {"throughput", "multiAttachEnabled"},
    "AWS::EC2::VPC": {"cidrBlockAssociationSet", "ownerId"},
    "AWS::S3::Bucket": {"PublicAccessBlockConfiguration", "ServerSideEncryptionConfiguration"},
    "AWS::IAM::User": {"permissionsBoundary", "tags"},
    "AWS::IAM::Role": {"permissionsBoundary", "tags", "roleLastUsed"},
    # flow logs delivered to S3 (the reference's deliver to CloudWatch Logs)
    "AWS::EC2::FlowLog": {"destinationOptions", "logDestination"},
    # deletionDate while a deletion is scheduled; KeyRotationStatus as the Config schema lists it
    "AWS::KMS::Key": {"deletionDate", "KeyRotationStatus"},
    # kmsKeyId when the trail encrypts; the other two are newer than the reference item
    "AWS::CloudTrail::Trail": {"kmsKeyId", "isOrganizationTrail", "hasInsightSelectors"},
}
# S3-file spelling of the item keys (the reference items mostly use the API spelling)
S3_FILE_KEYS = {"configurationItemVersion", "awsAccountId", "ARN", "configurationStateMd5Hash"}


def test_config_items_match_reference_items(tmp_path: Path) -> None:
    generate(
        tmp_path,
        accounts=1,
        regions=1,
        days=1,
        events_per_day=100,
        seed=2,
        sources=["config"],
        progress=False,
    )
    reference: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for path in config_item_files():
        try:
            loaded = json.loads(read_sample(path))
        except ValueError:
            continue  # the sample set keeps two broken files on purpose
        for item in loaded if isinstance(loaded, list) else [loaded]:
            ci = item.get("configurationItem", item)  # notifications wrap the item
            if "resourceType" not in ci:
                continue
            top, conf, supp = reference.setdefault(ci["resourceType"], (set(), set(), set()))
            top |= set(ci)
            conf |= set(ci["configuration"])
            supp |= set(ci["supplementaryConfiguration"])
    all_top = set().union(*(r[0] for r in reference.values())) | S3_FILE_KEYS
    seen = set()
    for path in tmp_path.glob("AWSLogs/*/Config/*/*/*/*/*/*.json.gz"):
        for ci in json.loads(gzip.decompress(path.read_bytes()))["configurationItems"]:
            rtype = ci["resourceType"]
            seen.add(rtype)
            _, conf, supp = reference[rtype]
            newer = NEWER_CONFIG_KEYS.get(rtype, set())
            assert set(ci) <= all_top
            assert set(ci["configuration"]) - conf <= newer, rtype
            assert set(ci["supplementaryConfiguration"]) - supp <= newer, rtype
    assert len(seen) == 10


def test_bytes_do_not_depend_on_the_process(tmp_path: Path) -> None:
    """Another interpreter with another string-hash seed writes the same bytes."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from loglake.datasets import generate\n"
        "generate(sys.argv[1], accounts=1, regions=2, days=1, events_per_day=300, seed=8,"
        " scenarios=['all'], progress=False)\n"
    )
    trees = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=env)
        trees.append(
            {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        )
    assert trees[0] == trees[1]
    assert len(trees[0]) > 100
