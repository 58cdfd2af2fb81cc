"""Compliance reports: controls as SQL files, benchmarks as folders, point-in-time runs over
Config history with the CloudTrail event behind every failure, evidence an auditor can re-run."""

from loglake.reports.definitions import (
    Benchmark,
    Control,
    available,
    find,
    find_benchmark,
    load_benchmark,
    parse_control,
)

__all__ = [
    "Benchmark",
    "Control",
    "available",
    "find",
    "find_benchmark",
    "load_benchmark",
    "parse_control",
]
