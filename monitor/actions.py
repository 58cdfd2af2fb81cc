"""Alarm actions: the notification CloudWatch sends through SNS, and its delivery.

A target is a webhook URL (`http://...`, `https://...`; the JSON body is shaped like the SNS
notification of a CloudWatch alarm), a JSON-lines file (`file:///path/alarms.jsonl` or
`file:relative/path.jsonl`), or a local command (`exec:/path/to/script --flag`, body on stdin).
Every notification carries a dedup id (`MessageId`, header `x-amz-sns-message-id`, environment
variable `LOGLAKE_MESSAGE_ID`): delivery is at least once, and the id lets a receiver drop a repeat.
A JSON-lines file target drops repeats itself.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from loglake.errors import LoglakeError

ACCOUNT_ID = "000000000000"
REGION = "local"
RETRY_DELAYS = (0.5, 1.0, 2.0)  # seconds between attempts within one delivery
MAX_ATTEMPTS = 10  # deliveries (each with its retries) before an action is given up


class DeliveryError(LoglakeError):
    """An action could not be delivered; `permanent` when retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}+0000"


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"


def alarm_message(
    alarm: Mapping[str, Any],
    old_state: str,
    new_state: str,
    reason: str,
    when: datetime,
) -> dict[str, Any]:
    """The JSON document CloudWatch publishes to SNS when an alarm changes state."""
    message: dict[str, Any] = {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": ACCOUNT_ID,
        "AlarmConfigurationUpdatedTimestamp": _iso(
            datetime.fromisoformat(
                alarm.get("AlarmConfigurationUpdatedTimestamp", when.isoformat())
            )
        ),
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": _iso(when),
        "Region": REGION,
        "AlarmArn": alarm_arn(alarm["AlarmName"]),
        "OldStateValue": old_state,
        "OKActions": list(alarm.get("OKActions", [])),
        "AlarmActions": list(alarm.get("AlarmActions", [])),
        "InsufficientDataActions": list(alarm.get("InsufficientDataActions", [])),
    }
    if "AlarmRule" in alarm:
        message["AlarmRule"] = alarm["AlarmRule"]
        return message
    if "Metrics" in alarm:  # metric math and anomaly detection: the queries, not one metric
        message["Trigger"] = {
            "Metrics": list(alarm["Metrics"]),
            "Period": alarm.get("Period"),
            "EvaluationPeriods": alarm["EvaluationPeriods"],
            "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": alarm.get("Threshold"),
            "ThresholdMetricId": alarm.get("ThresholdMetricId"),
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
        }
        return message
    extended = alarm.get("ExtendedStatistic")
    message["Trigger"] = {
        "MetricName": alarm["MetricName"],
        "Namespace": alarm["Namespace"],
        "StatisticType": "ExtendedStatistic" if extended else "Statistic",
        "Statistic": extended or str(alarm.get("Statistic", "")).upper(),
        "Unit": alarm.get("Unit"),
        "Dimensions": [
            {"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])
        ],
        "Period": alarm["Period"],
        "EvaluationPeriods": alarm["EvaluationPeriods"],
        "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
        "ComparisonOperator": alarm["ComparisonOperator"],
        "Threshold": alarm["Threshold"],
        "TreatMissingData": alarm.get("TreatMissingData", "missing"),
        "EvaluateLowSampleCountPercentile": alarm.get("EvaluateLowSampleCountPercentile", ""),
    }
    return message


def notification(
    message: Mapping[str, Any], message_id: str, target: str, when: datetime
) -> dict[str, Any]:
    """An SNS notification envelope around an alarm message."""
    subject = f'{message["NewStateValue"]}: "{message["AlarmName"]}" in {REGION}'
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": target,
        "Subject": subject[:100],
        "Message": json.dumps(message, separators=(",", ":")),
        "Timestamp": _iso(when)[:-5] + "Z",
        "SignatureVersion": "1",
        "Signature": "",
        "SigningCertURL": "",
        "UnsubscribeURL": "",
    }


#: targets that run a command, write a file or reach the network: they are taken only from the
#: operator's own configuration (an action map, the lake's settings), never from imported JSON
LOCAL_TARGET_PREFIXES = ("http://", "https://", "file:", "exec:")


def is_local_target(target: str) -> bool:
    """Whether delivering to ``target`` would act on this machine or its network."""
    return target.strip().lower().startswith(LOCAL_TARGET_PREFIXES)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook answer of 3xx is a failed delivery: the body is never re-sent elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def deliver(target: str, body: Mapping[str, Any], *, sleep=time.sleep, timeout: float = 10) -> None:
    """Send one notification; retries transient failures with backoff, then raises."""
    if target.startswith(("http://", "https://")):
        _retry(lambda: _post(target, body, timeout), sleep)
    elif target.startswith("file:"):
        _append_line(_file_path(target), body)
    elif target.startswith("exec:"):
        _retry(lambda: _run(target[len("exec:") :], body, timeout), sleep)
    else:
        raise DeliveryError(
            f"cannot deliver to {target!r}: use an http(s):// webhook, file: or exec: target",
            permanent=True,
        )


def _retry(send, sleep) -> None:
    last: Exception | None = None
    for attempt in range(len(RETRY_DELAYS) + 1):
        try:
            send()
            return
        except DeliveryError as error:
            if error.permanent:
                raise
            last = error
        if attempt < len(RETRY_DELAYS):
            sleep(RETRY_DELAYS[attempt])
    raise DeliveryError(str(last))


def _post(url: str, body: Mapping[str, Any], timeout: float) -> None:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": str(body.get("MessageId", "")),
            "x-amz-sns-topic-arn": str(body.get("TopicArn", "")),
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        # any answer but 2xx (a redirect too) is a failed delivery, retried later
        raise DeliveryError(f"{url} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryError(f"{url}: {error}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"{url} answered HTTP {status}")


def _file_path(target: str) -> Path:
    rest = target[len("file:") :]
    if rest.startswith("//"):
        rest = rest[2:]
    return Path(rest)


def _append_line(path: Path, body: Mapping[str, Any]) -> None:
    message_id = str(body.get("MessageId"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open() as handle:
                for line in handle:
                    try:
                        if json.loads(line).get("MessageId") == message_id:
                            return  # delivered before a crash: do not write it twice
                    except json.JSONDecodeError:
                        continue
        with path.open("a") as handle:
            handle.write(json.dumps(body, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise DeliveryError(f"cannot write {path}: {error}") from None


def _run(command: str, body: Mapping[str, Any], timeout: float) -> None:
    argv = shlex.split(command)
    if not argv:
        raise DeliveryError("exec: target has no command", permanent=True)
    env = {**os.environ, "LOGLAKE_MESSAGE_ID": str(body.get("MessageId", ""))}
    try:
        done = subprocess.run(
            argv, input=json.dumps(body).encode(), env=env, timeout=timeout, capture_output=True
        )
    except FileNotFoundError:
        raise DeliveryError(f"command not found: {argv[0]}", permanent=True) from None
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"command {argv[0]} timed out after {timeout} s") from None
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace").strip().splitlines()
        raise DeliveryError(
            f"command {argv[0]} exited with {done.returncode}" + (f": {err[-1]}" if err else "")
        )
