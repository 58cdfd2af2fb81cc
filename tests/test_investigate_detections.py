"""Detections as code: the file format, the shipped pack against ground truth and public
detonation logs, incremental runs with late and shuffled deliveries, notifications."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import timedelta

import polars as pl
import pytest
from investigate_lake import shared_lake, truth_events
from sample_files import STRATUS

import loglake
from loglake.catalog import Catalog
from loglake.cli import main
from loglake.errors import UserError
from loglake.investigate.detections import (
    DetectionError,
    pack_detections,
    parse_detection,
    render_detection,
)
from loglake.investigate.history import HistoryStore
from loglake.investigate.runner import HitStore, Outbox, hunt, run_detections
from loglake.investigate_records import cloudtrail_rows


@pytest.fixture(scope="module")
def scenario_lake(tmp_path_factory):
    return shared_lake(tmp_path_factory)


# ---------------------------------------------------------------------------------------------
# the file format

RULE = """-- id: test-stop
-- title: Trail stopped
-- severity: HIGH
-- mitre: T1562.008
-- tags: [cloudtrail, defense-evasion]
-- dedup: account
SELECT eventid, eventtime, recipientaccountid AS account FROM cloudtrail
WHERE eventname = 'StopLogging';
"""


def test_header_fields_are_parsed_and_rendered_back():
    d = parse_detection(RULE, "stop.sql")
    assert (d.id, d.title, d.severity, d.mitre, d.tags, d.dedup) == (
        "test-stop",
        "Trail stopped",
        "high",
        ["T1562.008"],
        ["cloudtrail", "defense-evasion"],
        ["account"],
    )
    assert d.sql.endswith("WHERE eventname = 'StopLogging'")
    again = parse_detection(render_detection(d), "again.sql")
    assert (again.id, again.mitre, again.tags, again.sql) == (d.id, d.mitre, d.tags, d.sql)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- id: x\n-- title: t\nSELECT 1", "stop.sql: the header lacks severity"),
        ("-- id: x\n-- title: t\n-- severity: urgent\nSELECT 1", "severity 'urgent' is not one of"),
        (
            "-- id: x\n-- title: t\n-- severity: low\n-- mitre: TA0005\nSELECT 1",
            "'TA0005' is not a MITRE ATT&CK technique id",
        ),
        ("-- id: x\n-- title: t\n-- severity: low\n", "there is no query after the header"),
        ("-- id: x\n-- title: t\n-- severity: low\nSELEC eventid", "one SELECT query"),
        ("-- id: x\n-- title: t\n-- severity: low\nSELECT a FROM (", "not valid SQL"),
        (
            "-- id: x\n-- title: t\n-- severity: low\nSELECT eventid FROM vpc_flow_logs",
            "does not read its source table 'cloudtrail'",
        ),
        (
            "-- id: x\n-- title: t\n-- severity: low\n-- window: soon\nSELECT 1 FROM cloudtrail",
            "window 'soon' is not a duration",
        ),
        (
            "-- id: x\n-- title: t\n-- severity: low\n-- history: accesskeyid\n"
            "SELECT 1 FROM cloudtrail",
            "stop.sql: history needs a lookback",
        ),
    ],
)
def test_bad_files_name_the_file_and_the_problem(text, message):
    with pytest.raises(DetectionError, match=message):
        parse_detection(text, "stop.sql")


@pytest.mark.parametrize(
    ("where", "full", "cheap"),
    [
        (
            "eventname = 'A' AND json_extract_scalar(requestparameters, '$.x') = 'y'",
            "(eventname = 'A' AND JSON_EXTRACT_SCALAR(requestparameters, '$.x') = 'y')",
            "(eventname = 'A')",
        ),
        (
            "(eventname = 'A' AND regexp_like(useragent, 'k')) OR eventname = 'B'",
            "((eventname = 'A' AND REGEXP_LIKE(useragent, 'k')) OR eventname = 'B')",
            "(eventname = 'A' OR eventname = 'B')",
        ),
        (
            "ct.useridentity.type = 'Root'",
            "(useridentity.type = 'Root')",
            "(useridentity.type = 'Root')",
        ),
        ("regexp_like(eventname, '^List')", "(REGEXP_LIKE(eventname, '^List'))", None),
    ],
)
def test_prefilters_come_from_the_where_clauses(where, full, cheap):
    d = parse_detection(
        f"-- id: x\n-- title: t\n-- severity: low\nSELECT eventid FROM cloudtrail ct WHERE {where}"
    )
    assert d.prefilter() == full
    assert d.prefilter(cheap=True) == cheap


def test_a_rule_reading_every_row_has_no_prefilter():
    d = parse_detection(
        "-- id: x\n-- title: t\n-- severity: low\n"
        "WITH a AS (SELECT * FROM cloudtrail) SELECT eventid, eventtime FROM a WHERE eventname = 'X'"
    )
    assert d.prefilter() is None


# ---------------------------------------------------------------------------------------------
# the shipped pack: ground truth both ways


def test_pack_finds_every_scenario_event_and_nothing_in_the_baseline(scenario_lake):
    lake, truth = scenario_lake
    events = truth_events(truth)
    hits = lake.investigate.hunt()
    found = set(hits["event_id"].to_list())
    missed = {k: v for k, v in events.items() if k not in found}
    assert missed == {}, f"{len(missed)} of {len(events)} scenario events without a hit"
    baseline = hits.filter(~pl.col("event_id").is_in(list(events)))
    assert baseline.select("detection_id", "event_name", "principal").rows() == []
    # every scenario the pack claims is found by a rule that says so
    claimed = {s for d in pack_detections("aws") for s in d.scenarios}
    assert claimed == {s["name"] for s in truth["scenarios"]}
    for d in pack_detections("aws"):
        for scenario in d.scenarios:
            ids = {e for e, (name, _) in events.items() if name == scenario}
            assert ids & set(hits.filter(pl.col("detection_id") == d.id)["event_id"]), (
                d.id,
                scenario,
            )


def test_every_claimed_detonation_technique_is_hit():
    detections = pack_detections("aws")
    claimed = {t for d in detections for t in d.covers}
    assert len(claimed) >= 15
    for technique in sorted(claimed):
        rows = cloudtrail_rows((STRATUS / f"{technique}.json").read_bytes())
        by_rule = {
            d.id: loglake.investigate.runner.evaluate(d, rows).height
            for d in detections
            if technique in d.covers
        }
        assert by_rule and all(n > 0 for n in by_rule.values()), (technique, by_rule)


def test_detect_test_on_raw_events_from_the_cli(capsys, tmp_path):
    events = STRATUS / "aws.defense-evasion.cloudtrail-stop.json"
    assert main(["init", str(tmp_path)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "--lake",
                str(tmp_path),
                "detect",
                "test",
                "aws-cloudtrail-tampering",
                str(events),
                "--format",
                "json",
            ]
        )
        == 0
    )
    hit = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (hit["event_name"], hit["severity"], hit["mitre"]) == (
        "StopLogging",
        "high",
        ["T1562.008"],
    )
    # a command that is not part of the technique does not match
    assert (
        main(
            [
                "--lake",
                str(tmp_path),
                "detect",
                "test",
                "aws-cloudtrail-tampering",
                str(STRATUS / "aws.execution.ssm-send-command.json"),
            ]
        )
        == 0
    )
    assert "0 of the events match" in capsys.readouterr().err
    assert main(["--lake", str(tmp_path), "detect", "test", "no-such-rule", str(events)]) == 2
    assert "No detection 'no-such-rule'" in capsys.readouterr().err


def test_shared_scan_gives_the_same_hits_as_each_rule_alone(scenario_lake):
    lake, _ = scenario_lake
    wanted = {
        "aws-root-account-usage",
        "aws-console-brute-force",
        "aws-access-key-used-from-new-address",
        "aws-security-group-open-to-world",
    }
    detections = [d for d in pack_detections("aws") if d.id in wanted]
    shared = hunt(lake.catalog, detections)
    alone = hunt(lake.catalog, detections, shared=False)
    key = ["detection_id", "event_id"]
    assert shared.select(key).sort(key).equals(alone.select(key).sort(key))


def test_backtest_reports_when_a_rule_would_have_fired(scenario_lake, capsys):
    lake, truth = scenario_lake
    result = lake.investigate.backtest("aws-console-brute-force", since=truth["start"])
    brute = next(s for s in truth["scenarios"] if s["name"] == "console_brute_force")
    assert result["alerts"] == 1
    assert result["events"] == brute["details"]["attempts"]
    assert result["per_day"]["day"].cast(pl.String).to_list() == [brute["startTime"][:10]]


# ---------------------------------------------------------------------------------------------
# incremental runs: late and shuffled deliveries, exactly once, notifications


def _deliveries(rows: pl.DataFrame, seed: int, max_delay_minutes: int) -> list[pl.DataFrame]:
    """The rows cut into five-minute files, each delivered up to ``max_delay`` late, in
    delivery order (so files arrive out of event-time order)."""
    rng = random.Random(seed)
    t = rows["eventtime"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    keyed = rows.with_columns(
        t.dt.truncate("5m").alias("__file"), pl.Series("__acct", rows["account"])
    )
    files = []
    for (window, _), part in keyed.group_by("__file", "__acct"):
        delay = timedelta(minutes=rng.uniform(1, max_delay_minutes))
        files.append((window + timedelta(minutes=5) + delay, rng.random(), part))
    files.sort(key=lambda f: (f[0], f[1]))
    return [f[2].drop("__file", "__acct") for f in files]


def test_shuffled_late_deliveries_give_the_hits_of_one_full_run(scenario_lake, tmp_path):
    lake, _ = scenario_lake
    source = lake.sql("SELECT * FROM cloudtrail")
    expected = hunt(lake.catalog, pack_detections("aws"))
    catalog = Catalog(loglake.connect(str(tmp_path / "replay"), create=True).settings)
    catalog.create_database("aws", if_not_exists=True)
    catalog.create_managed_table(
        "aws", "cloudtrail", source.to_arrow().schema, partition_by=["account", "region", "day"]
    )
    table = catalog.managed("aws", "cloudtrail")
    detections = pack_detections("aws")
    files = _deliveries(source, seed=3, max_delay_minutes=18)
    per_run = len(files) // 6 + 1  # six incremental runs, each cutting through open windows
    batch: list[pl.DataFrame] = []
    for i, part in enumerate(files):
        batch.append(part)
        if len(batch) >= per_run or i == len(files) - 1:
            table.append(pl.concat(batch).to_arrow())
            batch = []
            run_detections(catalog, detections)
    run_detections(catalog, detections, final=True)
    got = HitStore(catalog).frame().collect()
    key = ["detection_id", "event_id"]
    assert got.select(key).is_duplicated().sum() == 0  # nothing reported twice
    assert got.select(key).sort(key).equals(expected.select(key).sort(key))
    assert got["late"].sum() == 0  # every delivery was within the 20-minute lateness


def test_first_seen_rule_reads_a_summary_built_late_and_kept_up(scenario_lake, tmp_path):
    lake, _ = scenario_lake
    rule = next(d for d in pack_detections("aws") if d.id == "aws-access-key-used-from-new-address")
    source = lake.sql("SELECT * FROM cloudtrail ORDER BY eventtime")
    expected = hunt(lake.catalog, [rule])
    assert expected.height > 0
    catalog = Catalog(loglake.connect(str(tmp_path / "summary"), create=True).settings)
    catalog.create_database("aws", if_not_exists=True)
    catalog.create_managed_table(
        "aws", "cloudtrail", source.to_arrow().schema, partition_by=["account", "region", "day"]
    )
    table = catalog.managed("aws", "cloudtrail")
    first = expected["event_time"].min().strftime("%Y-%m-%dT%H:%M:%SZ")
    before = source.filter(pl.col("eventtime") < first)
    table.append(before.to_arrow())
    # a run of the rule as it was before summaries: the checkpoint moves, no summary is made
    run_detections(catalog, [replace(rule, history=[])])
    assert HistoryStore(catalog).covered(rule.id) is None
    rest = source.filter(pl.col("eventtime") >= first)
    for part in (rest.head(rest.height // 2), rest.tail(rest.height - rest.height // 2)):
        table.append(part.to_arrow())
        run_detections(catalog, [rule], final=True)  # summarises the table, then the new rows
    assert HistoryStore(catalog).covered(rule.id) == table.version()
    got = HitStore(catalog).frame().collect()
    assert sorted(got["event_id"]) == sorted(expected["event_id"])
    # the summary holds each (day, key, address) of the history, as its first and last call
    summary = pl.scan_delta(HistoryStore(catalog).table.location).collect()
    rows = summary["row"].str.json_decode(
        pl.Struct({c: pl.String for c in ("eventtime", "accesskeyid", "sourceipaddress")})
    )
    combos = summary.select(
        "day", rows.struct.field("accesskeyid"), rows.struct.field("sourceipaddress")
    ).unique()
    used = source.select(
        pl.col("day"),
        pl.col("useridentity").struct.field("accesskeyid"),
        pl.col("sourceipaddress"),
    ).filter(pl.col("accesskeyid").str.starts_with("AKIA"))
    assert combos.sort(combos.columns).equals(used.unique().sort(used.columns))
    assert summary.height < used.height


def test_an_event_later_than_the_lateness_is_still_found(tmp_path):
    rows = cloudtrail_rows((STRATUS / "aws.defense-evasion.cloudtrail-stop.json").read_bytes())
    catalog = Catalog(loglake.connect(str(tmp_path), create=True).settings)
    catalog.create_database("aws", if_not_exists=True)
    catalog.create_managed_table("aws", "cloudtrail", rows.to_arrow().schema)
    table = catalog.managed("aws", "cloudtrail")
    detections = [d for d in pack_detections("aws") if d.id == "aws-cloudtrail-tampering"]
    stop_time = rows["eventtime"][0]
    later = rows.with_columns(
        pl.lit("later-event").alias("eventid"),
        pl.lit(stop_time[:11] + "23:59:00Z").alias("eventtime"),
        pl.lit("DescribeTrails").alias("eventname"),
    )
    table.append(later.to_arrow())
    run_detections(catalog, detections)  # the watermark moves to the evening
    table.append(rows.to_arrow())  # the morning's StopLogging arrives hours late
    report = run_detections(catalog, detections)
    assert report.hits is not None
    assert report.hits.select("event_id", "late").rows() == [(rows["eventid"][0], True)]
    assert run_detections(catalog, detections).hits.height == 0


def test_notifications_once_per_incident_and_after_a_crash(tmp_path, monkeypatch):
    rows = cloudtrail_rows(
        (STRATUS / "aws.credential-access.ec2-get-password-data.json").read_bytes()
    )
    catalog = Catalog(loglake.connect(str(tmp_path / "lake"), create=True).settings)
    catalog.create_database("aws", if_not_exists=True)
    catalog.create_managed_table("aws", "cloudtrail", rows.to_arrow().schema)
    catalog.managed("aws", "cloudtrail").append(rows.to_arrow())
    detections = [d for d in pack_detections("aws") if d.id == "aws-ec2-get-password-data"]
    target = f"file://{tmp_path / 'alerts.jsonl'}"

    def crash(self, hits, transactions):
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(HitStore, "write", crash)
    with pytest.raises(RuntimeError):
        run_detections(catalog, detections, targets=[target])
    monkeypatch.undo()
    assert len(Outbox(catalog).entries()) == 1  # decided, not yet sent
    report = run_detections(catalog, detections, targets=[target])
    assert report.hits.height == 30
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert len(lines) == 1  # one incident (one principal and address), delivered once
    message = json.loads(lines[0]["Message"])
    assert message["DetectionId"] == "aws-ec2-get-password-data"
    assert len(message["EventIds"]) == 30
    assert lines[0]["Subject"].startswith("MEDIUM: ")
    assert Outbox(catalog).entries() == []
    assert run_detections(catalog, detections, targets=[target]).hits.height == 0


def test_unknown_table_and_bad_output_are_user_errors(tmp_path):
    rows = cloudtrail_rows((STRATUS / "aws.defense-evasion.cloudtrail-stop.json").read_bytes())
    bad = parse_detection(
        "-- id: x\n-- title: t\n-- severity: low\nSELECT eventname FROM cloudtrail"
    )
    with pytest.raises(UserError, match="must return a column 'eventid'"):
        loglake.investigate.runner.evaluate(bad, rows)
    catalog = Catalog(loglake.connect(str(tmp_path), create=True).settings)
    with pytest.raises(UserError, match="does not exist"):
        hunt(catalog, pack_detections("aws"))


def test_hourly_runs_keep_the_hits_table_compact_and_skip_idle_summaries(tmp_path):
    rows = cloudtrail_rows((STRATUS / "aws.defense-evasion.cloudtrail-stop.json").read_bytes())
    session_key = pl.lit("ASIAGGWFBBHBE7D3M9WI").alias("accesskeyid")
    rows = rows.with_columns(pl.col("useridentity").struct.with_fields(session_key))
    catalog = Catalog(loglake.connect(str(tmp_path), create=True).settings)
    catalog.create_database("aws", if_not_exists=True)
    catalog.create_managed_table("aws", "cloudtrail", rows.to_arrow().schema)
    table = catalog.managed("aws", "cloudtrail")
    wanted = {"aws-cloudtrail-tampering", "aws-access-key-used-from-new-address"}
    detections = [d for d in pack_detections("aws") if d.id in wanted]
    runs = 17  # one more than the file count that triggers a compaction
    for i in range(runs):  # each run: one new StopLogging, signed with a session key
        table.append(rows.with_columns(pl.lit(f"stop-{i}").alias("eventid")).to_arrow())
        report = run_detections(catalog, detections)
        assert report.hits["event_id"].to_list() == [f"stop-{i}"]
    store = HitStore(catalog)
    assert len(store.table.files()) < 16  # merged as it grew, one small file per run
    hits = store.frame().collect()
    assert sorted(hits["event_id"]) == sorted(f"stop-{i}" for i in range(runs))
    actors = catalog.managed("_investigate", "actors").version()
    assert store.checkpoint("aws-cloudtrail-tampering")[0] == actors
    # the first-seen rule summarised the table on its first run; no later run had a row for it
    # and none wrote to the summary table
    history = HistoryStore(catalog)
    assert history.table.version() == 1
    assert history.covered("aws-access-key-used-from-new-address") is not None


def test_a_lake_whose_result_limit_is_smaller_than_a_run_still_gets_every_hit(
    scenario_lake, tmp_path
):
    import shutil

    lake, truth = scenario_lake
    root = tmp_path / "lake"
    shutil.copytree(lake.catalog.settings.root, root)  # this test changes the lake's settings
    small = loglake.connect(str(root))
    small.catalog.update_lake_settings(result_limit_rows=5)
    report = run_detections(small.catalog, pack_detections("aws"), final=True)
    found = set(report.hits["event_id"].to_list())
    assert set(truth_events(truth)) <= found
    # people's statements keep the lake's limit
    with pytest.raises(UserError, match="result rows limit of 5 rows"):
        small.sql("SELECT eventid FROM cloudtrail")
