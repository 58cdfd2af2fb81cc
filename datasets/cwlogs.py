"""CloudWatch Logs of the web application, as export tasks and as Firehose subscription output.

The web tier writes HTTP access lines (``/acme/web/access``), the application tier JSON lines
(``/acme/web/app``) and the batch worker JSON job records (``/acme/batch/jobs``); one log stream
per instance. The requests are the ones the flow logs show reaching those instances, so client
addresses agree across sources.
"""

from __future__ import annotations

import random
import time
from typing import Any

import orjson

from ._util import gzip_bytes, iso_millis
from .world import RegionEnv

ACCESS_GROUP = "/acme/web/access"
APP_GROUP = "/acme/web/app"
WORKER_GROUP = "/acme/batch/jobs"
EXPORTED_GROUPS = (ACCESS_GROUP, WORKER_GROUP)  # the app log goes through Firehose instead
JOBS = ["export-invoices", "rebuild-search-index", "sync-crm", "purge-sessions", "daily-report"]
PATHS = [
    ("GET", "/", 200),
    ("GET", "/products", 200),
    ("GET", "/products/{id}", 200),
    ("GET", "/api/cart", 200),
    ("POST", "/api/cart/items", 201),
    ("POST", "/api/orders", 201),
    ("GET", "/api/orders/{id}", 200),
    ("GET", "/static/app.{id}.js", 200),
    ("GET", "/static/app.{id}.css", 304),
    ("GET", "/search?q=item{id}", 200),
    ("GET", "/wp-login.php", 404),
    ("GET", "/.env", 404),
]
CLIENT_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "python-requests/2.31.0",
]
LOGGERS = ["orders", "cart", "catalog", "payments", "auth"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def access_line(rng: random.Random, t_ms: int, client_ip: str) -> str:
    method, path, status = rng.choice(PATHS)
    path = path.replace("{id}", str(rng.randrange(1000, 99999)))
    if status == 200 and rng.random() < 0.01:
        status = 500
    tm = time.gmtime(t_ms // 1000)
    stamp = f"{tm.tm_mday:02d}/{MONTHS[tm.tm_mon - 1]}/{tm.tm_year}:{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000"
    size = rng.randrange(120, 48000) if status < 300 else rng.randrange(0, 600)
    ua = rng.choice(CLIENT_UAS)
    return f'{client_ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {size} "-" "{ua}" {rng.randrange(1, 900) / 1000:.3f}'


def app_line(rng: random.Random, t_ms: int, client_ip: str) -> str:
    logger = rng.choice(LOGGERS)
    roll = rng.random()
    level = "ERROR" if roll < 0.01 else ("WARN" if roll < 0.05 else "INFO")
    status = 500 if level == "ERROR" else (429 if level == "WARN" else 200)
    msg = {
        "ERROR": "upstream call failed",
        "WARN": "rate limit reached",
        "INFO": "request handled",
    }[level]
    doc = {
        "timestamp": iso_millis(t_ms),
        "level": level,
        "logger": logger,
        "message": msg,
        "requestId": rng.randbytes(8).hex(),
        "clientIp": client_ip,
        "method": rng.choice(["GET", "GET", "POST"]),
        "path": f"/internal/{logger}",
        "status": status,
        "latencyMs": int(rng.lognormvariate(3, 0.8)),
    }
    return orjson.dumps(doc).decode()


def job_line(rng: random.Random, t_ms: int) -> str:
    job = rng.choice(JOBS)
    failed = rng.random() < 0.02
    doc = {
        "timestamp": iso_millis(t_ms),
        "level": "ERROR" if failed else "INFO",
        "job": job,
        "jobId": rng.randbytes(6).hex(),
        "message": "job failed: connection reset by peer" if failed else "job finished",
        "records": rng.randrange(10, 50_000),
        "durationMs": int(rng.lognormvariate(8, 1.0)),
    }
    return orjson.dumps(doc).decode()


def export_folder(group: str) -> str:
    """The last folder of a group's export prefix (``/acme/web/access`` -> ``acme-web-access``)."""
    return group.strip("/").replace("/", "-")


def export_prefix(env: RegionEnv, group: str) -> str:
    return f"exportedlogs/{env.account.id}/{env.region}/{export_folder(group)}"


def export_key(env: RegionEnv, group: str, task_id: str, stream: str, chunk: int) -> str:
    return f"{export_prefix(env, group)}/{task_id}/{stream.replace('/', '-')}/{chunk:06d}.gz"


def export_body(events: list[tuple[int, str]]) -> bytes:
    return "".join(f"{iso_millis(t)} {m}\n" for t, m in events).encode()


def firehose_key(env: RegionEnv, t: float, stream_name: str, uid: str) -> str:
    tm = time.gmtime(int(t))
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S", tm)
    return (
        f"firehose/{env.account.id}/{env.region}/{tm.tm_year:04d}/{tm.tm_mon:02d}/{tm.tm_mday:02d}/"
        f"{tm.tm_hour:02d}/{stream_name}-1-{stamp}-{uid}"
    )


def data_message(
    owner: str, group: str, stream: str, events: list[tuple[int, str]], rng: random.Random
) -> dict[str, Any]:
    log_events = []
    for t, m in events:
        # 56-digit id: timestamp-led, unique per event
        ident = f"{t:016d}{rng.getrandbits(128):040d}"[:56]
        log_events.append({"id": ident, "timestamp": t, "message": m})
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["to-firehose"],
        "logEvents": log_events,
    }


def control_message(t_ms: int) -> dict[str, Any]:
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [
            {
                "id": "",
                "timestamp": t_ms,
                "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            }
        ],
    }


def firehose_body(messages: list[dict[str, Any]]) -> bytes:
    """Concatenated gzip members, one per subscription record, as Firehose writes them."""
    return b"".join(gzip_bytes(orjson.dumps(m), 6) for m in messages)
