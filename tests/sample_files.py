"""The public log samples copied into tests/data (origin and licence in tests/data/README.md)."""

from __future__ import annotations

import gzip
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
INVICTUS = DATA / "invictus-aws-dataset" / "CloudTrail"
STRATUS = DATA / "stratus-red-team-detonation-logs"
CONFIG_ITEMS = DATA / "aws-config-rdk-example-ci" / "example_ci"
#: 103 CloudTrail events as NDJSON with the time in ``@timestamp`` (OTRF Security-Datasets)
OTRF_EXFILTRATION = (
    DATA / "otrf-security-datasets-aws" / "ec2_proxy_s3_exfiltration_2020-09-14011940.json"
)


def invictus_files() -> list[Path]:
    """The 55 CloudTrail files of the Invictus dataset, gzip-compressed as a trail delivers them."""
    return sorted(INVICTUS.glob("*.json.gz"))


def stratus_files() -> list[Path]:
    """The 35 Stratus Red Team detonation files (JSON arrays of CloudTrail records)."""
    return sorted(STRATUS.glob("aws.*.json"))


def config_item_files() -> list[Path]:
    """The 80 AWS Config item files of the RDK examples (two are invalid JSON on purpose)."""
    return sorted(CONFIG_ITEMS.glob("*.json"))


def read_sample(path: Path) -> bytes:
    """The file's original bytes (inflated when the copy is stored gzip-compressed)."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data
