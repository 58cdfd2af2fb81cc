"""Shared fixtures: local lakes, a real S3-compatible server on 127.0.0.1, the samples folder (tests/data)."""

from __future__ import annotations

import fcntl
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sample_files import DATA

TEST_BUCKET = "loglake-test"
# the S3 test server logs every request; keep test output readable
logging.getLogger("werkzeug").setLevel(logging.WARNING)

TEST_CREDENTIALS = {
    "access_key_id": "testing",
    "secret_access_key": "testing",
    "region": "us-east-1",
}


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real public log samples copied into tests/data (origin and licence in its README)."""
    return DATA


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the whole test session; yields its URL."""
    from moto.server import ThreadedMotoServer

    for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(variable, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=TEST_BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_settings(s3_server: str):
    """Storage settings for a fresh prefix in the test bucket (a clean S3 lake per test)."""
    from loglake.catalog import StorageSettings

    return StorageSettings.resolve(
        f"s3://{TEST_BUCKET}/{uuid.uuid4().hex[:12]}",
        environ={},
        endpoint_url=s3_server,
        **TEST_CREDENTIALS,
    )


@pytest.fixture
def local_settings(tmp_path: Path):
    """A local lake at ``tmp_path/lake`` whose SQL may also read and write the rest of
    ``tmp_path``, where tests keep external data (the lake's ``allowed_locations``)."""
    from loglake.catalog import Catalog, StorageSettings

    settings = StorageSettings.resolve(tmp_path / "lake", environ={})
    Catalog(settings).update_lake_settings(allowed_locations=[str(tmp_path)])
    return settings


@pytest.fixture(params=["local", "s3"])
def lake_settings(request: pytest.FixtureRequest):
    """The same test on a local lake and on an S3 lake served over HTTP on 127.0.0.1."""
    return request.getfixturevalue(f"{request.param}_settings")


def new_lake(root: Path | str, **options):
    """A lake created at ``root`` (an empty folder or new prefix), opened with ``options``."""
    import loglake

    return loglake.connect(str(root), create=True, **options)


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ``make demo`` lake (3 days), built once per test run and shared by xdist workers.

    The lake is ``<folder>/demo-lake`` with its raw exports in ``<folder>/demo-lake-raw``."""
    from loglake import demo

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # one folder for every worker of this run
    out = shared / "demo" / "demo-lake"
    with open(shared / "demo-lake.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out.parent / "complete").exists():
            assert demo.run(out, events_per_day=400, days=3, seed=7) == 0
            (out.parent / "complete").touch()
    return out


@pytest.fixture(scope="session")
def generated_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small lake ingested from generated exports of every source, with every incident
    scenario (one account, one region, one day from 2024-05-06): shared by the tests that read
    every table and run documented queries, never written to by them."""
    import loglake
    from loglake.datasets import generate

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # one folder for every worker of this run
    base = shared / "generated"
    with open(shared / "generated.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "complete").exists():
            generate(
                base / "raw",
                accounts=1,
                regions=1,
                days=1,
                events_per_day=300,
                seed=3,
                scenarios=["all"],
                progress=False,
            )
            lake = loglake.connect(str(base / "lake"), create=True)
            report = lake.ingest(str(base / "raw"), progress=False)
            assert report.ok, report
            (base / "complete").touch()
    return base / "lake"
