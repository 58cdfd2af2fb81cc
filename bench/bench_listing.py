"""Listing a day folder of many CloudTrail deliveries on an S3 server: full and resumed.

Starts moto's S3 server on 127.0.0.1, delivers ``--keys`` one-event CloudTrail files into one day
folder of one account and region (stamps spread over the day, as a busy trail delivers them),
ingests them once into an S3 lake on the same server, then times, interleaved and repeated:

* peer: ``ListObjectsV2`` over the folder with boto3's paginator (the floor of any full listing);
* loglake: the folder listed in full through ``discover`` (what ingest walks);
* loglake ingest with nothing new, listing in full (``full_listing=True``);
* loglake ingest with nothing new, resuming after the keys already ingested (the default), as a
  run on the delivery day sees it (its clock set to a minute after the last delivery, so it lists
  the last hour again, the margin for late deliveries) ...
* ... and as a run sees it once a listing has come more than an hour after the last key (the
  real clock: the day is long past), which lists only what sorts after that key: nothing.

On the S3 server, the no-op runs also count their ``ListObjectsV2`` requests, next to the time of
one such request after the folder's last key (boto3): the least any client pays on this server
to learn that a folder holds nothing new (moto reads every key of the bucket for each request,
so its cost grows with the bucket, which S3's does not).

The first ingest and the delivery-day runs go first, then one run on the real clock (it lists the
last hour once more and records that it did), then the runs after the hour. Each time comes with
the CPU seconds of this process (the S3 server's threads included) and the load average.

The lake has a bucket of its own on the server, as it usually has beside a bucket that AWS
delivers logs to. ``--same-bucket`` puts it beside the deliveries: then every look-up of the
lake's catalog and state that lists a folder also pays the server's cost of the bucket's keys.

``--local`` does the same in a local folder (the peer is ``os.scandir`` with a ``stat`` per key).

``--ingest-tail N`` (S3 server): the first ingest takes only the last N keys of the day, then the
earlier keys are added to the folder, as if earlier runs had ingested them. A resumed run lists
only the last hour before its last key, so it cannot tell; the ingest log holds N entries for the
day instead of all of them. This is for loaded machines, where ingesting 100k objects from the
server one GET at a time takes hours (5,000 took 484 s under a load average of 40); the full
listings are still timed over every key, the no-op run with a full listing is left out.

Usage: python bench/bench_listing.py [--keys 100000] [--repeat 3] [--local] [--ingest-tail N]
       [--same-bucket]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import logging
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import orjson
from cpu_time import load
from moto.server import ThreadedMotoServer

from loglake.catalog import Catalog, StorageSettings
from loglake.ingest import ingest, listing
from loglake.ingest.runner import discover

BUCKET = "bench-listing"
#: the lake's own bucket (``--same-bucket`` puts the lake beside the deliveries instead)
LAKE_BUCKET = "bench-listing-lake"
ACCOUNT = "111122223333"
REGION = "us-east-1"
FOLDER = f"raw/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2024/05/10"
CREDENTIALS = {"access_key_id": "bench", "secret_access_key": "bench", "region": "us-east-1"}
#: a minute after the day's last delivery: what a run on the delivery day sees
DELIVERY_DAY_CLOCK = dt.datetime(2024, 5, 11, 0, 0, tzinfo=dt.UTC)


def deliveries(keys: int, seed: int = 5) -> dict[str, bytes]:
    """``keys`` small CloudTrail files of 2024-05-10, keyed by their delivery key."""
    rng = random.Random(seed)
    out = {}
    for i in range(keys):
        second = i * 86_400 // keys
        hour, minute = divmod(second // 60, 60)
        stamp = f"20240510T{hour:02d}{minute:02d}"
        event = {
            "eventVersion": "1.09",
            "eventTime": f"2024-05-10T{hour:02d}:{minute:02d}:00Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "awsRegion": REGION,
            "sourceIPAddress": "198.51.100.7",
            "eventID": str(uuid.UUID(int=rng.getrandbits(128))),
            "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT,
        }
        suffix = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{stamp}Z_{suffix}.json.gz"
        out[f"{FOLDER}/{name}"] = gzip.compress(orjson.dumps({"Records": [event]}), 1)
    return out


def upload(files: dict[str, bytes]) -> None:
    """Store the deliveries straight in the S3 server's backend (it runs in this process).

    A PUT per key over HTTP costs the server far more than the key (5,000 keys took 797 s on a
    loaded machine), and what is measured is listing them, which goes over HTTP as usual.
    """
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for key, body in files.items():
        backend.put_object(BUCKET, key, body)


class ListRequests(logging.Handler):
    """Counts the S3 server's ``ListObjectsV2`` requests (werkzeug logs every request)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "list-type=2" in record.getMessage():
            self.count += 1


LIST_REQUESTS = ListRequests()


def peer_listing(client) -> int:
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=FOLDER + "/", Delimiter="/"
    )
    return sum(len(page.get("Contents", [])) for page in pages)


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def noop(catalog: Catalog, source: str, full: bool = False) -> tuple[float, float, int, int]:
    """Wall and CPU seconds of an ingest that finds nothing new, the keys it listed and its
    list requests (S3 server)."""
    cpu, requests = time.process_time(), LIST_REQUESTS.count
    seconds, report = timed(lambda: ingest(catalog, source, progress=False, full_listing=full))
    assert report.objects_ingested == 0, report  # type: ignore[attr-defined]
    seen = report.objects_seen  # type: ignore[attr-defined]
    return seconds, time.process_time() - cpu, seen, LIST_REQUESTS.count - requests


def one_request_after(client, key: str) -> tuple[float, float]:
    """Wall and CPU seconds of one ListObjectsV2 request of the folder after ``key``."""
    cpu = time.process_time()
    seconds, page = timed(
        lambda: client.list_objects_v2(
            Bucket=BUCKET, Prefix=FOLDER + "/", Delimiter="/", StartAfter=key
        )
    )
    assert not page.get("Contents"), page  # type: ignore[union-attr]
    return seconds, time.process_time() - cpu


def peer_local(folder: Path) -> int:
    """The floor of listing a local folder: one scandir and a stat per entry."""
    count = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            entry.stat()
            count += 1
    return count


def setup_s3(args: argparse.Namespace, stack: contextlib.ExitStack):
    """moto's S3 server with the deliveries, and an S3 lake in the same bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    stack.callback(server.stop)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["access_key_id"],
        aws_secret_access_key=CREDENTIALS["secret_access_key"],
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    lake_bucket = BUCKET if args.same_bucket else LAKE_BUCKET
    if not args.same_bucket:
        client.create_bucket(Bucket=LAKE_BUCKET)
    files = deliveries(args.keys)
    last_key = max(files)
    later: dict[str, bytes] = {}
    if args.ingest_tail:  # the earlier keys arrive after the first ingest (see the docstring)
        names = sorted(files)
        later = {k: files.pop(k) for k in names[: len(names) - args.ingest_tail]}
    seconds, _ = timed(lambda: upload(files))
    print(f"delivered {len(files):,} keys into one day folder on the S3 server in {seconds:.1f} s")
    settings = StorageSettings.resolve(
        f"s3://{lake_bucket}/lake", environ={}, endpoint_url=endpoint, **CREDENTIALS
    )
    peers = (lambda: peer_listing(client), lambda: one_request_after(client, last_key))
    return settings, f"s3://{BUCKET}/raw", peers, lambda: upload(later)


def setup_local(args: argparse.Namespace, stack: contextlib.ExitStack):
    """A local folder with the deliveries, and a local lake."""
    base = Path(tempfile.mkdtemp(prefix="bench-listing-"))
    stack.callback(shutil.rmtree, base, True)
    for key, body in deliveries(args.keys).items():
        path = base / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    print(f"delivered {args.keys:,} keys into one local day folder")
    settings = StorageSettings.resolve(str(base / "lake"), environ={})
    return settings, str(base / "raw"), (lambda: peer_local(base / FOLDER), None), lambda: None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--local", action="store_true", help="a local folder, not an S3 server")
    parser.add_argument(
        "--ingest-tail",
        type=int,
        default=0,
        help="S3 only: ingest just the last N keys, then add the earlier ones (see docstring)",
    )
    parser.add_argument(
        "--same-bucket",
        action="store_true",
        help="S3 only: the lake in the deliveries' bucket, not its own (see docstring)",
    )
    args = parser.parse_args()
    server_log = logging.getLogger("werkzeug")  # its request lines are counted, not printed
    server_log.setLevel(logging.INFO)
    server_log.propagate = False
    server_log.handlers = [LIST_REQUESTS]
    print(f"load average {load()}")
    real_clock = listing.now
    with contextlib.ExitStack() as stack:
        setup = setup_local if args.local else setup_s3
        settings, source, (peer_list, after_last), deliver_rest = setup(args, stack)
        catalog = Catalog(settings)
        catalog.create_database("aws", if_not_exists=True)
        listing.now = lambda: DELIVERY_DAY_CLOCK
        seconds, report = timed(lambda: ingest(catalog, source, workers=2, progress=False))
        first = args.ingest_tail or args.keys
        assert report.rows["cloudtrail"] == first, report  # type: ignore[attr-defined]
        print(f"first ingest (2 workers) of {first:,} keys: {seconds:.1f} s")
        deliver_rest()

        runs: dict[str, list[tuple[float, float, int, int]]] = {"day": [], "after": [], "full": []}
        peer_runs: dict[str, list[float]] = {"peer": [], "walk": []}
        for _ in range(args.repeat):  # on the delivery day
            seconds, count = timed(peer_list)
            assert count == args.keys, count
            peer_runs["peer"].append(seconds)
            seconds, count = timed(lambda: sum(1 for _ in discover(settings, source)))
            assert count == args.keys, count
            peer_runs["walk"].append(seconds)
            if not args.ingest_tail:  # with --ingest-tail it would ingest the earlier keys
                runs["full"].append(noop(catalog, source, full=True))
            runs["day"].append(noop(catalog, source))
        listing.now = real_clock
        once = noop(catalog, source)
        print(f"first run on the real clock: {once[0]:.2f} s, listed {once[2]:,} keys")
        one: list[tuple[float, float]] = []
        for _ in range(max(args.repeat, 3)):  # cheap: always a median of three at least
            runs["after"].append(noop(catalog, source))
            if after_last is not None:
                one.append(after_last())

        peer, walk = (statistics.median(peer_runs[k]) for k in ("peer", "walk"))
        keys = args.keys
        where = "local folder" if args.local else "S3 server"
        print(
            f"medians of {args.repeat} runs (3 after the hour), {keys:,} keys in one day folder ({where}), "
            f"load average {load()}"
        )
        print(
            f"peer: {'scandir + stat' if args.local else 'boto3 ListObjectsV2':<30} {peer:7.2f} s"
            f"  {keys / peer:>9,.0f} keys/s"
        )
        print(
            f"loglake listing in full (discover)   {walk:7.2f} s  {keys / walk:>9,.0f} keys/s"
            f"  ({peer / walk:.2f}x the peer)"
        )
        server = "" if args.local else ", the server's included"
        labels = {
            "full": "no-op ingest, full listing",
            "day": "no-op ingest, resumed, delivery day",
            "after": "no-op ingest, resumed, hour passed",
        }
        for name, label in labels.items():
            if not runs[name]:
                continue
            wall, cpu, listed, requests = (
                statistics.median(r[i] for r in runs[name]) for i in range(4)
            )
            goal = "  (goal < 1 s)" if name == "after" else ""
            made = "" if args.local else f" in {requests:.0f} list requests"
            print(
                f"{label:<36} {wall:7.2f} s  CPU {cpu:5.2f} s{server}, {listed:,.0f} keys listed"
                f"{made}{goal}"
            )
        if one:
            wall, cpu = (statistics.median(r[i] for r in one) for i in range(2))
            print(
                f"peer: one ListObjectsV2 after the last key  {wall:7.2f} s  CPU {cpu:5.2f} s "
                "(the server reads every key of the bucket for it)"
            )


if __name__ == "__main__":
    main()
