"""CloudWatch-style monitoring over the lake: filter patterns, metric filters, metrics, alarms."""

from loglake.monitor.alarms import (
    evaluate_alarm,
    evaluate_alarm_detail,
    evaluate_composite_rule,
    validate_alarm,
)
from loglake.monitor.compile import MessageSource, TableSource, compile_pattern
from loglake.monitor.filters import test_metric_filter, validate_metric_filter
from loglake.monitor.pattern import FilterPatternError, parse_pattern

__all__ = [
    "AlarmStore",
    "FilterPatternError",
    "MessageSource",
    "MetricsStore",
    "TableSource",
    "backfill_metric_filter",
    "compile_pattern",
    "evaluate_alarm",
    "evaluate_alarm_detail",
    "evaluate_composite_rule",
    "install_pack",
    "parse_pattern",
    "put_metric_filter",
    "run_metric_filters",
    "run_saved_query",
    "save_query",
    "test_metric_filter",
    "validate_alarm",
    "validate_metric_filter",
    "watch",
]

_LAZY = {
    "AlarmStore": "loglake.monitor.alarmstore",
    "MetricsStore": "loglake.monitor.metrics",
    "backfill_metric_filter": "loglake.monitor.runner",
    "put_metric_filter": "loglake.monitor.runner",
    "run_metric_filters": "loglake.monitor.runner",
    "run_saved_query": "loglake.monitor.queries",
    "save_query": "loglake.monitor.queries",
    "install_pack": "loglake.monitor.watch",
    "watch": "loglake.monitor.watch",
}


def __getattr__(name: str):
    # The stateful parts import the query engine; load them on first use only.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'loglake.monitor' has no attribute {name!r}")
