"""Alarm actions come from the operator, and a webhook delivery counts only with a 2xx answer."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import loglake
from loglake.errors import UserError
from loglake.monitor.actions import DeliveryError, deliver
from loglake.monitor.alarmstore import AlarmStore
from loglake.monitor.watch import import_alarms


def alarm(name: str, actions: list[str]) -> dict:
    return {
        "AlarmName": name,
        "MetricName": "Errors",
        "Namespace": "App",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": actions,
    }


def test_imported_json_cannot_bring_commands_files_or_webhooks(tmp_path: Path) -> None:
    lake = loglake.connect(tmp_path / "lake", create=True)
    marker = tmp_path / "ran"
    for target in [
        f"exec:/bin/sh -c 'id > {marker}'",
        f"file://{tmp_path}/x.jsonl",
        "http://127.0.0.1:9/hook",
        "HTTPS://example.invalid/x",
    ]:
        with pytest.raises(UserError, match="action-map"):
            import_alarms(lake.catalog, {"MetricAlarms": [alarm("a", [target])]})
    assert AlarmStore(lake.catalog).describe_alarms()["MetricAlarms"] == []  # nothing imported
    assert not marker.exists()


def test_targets_from_the_operator_are_kept(tmp_path: Path) -> None:
    lake = loglake.connect(tmp_path / "lake", create=True)
    out = tmp_path / "alarms.jsonl"
    topic = "arn:aws:sns:us-east-1:111122223333:ops"
    import_alarms(
        lake.catalog,
        {"MetricAlarms": [alarm("mapped", [topic])]},
        action_map={topic: f"file://{out}"},
    )
    lake.catalog.update_lake_settings(action_map={"arn:aws:sns:us-east-1:1:sec": f"file://{out}"})
    import_alarms(
        lake.catalog, {"MetricAlarms": [alarm("by-settings", ["arn:aws:sns:us-east-1:1:sec"])]}
    )
    store = AlarmStore(lake.catalog)
    store.set_alarm_state("mapped", "ALARM", "drill")
    store.set_alarm_state("by-settings", "ALARM", "drill")
    assert out.read_text().count("\n") == 2


class Hook(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the status in ``status``; counts what it receives."""

    status = 200
    location = ""
    received: list[tuple[str, str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).received.append((self.command, self.path))
        self.send_response(self.status)
        if self.location:
            self.send_header("Location", self.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("H", (Hook,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_webhooks_do_not_follow_redirects(hook: tuple[str, type[Hook]], status: int) -> None:
    url, handler = hook
    handler.status, handler.location = status, f"{url}/elsewhere"
    pauses: list[float] = []
    with pytest.raises(DeliveryError, match=f"HTTP {status}"):
        deliver(f"{url}/hook", {"MessageId": "m1"}, sleep=pauses.append, timeout=5)
    assert all(path == "/hook" for _, path in handler.received)  # never the redirect target
    assert pauses  # retried, not given up as permanent


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_a_non_2xx_answer_is_a_failed_delivery_to_retry(
    hook: tuple[str, type[Hook]], status: int
) -> None:
    url, handler = hook
    handler.status = status
    pauses: list[float] = []
    with pytest.raises(DeliveryError) as info:
        deliver(f"{url}/hook", {"MessageId": "m1"}, sleep=pauses.append, timeout=5)
    assert not info.value.permanent and len(handler.received) == len(pauses) + 1 > 1
    handler.status = 204
    deliver(f"{url}/hook", {"MessageId": "m2"}, sleep=pauses.append, timeout=5)
