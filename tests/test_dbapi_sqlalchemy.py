"""The SQLAlchemy dialect: reflection from the catalog, Trino compilation, pandas and JupySQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

import loglake
from loglake import dbapi
from loglake.datasets import generate
from loglake.sqlalchemy_dialect import ROW, LoglakeS3Dialect
from tests.conftest import TEST_CREDENTIALS, new_lake


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    base = tmp_path_factory.mktemp("dialect")
    generate(
        str(base / "raw"),
        accounts=1,
        regions=1,
        days=2,
        events_per_day=200,
        seed=11,
        scenarios=["security_group_open_ssh"],
        start="2024-05-06T00:00:00Z",
        progress=False,
    )
    lake = new_lake(base / "lake")
    lake.ingest(str(base / "raw"), progress=False)
    lake.sql(
        "CREATE VIEW aws.rejected AS SELECT srcaddr, dstport FROM aws.vpc_flow_logs "
        "WHERE action = 'REJECT'"
    )
    return str(base / "lake")


@pytest.fixture(scope="module")
def engine(lake_root: str) -> sa.Engine:
    return sa.create_engine(f"loglake:///{lake_root}?database=aws")


def test_reflection_answers_from_the_catalog(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert {"aws", "default"} <= set(inspector.get_schema_names())
    assert inspector.default_schema_name == "aws"
    assert {"cloudtrail", "vpc_flow_logs", "config_items"} <= set(inspector.get_table_names())
    assert "rejected" in inspector.get_view_names()
    assert inspector.has_table("cloudtrail") and inspector.has_table("rejected")
    assert not inspector.has_table("nosuchtable")
    assert not inspector.has_table("cloudtrail", schema="default")
    columns = {c["name"]: c for c in inspector.get_columns("cloudtrail")}
    assert isinstance(columns["eventname"]["type"], sa.VARCHAR)
    assert isinstance(columns["useridentity"]["type"], ROW)
    assert columns["useridentity"]["trino_type"].startswith('row("type" varchar')
    assert list(columns)[-3:] == ["account", "region", "day"]  # partition keys last
    flows = {c["name"]: c["type"] for c in inspector.get_columns("vpc_flow_logs")}
    assert isinstance(flows["dstport"], sa.INTEGER) and isinstance(flows["bytes"], sa.BIGINT)
    view = {c["name"]: c["type"] for c in inspector.get_columns("rejected")}
    assert list(view) == ["srcaddr", "dstport"]
    assert "REJECT" in inspector.get_view_definition("rejected")
    assert inspector.get_pk_constraint("cloudtrail")["constrained_columns"] == []
    with pytest.raises(sa.exc.NoSuchTableError):
        inspector.get_columns("nosuchtable")


def test_core_select_compiles_to_trino_and_runs(lake_root: str, engine: sa.Engine) -> None:
    flows = sa.Table("vpc_flow_logs", sa.MetaData(), autoload_with=engine)
    query = (
        sa.select(flows.c.srcaddr, sa.func.count().label("flows"))
        .where(flows.c.action == "REJECT", flows.c.protocol.in_([6, 17]))
        .group_by(flows.c.srcaddr)
        .order_by(sa.desc("flows"), flows.c.srcaddr)
        .limit(3)
        .offset(1)
    )
    text = str(query.compile(engine))
    assert "OFFSET 1" in text and "LIMIT 3" in text and "= ?" in text
    assert text.index("OFFSET") < text.index("LIMIT")
    with engine.connect() as connection:
        got = [tuple(r) for r in connection.execute(query)]
    expected = loglake.connect(lake_root, database="aws").sql(
        "SELECT srcaddr, count(*) AS flows FROM vpc_flow_logs "
        "WHERE action = 'REJECT' AND protocol IN (6, 17) "
        "GROUP BY srcaddr ORDER BY flows DESC, srcaddr OFFSET 1 LIMIT 3"
    )
    assert got == expected.rows() and got


def test_ilike_and_literals(engine: sa.Engine) -> None:
    flows = sa.Table("vpc_flow_logs", sa.MetaData(), autoload_with=engine)
    with engine.connect() as connection:
        upper = connection.execute(
            sa.select(sa.func.count()).where(flows.c.action.ilike("ReJeCt"))
        ).scalar()
        exact = connection.execute(
            sa.select(sa.func.count()).where(flows.c.action == "REJECT")
        ).scalar()
        hostile = connection.execute(
            sa.select(sa.func.count()).where(flows.c.action == "x' OR '1'='1")
        ).scalar()
        regex = connection.execute(
            sa.select(sa.func.count()).where(flows.c.srcaddr.regexp_match("^10\\.", flags=None))
        ).scalar()
        not_regex = connection.execute(
            sa.select(sa.func.count()).where(~flows.c.srcaddr.regexp_match("^10\\."))
        ).scalar()
        lengths = connection.execute(
            sa.select(sa.func.char_length(flows.c.action), flows.c.action)
            .where(flows.c.action.is_not(None))
            .limit(1)
        ).one()
        total = connection.execute(
            sa.select(sa.func.count()).where(flows.c.srcaddr.is_not(None))
        ).scalar()
    assert upper == exact > 0 and hostile == 0
    assert regex + not_regex == total and regex > 0
    assert lengths[0] == len(lengths[1])
    literal = sa.select(sa.literal("it's")).compile(engine, compile_kwargs={"literal_binds": True})
    assert "'it''s'" in str(literal)


def test_pandas_read_sql_with_parameters(lake_root: str, engine: sa.Engine) -> None:
    lake = loglake.connect(lake_root, database="aws")
    sql = "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventsource = ? GROUP BY 1 ORDER BY 2 DESC, 1"
    through_dialect = pd.read_sql(sql, engine, params=("iam.amazonaws.com",))
    direct = lake.sql(sql, ["iam.amazonaws.com"]).to_pandas()
    pd.testing.assert_frame_equal(through_dialect, direct, check_dtype=False)
    named = pd.read_sql(
        sa.text("SELECT count(*) AS n FROM cloudtrail WHERE eventsource = :source"),
        engine,
        params={"source": "iam.amazonaws.com"},
    )
    assert named["n"][0] == direct["n"].sum() > 0


def test_sql_errors_reach_sqlalchemy_as_dbapi_errors(engine: sa.Engine) -> None:
    with engine.connect() as connection, pytest.raises(sa.exc.ProgrammingError) as caught:
        connection.exec_driver_sql("SELECT nosuchcolumn FROM cloudtrail")
    assert caught.value.orig.line == 1 and caught.value.orig.column == 8


def test_url_forms() -> None:
    s3 = sa.engine.make_url(
        "loglake+s3://key:secret@trail-bucket/lake/prefix?endpoint_url=http://127.0.0.1:9000&region=eu-west-1"
    )
    args, options = LoglakeS3Dialect().create_connect_args(s3)
    assert args == ["s3://trail-bucket/lake/prefix"]
    assert options == {
        "endpoint_url": "http://127.0.0.1:9000",
        "region": "eu-west-1",
        "access_key_id": "key",
        "secret_access_key": "secret",
    }
    with pytest.raises(dbapi.InterfaceError, match="local path"):
        sa.create_engine("loglake://somehost/lake").connect()


@pytest.mark.s3
def test_dialect_on_a_bucket(s3_settings) -> None:
    lake = new_lake(
        s3_settings.root, endpoint_url=s3_settings.endpoint_url, environ={}, **TEST_CREDENTIALS
    )
    lake.sql("CREATE TABLE hits AS SELECT * FROM (VALUES (1, 'a'), (2, 'b')) v(n, s)")
    bucket_and_prefix = s3_settings.root.removeprefix("s3://")
    url = sa.engine.URL.create(
        "loglake+s3",
        username=TEST_CREDENTIALS["access_key_id"],
        password=TEST_CREDENTIALS["secret_access_key"],
        host=bucket_and_prefix.split("/", 1)[0],
        database=bucket_and_prefix.split("/", 1)[1],
        query={"endpoint_url": s3_settings.endpoint_url, "region": "us-east-1"},
    )
    engine = sa.create_engine(url)
    assert sa.inspect(engine).get_table_names() == ["hits"]
    frame = pd.read_sql("SELECT s FROM hits WHERE n = ?", engine, params=(2,))
    assert frame["s"].tolist() == ["b"]


def test_jupysql_runs_through_the_dialect(lake_root: str, tmp_path: Path) -> None:
    """JupySQL's own ``%sql loglake:///...`` (its magics, not loglake's) in a fresh IPython."""
    script = tmp_path / "jupysql_check.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from IPython.testing.globalipapp import start_ipython
            ip = start_ipython()
            ip.run_line_magic("load_ext", "sql")
            ip.run_line_magic("config", "SqlMagic.displaycon = False")
            ip.run_line_magic("sql", "loglake:///{lake_root}?database=aws")
            ip.user_ns["port"] = 22
            result = ip.run_cell_magic(
                "sql", "", "SELECT action, count(*) AS n FROM vpc_flow_logs "
                "WHERE dstport = {{{{port}}}} GROUP BY 1 ORDER BY 1"
            )
            print(sorted(tuple(row) for row in result))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    expected = (
        loglake.connect(lake_root, database="aws")
        .sql(
            "SELECT action, count(*) AS n FROM vpc_flow_logs WHERE dstport = 22 GROUP BY 1 ORDER BY 1"
        )
        .rows()
    )
    printed = [line for line in out.stdout.splitlines() if line.startswith("[")]
    assert printed == [str(sorted(expected))]
    assert expected
