"""The typed CloudTrail path against the general one: same rows, and refusals fall back."""

from __future__ import annotations

import gzip
import json

import orjson
import pyarrow as pa
import pytest
from sample_files import invictus_files, read_sample

from loglake.ingest import cloudtrail
from loglake.ingest.raw import RawObject
from loglake.ingest.schemas import CLOUDTRAIL_JSON_COLUMNS
from loglake.ingest.sources import classify
from loglake.ingest.typed_json import NotTyped, TypedRecords, raw_text_column, to_arrow

KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/10/111122223333_CloudTrail_us-east-1_20240510T1620Z_{}.json.gz"


def objects(payloads: list[bytes]) -> list[RawObject]:
    out = []
    for index, payload in enumerate(payloads):
        key = KEY.format(f"{index:016d}")
        out.append(RawObject(key, "e1", len(payload), classify(key), gzip.compress(payload)))
    return out


def parse_both(payloads: list[bytes], monkeypatch) -> tuple:
    """Parse with the typed path enabled (counting the files it took) and with it disabled."""
    taken = []
    typed = cloudtrail._convert_typed

    def spy(chunk, parsed):
        table = typed(chunk, parsed)
        taken.extend(obj.url for obj, _ in chunk)
        return table

    monkeypatch.setattr(cloudtrail, "_convert_typed", spy)
    fast = cloudtrail.parse(objects(payloads))

    def refuse(chunk, parsed):
        raise NotTyped("disabled")

    monkeypatch.setattr(cloudtrail, "_convert_typed", refuse)
    general = cloudtrail.parse(objects(payloads))
    return fast, general, len(taken)


def assert_same(fast, general) -> None:
    assert fast.rows == general.rows
    assert [(b.url, b.error, b.record_index) for b in fast.bad] == [
        (b.url, b.error, b.record_index) for b in general.bad
    ]
    a, b = fast.tables.get("cloudtrail"), general.tables.get("cloudtrail")
    assert (a is None) == (b is None)
    if a is not None:
        assert a.schema == b.schema
        # the same rows; the typed path keeps AWS's spelling of numbers in JSON-text members,
        # and puts each file's records in event-time order
        assert sorted(map(canonical, a.to_pylist())) == sorted(map(canonical, b.to_pylist()))


def canonical(row: dict) -> bytes:
    row = {k: loads(v) if k in CLOUDTRAIL_JSON_COLUMNS else v for k, v in row.items()}
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def loads(text: str | None) -> object:
    return None if text is None else orjson.loads(text)


def test_real_trail_files_take_the_typed_path_and_give_the_same_rows(monkeypatch):
    files = invictus_files()
    assert len(files) == 55
    fast, general, taken = parse_both([read_sample(f) for f in files], monkeypatch)
    assert taken == 55
    assert fast.tables["cloudtrail"].num_rows == 2900
    assert_same(fast, general)


def event(**extra) -> dict:
    base = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/admin/alice",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "userName": "admin"},
                "attributes": {"mfaAuthenticated": "true", "creationDate": "2024-05-10T10:00:00Z"},
                "webIdFederationData": {"federatedProvider": "cognito", "attributes": {"k": "v"}},
            },
        },
        "eventTime": "2024-05-10T16:01:02Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketPolicy",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {
            "bucketName": "b",
            "policy": '{\n  "Version": "2012-10-17",\n  "Statement": []\n}',
            "nested": {"list": [1, 2.5, None, True], "text": "caf\u00e9 \u2603"},
        },
        "responseElements": None,
        "resources": [{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"}, {"type": "x"}],
        "readOnly": False,
        "managementEvent": True,
        "eventID": "id-0",
        "recipientAccountId": "111122223333",
        "tlsDetails": {"tlsVersion": "TLSv1.3"},
    }
    base.update(extra)
    return base


#: eventName spelled with escapes in its key and value, as a JSON writer may
ESCAPED = b'"event\\u004eame":"Put\\u0042ucket\\"Policy\\u00e9"'


def records(*events: dict, style: str = "compact") -> bytes:
    document = {"Records": list(events)}
    if style == "pretty":
        return json.dumps(document, indent=2).encode()
    if style == "python":
        return json.dumps(document).encode()
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("case", "payload", "typed"),
    [
        ("every kind of member", records(event(), event(eventID="id-1", userIdentity=None)), 1),
        ("absent members", records({"eventTime": "2024-05-10T00:00:00Z", "eventID": "e"}), 1),
        (
            "identities repeated, differing, null and absent",
            records(
                event(),
                event(eventID="id-1", userIdentity={"type": "Root", "accountId": "1"}),
                event(eventID="id-2"),
                event(eventID="id-3", userIdentity=None),
                {"eventTime": "2024-05-10T00:00:00Z", "eventID": "id-4"},
                event(eventID="id-5", userIdentity={"type": "Root", "accountId": "1"}),
            ),
            1,
        ),
        ("identity of the wrong JSON type", records(event(), event(userIdentity="root")), 0),
        ("pretty-printed", records(event(), style="pretty"), 0),
        ("json.dumps style", records(event(), style="python"), 0),
        ("unknown top-level member", records(event(brandNew={"a": 1})), 0),
        ("unknown identity member", records(event(userIdentity={"type": "Root", "new": 1})), 0),
        (
            "unknown member deep inside",
            records(event(tlsDetails={"tlsVersion": "TLSv1.3", "new": 1})),
            0,
        ),
        ("number where text is declared", records(event(), event(eventID=7)), 0),
        ("event time missing", records(event(), event(eventTime=None, eventID="x")), 0),
        ("readOnly as text", records(event(readOnly="true"), event(readOnly=None)), 1),
        ("empty Records", b'{"Records":[]}', 0),
        ("not JSON", b'{"Records":[{"eventTime":', 0),
        ("byte order mark", b"\xef\xbb\xbf" + records(event()), 0),
        ("line break after the document", records(event()) + b"\r\n", 1),
        ("tabs between tokens", records(event()).replace(b'"Records":', b'"Records":\t'), 1),
        (
            "escaped keys and text",
            records(event()).replace(b'"eventName":"PutBucketPolicy"', ESCAPED),
            1,
        ),
        ("raw unicode text", records(event(eventName="caf\u00e9 \u2603 \U0001f600")), 1),
    ],
)
def test_typed_and_general_paths_agree(case, payload, typed, monkeypatch):
    fast, general, taken = parse_both([payload], monkeypatch)
    assert taken == typed, case
    assert_same(fast, general)


def test_files_converted_together_send_only_the_odd_ones_to_the_general_path(monkeypatch):
    payloads = [
        records(event(eventID="a1"), event(eventID="a2")),
        records(event(eventID="b1"), event(eventID="b2", eventTime="yesterday")),  # bad time
        records(event(eventID="c1", brandNew=1)),  # unknown member
        records(event(eventID="d1", userIdentity={"type": "Root", "accountId": "9"})),
    ]
    fast, general, taken = parse_both(payloads, monkeypatch)
    assert taken == 2  # the first and the last file
    assert_same(fast, general)
    table = fast.tables["cloudtrail"]
    assert sorted(table["eventid"].to_pylist()) == ["a1", "a2", "b1", "c1", "d1"]
    assert [(b.record_index, b.error) for b in fast.bad] == [
        (1, "record 1: eventTime 'yesterday' is not a valid ISO-8601 time")
    ]


def test_rows_of_files_converted_together_keep_their_own_lineage_and_partitions():
    """Files of two accounts and regions and one outside any AWS layout, in one chunk."""
    keys = [
        "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/10/"
        "111122223333_CloudTrail_us-east-1_20240510T1620Z_0000000000000001.json.gz",
        "AWSLogs/444455556666/CloudTrail/eu-west-1/2024/05/11/"
        "444455556666_CloudTrail_eu-west-1_20240511T0005Z_0000000000000002.json.gz",
        "copied/trail.json.gz",
    ]
    payloads = [
        records(event(eventID="x1"), event(eventID="x2")),
        records(event(eventID="y1", eventTime="2024-05-11T00:01:00Z")),
        records(event(eventID="z1", recipientAccountId="777788889999", awsRegion="ap-south-1")),
    ]
    objects = [
        RawObject(key, "e1", len(p), classify(key, source="cloudtrail"), gzip.compress(p))
        for key, p in zip(keys, payloads, strict=True)
    ]
    table = cloudtrail.parse(objects).tables["cloudtrail"]
    got = {
        r["eventid"]: (r["source_key"], r["account"], r["region"], r["day"])
        for r in table.to_pylist()
    }
    assert got == {
        "x1": (keys[0], "111122223333", "us-east-1", "2024-05-10"),
        "x2": (keys[0], "111122223333", "us-east-1", "2024-05-10"),
        "y1": (keys[1], "444455556666", "eu-west-1", "2024-05-11"),
        "z1": (keys[2], "777788889999", "ap-south-1", "2024-05-10"),
    }


def test_unknown_members_are_kept_by_the_fallback(monkeypatch):
    fast, _, taken = parse_both([records(event(brandNew={"a": 1}))], monkeypatch)
    assert taken == 0
    assert fast.tables["cloudtrail"]["extrafields"].to_pylist() == ['{"brandNew":{"a":1}}']


def test_json_text_members_keep_the_files_own_bytes():
    text = (
        b'{"Records":[{"eventTime":"2024-05-10T00:00:00Z","requestParameters":'
        b'{"size":1.50,"name":"caf\\u00e9"},"responseElements":null}]}'
    )
    parsed = cloudtrail.parse(objects([text]))
    table = parsed.tables["cloudtrail"]
    assert table["requestparameters"].to_pylist() == ['{"size":1.50,"name":"caf\\u00e9"}']
    assert table["responseelements"].to_pylist() == [None]


@pytest.mark.parametrize(
    ("text", "compact"),
    [
        (b'{"Records":[{"a":"x"}]}', True),
        (b'{"Records":[{"a":"x"}]}\n', True),
        (b'{"Records":[{"p":"{\\"Version\\": \\"1\\"}"}]}', True),
        (b'{"Records": [{"a": "x"}]}', False),
        (b'{\n  "Records": []\n}', False),
    ],
)
def test_compact_style_is_told_from_the_bytes(text, compact):
    assert cloudtrail.is_compact(text) is compact


def test_typed_records_to_arrow_columns():
    shape = pa.struct(
        [
            ("name", pa.string()),
            ("flags", pa.list_(pa.bool_())),
            ("inner", pa.struct([("n", pa.int64()), ("tags", pa.map_(pa.string(), pa.string()))])),
            ("items", pa.list_(pa.struct([("k", pa.string())]))),
            ("doc", pa.string()),
        ]
    )
    decoder = TypedRecords(shape, raw={"doc"})
    rows = decoder.decode(
        b'[{"name":"a","flags":[true,false],"inner":{"n":1,"tags":{"x":"y"}},'
        b'"items":[{"k":"1"},{"k":null}],"doc":{"z":[1, 2]}},'
        b'{"name":null,"inner":null,"items":[],"doc":null},{}]'
    )
    columns = decoder.columns(rows)
    assert columns["name"].to_pylist() == ["a", None, None]
    assert columns["flags"].to_pylist() == [[True, False], None, None]
    assert columns["inner"].to_pylist() == [{"n": 1, "tags": [("x", "y")]}, None, None]
    assert columns["items"].to_pylist() == [[{"k": "1"}, {"k": None}], [], None]
    assert columns["doc"].to_pylist() == ['{"z":[1, 2]}', None, None]
    with pytest.raises(NotTyped):
        decoder.decode(b'[{"name":"a","other":1}]')
    with pytest.raises(NotTyped):
        decoder.decode(b'[{"name":1}]')
    assert to_arrow([], shape).to_pylist() == []
    assert raw_text_column([]).to_pylist() == []
