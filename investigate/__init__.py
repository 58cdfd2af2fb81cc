"""Incident investigation over the lake: timelines, identity chains, first-seen behaviour and
detections as code (SQL files, Sigma rules converted to SQL) run incrementally over new data."""

from loglake.investigate.detections import (
    Detection,
    DetectionError,
    load_detections,
    parse_detection,
)

__all__ = ["Detection", "DetectionError", "load_detections", "parse_detection"]
